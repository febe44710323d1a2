"""SIGSTOP / SIGCONT of store processes: a node that is alive but silent (a long GC, a VM stall)."""

from __future__ import annotations

from typing import Any

from nemesis.base import FaultContext, Nemesis
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
        for n in victims:
            await fx.call(fx.cluster.pause, n)
            if n not in self.paused:
                self.paused.append(n)
        return {"kind": kind, "nodes": victims, **extra}

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        resumed = []
        for n in list(self.paused):
            await fx.call(fx.cluster.resume, n)
            self.paused.remove(n)
            resumed.append(n)
        return {"resumed": resumed}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Resume what we paused; SIGCONT to every other running node too (harmless if running)."""
        out = await self.stop(fx)
        for n in fx.cluster.nodes:
            if n in out["resumed"]:
                continue
            try:
                await fx.call(fx.cluster.resume, n)
            except Exception:
                pass  # a node that is not running has nothing to resume
        return out
