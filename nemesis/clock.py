"""Clock faults through per-node offsets (libfaketime in the containers; the host is untouched).

``bump`` shifts some nodes' clocks by milliseconds up to minutes, ``strobe`` flips a node's
offset back and forth quickly while the fault lasts; stopping resets every clock.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from nemesis.base import FaultContext, Nemesis, minority, on_each

MIN_BUMP_S = 0.005
MAX_BUMP_S = 300.0


def bump_offset(rng) -> float:
    """A signed offset, log-uniform between 5 ms and 5 minutes."""
    mag = math.exp(rng.uniform(math.log(MIN_BUMP_S), math.log(MAX_BUMP_S)))
    return round(mag if rng.random() < 0.5 else -mag, 3)


class ClockNemesis(Nemesis):
    name = "clock"
    KINDS = ("bump", "strobe")
    CAPABILITY = "clock"

    def __init__(self, kinds: list[str] | None = None) -> None:
        super().__init__(kinds)
        self._strobe: asyncio.Task | None = None

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        nodes = list(fx.cluster.nodes)
        victims = fx.rng.sample(nodes, fx.rng.randint(1, max(1, minority(len(nodes)))))
        victims.sort(key=nodes.index)
        if kind == "bump":
            offsets = {n: bump_offset(fx.rng) for n in victims}
            await asyncio.gather(
                *(fx.call(fx.cluster.set_clock_offset, n, o) for n, o in offsets.items())
            )
            return {"kind": kind, "nodes": victims, "offsets": offsets}
        delta = round(fx.rng.uniform(0.05, 2.0), 3)
        period = round(fx.rng.uniform(0.05, 0.3), 3)
        self._strobe = asyncio.ensure_future(self._run_strobe(fx, victims, delta, period))
        return {"kind": kind, "nodes": victims, "delta_s": delta, "period_s": period}

    async def _run_strobe(self, fx: FaultContext, nodes: list[str], delta: float, period: float):
        on = True
        while True:
            await on_each(fx, fx.cluster.set_clock_offset, nodes, delta if on else 0.0)
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
        await fx.call(fx.cluster.reset_clocks)
        return {"reset": "clocks"}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        return await self.stop(fx)
