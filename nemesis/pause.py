"""SIGSTOP / SIGCONT of store processes: a node that is alive but silent (a long GC, a VM stall)."""

from __future__ import annotations

from typing import Any

from cluster.capabilities import Pause
from nemesis.base import FaultContext, Nemesis, NemesisError, on_each
from nemesis.kill import pick_nodes


class PauseNemesis(Nemesis):
    name = "pause"
    KINDS = ("one", "minority", "leader")
    CAPABILITY = "pause"

    def __init__(self, kinds: list[str] | None = None) -> None:
        super().__init__(kinds)
        self.paused: list[str] = []

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        victims, extra = await pick_nodes(kind, fx)
        down = await _down(fx, victims)
        if down:  # killed by an overlapping fault: pause as many of the running nodes instead
            nodes = list(fx.cluster.nodes)
            up = [n for n in nodes if n not in await _down(fx, nodes)]
            if not up:
                raise NemesisError("no node is running: nothing to pause")
            victims = fx.rng.sample(up, min(len(victims), len(up)))
            victims.sort(key=nodes.index)
            extra["instead_of_not_running"] = down
        self.paused += [n for n in victims if n not in self.paused]
        await on_each(fx, fx.can(Pause).pause, victims)
        return {"kind": kind, "nodes": victims, **extra}

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        resumed, self.paused = list(self.paused), []
        down = await _down(fx, resumed)  # killed while paused: the pause died with it
        resumed = [n for n in resumed if n not in down]
        await on_each(fx, fx.can(Pause).resume, resumed)
        return {"resumed": resumed, **({"not_running": down} if down else {})}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Resume what we paused; SIGCONT to every other running node too (harmless if running)."""
        out = await self.stop(fx)

        def resume_quietly(n: str) -> None:
            try:
                fx.can(Pause).resume(n)
            except Exception:
                pass  # a node that is not running has nothing to resume

        await on_each(fx, resume_quietly, [n for n in fx.cluster.nodes if n not in out["resumed"]])
        return out


async def _down(fx: FaultContext, nodes: list[str]) -> list[str]:
    """Those of ``nodes`` whose store is not running (an overlapping kill)."""
    running = await on_each(fx, fx.cluster.is_running, nodes)
    return [n for n, up in zip(nodes, running, strict=True) if not up]
