"""A hand-cranked network of sans-IO replicas: every delivery, tick and request by hand.

The core's unit tests drive ``Replica`` objects through this bus so each test decides exactly
which messages arrive and when time moves. With ``wire=True`` every message, record and reply
goes through the wire's and the log's encoders, as on a real node (what the receiver gets is
the decoded frame, not the sender's object); the bus also remembers the biggest frame and the
message types it saw. A crash keeps what the node persisted (``disk``, ``snap``) and a restart
rebuilds the replica from it, as the node runtime's recovery does.
"""

from __future__ import annotations

import random
from typing import Any

from paxos_impl import wire
from paxos_impl.config import Config, local_config
from paxos_impl.core import Ready, Replica
from paxos_impl.storage import encode_record


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
        self.now = 0.0
        self.net: list[tuple[int, int, dict]] = []
        self.replies: list[tuple[object, dict]] = []
        self.ticks: dict[int, float | None] = {}
        self.disk: dict[int, list] = {i: [] for i in range(n)}
        self.snap: dict[int, dict | None] = dict.fromkeys(range(n))
        self.cut: set[int] = set()  # nodes cut off from everyone
        self.biggest = 0
        self.types: set[str] = set()
        if start:  # else the caller starts each replica (and sees its first Ready)
            for i, r in self.r.items():
                self.take(i, r.start(0.0))

    def rng(self, i: int) -> random.Random:
        """Node i's randomness: fixed by the seed (and by how many restarts came before)."""
        return random.Random(self.seed * 100 + i + 1000 * self.restarts)

    def take(self, i: int, ready: Ready) -> Ready:
        """Do what a Ready says, in its order: persist, snapshot, send, answer, set the timer."""
        for rec in ready.persist:
            if self.wire:
                encode_record(rec)  # raises if a record could not be written
        self.disk[i] += ready.persist
        if ready.snapshot is not None:
            if self.wire:
                encode_record(ready.snapshot)
            self.snap[i], self.disk[i] = ready.snapshot, []  # it covers every record before it
        for d, m in ready.messages:
            if self.wire:
                frame = wire.encode(m, self.cfg.max_frame_bytes)  # FrameError: not sendable
                self.biggest = max(self.biggest, len(frame))
                self.types.add(m["type"])
                m = wire.decode_body(frame[4:])
            self.net.append((i, d, m))
        for _h, rep in ready.replies:
            if self.wire:
                wire.encode(rep, self.cfg.max_frame_bytes)
        self.replies += ready.replies
        self.ticks[i] = ready.next_tick
        return ready

    def deliver(self, limit: int = 200000) -> None:
        """Deliver everything in flight, and what that provokes, unless a node is cut off."""
        while self.net and limit:
            limit -= 1
            src, dst, m = self.net.pop(0)
            if src in self.cut or dst in self.cut or dst not in self.r:
                continue
            self.take(dst, self.r[dst].on_message(src, m, self.now))

    def run(self, seconds: float, dt: float = 0.005) -> None:
        """Let time pass in steps of dt: deliver, then fire every timer that is due."""
        end = self.now + seconds
        while self.now < end:
            self.deliver()
            self.now += dt
            for i, t in list(self.ticks.items()):
                if t is not None and t <= self.now and i in self.r:
                    self.take(i, self.r[i].on_tick(self.now))
        self.deliver()

    def request(self, i, handle, op, key="k", value=None, cid="c", seq=1) -> Ready:
        req = {"op": op, "key": key, "value": value, "client_id": cid, "seq": seq}
        return self.take(i, self.r[i].on_client_request(handle, req, self.now))

    def crash(self, i: int) -> None:
        """Node i stops: its volatile state is gone, its disk stays."""
        del self.r[i]
        self.ticks[i] = None

    def restart(self, i: int) -> Ready:
        """Node i comes back from what it persisted (snapshot, then the records after it)."""
        self.restarts += 1
        self.r[i] = Replica(i, self.cfg, self.rng(i), self.snap[i], list(self.disk[i]))
        return self.take(i, self.r[i].start(self.now))

    def leader(self) -> int:
        ls = [i for i, r in self.r.items() if r.status()["role"] == "leader"]
        assert len(ls) == 1, ls
        return ls[0]

    def answers(self, handle) -> list[dict]:
        return [rep for h, rep in self.replies if h == handle]
