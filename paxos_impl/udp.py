"""Peer messages over UDP (``transport = "udp"``): bounded datagrams, split and reassembled.

Why UDP at all: Paxos already survives lost, duplicated and reordered messages (the leader
re-sends unanswered accepts with its heartbeats, elections and catch-up repeat on their
timers), so a stream's ordering and retransmission buy it nothing but head-of-line blocking,
a connection to keep up per peer and a task per link. A datagram goes out in the step that
made it, with one ``sendto``.

What this module adds to raw datagrams, and why:

- **Bounded datagrams.** A message's body (the same UTF-8 JSON as a TCP frame, at most
  ``max_frame_bytes``) is cut into fragments of at most :data:`MAX_DATAGRAM` bytes with a
  13-byte header (magic, version, sender id, message id, fragment index and count), so no
  datagram is larger than an Ethernet MTU can carry without IP fragmentation. The receiver
  reassembles by (sender, message id); a message missing a fragment is simply lost, as a
  lost datagram is, after :data:`REASSEMBLY_S` or when newer messages push it out. What one
  sender may hold half-assembled is bounded (:data:`MAX_PARTIAL` messages, and
  ``2 * max_frame_bytes`` bytes), so a flood of first fragments cannot grow a node's memory.
- **Retransmission.** None here: the protocol's own is enough (see above), and the
  simulator checks that it is by running UDP with loss, duplication and reordering
  (cluster/sim/runtime.py). A lost client-visible write costs a heartbeat interval or two of
  latency, never safety.
- **Peer authentication.** A datagram is taken from node K only if it comes from node K's
  configured address and peer port (the port K's own socket is bound to, so another process
  on K's host cannot send from it while K runs). That is the whole check: UDP has no
  handshake, so on a network where an attacker can forge source addresses, use TCP with
  mutual TLS (``Config.validate`` refuses UDP together with TLS rather than pretend).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections.abc import Callable

from .config import Config, ConfigError, NodeAddress

log = logging.getLogger("paxos.node")

HEADER = struct.Struct(">2sBHIHH")  # magic, version, sender, message id, index, count
MAGIC = b"PX"
VERSION = 1
MAX_DATAGRAM = 1400  # bytes on the wire per datagram, header included (fits a 1500 MTU)
CHUNK = MAX_DATAGRAM - HEADER.size
MAX_PARTIAL = 32  # half-assembled messages kept per sender
REASSEMBLY_S = 2.0  # a message whose fragments do not all arrive within this is dropped
SEND_BUFFER_LIMIT = 8 * 1024 * 1024  # datagrams queued in the process (socket full): beyond, drop
SOCKET_BUFFER = 4 * 1024 * 1024  # SO_RCVBUF / SO_SNDBUF asked of the kernel (it may cap it)
RESOLVE_EVERY_S = 1.0  # a peer whose address did not match is looked up again at most this often


class DatagramError(ValueError):
    """A datagram that is not one of ours, or not consistent: dropped (and counted)."""


def split(sender: int, msg_id: int, body: bytes, chunk: int = CHUNK) -> list[bytes]:
    """The datagrams that carry ``body``: each a header and at most ``chunk`` bytes of it."""
    count = max(1, -(-len(body) // chunk))
    if count > 0xFFFF:
        raise DatagramError(f"a message of {len(body)} bytes needs more than 65535 datagrams")
    mid = msg_id & 0xFFFFFFFF
    return [
        HEADER.pack(MAGIC, VERSION, sender, mid, i, count) + body[i * chunk : (i + 1) * chunk]
        for i in range(count)
    ]


def parse(datagram: bytes) -> tuple[int, int, int, int, bytes]:
    """(sender, message id, index, count, payload) of one datagram; DatagramError if it is
    not a well-formed fragment of ours."""
    if len(datagram) < HEADER.size:
        raise DatagramError(f"datagram of {len(datagram)} bytes is shorter than a header")
    magic, version, sender, mid, index, count = HEADER.unpack_from(datagram)
    if magic != MAGIC or version != VERSION:
        raise DatagramError("not a paxlab datagram (bad magic or version)")
    if count == 0 or index >= count:
        raise DatagramError(f"fragment {index} of {count}")
    return sender, mid, index, count, datagram[HEADER.size :]


class _Partial:
    __slots__ = ("count", "parts", "size", "since")

    def __init__(self, count: int, now: float) -> None:
        self.count = count
        self.parts: dict[int, bytes] = {}
        self.size = 0
        self.since = now


class Reassembler:
    """Fragments in, whole message bodies out; bounded per sender (see the module doc)."""

    def __init__(self, max_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes  # one message's body, at most (max_frame_bytes)
        self.max_count = max(1, -(-max_bytes // CHUNK))
        self.clock = clock
        self.partial: dict[int, dict[int, _Partial]] = {}  # sender -> message id -> parts
        self.held: dict[int, int] = {}  # sender -> bytes held in its partial messages
        self.dropped = 0  # messages given up (expired, pushed out, inconsistent)

    def add(self, sender: int, mid: int, index: int, count: int, payload: bytes) -> bytes | None:
        """The whole body once its last fragment arrived, else None. DatagramError for a
        fragment that cannot belong to a message we would accept."""
        if count == 1:
            if len(payload) > self.max_bytes:
                raise DatagramError(f"message of {len(payload)} bytes is over the frame limit")
            return payload
        if count > self.max_count or len(payload) > CHUNK:
            raise DatagramError(f"{count} fragments of up to {len(payload)} bytes: too large")
        mine = self.partial.setdefault(sender, {})
        now = self.clock()
        p = mine.get(mid)
        if p is None:
            self._make_room(sender, mine, now)
            p = mine[mid] = _Partial(count, now)
        elif p.count != count:
            self._forget(sender, mine, mid)
            raise DatagramError(f"message {mid} from node {sender}: fragment counts disagree")
        if index in p.parts:
            return None  # a duplicate fragment
        p.parts[index] = payload
        p.size += len(payload)
        self.held[sender] = self.held.get(sender, 0) + len(payload)
        if len(p.parts) < count:
            while self.held[sender] > 2 * self.max_bytes and len(mine) > 1:
                self._forget(sender, mine, next(iter(mine)), drop=True)
            return None
        self._forget(sender, mine, mid)
        body = b"".join(p.parts[i] for i in range(count))
        if len(body) > self.max_bytes:
            raise DatagramError(f"message of {len(body)} bytes is over the frame limit")
        return body

    def _make_room(self, sender: int, mine: dict[int, _Partial], now: float) -> None:
        for mid in [m for m, p in mine.items() if now - p.since > REASSEMBLY_S]:
            self._forget(sender, mine, mid, drop=True)
        while len(mine) >= MAX_PARTIAL:  # the oldest goes (dicts keep insertion order)
            self._forget(sender, mine, next(iter(mine)), drop=True)

    def _forget(self, sender: int, mine: dict[int, _Partial], mid: int, drop: bool = False) -> None:
        p = mine.pop(mid)
        self.held[sender] -= p.size
        self.dropped += drop


def _configured(config: Config) -> Callable[[int], tuple[str, int]]:
    """A peer's address from the config file alone (ConfigError for a node it lacks)."""

    def address_of(peer: int) -> tuple[str, int]:
        a = config.node(peer)
        return a.host, a.peer_port

    return address_of


class UdpPeers(asyncio.DatagramProtocol):
    """One node's UDP socket for all its peers: ``send(peer, body)`` out, whole messages in
    through ``deliver(src, body)`` (only from the peer's configured address)."""

    def __init__(
        self,
        config: Config,
        node_id: int,
        deliver: Callable[[int, bytes], None],
        address_of: Callable[[int], tuple[str, int]] | None = None,
        me: NodeAddress | None = None,
    ) -> None:
        self.config = config
        self.id = node_id
        # where a peer is: the config file's, or (membership changes) what the log says
        self.address_of = address_of or _configured(config)
        self.me = me or config.node(node_id)
        self.deliver = deliver
        self.reassembler = Reassembler(config.max_frame_bytes)
        self.transport: asyncio.DatagramTransport | None = None
        self.next_id = 0
        self.addrs: dict[int, tuple[str, int]] = {}  # peer -> (ip, port) we send to
        self.allowed: dict[int, set[tuple[str, int]]] = {}  # peer -> addresses it sends from
        self.resolved_at: dict[int, float] = {}
        self.heard: dict[int, float] = {}  # peer -> monotonic time of its last message
        self.stats = {"sent": 0, "received": 0, "refused": 0, "malformed": 0, "send_dropped": 0}
        for peer in config.ids():
            if peer != node_id:
                self._resolve(peer)

    async def open(self) -> None:
        """Bind the node's peer address (OSError, one line, if it is taken)."""
        me = self.me
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in me.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
                except OSError:
                    pass  # the kernel's default then; loss under bursts is Paxos's to absorb
            sock.bind((me.host, me.peer_port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        await loop.create_datagram_endpoint(lambda: self, sock=sock)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- addresses ------------------------------------------------------------------------------
    def knows(self, peer: int) -> bool:
        """Is ``peer`` a node we have (or can find) an address for?"""
        if peer not in self.resolved_at:
            self._resolve(peer)
        return peer in self.resolved_at

    def _resolve(self, peer: int) -> None:
        """Where ``peer`` is: the address we send to, the ones we accept it from. A node
        neither the config nor the log names is nobody: nothing is remembered of it (a
        forged sender id costs no memory)."""
        try:
            host, port = self.address_of(peer)
        except (ConfigError, KeyError, ValueError):
            return
        self.resolved_at[peer] = time.monotonic()
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as e:
            log.info("peer %d: cannot resolve %s: %s", peer, host, e)
            return
        found = {(str(info[4][0]), port) for info in infos}
        if found:
            self.allowed[peer] = found
            v4 = sorted(x for x in found if ":" not in x[0])
            self.addrs[peer] = (v4 or sorted(found))[0]

    def _from_peer(self, sender: int, addr: tuple) -> bool:
        if sender == self.id:
            return False
        if sender not in self.resolved_at:  # a node the log added since: look it up once
            self._resolve(sender)
            return (str(addr[0]), addr[1]) in self.allowed.get(sender, ())
        source = (str(addr[0]), addr[1])
        if source in self.allowed.get(sender, ()):
            return True
        # a peer's address may have changed (a container restarted): look it up again, but
        # not for every forged datagram
        if time.monotonic() - self.resolved_at[sender] >= RESOLVE_EVERY_S:
            self._resolve(sender)
            return source in self.allowed.get(sender, ())
        return False

    # -- out ----------------------------------------------------------------------------------
    def send(self, peer: int, body: bytes) -> None:
        t = self.transport
        addr = self.addrs.get(peer)
        if t is None or t.is_closing():
            return
        if addr is None:
            if time.monotonic() - self.resolved_at.get(peer, 0.0) >= RESOLVE_EVERY_S:
                self._resolve(peer)
            addr = self.addrs.get(peer)
            if addr is None:
                self.stats["send_dropped"] += 1
                return
        if t.get_write_buffer_size() > SEND_BUFFER_LIMIT:
            self.stats["send_dropped"] += 1  # the socket is not keeping up: a lost datagram
            return
        self.next_id += 1
        for d in split(self.id, self.next_id, body):
            t.sendto(d, addr)
        self.stats["sent"] += 1

    # -- in (asyncio.DatagramProtocol) ----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            sender, mid, index, count, payload = parse(data)
        except DatagramError as e:
            self._malformed(addr, e)
            return
        if not self._from_peer(sender, addr):
            self.stats["refused"] += 1
            if self.stats["refused"] in (1, 10) or self.stats["refused"] % 1000 == 0:
                log.warning(
                    "udp: refused a datagram claiming node %d from %s:%s (%d so far)",
                    sender, addr[0], addr[1], self.stats["refused"],
                )  # fmt: skip
            return
        try:
            body = self.reassembler.add(sender, mid, index, count, payload)
        except DatagramError as e:
            self._malformed(addr, e)
            return
        if body is not None:
            self.heard[sender] = time.monotonic()
            self.stats["received"] += 1
            self.deliver(sender, body)

    def _malformed(self, addr: tuple, e: Exception) -> None:
        self.stats["malformed"] += 1
        n = self.stats["malformed"]
        if n in (1, 10) or n % 1000 == 0:
            log.warning("udp: dropped a datagram from %s: %s (%d so far)", addr, e, n)

    def error_received(self, exc: Exception) -> None:
        # e.g. ECONNREFUSED from an ICMP error: a peer that is down; Paxos retries on its own
        log.debug("udp: %s", exc)

    def connected_peers(self, within: float = 2.0) -> list[int]:
        """Peers heard from in the last ``within`` seconds (UDP has no connections)."""
        now = time.monotonic()
        return sorted(p for p, t in self.heard.items() if now - t <= within)
