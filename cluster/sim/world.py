"""A deterministic world in virtual time that runs N sans-IO Paxos replicas in one process.

Everything that happens is an event on one heap ordered by (virtual time, sequence number);
every random choice comes from one seeded ``random.Random``. Hence one seed is one schedule,
replayable exactly, with no threads and no wall clock. Each replica runs inside the node's
own runtime (:class:`paxos_impl.runtime.NodeRuntime`, the same code the asyncio node runs:
event batches, group commit, persist-then-send); the world is that runtime's IO: its
transport (the simulated network), its timer and clock (virtual time, per-node offsets),
and its disk. Here the disk is instant; :class:`cluster.sim.runtime.RuntimeWorld` gives it
an fsync window and power loss. On a crash the world throws away everything but the disk.

It also watches the cores through their observer hook, recording every slot any replica
learned or applied, so the safety properties (one value per slot, applied logs agree) are
checked on every step rather than guessed from the outside.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from cluster.sim.codec import copy as _copy
from cluster.sim.codec import decode, encode
from cluster.sim.machines import launcher
from cluster.sim.network import LinkModel, Network
from cluster.sim.trace import SimTrace
from paxos_impl.config import Config
from paxos_impl.core import ProtocolError, Replica
from paxos_impl.runtime import AsyncApplier, Batch, NodeRuntime, early_types


@dataclass
class Disk:
    """A node's durable storage: the latest snapshot and the records written after it."""

    snapshot: dict | None = None
    records: list[dict] = field(default_factory=list)
    writes: int = 0  # persist batches (one fsync each in the real node)

    def recover(self) -> tuple[dict | None, list[dict]]:
        """What a restarting node reads: copies, its own to change."""
        return _copy(self.snapshot), _copy(self.records)


class DurableView:
    """What a node's disk says its acceptor promised and accepted, kept up to date as the
    world persists records; checked against every promise / accepted message sent, which is
    the persist-then-send rule seen from outside."""

    def __init__(self) -> None:
        self.promised: tuple[int, int] = (0, -1)
        self.slot_promised: dict[int, tuple[int, int]] = {}
        self.accepted: dict[int, tuple[int, int]] = {}
        self.floor = 0

    def record(self, rec: dict) -> None:
        t = rec.get("t")
        if t == "promise":
            b = (rec["ballot"][0], rec["ballot"][1])
            if rec.get("slot") is None:
                self.promised = max(self.promised, b)
            else:
                s = rec["slot"]
                self.slot_promised[s] = max(self.slot_promised.get(s, (0, -1)), b)
        elif t == "accept":
            for s, _ in rec["entries"]:
                self.accepted[s] = (rec["ballot"][0], rec["ballot"][1])

    def snapshot(self, snap: dict) -> None:
        acc = snap.get("acceptor", {})
        self.promised = tuple(acc.get("promised", [0, -1]))  # type: ignore[assignment]
        self.slot_promised = {s: (b[0], b[1]) for s, b in acc.get("slot_promised", [])}
        self.accepted = {s: (b[0], b[1]) for s, b, _ in acc.get("accepted", [])}
        self.floor = max(snap.get("applied", 0), acc.get("floor", 0))

    def covers(self, m: dict) -> bool:
        """Is the promise or acceptance ``m`` announces already on disk?"""
        if m["type"] not in ("promise", "accepted"):
            return True
        b = (m["ballot"][0], m["ballot"][1])
        if m["type"] == "promise":
            if m["to"] is None:
                return self.promised >= b
            if m["from"] <= self.floor:  # a slot chosen and compacted: nothing to promise
                return True
            return max(self.promised, self.slot_promised.get(m["from"], (0, -1))) >= b
        # at least b: with group commit one batch may accept a slot at b and then at a higher
        # ballot; both answers leave after both records are on disk, and the later record
        # supersedes the earlier one there as it does in the acceptor
        acc = self.accepted
        return all(s <= self.floor or acc.get(s, (0, -1)) >= b for s in m["slots"])


@dataclass
class SimNode:
    id: int
    disk: Disk = field(default_factory=Disk)
    replica: Replica | None = None
    incarnation: int = 0
    clock_offset: float = 0.0
    paused: bool = False
    rt: NodeRuntime | None = None  # the node runtime around the replica (None: down)
    held: tuple[Batch, int] | None = None  # a batch whose next write waits for a resume
    stopped_timers: list[tuple[Callable[[object], None], object]] = field(default_factory=list)
    tick_at: float = float("inf")  # when the armed wake-up event fires
    want_tick: float = float("inf")  # when the core last asked to be woken (world time)
    want_not_before: float = float("-inf")
    applied_upto: int = 0  # per incarnation: the last slot applied (or installed)
    storm: int = 0  # consecutive ticks requested for "now"
    commit_before: int = 0  # the replica's commit index before its current batch was stepped
    durable: DurableView = field(default_factory=lambda: DurableView())
    checked_slot: int = 0  # the observer's last comparison (an applied slot is usually the
    checked: Any = None  # one just learned: same object, no second deep comparison)
    # the runtime's models (cluster.sim.runtime): an fsync in flight, a drifting clock
    syncing: bool = False
    rate: float = 0.0
    anchor: float = 0.0

    @property
    def up(self) -> bool:
        return self.replica is not None


class SimIO:
    """One node's runtime IO in the world: transport, timer and clock (paxos_impl.runtime).

    ``now``, ``send`` and ``arm`` run for every event of a simulation, so they are the world's
    own methods with the node bound in (``functools.partial``), not a method that calls one.
    Each client request is answered once, as by the real node: by the core, or by the
    runtime's request timeout, whichever comes first."""

    __slots__ = ("world", "i", "inc", "now", "send", "arm", "answered")

    def __init__(self, world: World, i: int) -> None:
        self.world, self.i, self.inc = world, i, world.nodes[i].incarnation
        self.now: Callable[[], float] = partial(world.node_time, i)
        self.send: Callable[[list[tuple[int, dict]]], None] = partial(world._emit, i)
        self.arm: Callable[[float | None], None] = partial(world._want_tick, world.nodes[i], i)
        self.answered: set[object] = set()

    def reply(self, replies: list[tuple[object, dict]]) -> None:
        answered = self.answered
        for handle, rep in replies:
            if handle not in answered:
                answered.add(handle)
                self.world._reply(self.i, handle, rep)

    def live(self, handle: object) -> bool:
        return handle not in self.answered

    def later(self, delay: float, fn: Callable[[object], None], arg: object) -> object:
        self.world.after(delay, self.world._node_timer, self.i, self.inc, fn, arg)
        return None


class World:
    """N replicas, a network, a clock and an event queue (see the module docstring)."""

    def __init__(self, config: Config, seed: int, link: LinkModel | None = None) -> None:
        self.config = config
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        # (when, seq, fn, args): fn(*args) at ``when``; args spare a closure per message
        self._events: list[tuple[float, int, Callable[..., None], tuple]] = []
        self._seq = 0
        self.net = Network(random.Random(self.rng.random()), link)
        # how long an asynchronous machine's apply takes (its own stream: drawing from
        # self.rng would change every other run's schedule)
        self.machine_rng = random.Random(f"{seed}-machine")
        self.nodes = {i: SimNode(i) for i in config.ids()}
        # what the observer saw
        self.log: dict[int, list] = {}  # slot -> value, first learned anywhere
        self.violations: list[str] = []
        self.client_inbox: dict[object, Callable[[dict], None]] = {}
        self.poked = False  # a client callback ran: whoever drives us may have work now
        self.steps = 0
        # every message and learning, for the report's diagram (cluster.sim.trace); None: off
        self.trace: SimTrace | None = None
        for i in self.nodes:
            self.restart(i)

    # -- events -------------------------------------------------------------------------------
    def at(self, t: float, fn: Callable[..., None], *args: object) -> None:
        self._seq += 1
        now = self.now
        heapq.heappush(self._events, (t if t > now else now, self._seq, fn, args))

    def after(self, dt: float, fn: Callable[..., None], *args: object) -> None:
        self.at(self.now + dt, fn, *args)

    def run_until(self, t: float) -> None:
        events, pop = self._events, heapq.heappop
        while events and events[0][0] <= t:
            when, _, fn, args = pop(events)
            self.now = when
            fn(*args)
        if t > self.now:
            self.now = t

    def run_until_poked(self, limit: float) -> None:
        """Run the events due before ``limit`` (exclusive), stopping after one that called a
        client back (``poked``): an event loop that drives the world gets its turn exactly
        when it may have something to do, without a call per event to ask."""
        events, pop = self._events, heapq.heappop
        self.poked = False
        while events and events[0][0] < limit:
            when, _, fn, args = pop(events)
            self.now = when
            fn(*args)
            if self.poked:
                return

    def run_for(self, dt: float) -> None:
        self.run_until(self.now + dt)

    # -- node life cycle ------------------------------------------------------------------------
    def node_time(self, i: int) -> float:
        return self.now + self.nodes[i].clock_offset

    def crash(self, i: int) -> None:
        """Lose everything in memory; the disk stays (SIGKILL)."""
        n = self.nodes[i]
        n.replica = n.rt = None
        n.incarnation += 1
        n.tick_at = n.want_tick = float("inf")
        n.paused = False
        n.held = None
        n.stopped_timers.clear()

    def restart(self, i: int) -> None:
        """Start (again) from what is on disk."""
        n = self.nodes[i]
        if n.up:
            return
        n.incarnation += 1
        snapshot, records = n.disk.recover()
        n.applied_upto = (snapshot or {}).get("applied", 0)
        rng = random.Random(self.rng.random())
        n.replica = Replica(
            i,
            self.config,
            rng,
            snapshot=snapshot,
            records=records,
            observer=self._observer(i),
        )
        io = SimIO(self, i)
        request_s = self.config.timeouts.request_ms / 1000
        n.rt = NodeRuntime(
            n.replica,
            io.now,
            io,
            io,
            protocol_error=ProtocolError,
            request_s=request_s,
            early=early_types(self.config.mode),
        )
        n.rt.applier = AsyncApplier(
            launcher(partial(self._node_later, i, n.incarnation), self._apply_delay),
            partial(self._push, i),
            self.config.bugs,
        )
        self._push(i, ("start",))

    def _node_later(self, i: int, inc: int, dt: float) -> Callable[..., None]:
        return partial(self.after, dt, self._node_timer, i, inc)

    def _apply_delay(self) -> float:
        """Virtual seconds an asynchronous machine's apply takes (0.5 to 5 ms)."""
        return self.machine_rng.uniform(0.0005, 0.005)

    def pause(self, i: int) -> None:
        self.nodes[i].paused = True

    def resume(self, i: int) -> None:
        n = self.nodes[i]
        n.paused = False
        if n.held is not None:  # a write finished while the process was stopped
            (batch, k), n.held = n.held, None
            self._write_from(n, i, batch, k)
        due, n.stopped_timers = n.stopped_timers, []
        for fn, arg in due:  # timers that came due while it was stopped
            fn(arg)
        self._run(n, i)

    def set_clock_offset(self, i: int, seconds: float) -> None:
        self.nodes[i].clock_offset = seconds

    # -- running a node: the world is its runtime's IO -------------------------------------------
    def _push(self, i: int, event: tuple) -> None:
        """An event for node i's runtime; it runs now unless the node is stopped or writing
        (then it waits, and goes with the others in the next batch: group commit)."""
        n = self.nodes[i]
        rt = n.rt
        if rt is None:
            return
        if n.paused or n.syncing or rt.events:
            rt.events.append(event)
            return
        n.commit_before = n.replica.commit_index  # type: ignore[union-attr]
        batch = rt.step(event)  # idle: a batch of one, without the queue
        self.steps += 1
        if batch.writes:
            self._write_from(n, i, batch, 0)
        elif batch.messages or batch.replies:
            rt.finish(batch)
        if rt.events:  # (not in practice: stepping pushes nothing; kept for safety)
            self._run(n, i)

    def _run(self, n: SimNode, i: int) -> None:
        """Run batches while the node may: each one's writes, then its messages."""
        rt = n.rt
        while rt is not None and rt.events and not n.paused and not n.syncing and n.rt is rt:
            n.commit_before = n.replica.commit_index  # type: ignore[union-attr]
            batch = rt.next_batch()
            self.steps += batch.events
            if batch.writes:
                self._write_from(n, i, batch, 0)
            elif batch.messages or batch.replies:
                rt.finish(batch)

    def _write_from(self, n: SimNode, i: int, batch: Batch, k: int) -> None:
        """Make writes k.. of the batch durable, then release the batch. Here at once."""
        if k == 0:
            self._send_early(n, i, batch)
        disk = n.disk
        for records, snapshot in batch.writes[k:]:
            if records:
                disk.records.extend(_copy(records))
                disk.writes += 1
                for rec in records:
                    n.durable.record(rec)
            if snapshot is not None:
                disk.snapshot = _copy(snapshot)
                disk.records = []  # the snapshot covers the whole prefix: compact it
                n.durable.snapshot(snapshot)
        if n.rt is not None:
            n.rt.finish(batch)

    def _send_early(self, n: SimNode, i: int, batch: Batch) -> None:
        """The messages the runtime lets go before the batch's writes (the leader's accepts),
        checked: the commit index an accept carries may only count votes already on disk
        (paxos_impl.runtime, "what may leave before the fsync"). A slot the node learned in
        this very batch must be held durably by a phase-2 quorum of acceptors now; if the
        node's own vote, not yet written, made up the quorum, that is a violation."""
        if n.rt is None or n.replica is None:
            return
        last = n.commit_before  # slots up to here rested on durable votes (checked before)
        for _, m in n.rt.send_early(batch):
            commit = m.get("commit", 0)
            if commit > last:
                slot = self._undurable_slot(last + 1, commit, n.replica)
                if slot is not None:
                    self.violations.append(
                        f"t={self.now:.3f} node {i} sent accept with commit {commit} before "
                        f"its fsync, but slot {slot} was on disk at fewer than a quorum"
                    )
                last = commit

    def _undurable_slot(self, lo: int, hi: int, sender: Replica) -> int | None:
        """The first slot in lo..hi that fewer than a phase-2 quorum of its voters hold on
        disk, if any. The slot's configuration (voters and quorum sizes) is the sender's:
        membership changes move both, and learners' or removed nodes' votes never count. A
        slot below the sender's oldest configuration (it learned it in a snapshot, and has
        dropped that slot's configuration) is held to every node's disk and the configuration
        file's quorum, as before membership changes existed."""
        members = sender.members
        everyone = [n.durable for n in self.nodes.values()]
        for s in range(lo, hi + 1):
            if s < members.confs[0].start:
                views, need = everyone, self.config.q2
            else:
                conf = members.at(s)
                views = [self.nodes[i].durable for i in conf.voters if i in self.nodes]
                need = members.quorums(conf)[1]
            if sum(s <= v.floor or s in v.accepted for v in views) < need:
                return s
        return None

    def _emit(self, i: int, messages: list[tuple[int, dict]]) -> None:
        n = self.nodes[i]
        for dst, m in messages:
            if not n.durable.covers(m):
                self.violations.append(
                    f"t={self.now:.3f} node {i} sent {m['type']} {m['ballot']} before its disk "
                    "held it (persist-then-send)"
                )
            self._send(i, dst, m)

    def _node_timer(self, i: int, inc: int, fn: Callable[[object], None], arg: object) -> None:
        """A runtime timer (a request's timeout): not for a dead incarnation; a stopped
        process runs it when it resumes."""
        n = self.nodes[i]
        if n.incarnation != inc:
            return
        if n.paused:
            n.stopped_timers.append((fn, arg))
            return
        fn(arg)

    def _want_tick(self, n: SimNode, i: int, at: float | None) -> None:
        if at is None:
            n.want_tick = float("inf")
        else:
            self._schedule_tick(i, at)

    def _schedule_tick(self, i: int, node_t: float) -> None:
        n = self.nodes[i]
        # (+1 ns: converting node time to world time and back must not land just before
        # the requested instant, or the core is woken early again and again)
        t = max(self.now, node_t - n.clock_offset + 1e-9)
        if node_t <= self.node_time(i):
            n.storm += 1
            if n.storm > 1000:  # a core that keeps asking for a tick "now" would hang us
                self.violations.append(
                    f"t={self.now:.3f} node {i}: asks for a tick at {node_t} again and again"
                )
                t = self.now + 0.001
                n.storm = 0
        else:
            n.storm = 0
        self._arm_tick(i, t)

    def _arm_tick(self, i: int, t: float, not_before: float = float("-inf")) -> None:
        """Wake node i at world time t (a runtime with its own clock model computes t and
        calls this). The core is told a node time of at least ``not_before``: a clock model's
        node -> world -> node conversion can round one ulp short of what the core asked for,
        and it would then ask again forever.

        The latest request wins, as in the real node, which re-arms its one timer after
        every step: a core that asked for 50 ms from now and then, one step later, for
        300 ms from now is not woken at 50 ms. An armed event that fires before the latest
        wanted time re-arms itself without stepping the core (cheaper than a heap entry per
        step); only a request earlier than the armed event adds one."""
        n = self.nodes[i]
        n.want_tick, n.want_not_before = t, not_before
        if t >= n.tick_at:
            return
        n.tick_at = t
        self.at(t, self._tick_fire, i, n.incarnation, t)

    def _tick_fire(self, i: int, inc: int, t: float) -> None:
        n = self.nodes[i]
        if n.incarnation != inc or n.tick_at != t:
            return
        want = n.want_tick
        if want > t:  # the core has since asked for a later wake-up (or none)
            n.tick_at = want
            if want != float("inf"):
                self.at(want, self._tick_fire, i, inc, want)
            return
        n.tick_at = float("inf")
        self._push(i, ("tick", n.want_not_before))  # (the core is told no earlier time)

    def _send(self, src: int, dst: int, m: dict) -> None:
        data = encode(m)
        tr = self.trace
        mid = 0 if tr is None else tr.sent(self.now, self.node_time(src), src, dst, data)
        for d in self.net.delays(src, dst):
            inc = self.nodes[dst].incarnation
            self.after(d, self._deliver, src, dst, data, inc, mid)

    def _deliver(self, src: int, dst: int, data: str, inc: int, mid: int = 0) -> None:
        n = self.nodes[dst]
        if not n.up or n.incarnation != inc:  # sent to an incarnation that has died
            return
        if self.trace is not None:
            self.trace.received(self.now, self.node_time(dst), src, dst, mid)
        self._push(dst, ("peer", src, decode(data)))

    # -- clients --------------------------------------------------------------------------------
    def request(self, client: object, node: int, handle: object, req: dict) -> None:
        """Send a client request over the (client, node) link; the reply comes back the same
        way to ``self.client_inbox[client]``."""
        delays = self.net.delays(client, node)
        data = encode(req)
        mid, tr = 0, self.trace
        if tr is not None:
            if isinstance(req, dict) and isinstance(req.get("client_id"), str):
                tr.clients[client] = req["client_id"]
            mid = tr.sent(self.now, None, client, node, data)
        for d in delays:
            inc = self.nodes[node].incarnation
            self.after(d, self._deliver_request, node, handle, data, inc, mid)

    def _deliver_request(
        self, node: int, handle: object, data: str, inc: int, mid: int = 0
    ) -> None:
        n = self.nodes[node]
        if not n.up or n.incarnation != inc:
            return
        rt = n.rt
        if rt is None:
            return
        if self.trace is not None:
            self.trace.received(self.now, self.node_time(node), handle[0], node, mid)  # type: ignore[index]
        rt.admit(handle, decode(data))
        if not n.paused and not n.syncing:
            self._run(n, node)

    def _reply(self, node: int, handle: object, rep: dict) -> None:
        client = handle[0]  # type: ignore[index]
        data = encode(rep)
        tr = self.trace
        mid = 0 if tr is None else tr.sent(self.now, self.node_time(node), node, client, data)
        for d in self.net.delays(node, client):
            self.after(d, self._deliver_reply, handle, data, mid)

    def _deliver_reply(self, handle: object, data: str, mid: int = 0) -> None:
        cb = self.client_inbox.get(handle[0])  # type: ignore[index]
        if self.trace is not None:
            self.trace.received(self.now, None, None, handle[0], mid)  # type: ignore[index]
        if cb is not None:
            self.poked = True
            cb(dict(decode(data), _handle=handle))

    # -- observation ------------------------------------------------------------------------------
    def _observer(self, i: int) -> Callable[[str, int, Any], None]:
        n = self.nodes[i]
        # In EPaxos and WPaxos modes a slot is the replica's own execution order (commands on
        # other keys may run in another order elsewhere), so slots are not compared across
        # nodes there; each node's apply order is still checked, and the history checkers
        # judge the rest.
        local_slots = self.config.mode in ("epaxos", "wpaxos")

        def observe(kind: str, slot: int, value: Any) -> None:
            if self.trace is not None and kind in ("chosen", "apply"):
                self.trace.learned(kind, self.now, self.node_time(i), i, slot)
            if kind == "conflict":
                self.violations.append(
                    f"t={self.now:.3f} node {i}: slot {slot} learned twice: {value}"
                )
            elif kind in ("chosen", "apply"):
                if local_slots:
                    pass  # EPaxos numbers the slots it executes locally: nothing to compare
                elif slot == n.checked_slot and value is n.checked:
                    pass  # the very object this node's last check of this slot compared
                else:
                    have = self.log.get(slot)
                    if have is None:
                        self.log[slot] = value
                    elif have != value:
                        self.violations.append(
                            f"t={self.now:.3f} node {i} {kind} slot {slot} = {value!r}, "
                            f"but elsewhere it is {have!r}"
                        )
                    n.checked_slot, n.checked = slot, value
                if kind == "apply":
                    if slot != n.applied_upto + 1:
                        self.violations.append(
                            f"t={self.now:.3f} node {i} applied slot {slot} after {n.applied_upto} (out of order)"
                        )
                    n.applied_upto = slot
            elif kind == "install":
                n.applied_upto = slot

        return observe

    def replica(self, i: int) -> Replica | None:
        return self.nodes[i].replica

    def statuses(self) -> dict[int, dict | None]:
        return {i: (n.replica.status() if n.replica else None) for i, n in self.nodes.items()}

    def leaders(self) -> list[int]:
        return [i for i, s in self.statuses().items() if s and s["role"] == "leader"]

    def reference_log(self) -> list[list]:
        """Chosen values of slots 1..k, as far as they are contiguous."""
        out = []
        s = 1
        while s in self.log:
            out.append(self.log[s])
            s += 1
        return out
