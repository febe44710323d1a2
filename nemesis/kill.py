"""kill -9 of store processes, restarted (with the run's bugs) when the fault stops.

Killing a majority at once is what exposes an acceptor that forgets what it promised.
"""

from __future__ import annotations

from typing import Any

from nemesis.base import FaultContext, Nemesis, leader_or_random, majority, minority, on_each


async def pick_nodes(kind: str, fx: FaultContext) -> tuple[list[str], dict[str, Any]]:
    """The victims for one/minority/majority/all/leader (shared by kill and pause)."""
    nodes = list(fx.cluster.nodes)
    extra: dict[str, Any] = {}
    if kind == "one":
        victims = [fx.rng.choice(nodes)]
    elif kind == "minority":
        victims = fx.rng.sample(nodes, minority(len(nodes)))
    elif kind == "majority":
        # the leader goes too when we know it: a majority without it changes little
        leader, known = await leader_or_random(fx)
        others = [n for n in nodes if n != leader]
        victims = [leader] + fx.rng.sample(others, majority(len(nodes)) - 1)
        extra["leader_known"] = known
    elif kind == "all":
        victims = nodes
    elif kind == "leader":
        leader, known = await leader_or_random(fx)
        victims = [leader]
        extra["leader_known"] = known
    else:  # pragma: no cover - kinds are validated in __init__
        raise ValueError(kind)
    return sorted(victims, key=nodes.index), extra


class KillNemesis(Nemesis):
    name = "kill"
    KINDS = ("one", "minority", "majority", "all", "leader")
    CAPABILITY = "kill"

    def __init__(self, kinds: list[str] | None = None) -> None:
        super().__init__(kinds)
        self.killed: list[str] = []

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        victims, extra = await pick_nodes(kind, fx)
        self.killed += [n for n in victims if n not in self.killed]
        await on_each(fx, fx.cluster.kill, victims)
        return {"kind": kind, "nodes": victims, **extra}

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        restarted, self.killed = list(self.killed), []
        await on_each(fx, fx.cluster.start, restarted, list(fx.bugs))
        return {"restarted": restarted}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Restart whatever we killed, and any other node whose store is not running."""
        out = await self.stop(fx)
        running = await on_each(fx, fx.cluster.is_running, list(fx.cluster.nodes))
        down = [n for n, up in zip(fx.cluster.nodes, running, strict=True) if not up]
        await on_each(fx, fx.cluster.start, down, list(fx.bugs))
        out["restarted"] += down
        return out
