"""The simulated world as a cluster backend needs it: disks with an fsync window, clocks that
drift, a network with netem, and nodes that start only when asked.

``World`` (cluster.sim.world) runs each replica in the node's own runtime
(``paxos_impl.runtime``) with an instant disk. A real node writes, waits for the fsync, and
only then sends (persist-then-send); events that arrive meanwhile queue up and go together
in the next batch (group commit). :class:`RuntimeWorld` gives the runtime's writes a random
fsync latency, because that window is where a power cut finds written-but-not-synced bytes,
and it is the same runtime code that decides what waits for it. Time
on a node is ``t + offset + (t - anchor) * rate``: an offset the clock nemesis sets and a
drift rate, so a lease's assumption of bounded drift can be put to the test.

:class:`SimNetwork` decides delivery per message, as the peers' transport
(``Config.transport``) would: over **UDP** node-to-node messages may be dropped, duplicated
and reordered (independent delays), blocked one way (a grudge), slowed and thinned by netem;
over **TCP** each link keeps its order (a message never overtakes an earlier one on the same
link), is never duplicated, and loses nothing but to a reset: a lost segment (the link's
``drop``, netem loss) costs retransmission timeouts, and only a partition (a connection
that cannot get through) or a crash (messages to a dead incarnation) loses messages. Client
connections are TCP either way.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from heapq import heappush

from cluster.sim.codec import decode, encode
from cluster.sim.disk import SimDisk
from cluster.sim.network import LinkModel, Network
from cluster.sim.world import DurableView, SimNode, World
from paxos_impl.config import Config
from paxos_impl.runtime import Batch

_INF = float("inf")
TCP_RTO = 0.2  # first retransmission timeout of a lost segment on a client connection


class Netem:
    """One node's egress shaping (like ``tc qdisc ... netem delay D J loss L``)."""

    __slots__ = ("delay", "jitter", "loss")

    def __init__(self, delay: float = 0.0, jitter: float = 0.0, loss: float = 0.0) -> None:
        self.delay, self.jitter, self.loss = delay, jitter, loss


class SimNetwork(Network):
    """Delivery decisions; nodes are ints, client connections are named by strings."""

    def __init__(
        self,
        rng: random.Random,
        default: LinkModel | None = None,
        transport: str = "udp",
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        super().__init__(rng, default)
        self.netem: dict[object, Netem] = {}
        self.tcp = transport == "tcp"
        self.clock = clock  # the world's time: a TCP link delivers in order from now on
        self.last_arrival: dict[tuple[object, object], float] = {}  # TCP: per link

    def delays(self, src: object, dst: object) -> list[float]:
        self.sent += 1
        m = self.links.get((src, dst), self.default)
        rng = self.rng
        base = m.delay_min + (m.delay_max - m.delay_min) * rng.random()
        shape = self.netem.get(src)
        if isinstance(src, str) or isinstance(dst, str):  # a client's TCP connection
            d = base
            if shape is not None:
                d += self._netem_delay(shape)
                rto = TCP_RTO
                while shape.loss and rng.random() < shape.loss and rto < 10:
                    d += rto
                    rto *= 2
            return [d]
        if (src, dst) in self.blocked:
            self.dropped += 1
            return []
        if self.tcp:
            return [self._tcp_delay(src, dst, m, base, shape)]
        if (m.drop and rng.random() < m.drop) or (
            shape is not None and shape.loss and rng.random() < shape.loss
        ):
            self.dropped += 1
            return []
        extra = self._netem_delay(shape) if shape is not None else 0.0
        out = [base + extra]
        if m.dup and rng.random() < m.dup:
            out.append(m.delay_min + (m.delay_max * 3 - m.delay_min) * rng.random() + extra)
        return out

    def _tcp_delay(
        self, src: object, dst: object, m: LinkModel, base: float, shape: Netem | None
    ) -> float:
        """A peer message over TCP: a lost segment is sent again after a retransmission
        timeout (doubling), and the message arrives no earlier than the one before it on
        this link (one connection, one byte stream)."""
        rng = self.rng
        d = base
        loss = m.drop
        if shape is not None:
            d += self._netem_delay(shape)
            loss = 1 - (1 - loss) * (1 - shape.loss)
        rto = TCP_RTO
        while loss and rng.random() < loss and rto < 10:
            d += rto
            rto *= 2
        now = self.clock()
        key = (src, dst)
        at = now + d
        last = self.last_arrival.get(key, 0.0)
        if at <= last:
            at = last + 1e-9
        self.last_arrival[key] = at
        return at - now

    def _netem_delay(self, shape: Netem) -> float:
        if not shape.delay and not shape.jitter:
            return 0.0
        return max(0.0, shape.delay + shape.jitter * (2 * self.rng.random() - 1))


class RuntimeWorld(World):
    """World with per-node fsync windows, drifting clocks, power loss and explicit starts."""

    def __init__(
        self,
        config: Config,
        seed: int,
        link: LinkModel | None = None,
        fsync_latency: tuple[float, float] = (0.0005, 0.002),
    ) -> None:
        self._booting = True
        self.fsync_latency = fsync_latency
        self.on_crash: Callable[[int], None] | None = None
        super().__init__(config, seed, link)
        self._booting = False
        self.net = SimNetwork(self.net.rng, self.net.default, config.transport, lambda: self.now)
        self.disk_rng = random.Random(self.rng.random())
        self.node_configs: dict[int, Config] = {}
        for i, n in self.nodes.items():
            n.disk = SimDisk(f"n{i + 1}")  # type: ignore[assignment]

    def add_node(self, i: int) -> None:
        """A new host with an empty disk (the membership nemesis grows the cluster)."""
        if i in self.nodes:
            raise ValueError(f"node {i} exists")
        self.nodes[i] = SimNode(i)
        self.nodes[i].disk = SimDisk(f"n{i + 1}")  # type: ignore[assignment]

    def next_event_time(self) -> float | None:
        return self._events[0][0] if self._events else None

    # -- life cycle --------------------------------------------------------------------------
    def restart(self, i: int, config: Config | None = None) -> None:
        if self._booting:
            return  # nodes start when the cluster is told to start them
        if config is not None:
            self.node_configs[i] = config
        base = self.config
        self.config = self.node_configs.get(i, base)
        try:
            super().restart(i)
        finally:
            self.config = base

    def crash(self, i: int, power_loss: bool = False) -> str:  # type: ignore[override]
        """kill -9 (the page cache survives) or a power loss (unsynced bytes may not)."""
        was_up = self.nodes[i].up
        super().crash(i)
        n = self.nodes[i]
        n.syncing = False
        disk: SimDisk = n.disk  # type: ignore[assignment]
        mark = disk.mark()
        fate = disk.crash(power_loss, self.disk_rng)
        # what the disk holds now (kept, lost or torn) decides what the node may claim: the
        # view already holds every synced record, so only what the crash made durable is new
        # (re-reading the whole log on every kill was most of a kill's cost)
        added = disk.durable_since(mark)
        if added is None:  # a snapshot landed: start over from it
            n.durable = DurableView()
            if disk.snapshot is not None:
                n.durable.snapshot(disk.snapshot)
            added = disk.durable_records()
        for rec in added:
            n.durable.record(rec)
        if was_up and self.on_crash is not None:
            self.on_crash(i)
        return fate

    # -- clocks ------------------------------------------------------------------------------
    def node_time(self, i: int) -> float:
        n = self.nodes[i]
        now = self.now
        return now + n.clock_offset + (now - n.anchor) * n.rate

    def set_clock(self, i: int, offset: float | None = None, rate: float | None = None) -> None:
        """Set the offset (now) and/or the drift rate from now on; a running node ticks at once
        so its timers follow the new clock (the real runtime re-arms within a second)."""
        n = self.nodes[i]
        current = self.node_time(i) - self.now
        n.clock_offset = current if offset is None else offset
        n.anchor = self.now
        if rate is not None:
            n.rate = rate
        if n.up:
            self._schedule_tick(i, self.node_time(i))

    def set_clock_offset(self, i: int, seconds: float) -> None:
        self.set_clock(i, offset=seconds)

    def _schedule_tick(self, i: int, node_t: float) -> None:
        n = self.nodes[i]
        rate = n.rate
        t = (node_t - n.clock_offset + n.anchor * rate) / (1 + rate)
        self._arm_tick(i, max(self.now, t), not_before=node_t)

    # -- the runtime's IO: persist -> fsync -> send -------------------------------------------
    # These run for every event of a simulation: they are written out (no helper per
    # message, no closure) because the glue around a core step cost as much as the step.
    def _deliver(self, src: int, dst: int, data: bytes | str, inc: int, mid: int = 0) -> None:
        n = self.nodes[dst]
        rt = n.rt
        if rt is None or n.incarnation != inc:  # sent to an incarnation that has died
            return
        if self.trace is not None:
            self.trace.received(self.now, self.node_time(dst), src, dst, mid)
        if n.paused or n.syncing or rt.events:
            rt.events.append(("peer", src, decode(data)))
            return
        n.commit_before = n.replica.commit_index  # type: ignore[union-attr]
        batch = rt.step(("peer", src, decode(data)))  # idle: a batch of one (World._push)
        self.steps += 1
        if batch.writes:
            self._write_from(n, dst, batch, 0)
        elif batch.messages or batch.replies:
            rt.finish(batch)

    def _want_tick(self, n: SimNode, i: int, nt: float | None) -> None:
        """Arm the wake-up the core asked for (node time ``nt``), in world time."""
        if nt is None:
            n.want_tick = _INF
            return
        rate = n.rate
        t = (nt - n.clock_offset + n.anchor * rate) / (1 + rate) if rate else nt - n.clock_offset
        if t < self.now:
            t = self.now
        n.want_tick, n.want_not_before = t, nt
        if t < n.tick_at:  # earlier than the armed wake-up (see World._arm_tick)
            n.tick_at = t
            self._seq += 1
            heappush(self._events, (t, self._seq, self._tick_fire, (i, n.incarnation, t)))

    def _write_from(self, n: SimNode, i: int, batch: Batch, k: int) -> None:
        """Write k of the batch into the page cache and fsync it after a random latency; past
        the last write, release the batch (send, answer) and run what queued meanwhile."""
        if k >= len(batch.writes):
            n.syncing = False
            rt = n.rt
            if rt is not None:
                rt.finish(batch)
                self._run(n, i)
            return
        if k == 0:
            self._send_early(n, i, batch)
        records, snapshot = batch.writes[k]
        try:
            n.disk.write(records, snapshot)  # type: ignore[attr-defined]
        except OSError:  # a full disk: the real node stops (fail-stop), sending nothing
            self.crash(i)
            return
        n.syncing = True
        lo, hi = self.fsync_latency
        self._seq += 1
        heappush(
            self._events,
            (
                self.now + (lo + (hi - lo) * self.rng.random()),
                self._seq,
                self._synced,
                (i, n.incarnation, batch, k),
            ),
        )

    def _synced(self, i: int, inc: int, batch: Batch, k: int) -> None:
        n = self.nodes[i]
        if n.incarnation != inc or n.replica is None:
            return
        n.disk.sync()  # type: ignore[attr-defined]
        records, snapshot = batch.writes[k]
        record = n.durable.record
        for rec in records:
            record(rec)
        if snapshot is not None:
            n.durable.snapshot(snapshot)
        if n.paused:  # durable now, but a stopped process writes or sends nothing more
            n.held = (batch, k + 1)
            return
        self._write_from(n, i, batch, k + 1)

    def _emit(self, i: int, messages: list[tuple[int, dict]]) -> None:
        """Send what a batch produced; a broadcast is one dict sent to every peer, so it is
        serialised once. Checks persist-then-send as World does (cluster.sim.world)."""
        n = self.nodes[i]
        nodes, events, delays, deliver = self.nodes, self._events, self.net.delays, self._deliver
        now = self.now
        last: dict | None = None
        data: bytes | str = ""
        tr = self.trace
        clock = self.node_time(i) if tr is not None else 0.0
        mid = 0
        for dst, m in messages:
            if m is not last:
                last, data = m, encode(m)
                if not n.durable.covers(m):
                    self.violations.append(
                        f"t={self.now:.3f} node {i} sent {m['type']} {m['ballot']} before its "
                        "disk held it (persist-then-send)"
                    )
            if tr is not None:
                mid = tr.sent(now, clock, i, dst, data)
            for d in delays(i, dst):
                self._seq += 1
                heappush(
                    events,
                    (now + d, self._seq, deliver, (i, dst, data, nodes[dst].incarnation, mid)),
                )
