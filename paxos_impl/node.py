"""The asyncio host of one node: sockets, files and timers around the node runtime.

The core (``Replica``) decides; :class:`paxos_impl.runtime.NodeRuntime` (shared with the
simulator) turns its ``Ready`` hand-offs into batches in the order that makes them safe:
persist (one write + one fsync for everything the events of one batch produced), then
snapshot, then send messages and client replies. This module is that runtime's real IO: it
queues events from sockets and timers, writes each batch's records to ``Storage`` in a
thread (the loop keeps reading sockets meanwhile), and is the runtime's transport (peer links,
client connections) and timer. Events that arrive while an fsync is in flight queue up and
are handled together in the next batch: that group commit is what lets throughput grow with
the number of clients instead of being capped at one fsync per write.

Faults on the wire are contained to the connection they arrive on: a garbage, truncated or
oversized frame closes that one connection (logged; a client first gets a definite
``bad_request``), a malformed message (``ProtocolError``) is logged and dropped. A record
that cannot be encoded for the log, or a message that cannot be encoded for the wire, is
refused alone (logged; the client's request answered ``bad_request``): the core checks values
at the door so this should not happen, and if it does it must not stop the node. Anything
else the core raises, or a failed write to disk, stops the node (fail-stop), because carrying
on after losing track of what is durable is how Paxos implementations lose acknowledged data.

Clients are bounded (see ``Config``): at most ``max_client_conns`` connections (more are
answered ``unavailable`` and closed), each closed after ``client_idle_ms`` without a whole
frame or ``client_frame_ms`` inside one, and all of them together may hold at most
``max_buffered_bytes`` of partial frames. Peer connections: one per peer id (a new hello
replaces the old connection), and few unidentified ones at a time.

The core's clock is ``time.time()`` on purpose: libfaketime and the clock nemesis act on
the wall clock. asyncio's own timers use the monotonic clock, which they do not touch, so a
tick is scheduled ``next_tick - time.time()`` seconds ahead, clamped to [0, 1] s: a clock
jump can delay a tick by at most a second.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any

from . import tls, udp, wire
from .config import Config, ConfigError, NodeAddress
from .runtime import MAX_EVENTS_PER_BATCH, AsyncApplier, Fatal, NodeRuntime, early_types
from .storage import Storage, encode_record

log = logging.getLogger("paxos.node")

MAX_QUEUED_PER_PEER = 4096  # messages kept for a peer we are not connected to
MAX_INFLIGHT_PER_CLIENT = 1024
HELLO_TIMEOUT = 5.0
HELLO_MAX_BYTES = 4096  # a stranger on the peer port may not make us hold a 4 MiB "hello"
SMALL_FRAME = 64 * 1024  # client frames up to this size need no share of max_buffered_bytes
PEER_QUEUE_FRAMES = 8  # bytes queued for an unreachable peer: at most this many full frames
CLIENT_OUTBOX_FRAMES = 4  # replies a client leaves unread: at most this many full frames
FD_RESERVE = 64  # open files kept for the log, peers and the runtime, beyond client sockets
MAX_TICK_DELAY = 1.0
_PEER_POLL = 0.5  # how often an idle outbound link checks that its peer is still there


class _ClientRequest:
    """The opaque handle the core gets for one client request; answers it at most once."""

    __slots__ = ("conn", "done", "timer")

    def __init__(self, conn: _ClientConn) -> None:
        self.conn = conn
        self.done = False
        self.timer: asyncio.TimerHandle | None = None

    def __str__(self) -> str:
        return f"from {self.conn.peer}"

    def answer(self, reply: dict) -> None:
        if self.done:
            return
        self.done = True
        self.conn.inflight -= 1
        if self.timer is not None:
            self.timer.cancel()
        self.conn.send(reply)


class _ClientConn:
    def __init__(self, writer: asyncio.StreamWriter, max_frame: int, peer: str) -> None:
        self.writer = writer
        self.max_frame = max_frame
        self.peer = peer
        self.inflight = 0

    def send(self, reply: dict) -> None:
        if self.writer.is_closing():
            return
        try:
            wire.write_frame(self.writer, reply, self.max_frame)
        except wire.FrameError as e:
            log.error("client %s: cannot send reply: %s", self.peer, e)
            self.writer.write(wire.encode({"ok": False, "error": "unavailable", "leader": None}))
        # a client that sends requests but reads no replies must not grow our memory
        if self.writer.transport.get_write_buffer_size() > CLIENT_OUTBOX_FRAMES * self.max_frame:
            log.warning("client %s: closing connection: it reads no replies", self.peer)
            self.writer.close()


class _PeerLink:
    """Outbound connection to one peer: hello, then frames; reconnects with backoff."""

    def __init__(self, node: Node, peer_id: int) -> None:
        self.node = node
        self.peer_id = peer_id
        self.queue: collections.deque[bytes] = collections.deque()
        self.queued_bytes = 0
        self.max_bytes = PEER_QUEUE_FRAMES * node.max_frame
        self.wakeup = asyncio.Event()
        self.connected = False
        self.writer: asyncio.StreamWriter | None = None  # while connected

    def send(self, frame: bytes) -> None:
        """Write a frame at once when the link is up and keeping up (the common case: no
        task switch between the core's step and the socket), else queue it for the pump;
        beyond the bounds the oldest queued go (Paxos survives lost messages, and whatever
        matters is retransmitted or fetched again by catch-up)."""
        w = self.writer
        if (
            w is not None
            and not self.queue
            and not w.is_closing()
            and w.transport.get_write_buffer_size() < self.max_bytes
        ):
            w.write(frame)
            return
        self.queue.append(frame)
        self.queued_bytes += len(frame)
        while len(self.queue) > MAX_QUEUED_PER_PEER or self.queued_bytes > self.max_bytes:
            self.queued_bytes -= len(self.queue.popleft())
        self.wakeup.set()

    async def run(self) -> None:
        t = self.node.config.timeouts
        backoff_min, backoff_max = t.connect_backoff_min_ms / 1000, t.connect_backoff_max_ms / 1000
        backoff = backoff_min
        host, port = self.node.peer_address(self.peer_id)
        failures = 0
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation
                # that races with the connect failing, and shutdown would then hang
                async with asyncio.timeout(max(backoff_max, 1.0)):
                    reader, writer = await asyncio.open_connection(host, port)
                if self.node.tls_connect:  # TLS over it; the peer must be the node we meant
                    await self._start_tls(writer)
            except (OSError, TimeoutError) as e:
                _reraise_if_cancelled()
                failures += 1
                if failures in (1, 10) or failures % 100 == 0:
                    log.info("peer %d unreachable (%s attempts): %s", self.peer_id, failures, e)
                await asyncio.sleep(backoff * (0.5 + self.node.rng.random()))
                backoff = min(backoff * 2, backoff_max)
                continue
            failures = 0
            backoff = backoff_min
            self.connected = True
            log.info("connected to peer %d at %s:%d", self.peer_id, host, port)
            try:
                await self._pump(reader, writer)
            except (OSError, ConnectionError) as e:
                _reraise_if_cancelled()
                log.info("lost connection to peer %d: %s", self.peer_id, e or type(e).__name__)
            finally:
                self.connected = False
                writer.close()

    async def _start_tls(self, writer: asyncio.StreamWriter) -> None:
        """The handshake (bounded by its own timeout, so a silent peer costs the TCP connect
        its usual time only), then the node-id check. OSError on any failure."""
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                await writer.start_tls(**self.node.tls_connect)
            tls.check_node(writer.get_extra_info("ssl_object"), self.peer_id)
        except (OSError, TimeoutError, tls.TlsError) as e:
            _reraise_if_cancelled()
            writer.close()
            raise OSError(f"TLS with node {self.peer_id} failed: {e or type(e).__name__}") from None

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(wire.encode({"type": "hello", "from": self.node.id}))
        try:
            await self._pump_frames(reader, writer)
        finally:
            self.writer = None

    async def _pump_frames(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while True:
            if reader.at_eof() or writer.is_closing():
                raise ConnectionError("closed by peer")
            if self.queue:
                frames = list(self.queue)
                self.queue.clear()
                self.queued_bytes = 0
                writer.writelines(frames)
            await writer.drain()
            self.writer = writer  # drained: send() may write directly until the next stall
            self.wakeup.clear()
            if not self.queue:
                try:
                    async with asyncio.timeout(_PEER_POLL):
                        await self.wakeup.wait()
                except TimeoutError:
                    _reraise_if_cancelled()


class Node:
    """One store process: owns the core, the storage and every socket of a node."""

    def __init__(
        self,
        node_id: int,
        config: Config,
        storage: Storage,
        replica: Any,
        protocol_error: type[Exception] = ValueError,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        me: NodeAddress | None = None,
    ) -> None:
        self.id = node_id
        self.config = config
        # where we listen: from the config file, or given (a node that joins a running
        # cluster is not in the file; see paxos_impl.membership)
        self.me = me or config.node(node_id)
        self.storage = storage
        self.replica = replica
        self.protocol_error = protocol_error
        self.rng = rng or random.Random()
        self.clock = clock
        self.max_frame = config.max_frame_bytes
        self.tls_listen, self.tls_connect = _tls_options(config, node_id, self.me)
        # the one consumer of the core's Ready hand-offs; this node is its transport and timer
        self.runtime = NodeRuntime(
            replica,
            clock,
            self,
            self,
            encode_record,
            protocol_error,
            MAX_EVENTS_PER_BATCH,
            config.timeouts.request_ms / 1000,
            early_types(config.mode),
        )
        self.runtime.applier = AsyncApplier(self._launch_apply, self._enqueue, config.bugs)
        self._applying: set[asyncio.Task] = set()  # an asynchronous machine's applies
        self._has_events = asyncio.Event()
        self._tick: asyncio.TimerHandle | None = None
        self._links: dict[int, _PeerLink] = {}
        # transport = "udp": one datagram socket for every peer instead of the links above
        self._udp = (
            udp.UdpPeers(config, node_id, self._on_datagram, self.peer_address, self.me)
            if config.transport == "udp"
            else None
        )
        self._servers: list[asyncio.base_events.Server] = []
        self._tasks: list[asyncio.Task] = []
        self._conns: set[asyncio.StreamWriter] = set()
        self._clients = 0  # open client connections
        self.client_cap = client_cap(config.max_client_conns)
        self._buffered = 0  # bytes of large client frames being read (max_buffered_bytes)
        self._unidentified = 0  # peer-port connections that have not said hello yet
        self._inbound: dict[int, asyncio.StreamWriter] = {}  # peer id -> its connection
        self._stopped = asyncio.Event()
        self._disk_busy: asyncio.Future | None = None
        self.fatal: str | None = None
        self.batches = 0  # for status: how many persist+send rounds, how many events
        self.events_handled = 0

    # -- life cycle ---------------------------------------------------------------------------
    async def listen(self) -> None:
        """Bind both ports (OSError if one is taken) before the node starts acting."""
        me = self.me
        ports = [(me.client_port, self._serve_client)]
        if self._udp is None:
            ports.insert(0, (me.peer_port, self._serve_peer))
        else:
            try:
                await self._udp.open()
            except OSError as e:
                why = os.strerror(e.errno) if e.errno else str(e)
                raise OSError(f"cannot bind udp {me.host}:{me.peer_port}: {why}") from None
        for port, handler in ports:
            try:
                server = await asyncio.start_server(
                    handler, me.host, port, reuse_address=True, **self.tls_listen[port]
                )
            except OSError as e:
                why = os.strerror(e.errno) if e.errno else str(e)
                raise OSError(f"cannot listen on {me.host}:{port}: {why}") from None
            self._servers.append(server)

    async def run(self) -> None:
        """Serve until stop() or a fatal error (then ``self.fatal`` says why)."""
        if not self._servers:
            await self.listen()
        for peer in self._known_ids():
            if peer != self.id:
                self._open_link(peer)
        self.runtime.push(("start",))
        self._has_events.set()
        driver = asyncio.create_task(self._drive())
        stopped = asyncio.create_task(self._stopped.wait())
        await asyncio.wait({driver, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if driver.done() and not driver.cancelled() and driver.exception() is not None:
            exc = driver.exception()
            self.fatal = self.fatal or f"internal error: {exc!r}"
            log.error("driver failed", exc_info=exc)
        await self._shutdown(driver, stopped)

    def stop(self) -> None:
        self._stopped.set()

    # -- peers: the membership decides who they are -----------------------------------------
    def _known_ids(self) -> list[int]:
        """Every node the core knows (the config file's, then those added through the log)."""
        return list(getattr(self.replica, "ids", None) or self.config.ids())

    def peer_address(self, peer: int) -> tuple[str, int]:
        members = getattr(self.replica, "members", None)
        if members is not None and peer in members.addrs:
            a = members.addrs[peer]
            return a[0], a[1]
        a = self.config.node(peer)
        return a.host, a.peer_port

    def _open_link(self, peer: int) -> _PeerLink | None:
        """A link to a peer the core now knows (None: it has no address for it, or the peers
        speak UDP, where one socket serves every peer and needs no link)."""
        if self._udp is not None:
            return None
        try:
            self.peer_address(peer)
        except ConfigError:
            return None
        link = self._links[peer] = _PeerLink(self, peer)
        self._tasks.append(asyncio.create_task(link.run()))
        return link

    async def _shutdown(self, *tasks: asyncio.Task) -> None:
        if self._tick is not None:
            self._tick.cancel()
        for s in self._servers:
            s.close()
        if self._udp is not None:
            self._udp.close()
        for t in [*self._tasks, *self._applying, *tasks]:
            t.cancel()
        for w in list(self._conns):
            w.close()
        # bounded: a task that fails to die must not keep the process from exiting
        await asyncio.wait([*self._tasks, *tasks], timeout=5)
        if self._disk_busy is not None:
            await asyncio.gather(self._disk_busy, return_exceptions=True)
        self.storage.close()

    def _fail(self, why: str) -> None:
        log.critical("stopping: %s", why)
        self.fatal = why
        self.stop()

    # -- the driver: core steps, then persist, then send ------------------------------------
    def _enqueue(self, event: tuple) -> None:
        self.runtime.push(event)
        self._has_events.set()

    async def _drive(self) -> None:
        rt = self.runtime
        while True:
            if not rt.pending:
                self._has_events.clear()
                await self._has_events.wait()
                continue
            try:
                batch = rt.next_batch()
                if batch.writes:  # the leader's accepts go now: its fsync and theirs overlap
                    rt.send_early(batch)
                for records, snapshot in batch.writes:
                    await self._persist(records)
                    if snapshot is not None:
                        await self._disk(self.storage.write_snapshot, snapshot)
            except Fatal as e:
                self._fail(str(e))
                return
            self.batches += 1
            self.events_handled += batch.events
            rt.finish(batch)

    def _launch_apply(self, item: tuple, done: Callable[[dict], None]) -> None:
        """Run one command of an asynchronous machine (AsyncApplier calls it in log order);
        its reply becomes an event. At shutdown an unfinished apply is simply dropped: its
        command is in the log and is applied again after the restart."""
        task = asyncio.get_running_loop().create_task(item[1].apply_async(item[2]))
        self._applying.add(task)

        def finished(t: asyncio.Task) -> None:
            self._applying.discard(t)
            if not t.cancelled() and t.exception() is None:
                done(t.result())

        task.add_done_callback(finished)

    async def _persist(self, records: list[Any]) -> None:
        if records:
            await self._disk(self.storage.append, records)

    async def _disk(self, fn: Callable[[Any], None], arg: Any) -> None:
        try:
            if self.storage.fsync:  # the fsync would block the loop: let I/O go on meanwhile
                self._disk_busy = asyncio.get_running_loop().run_in_executor(None, fn, arg)
                # shielded: a shutdown must not close the log under a write still running
                await asyncio.shield(self._disk_busy)
            else:
                fn(arg)
        except OSError as e:
            raise Fatal(f"cannot write to {self.storage.path}: {e}") from None
        except (ValueError, TypeError, RecursionError) as e:
            # only a snapshot can get here (log records are encoded up front): the node
            # goes on with its log uncompacted, which recovery reads just the same
            log.error("cannot encode a snapshot, the log stays uncompacted: %s", str(e)[:80])

    # -- the runtime's transport and timer (paxos_impl.runtime) -------------------------------
    def send(self, messages: list[tuple[int, dict]]) -> None:
        encoded: dict[int, bytes] = {}  # a broadcast is one dict sent to several peers
        for dest, msg in messages:
            if dest == self.id:
                self._enqueue(("peer", self.id, msg))
                continue
            link = None if self._udp is not None else self._links.get(dest) or self._open_link(dest)
            if link is None and (self._udp is None or not self._udp.knows(dest)):
                log.error("core sent a message to unknown node %r", dest)
                continue
            frame = encoded.get(id(msg))
            if frame is None:
                try:  # a datagram carries its own length: the body alone
                    frame = (wire.encode if link else wire.encode_body)(msg, self.max_frame)
                except wire.FrameError as e:
                    log.error("cannot send %s to node %d: %s", msg.get("type"), dest, e)
                    continue
                encoded[id(msg)] = frame
            if link is not None:
                link.send(frame)
            else:
                self._udp.send(dest, frame)  # type: ignore[union-attr]

    def _on_datagram(self, src: int, body: bytes) -> None:
        """A whole message from peer ``src`` over UDP (paxos_impl.udp checked the sender)."""
        try:
            msg = wire.decode_body(body)
        except wire.FrameError as e:
            log.warning("udp: dropped a message from node %d: %s", src, e)
            return
        if not isinstance(msg.get("type"), str):
            log.warning("dropped message without a type from node %d", src)
            return
        self._enqueue(("peer", src, msg))

    def reply(self, replies: list[tuple[object, dict]]) -> None:
        for handle, reply in replies:
            if isinstance(handle, _ClientRequest):
                handle.answer(reply)
            else:
                log.error("core replied to an unknown handle %r", handle)

    def live(self, handle: object) -> bool:
        return not getattr(handle, "done", False)

    def arm(self, at: float | None) -> None:
        self._schedule_tick(at)

    def later(self, delay: float, fn: Callable[[object], None], arg: object) -> object:
        return asyncio.get_running_loop().call_later(delay, fn, arg)

    def _schedule_tick(self, at: float | None) -> None:
        if at is None:
            if self._tick is not None:
                return
            delay = MAX_TICK_DELAY
        else:
            delay = min(max(at - self.clock(), 0.0), MAX_TICK_DELAY)
            if self._tick is not None:
                self._tick.cancel()
        self._tick = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._tick = None
        self._enqueue(("tick",))
        # until the core says otherwise, keep ticking at least once a second
        self._schedule_tick(None)

    # -- ports --------------------------------------------------------------------------------
    async def _serve_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        where = _peername(writer)
        if self._unidentified >= max_unidentified(self.config.n):
            log.warning("peer port: refusing %s: too many connections without a hello", where)
            writer.close()
            return
        self._conns.add(writer)
        self._unidentified += 1
        src = None
        try:
            try:
                async with asyncio.timeout(HELLO_TIMEOUT):
                    hello = await wire.read_frame(reader, HELLO_MAX_BYTES)
            finally:
                self._unidentified -= 1
            src = hello.get("from")
            if hello.get("type") != "hello" or not isinstance(src, int) or src == self.id:
                raise wire.FrameError(f"expected a hello from a peer, got {_brief(hello)}")
            if src not in self._known_ids():
                raise wire.FrameError(f"hello from unknown node {src!r}")
            if self.tls_connect:  # TLS on: the certificate must name the node the hello claims
                try:
                    tls.check_node(writer.get_extra_info("ssl_object"), src)
                except tls.TlsError as e:
                    raise wire.FrameError(f"refused hello: {e}") from None
            old = self._inbound.get(src)
            if old is not None:  # a peer has one link to us: the old one is half-dead
                log.info("node %d reconnected: closing its previous connection", src)
                old.close()
            self._inbound[src] = writer
            while True:
                msg = await wire.read_frame(reader, self.max_frame)
                if not isinstance(msg.get("type"), str):
                    log.warning("dropped message without a type from node %d", src)
                    continue
                self._enqueue(("peer", src, msg))
        except wire.FrameError as e:
            log.warning("peer port: closing connection from %s: %s", where, e)
        except TimeoutError:
            log.warning("peer port: closing connection from %s: no hello in time", where)
        except (wire.ConnectionClosed, ConnectionError):
            if src is not None:
                log.info("node %d closed its connection", src)
        finally:
            if src is not None and self._inbound.get(src) is writer:
                del self._inbound[src]
            self._conns.discard(writer)
            writer.close()

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        conn = _ClientConn(writer, self.max_frame, _peername(writer))
        if self._clients >= self.client_cap:
            log.warning("client port: refusing %s: %d connections open", conn.peer, self._clients)
            conn.send(_refusal("unavailable", "too many client connections"))
            writer.close()
            return
        self._clients += 1
        self._conns.add(writer)
        try:
            while True:
                try:
                    req = await self._read_request(reader)
                except wire.FrameError as e:  # refused: say so (definite), then close
                    conn.send(_refusal("bad_request", str(e)))
                    raise
                except _Busy as e:
                    conn.send(_refusal("unavailable", str(e)))
                    raise wire.FrameError(str(e)) from None
                if req.get("op") == "status":
                    conn.send({"ok": True, "value": self.status()})
                elif not isinstance(req.get("op"), str):
                    conn.send({"ok": False, "error": "bad_request", "leader": None})
                elif conn.inflight >= MAX_INFLIGHT_PER_CLIENT:
                    raise wire.FrameError(f"more than {MAX_INFLIGHT_PER_CLIENT} requests in flight")
                else:
                    self._admit(conn, req)
                await writer.drain()
        except wire.FrameError as e:
            log.warning("client port: closing connection from %s: %s", conn.peer, e)
        except TimeoutError:
            log.info("client port: closing idle connection from %s", conn.peer)
        except (wire.ConnectionClosed, ConnectionError):
            pass
        finally:
            self._clients -= 1
            self._conns.discard(writer)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> dict:
        """One client frame, within the idle and frame timeouts (TimeoutError) and the
        node's budget for partial frames (_Busy when a large frame does not fit in it)."""
        t = self.config.timeouts
        async with asyncio.timeout(t.client_idle_ms / 1000):
            length = await wire.read_length(reader, self.max_frame)
        held = length if length > SMALL_FRAME else 0
        if self._buffered + held > self.config.max_buffered_bytes:
            raise _Busy(f"node is reading {self._buffered} bytes of large frames already")
        self._buffered += held
        try:
            async with asyncio.timeout(t.client_frame_ms / 1000):
                body = await wire.read_body(reader, length)
        finally:
            self._buffered -= held
        return wire.decode_body(body)

    def _admit(self, conn: _ClientConn, req: dict) -> None:
        handle = _ClientRequest(conn)
        conn.inflight += 1
        handle.timer = self.runtime.admit(handle, req)  # type: ignore[assignment]
        self._has_events.set()

    def status(self) -> dict:
        s = dict(self.replica.status())
        s.update(
            time=time.time(),
            pid=os.getpid(),
            peers_connected=(
                self._udp.connected_peers()
                if self._udp is not None
                else sorted(p for p, link in self._links.items() if link.connected)
            ),
            transport=self.config.transport,
            storage={"segment": self.storage.segment, "syncs": self.storage.syncs},
            batches=self.batches,
            events=self.events_handled,
        )
        if self._udp is not None:
            s["udp"] = dict(self._udp.stats, reassembly_dropped=self._udp.reassembler.dropped)
        return s


def _tls_options(
    config: Config, node_id: int, me: NodeAddress
) -> tuple[dict[int, dict], dict[str, Any]]:
    """asyncio keyword arguments for each listening port and for outbound peer links.

    Empty when TLS is off. tls.TlsError (one line) if a certificate cannot be loaded."""
    if not config.tls.enabled:
        return {me.peer_port: {}, me.client_port: {}}, {}
    s = config.tls
    listen = {
        me.peer_port: {"ssl": tls.peer_server_context(s, node_id)},
        me.client_port: {"ssl": tls.client_server_context(s, node_id)},
    }
    for opts in listen.values():
        opts["ssl_handshake_timeout"] = HELLO_TIMEOUT
    connect = {
        "sslcontext": tls.peer_client_context(s, node_id),
        "ssl_handshake_timeout": HELLO_TIMEOUT,
        "server_hostname": "",  # identity is checked by node id, not host name
    }
    return listen, connect


class _Busy(Exception):
    """A client frame the node has no room to hold now (not the client's fault)."""


def _refusal(code: str, why: str) -> dict:
    return {"ok": False, "error": code, "leader": None, "reason": why[:200]}


def client_cap(configured: int) -> int:
    """Client connections this process can really hold: the configured cap, lowered to fit
    the open-file limit (a node out of file descriptors cannot even accept its peers)."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):
        return configured
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(1, min(configured, soft - FD_RESERVE))


def max_unidentified(n: int) -> int:
    """Peer-port connections that may wait for their hello at once: a few per peer."""
    return 4 * n + 16


def _reraise_if_cancelled() -> None:
    """Keep a cancellation that arrived together with an I/O error from being lost."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError()


def _peername(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


def _brief(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."
