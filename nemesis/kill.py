"""kill -9 of store processes, restarted (with the run's bugs) when the fault stops.

``all-leader-last`` is the aimed one, for acceptors that forget across a crash. First the
followers stop hearing anyone (they drop all peer traffic; the leader still hears them), so
the operations in flight are accepted by the followers and acknowledged by the leader, but
no follower learns they were chosen, and none can be elected and re-propose them. Then every node is killed at once, all but the old leader
restart, and only once another node leads does the old leader come back. A correct store
finds those values in its acceptors' durable state; an amnesiac one loses acknowledged writes.
"""

from __future__ import annotations

from typing import Any

from cluster.capabilities import Kill, Partition
from nemesis.base import (
    FaultContext,
    Nemesis,
    find_leader,
    leader_or_random,
    majority,
    minority,
    on_each,
)


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
    elif kind in ("all", "all-leader-last"):
        victims = nodes
        if kind == "all-leader-last":
            leader, known = await leader_or_random(fx)
            extra.update(leader=leader, leader_known=known)
    elif kind == "leader":
        leader, known = await leader_or_random(fx)
        victims = [leader]
        extra["leader_known"] = known
    else:  # pragma: no cover - kinds are validated in __init__
        raise ValueError(kind)
    return sorted(victims, key=nodes.index), extra


class KillNemesis(Nemesis):
    name = "kill"
    KINDS = ("one", "minority", "majority", "all", "leader", "all-leader-last")
    CAPABILITY = "kill"
    NEW_LEADER_WAIT_S = 15.0
    DEAF_S = 0.5  # followers deaf to the leader this long before the kill

    def requires(self, capabilities: set[str], final: bool = True) -> set[str]:
        """all-leader-last also partitions; a bare ``kill`` leaves it out where it cannot."""
        if not self.explicit and "partition" not in capabilities:
            self.kinds = [k for k in self.kinds if k != "all-leader-last"]
        return {"kill", "partition"} if "all-leader-last" in self.kinds else {"kill"}

    def __init__(self, kinds: list[str] | None = None) -> None:
        super().__init__(kinds)
        self.killed: list[str] = []
        self.last: str | None = None  # restart this one only once another node leads
        self.cut = False  # a partition of ours is in force

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        victims, extra = await pick_nodes(kind, fx)
        self.killed += [n for n in victims if n not in self.killed]
        self.last = extra.get("leader") if kind == "all-leader-last" else None
        if self.last is not None:
            nodes = list(fx.cluster.nodes)
            grudge = {n: {m for m in nodes if m != n} for n in nodes if n != self.last}
            await fx.call(fx.can(Partition).partition, grudge)
            self.cut = True
            extra["followers_deaf_to"] = self.last
            await fx.sleep(self.DEAF_S)
        await on_each(fx, fx.can(Kill).kill, victims)
        return {"kind": kind, "nodes": victims, **extra}

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        restarted, self.killed = list(self.killed), []
        last, self.last = self.last, None
        out: dict[str, Any] = {"restarted": restarted}
        if self.cut:
            await fx.call(fx.can(Partition).heal_network)
            self.cut = False
        restarted = [n for n in restarted if n in fx.cluster.nodes]  # (membership removes)
        out["restarted"] = restarted
        first = [n for n in restarted if n != last]
        await on_each(fx, fx.cluster.start, first, list(fx.bugs))
        if last in restarted:
            out["new_leader"] = await self._await_other_leader(fx, last)
            await fx.call(fx.cluster.start, last, list(fx.bugs))
        return out

    async def _await_other_leader(self, fx: FaultContext, old: str) -> str | None:
        waited = 0.0
        while waited < self.NEW_LEADER_WAIT_S:
            leader = await find_leader(fx)
            if leader is not None and leader != old:
                await fx.sleep(0.5)  # let it finish phase 1 and commit something
                return leader
            await fx.sleep(0.2)
            waited += 0.2
        return None

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Restart whatever we killed, and any other node whose store is not running."""
        out = await self.stop(fx)
        running = await on_each(fx, fx.cluster.is_running, list(fx.cluster.nodes))
        down = [n for n, up in zip(fx.cluster.nodes, running, strict=True) if not up]
        await on_each(fx, fx.cluster.start, down, list(fx.bugs))
        out["restarted"] += down
        return out
