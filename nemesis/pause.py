"""SIGSTOP / SIGCONT of store processes: a node that is alive but silent (a long GC, a VM stall)."""

from __future__ import annotations

from typing import Any

from nemesis.base import FaultContext, Nemesis, on_each
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
        self.paused += [n for n in victims if n not in self.paused]
        await on_each(fx, fx.cluster.pause, victims)
        return {"kind": kind, "nodes": victims, **extra}

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        resumed, self.paused = list(self.paused), []
        await on_each(fx, fx.cluster.resume, resumed)
        return {"resumed": resumed}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Resume what we paused; SIGCONT to every other running node too (harmless if running)."""
        out = await self.stop(fx)

        def resume_quietly(n: str) -> None:
            try:
                fx.cluster.resume(n)
            except Exception:
                pass  # a node that is not running has nothing to resume

        await on_each(fx, resume_quietly, [n for n in fx.cluster.nodes if n not in out["resumed"]])
        return out
