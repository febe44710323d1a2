"""Client library: find the leader, follow redirects, retry safely, and say what is known.

A test suite records an operation as ``ok``, ``fail`` (certainly did not happen) or ``info``
(unknown), and a linearizability checker is only as good as that distinction. So the client
separates them by exception type: :class:`DefiniteFailure` (and :class:`CasMismatch`) only
when the operation certainly did not take effect, :class:`Indeterminate` whenever it might
have: a timeout, a connection lost after the request was sent, a ``timeout`` reply. Once an
attempt's outcome is unknown, later definite refusals (``not_leader`` from another node) say
nothing about that attempt, so the command as a whole stays indeterminate unless a retry with
the same sequence number (which the store de-duplicates) gets a real answer.

The policy lives in :class:`_Command`, free of I/O, so that :class:`Client` (blocking
sockets) and :class:`AsyncClient` (asyncio) share it exactly.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import tls, wire
from .config import Config

RETRY_PAUSE = 0.05  # between rounds of retries when no node knows a leader
CONNECT_TIMEOUT = 1.0
# a membership change the store refused (paxos_impl.membership): certainly not made
REFUSALS = {"reconfig_in_progress", "no_quorum", "not_caught_up", "unsupported"}
DEFINITE_ERRORS = {"not_leader", "unavailable", "bad_request", "mismatch", *REFUSALS}


class PaxosError(Exception):
    """Any failed operation; ``error`` is the store's error code, ``leader`` its hint."""

    def __init__(self, message: str, error: str | None = None, leader: int | None = None):
        super().__init__(message)
        self.error = error
        self.leader = leader


class DefiniteFailure(PaxosError):
    """The operation certainly did not take effect (history: ``fail``)."""


class CasMismatch(DefiniteFailure):
    """A cas was executed and saw another value (history: ``fail`` with error ``mismatch``)."""


class Rejected(DefiniteFailure):
    """A user state machine refused the command (its MachineError): nothing changed
    (history: ``fail`` with error ``rejected``)."""


class Indeterminate(PaxosError):
    """The operation may or may not have taken effect (history: ``info``)."""


@dataclass
class _Retry:
    node: int
    delay: float


class _Command:
    """Retry and redirect policy of one command; the drivers do the I/O it asks for."""

    def __init__(
        self,
        req: dict,
        n: int | list[int],
        node: int,
        timeout: float,
        follow_redirects: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.req = req
        # the node ids to try (a count n means 0..n-1): the client's view of the membership
        self.ids = list(range(n)) if isinstance(n, int) else list(n) or [node]
        self.n = len(self.ids)
        self.unknown_leader = False  # a hint named a node we have no address for
        self.target = node
        self.clock = clock  # the driver's (a simulated client's is its event loop's)
        self.deadline = clock() + timeout
        self.follow = follow_redirects
        self.uncertain = False  # some attempt may have taken effect
        self.last: tuple[str, str, int | None] = ("unavailable", "no node reachable", None)
        self.unreachable_in_a_row = 0
        # nodes that refused a connection since the last pause: a follower whose leader just
        # died keeps naming it until its election timeout, and following that hint again and
        # again (refused, back to the follower, redirected...) spun without a pause
        self.refused: set[int] = set()

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def _next_node(self) -> int:
        later = [i for i in self.ids if i > self.target]
        return later[0] if later else self.ids[0]

    def _retry(self, node: int, delay: float) -> _Retry:
        if self.remaining() <= delay:
            raise self.give_up()
        return _Retry(node, delay)

    def _pause_then(self, node: int) -> _Retry:
        """Retry after RETRY_PAUSE; a node that refused before may be back by then."""
        self.refused.clear()
        return self._retry(node, RETRY_PAUSE)

    def give_up(self) -> PaxosError:
        code, msg, leader = self.last
        if self.uncertain:
            return Indeterminate(f"outcome unknown: {msg}", code, leader)
        return DefiniteFailure(msg, code, leader)

    def on_reply(self, reply: dict) -> Any:
        """The value on success, a _Retry, or raise the final exception."""
        if reply.get("ok") is True:
            return reply.get("value")
        code = reply.get("error")
        leader = reply.get("leader")
        if isinstance(leader, int) and not isinstance(leader, bool) and leader not in self.ids:
            self.unknown_leader = True  # the membership changed: the driver asks for it
        leader = leader if isinstance(leader, int) and leader in self.ids else None
        node = self.target
        self.last = (str(code), f"node {node} answered {code!r}", leader)
        self.unreachable_in_a_row = 0
        if code == "mismatch":
            raise CasMismatch("cas saw another value", "mismatch", leader)
        if code == "rejected":
            detail = reply.get("detail")
            raise Rejected(f"the state machine rejected the command: {detail}", code, None)
        if code == "bad_request":
            why = reply.get("reason")
            why = f": {why}" if isinstance(why, str) else " as malformed"
            raise DefiniteFailure(f"node {node} rejected the request{why}", code, None)
        if code in REFUSALS:  # a membership change refused: nothing changed
            raise DefiniteFailure(f"node {node} refused: {reply.get('reason', code)}", code, None)
        if code == "not_leader":
            if not self.follow:
                raise self.give_up()
            if leader is not None and leader != node and leader not in self.refused:
                return self._retry(leader, 0.0)
            return self._pause_then(self._next_node())
        if code == "unavailable":
            return self._pause_then(self._next_node())
        # "timeout" or a code we do not know: the command may have been executed
        self.uncertain = True
        return self._retry(node, 0.0)

    def on_unreachable(self, exc: BaseException) -> _Retry:
        """Could not connect or send a whole request: this attempt did nothing."""
        self.unreachable_in_a_row += 1
        why = f"node {self.target} unreachable: {_describe(exc)}"
        if self.unreachable_in_a_row >= self.n > 1:
            why = f"no node reachable (last: {why})"
        self.last = ("unavailable", why, None)
        self.refused.add(self.target)
        if self.unreachable_in_a_row % self.n == 0:
            return self._pause_then(self._next_node())
        return self._retry(self._next_node(), 0.0)

    def on_lost(self, exc: BaseException) -> _Retry:
        """The request went out but no answer came back: it may have taken effect."""
        self.uncertain = True
        self.last = ("timeout", f"node {self.target}: {_describe(exc)}", None)
        return self._retry(self.target, RETRY_PAUSE)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout | asyncio.TimeoutError):
        return "no reply in time"
    if isinstance(exc, wire.ConnectionClosed):
        return "connection closed"
    return str(exc) or type(exc).__name__


class _Base:
    def __init__(
        self,
        config: Config,
        node: int = 0,
        client_id: str | None = None,
        timeout: float = 5.0,
        follow_redirects: bool = True,
    ) -> None:
        self.config = config
        # the membership as this client knows it: from the config file, then from the store
        # (members()), so a client follows nodes that joined and stops using removed ones
        self.ids = config.ids()
        self.addrs = {a.id: (a.host, a.client_port) for a in config.nodes}
        if node not in self.addrs:
            config.node(node)  # ConfigError for a node that is not there
        self.node = node
        self.client_id = client_id or f"c-{uuid.uuid4().hex[:16]}"
        self.timeout = timeout
        self.follow_redirects = follow_redirects
        self.seq = 0
        self.preferred = node  # where the last command succeeded: probably the leader
        self.clock: Callable[[], float] = time.monotonic  # deadlines are measured on it
        # TLS on: the client presents its certificate and checks the node's names the node
        self.ssl = tls.client_context(config.tls) if config.tls.enabled else None

    def _succeeded(self, cmd: _Command) -> None:
        if self.follow_redirects:
            self.preferred = cmd.target

    def _command(self, op: str, key: str | None, value: Any = None) -> _Command:
        self.seq += 1
        req = {"op": op, "key": key, "value": value, "client_id": self.client_id, "seq": self.seq}
        try:
            wire.encode(req, self.config.max_frame_bytes)
        except wire.FrameError as e:  # not JSON, or too big: it never leaves this process
            raise DefiniteFailure(f"cannot send {op}: {e}", "bad_request") from None
        return _Command(
            req, self.ids, self.preferred, self.timeout, self.follow_redirects, self.clock
        )

    def _addr(self, node: int) -> tuple[str, int]:
        return self.addrs[node]

    def add_address(self, node: int, host: str, client_port: int) -> None:
        """Where a node the config file does not name listens (one that joined later)."""
        self.addrs[node] = (host, client_port)
        if node not in self.ids:
            self.ids = sorted([*self.ids, node])

    def learn_members(self, view: dict) -> dict:
        """Take a node's ``members`` answer as the membership to use from now on."""
        for k, a in view.get("nodes", {}).items():
            self.addrs[int(k)] = (a[0], a[2])
        ids = sorted({*view.get("voters", []), *view.get("learners", [])})
        if ids:
            self.ids = ids
            if self.preferred not in ids:
                self.preferred = ids[0]
        return view

    def _members_order(self, node: int | None) -> list[int]:
        """Whom to ask for the membership: the given node, else the preferred one first."""
        if node is not None:
            return [node]
        return [self.preferred] + [i for i in self.ids if i != self.preferred]

    def _reconfig(
        self,
        action: str,
        node: int | None,
        addr: list | None,
        with_: int | None,
        quorums: tuple[int, int] | None = None,
    ) -> Any:
        value: dict[str, Any] = {"action": action}
        if node is not None:
            value["node"] = node
        if quorums is not None:
            value["q1"], value["q2"] = quorums
        if addr is not None:
            value["addr"] = list(addr)
        if with_ is not None:
            value["with"] = with_
        return self._command("reconfig", None, value)


class Client(_Base):
    """Blocking client; one command at a time. Not thread-safe: one per thread."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._socks: dict[int, socket.socket] = {}

    def read(self, key: str | None = None) -> Any:
        return self._run(self._command("read", key))

    def write(self, key: str | None, value: Any) -> None:
        self._run(self._command("write", key, value))

    def cas(self, key: str | None, expected: Any, new: Any) -> None:
        self._run(self._command("cas", key, [expected, new]))

    def append(self, key: str | None, value: Any) -> None:
        self._run(self._command("append", key, value))

    def txn(self, mops: list) -> list:
        """Run micro-ops ``[["r", k, None], ["w", k, v], ["append", k, v]]`` atomically;
        returns them with the reads filled in."""
        return self._run(self._command("txn", None, mops))

    def apply(self, command: Any) -> Any:
        """Apply ``command`` on a user state machine (through the log, at most once); its
        result. Rejected if the machine refused it."""
        return self._run(self._command("apply", None, command))

    def query(self, query: Any) -> Any:
        """Ask a user state machine a read-only ``query`` (routed like ``read``)."""
        return self._run(self._command("query", None, query))

    def members(self, node: int | None = None) -> dict:
        """The membership as a node sees it (the first that answers); the client uses it
        from now on. ``{"voters", "learners", "nodes": {id: [host, peer, client]}, "leader"}``"""
        err: PaxosError | None = None
        for i in self._members_order(node):
            try:
                return self.learn_members(self._local(i, "members"))
            except PaxosError as e:
                err = e
        assert err is not None
        raise err

    def reconfig(
        self,
        action: str,
        node: int | None,
        addr: list | None = None,
        with_: int | None = None,
        quorums: tuple[int, int] | None = None,
    ) -> dict:
        """Ask for a membership change (add NODE ADDR | remove | promote | replace NODE
        with_ | quorum with quorums=(q1, q2)); the new membership once it is chosen.
        Refusals are DefiniteFailure."""
        view = self._run(self._reconfig(action, node, addr, with_, quorums))
        return self.learn_members(view)

    def status(self, node: int | None = None) -> dict:
        return self._local(self.node if node is None else node, "status")

    def _local(self, node: int, op: str) -> dict:
        """One request that the node answers itself (status, members): no redirects."""
        cmd = _Command({"op": op}, self.ids, node, self.timeout, False)
        try:
            sock = self._connect(node, cmd)
        except OSError as e:
            raise DefiniteFailure(
                f"node {node} unreachable: {_describe(e)}", "unavailable"
            ) from None
        try:
            wire.send_frame(sock, cmd.req, self.config.max_frame_bytes)
            reply = wire.recv_frame(sock, self.config.max_frame_bytes)
        except (OSError, wire.FrameError, wire.ConnectionClosed) as e:
            self._drop(node)
            raise Indeterminate(f"node {node}: {_describe(e)}", "timeout") from None
        if reply.get("ok") is not True:
            raise DefiniteFailure(
                f"node {node} answered {reply.get('error')!r}", reply.get("error")
            )
        return reply.get("value")

    def close(self) -> None:
        for node in list(self._socks):
            self._drop(node)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- I/O --------------------------------------------------------------------------------
    def _run(self, cmd: _Command) -> Any:
        while True:
            if cmd.unknown_leader:  # a leader we have no address for: learn who is in
                cmd.unknown_leader = False
                try:
                    self.members()
                    cmd.ids = self.ids
                except PaxosError:
                    pass
            node = cmd.target
            try:
                sock = self._connect(node, cmd)
                wire.send_frame(sock, cmd.req, self.config.max_frame_bytes)
            except OSError as e:
                self._drop(node)
                step = cmd.on_unreachable(e)
            else:
                try:
                    sock.settimeout(max(cmd.remaining(), 0.001))
                    reply = wire.recv_frame(sock, self.config.max_frame_bytes)
                except (OSError, wire.FrameError, wire.ConnectionClosed) as e:
                    self._drop(node)
                    step = cmd.on_lost(e)
                else:
                    step = cmd.on_reply(reply)
                    if not isinstance(step, _Retry):
                        self._succeeded(cmd)
                        return step
            if step.delay:
                time.sleep(step.delay)
            cmd.target = step.node

    def _connect(self, node: int, cmd: _Command) -> socket.socket:
        sock = self._socks.get(node)
        if sock is not None and _closed_by_peer(sock):
            self._drop(node)
            sock = None
        if sock is None:
            timeout = max(min(CONNECT_TIMEOUT, cmd.remaining()), 0.001)
            sock = socket.create_connection(self._addr(node), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl is not None:
                sock = _wrap(self.ssl, sock, node)
            self._socks[node] = sock
        sock.settimeout(max(cmd.remaining(), 0.001))
        return sock

    def _drop(self, node: int) -> None:
        sock = self._socks.pop(node, None)
        if sock is not None:
            sock.close()


def _wrap(ctx: Any, sock: socket.socket, node: int) -> socket.socket:
    """TLS over a connected socket; OSError (this attempt did nothing) if the node is not
    the one its certificate must name."""
    try:
        tsock = ctx.wrap_socket(sock, server_hostname=None)
        tls.check_node(tsock, node)
    except (OSError, tls.TlsError) as e:
        sock.close()
        raise OSError(f"TLS: {e}") from None
    return tsock


def _closed_by_peer(sock: socket.socket) -> bool:
    """A cached connection the server has since closed (e.g. it restarted).

    Checked before sending so that a stale connection counts as "unreachable" (nothing sent)
    rather than as a lost request whose outcome would then be unknown.
    """
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    if hasattr(sock, "pending"):  # TLS: MSG_PEEK is not allowed; a session ticket is readable
        return _tls_closed(sock)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _tls_closed(sock: Any) -> bool:
    """Read what is readable without blocking: only TLS records of its own (tickets) may be
    there between commands; end of stream or stray data means drop the connection."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        sock.recv(1)
        return True  # EOF (b"") or data nobody asked for
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


class AsyncClient(_Base):
    """The same client for asyncio code: every method is a coroutine."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._conns: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def read(self, key: str | None = None) -> Any:
        return await self._run(self._command("read", key))

    async def write(self, key: str | None, value: Any) -> None:
        await self._run(self._command("write", key, value))

    async def cas(self, key: str | None, expected: Any, new: Any) -> None:
        await self._run(self._command("cas", key, [expected, new]))

    async def append(self, key: str | None, value: Any) -> None:
        await self._run(self._command("append", key, value))

    async def txn(self, mops: list) -> list:
        """Client.txn as a coroutine."""
        return await self._run(self._command("txn", None, mops))

    async def apply(self, command: Any) -> Any:
        """Client.apply as a coroutine."""
        return await self._run(self._command("apply", None, command))

    async def query(self, query: Any) -> Any:
        """Client.query as a coroutine."""
        return await self._run(self._command("query", None, query))

    async def members(self, node: int | None = None) -> dict:
        err: PaxosError | None = None
        for i in self._members_order(node):
            try:
                return self.learn_members(await self._local(i, "members"))
            except PaxosError as e:
                err = e
        assert err is not None
        raise err

    async def reconfig(
        self,
        action: str,
        node: int | None,
        addr: list | None = None,
        with_: int | None = None,
        quorums: tuple[int, int] | None = None,
    ) -> dict:
        view = await self._run(self._reconfig(action, node, addr, with_, quorums))
        return self.learn_members(view)

    async def status(self, node: int | None = None) -> dict:
        return await self._local(self.node if node is None else node, "status")

    async def _local(self, node: int, op: str) -> dict:
        cmd = _Command({"op": op}, self.ids, node, self.timeout, False)
        try:
            reader, writer = await self._connect(node, cmd)
            wire.write_frame(writer, cmd.req, self.config.max_frame_bytes)
            await writer.drain()
        except OSError as e:
            await self._drop(node)
            raise DefiniteFailure(
                f"node {node} unreachable: {_describe(e)}", "unavailable"
            ) from None
        try:
            async with asyncio.timeout(max(cmd.remaining(), 0.001)):
                reply = await wire.read_frame(reader, self.config.max_frame_bytes)
        except (OSError, TimeoutError, wire.FrameError, wire.ConnectionClosed) as e:
            await self._drop(node)
            raise Indeterminate(f"node {node}: {_describe(e)}", "timeout") from None
        if reply.get("ok") is not True:
            raise DefiniteFailure(
                f"node {node} answered {reply.get('error')!r}", reply.get("error")
            )
        return reply.get("value")

    async def close(self) -> None:
        for node in list(self._conns):
            await self._drop(node)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self, cmd: _Command) -> Any:
        """Drive the retry policy: one exchange per attempt until it gives an answer."""
        while True:
            if cmd.unknown_leader:
                cmd.unknown_leader = False
                try:
                    await self.members()
                    cmd.ids = self.ids
                except PaxosError:
                    pass
            step = await self._exchange(cmd.target, cmd)
            if not isinstance(step, _Retry):
                self._succeeded(cmd)
                return step
            if step.delay:
                await asyncio.sleep(step.delay)
            cmd.target = step.node

    async def _exchange(self, node: int, cmd: _Command) -> Any:
        """Send the command to ``node`` once and classify what happened (the transport part;
        a simulated client overrides just this)."""
        try:
            reader, writer = await self._connect(node, cmd)
            wire.write_frame(writer, cmd.req, self.config.max_frame_bytes)
            await writer.drain()
        except (OSError, TimeoutError) as e:
            await self._drop(node)
            return cmd.on_unreachable(e)
        try:
            async with asyncio.timeout(max(cmd.remaining(), 0.001)):
                reply = await wire.read_frame(reader, self.config.max_frame_bytes)
        except (OSError, TimeoutError, wire.FrameError, wire.ConnectionClosed) as e:
            await self._drop(node)
            return cmd.on_lost(e)
        return cmd.on_reply(reply)

    async def _connect(
        self, node: int, cmd: _Command
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        conn = self._conns.get(node)
        if conn is not None and (conn[0].at_eof() or conn[1].is_closing()):
            await self._drop(node)
            conn = None
        if conn is None:
            host, port = self._addr(node)
            timeout = max(min(CONNECT_TIMEOUT, cmd.remaining()), 0.001)
            async with asyncio.timeout(timeout):  # not wait_for: it can eat cancellations
                conn = await asyncio.open_connection(host, port, **self._tls_kw())
            if self.ssl is not None:
                try:
                    tls.check_node(conn[1].get_extra_info("ssl_object"), node)
                except tls.TlsError as e:
                    conn[1].close()
                    raise OSError(f"TLS: {e}") from None
            self._conns[node] = conn
        return conn

    def _tls_kw(self) -> dict[str, Any]:
        return {} if self.ssl is None else {"ssl": self.ssl, "server_hostname": ""}

    async def _drop(self, node: int) -> None:
        conn = self._conns.pop(node, None)
        if conn is not None:
            conn[1].close()
            try:
                await conn[1].wait_closed()
            except OSError:
                pass
