"""Network partitions between nodes (node-to-node only: clients still reach every node).

Each kind computes a *grudge*, node -> the nodes it drops traffic from, and hands it to the
cluster (iptables in the containers). Jepsen's partitioners are the model.
"""

from __future__ import annotations

import random
from typing import Any

from cluster.capabilities import Partition
from nemesis.base import FaultContext, Nemesis, leader_or_random, majority

Grudge = dict[str, set[str]]


def complete_grudge(components: list[list[str]]) -> Grudge:
    """Every node drops traffic from every node outside its own component."""
    everyone = [n for c in components for n in c]
    grudge: Grudge = {}
    for comp in components:
        for n in comp:
            grudge[n] = {m for m in everyone if m not in comp}
    return grudge


def halves(nodes: list[str], rng: random.Random) -> Grudge:
    shuffled = rng.sample(nodes, len(nodes))
    k = len(nodes) // 2
    return complete_grudge([shuffled[:k], shuffled[k:]])


def isolate(nodes: list[str], node: str) -> Grudge:
    return complete_grudge([[node], [n for n in nodes if n != node]])


def majorities_ring(nodes: list[str], rng: random.Random) -> Grudge:
    """Every node sees a majority (itself included), and no two see the same one."""
    ring = rng.sample(nodes, len(nodes))
    n, m = len(ring), majority(len(ring))
    back = (m - 1) // 2
    grudge: Grudge = {}
    for i, node in enumerate(ring):
        visible = {ring[(i - back + j) % n] for j in range(m)}
        grudge[node] = set(nodes) - visible
    return grudge


def bridge(nodes: list[str], rng: random.Random) -> Grudge:
    """Two halves that cannot talk, and one node in the middle that talks to both."""
    shuffled = rng.sample(nodes, len(nodes))
    mid = len(nodes) // 2
    left, middle, right = shuffled[:mid], shuffled[mid], shuffled[mid + 1 :]
    grudge: Grudge = {middle: set()}
    for n in left:
        grudge[n] = set(right)
    for n in right:
        grudge[n] = set(left)
    return grudge


def _plain(g: Grudge) -> dict[str, list[str]]:
    return {k: sorted(v) for k, v in sorted(g.items()) if v}


class PartitionNemesis(Nemesis):
    name = "partition"
    KINDS = ("halves", "isolate-one", "isolate-leader", "majorities-ring", "bridge")
    CAPABILITY = "partition"

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        nodes = list(fx.cluster.nodes)
        out: dict[str, Any] = {"kind": kind}
        if kind == "halves":
            grudge = halves(nodes, fx.rng)
        elif kind == "isolate-one":
            victim = fx.rng.choice(nodes)
            grudge, out["nodes"] = isolate(nodes, victim), [victim]
        elif kind == "isolate-leader":
            victim, known = await leader_or_random(fx)
            grudge, out["nodes"] = isolate(nodes, victim), [victim]
            out["leader_known"] = known
        elif kind == "majorities-ring":
            grudge = majorities_ring(nodes, fx.rng)
        elif kind == "bridge":
            grudge = bridge(nodes, fx.rng)
        else:  # pragma: no cover - kinds are validated in __init__
            raise ValueError(kind)
        await fx.call(fx.can(Partition).partition, grudge)
        out["grudge"] = _plain(grudge)
        return out

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        await fx.call(fx.can(Partition).heal_network)
        return {"healed": "network"}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        return await self.stop(fx)
