"""Clock faults through per-node offsets (libfaketime in the containers; the host is untouched).

``bump`` shifts some nodes' clocks by milliseconds up to minutes, ``strobe`` flips a node's
offset back and forth quickly while the fault lasts; stopping resets every clock.

``rate-split`` (only when named: ``clock:rate-split``; backends with the ``clock-rate``
capability, i.e. the simulator) makes the leader's clock run slow and every other clock
fast, each by 40% to 45%, while the fault lasts. It is the fault aimed at the lease read
route: a leader's lease and its followers' grants are durations on different clocks, and
the store assumes their rates differ by less than ``max_clock_drift_ms`` per ``lease_ms``
(10% by default). An offset jump cannot break that assumption (a duration is a difference
of one clock's readings, and the leader's timers move with a backward jump); a rate can.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from cluster.capabilities import Clock, ClockRate
from nemesis.base import FaultContext, Nemesis, leader_or_random, minority, on_each

MIN_BUMP_S = 0.005
MAX_BUMP_S = 300.0


def bump_offset(rng) -> float:
    """A signed offset, log-uniform between 5 ms and 5 minutes."""
    mag = math.exp(rng.uniform(math.log(MIN_BUMP_S), math.log(MAX_BUMP_S)))
    return round(mag if rng.random() < 0.5 else -mag, 3)


class ClockNemesis(Nemesis):
    name = "clock"
    KINDS = ("bump", "strobe")
    EXTRA_KINDS = ("rate-split",)
    CAPABILITY = "clock"
    RATE = (0.4, 0.45)  # how far from real speed rate-split sets each clock (the bound: 0.1)

    def requires(self, capabilities: set[str], final: bool = True) -> set[str]:
        return {"clock", "clock-rate"} if "rate-split" in self.kinds else {"clock"}

    def __init__(self, kinds: list[str] | None = None) -> None:
        super().__init__(kinds)
        self._strobe: asyncio.Task | None = None

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        if kind == "rate-split":
            leader, known = await leader_or_random(fx)
            rates = {
                n: round((-1 if n == leader else 1) * fx.rng.uniform(*self.RATE), 3)
                for n in fx.cluster.nodes
            }
            await asyncio.gather(
                *(fx.call(fx.can(ClockRate).set_clock_drift, n, r) for n, r in rates.items())
            )
            return {"kind": kind, "leader": leader, "leader_known": known, "rates": rates}
        nodes = list(fx.cluster.nodes)
        victims = fx.rng.sample(nodes, fx.rng.randint(1, max(1, minority(len(nodes)))))
        victims.sort(key=nodes.index)
        if kind == "bump":
            offsets = {n: bump_offset(fx.rng) for n in victims}
            await asyncio.gather(
                *(fx.call(fx.can(Clock).set_clock_offset, n, o) for n, o in offsets.items())
            )
            return {"kind": kind, "nodes": victims, "offsets": offsets}
        delta = round(fx.rng.uniform(0.05, 2.0), 3)
        period = round(fx.rng.uniform(0.05, 0.3), 3)
        self._strobe = asyncio.ensure_future(self._run_strobe(fx, victims, delta, period))
        return {"kind": kind, "nodes": victims, "delta_s": delta, "period_s": period}

    async def _run_strobe(self, fx: FaultContext, nodes: list[str], delta: float, period: float):
        on = True
        while True:
            await on_each(fx, fx.can(Clock).set_clock_offset, nodes, delta if on else 0.0)
            on = not on
            await fx.sleep(period)

    async def _cancel_strobe(self) -> None:
        if self._strobe is not None:
            self._strobe.cancel()
            try:
                await self._strobe
            except (asyncio.CancelledError, Exception):
                pass
            self._strobe = None

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        await self._cancel_strobe()
        await fx.call(fx.can(Clock).reset_clocks)
        return {"reset": "clocks"}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        return await self.stop(fx)
