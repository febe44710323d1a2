"""A hand-cranked network of sans-IO replicas: every delivery, tick and request by hand.

The core's unit tests drive replicas through this bus so each test decides exactly which
messages arrive and when time moves. Every event goes through the node runtime
(:class:`paxos_impl.runtime.NodeRuntime`), the same code that runs a real node and a
simulated one: the bus is only its host (an in-memory transport, a clock that moves when
told, a disk that is a list), so what a test sees is what a node would do, including how a
malformed message is dropped and a malformed request answered.

With ``wire=True`` every message, record and reply also goes through the wire's and the
log's encoders, as on a real node (what the receiver gets is the decoded frame, not the
sender's object); the bus remembers the biggest frame and the message types it saw. A crash
keeps what the node persisted (``disk``, ``snap``) and a restart rebuilds the replica from it,
as the node's recovery does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paxos_impl import wire
from paxos_impl.config import Config, local_config
from paxos_impl.core import Replica
from paxos_impl.messages import ProtocolError
from paxos_impl.runtime import Batch, Event, NodeRuntime
from paxos_impl.storage import encode_record


@dataclass
class NodeStep:
    """What one event made a node do, in the runtime's order: persist (and snapshot), send,
    answer; then when it next wants a tick. ``refused`` says why the runtime dropped the
    event, if it did."""

    persist: list[dict] = field(default_factory=list)
    snapshot: dict | None = None
    messages: list[tuple[int, dict]] = field(default_factory=list)
    replies: list[tuple[object, dict]] = field(default_factory=list)
    next_tick: float | None = None
    refused: str | None = None


class _Host:
    """One node's side of the bus: the runtime's transport and timer."""

    def __init__(self, bus: Bus, i: int) -> None:
        self.bus, self.i = bus, i

    def send(self, messages: list[tuple[int, dict]]) -> None:
        b = self.bus
        for d, m in messages:
            if b.wire:
                frame = wire.encode(m, b.cfg.max_frame_bytes)  # FrameError: not sendable
                b.biggest = max(b.biggest, len(frame))
                b.types.add(m["type"])
                m = wire.decode_body(frame[4:])
            b.net.append((self.i, d, m))

    def reply(self, replies: list[tuple[object, dict]]) -> None:
        if self.bus.wire:
            for _h, rep in replies:
                wire.encode(rep, self.bus.cfg.max_frame_bytes)
        self.bus.replies += replies

    def live(self, handle: object) -> bool:
        return True  # the bus has no request timeouts: every request is still waiting

    def arm(self, at: float | None) -> None:
        self.bus.ticks[self.i] = at

    def later(self, delay: float, fn: Callable[[object], None], arg: object) -> object:
        raise NotImplementedError("the bus runs without request timeouts")


class Bus:
    """n replicas, one FIFO queue of messages in flight, a clock that only moves when told."""

    def __init__(
        self, n: int = 3, seed: int = 0, *, wire: bool = False, start: bool = True, **kw: Any
    ) -> None:
        self.cfg: Config = local_config(n, **kw)
        self.seed = seed
        self.wire = wire
        self.restarts = 0
        self.r: dict[int, Replica] = {i: Replica(i, self.cfg, self.rng(i)) for i in range(n)}
        self.rt: dict[int, NodeRuntime] = {}
        self.now = 0.0
        self.net: list[tuple[int, int, dict]] = []
        self.replies: list[tuple[object, dict]] = []
        self.ticks: dict[int, float | None] = {}
        self.disk: dict[int, list] = {i: [] for i in range(n)}
        self.snap: dict[int, dict | None] = dict.fromkeys(range(n))
        self.cut: set[int] = set()  # nodes cut off from everyone
        self.biggest = 0
        self.types: set[str] = set()
        if start:  # else the caller starts each replica (and sees what it did)
            for i in self.r:
                self.start(i)

    def rng(self, i: int) -> random.Random:
        """Node i's randomness: fixed by the seed (and by how many restarts came before)."""
        return random.Random(self.seed * 100 + i + 1000 * self.restarts)

    # -- events, each through node i's runtime -------------------------------------------------
    def runtime(self, i: int) -> NodeRuntime:
        """Node i's runtime, made anew when a test or a restart put a new replica in place."""
        rt = self.rt.get(i)
        if rt is None or rt.replica is not self.r[i]:
            host = _Host(self, i)
            encode = self._checked if self.wire else (lambda rec: rec)
            rt = NodeRuntime(self.r[i], lambda: self.now, host, host, encode, ProtocolError)
            self.rt[i] = rt
        return rt

    @staticmethod
    def _checked(rec: dict) -> dict:
        encode_record(rec)  # raises if the record could not be written: the runtime refuses
        return rec

    def event(self, i: int, event: Event) -> NodeStep:
        """Node i handles one event: the runtime steps the core, the bus writes what it asked
        to (the snapshot replacing every record before it), then the runtime sends and
        answers."""
        rt, answered = self.runtime(i), len(self.replies)
        batch: Batch = rt.step(event)
        refused = "; ".join(why for _e, why in batch.refused) or None
        step = NodeStep(messages=batch.messages, refused=refused)
        for records, snap in batch.writes:
            step.persist += records
            self.disk[i] += records
            if snap is not None:
                step.snapshot = snap
                self.snap[i], self.disk[i] = snap, []  # it covers every record before it
        rt.finish(batch)
        step.replies = self.replies[answered:]  # with any the runtime gave at once (bad_request)
        step.next_tick = self.ticks.get(i)
        return step

    def start(self, i: int) -> NodeStep:
        return self.event(i, ("start",))

    def tick(self, i: int, at: float | None = None) -> NodeStep:
        """Node i's timer fires (at time ``at``: the clock moves there first)."""
        if at is not None:
            self.now = at
        return self.event(i, ("tick",))

    def message(self, i: int, src: int, m: dict) -> NodeStep:
        return self.event(i, ("peer", src, m))

    def client(self, i: int, handle: object, req: object) -> NodeStep:
        return self.event(i, ("client", handle, req))

    def request(self, i, handle, op, key="k", value=None, cid="c", seq=1) -> NodeStep:
        req = {"op": op, "key": key, "value": value, "client_id": cid, "seq": seq}
        return self.client(i, handle, req)

    # -- the network and time --------------------------------------------------------------
    def deliver(self, limit: int = 200000) -> None:
        """Deliver everything in flight, and what that provokes, unless a node is cut off."""
        while self.net and limit:
            limit -= 1
            src, dst, m = self.net.pop(0)
            if src in self.cut or dst in self.cut or dst not in self.r:
                continue
            self.message(dst, src, m)

    def run(self, seconds: float, dt: float = 0.005) -> None:
        """Let time pass in steps of dt: deliver, then fire every timer that is due."""
        end = self.now + seconds
        while self.now < end:
            self.deliver()
            self.now += dt
            for i, t in list(self.ticks.items()):
                if t is not None and t <= self.now and i in self.r:
                    self.tick(i)
        self.deliver()

    def crash(self, i: int) -> None:
        """Node i stops: its volatile state is gone, its disk stays."""
        del self.r[i]
        self.rt.pop(i, None)
        self.ticks[i] = None

    def restart(self, i: int) -> NodeStep:
        """Node i comes back from what it persisted (snapshot, then the records after it)."""
        self.restarts += 1
        self.r[i] = Replica(i, self.cfg, self.rng(i), self.snap[i], list(self.disk[i]))
        return self.start(i)

    def leader(self) -> int:
        ls = [i for i, r in self.r.items() if r.status()["role"] == "leader"]
        assert len(ls) == 1, ls
        return ls[0]

    def answers(self, handle) -> list[dict]:
        return [rep for h, rep in self.replies if h == handle]
