"""One cell of the family table in the simulator: a mode, a cluster size, a conflict and a
locality setting, on nodes spread over zones with a wide-area latency matrix.

Why the simulator: on one machine every protocol shares the same CPUs and no message
travels far, so the table measures CPU; the comparison people draw from Paxi's figures is
about distance (a client near its replica, a leader far away). Here the nodes run the real
cores in the node's own runtime (cluster.sim), messages take the matrix's one-way delays
(cluster.sim.zones), and throughput and latency are in simulated time: a figure says what
the protocol's round trips cost at those distances, not how fast this machine computes.
CPU is not modelled (a step takes no time; an fsync 0.5 to 2 ms), so with a fixed number
of clients throughput follows latency (closed loop: clients / mean latency).

Clients live in zones and talk to a node of their own zone (worker w: zone w mod Z, then
round-robin over that zone's nodes); a leader-mode node redirects them to the leader, so a
client in a far zone pays the round trip to the leader's zone on every write, as in Paxi.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from cluster.base import node_name
from cluster.sim.backend import SimCluster
from controller.bench_cli import _percentile, load
from controller.bench_keys import pick_key
from controller.virtual_loop import run_virtual

LEAD_START_S = 0.25  # the head start of the first zone's first node (election: 300-600 ms)


def client_node(worker: int, zones: list[list[int]], n: int) -> tuple[int, int | None]:
    """(node, zone) a worker talks to: its zone's nodes in turn; without zones w mod n."""
    if not zones:
        return worker % n, None
    z = worker % len(zones)
    group = zones[z]
    return group[(worker // len(zones)) % len(group)], z


class _Timed:
    """A client whose acknowledged writes' latencies also go into its zone's list (the
    table's p50 mixes near and far clients; this says which is which)."""

    def __init__(self, client: Any, into: list[float], clock: Any) -> None:
        self.client, self.into, self.clock = client, into, clock
        self.first = True

    async def write(self, key: str, value: Any) -> None:
        t0 = self.clock()
        await self.client.write(key, value)
        if self.first:  # the warm-up write finds the leader: not measured
            self.first = False
        else:
            self.into.append(self.clock() - t0)

    async def close(self) -> None:
        await self.client.close()


def bench_cell(mode: str, nodes: int, clients: int, seconds: float, conflict: float,
               locality: float | None, latency: Any, zones: Any, seed: int = 1,
               ) -> dict[str, Any]:  # fmt: skip
    """Writes/s (simulated), p50 and p99 of one cell; see the module docstring."""
    opts: dict[str, Any] = {"seed": seed, "mode": mode, "latency": latency}
    if zones is not None:
        opts["zones"] = zones
    cluster = SimCluster(f"bench-{mode}-{nodes}", nodes, **opts)
    cluster.record_messages = False  # nothing kept: no trace

    async def main() -> dict[str, Any]:
        cluster.setup()
        try:
            groups = cluster.zones
            # the first zone's first node starts a little earlier, so that it (the zone in
            # the middle of the presets) is where a leader-mode cluster elects its leader,
            # as a deployment would place it, and not wherever a timer happened to fire
            first = groups[0][0] if groups else 0
            cluster.start(node_name(first))
            await asyncio.sleep(LEAD_START_S)
            for name in cluster.nodes:
                cluster.start(name)
            loop = asyncio.get_running_loop()

            by_zone: dict[int | None, list[float]] = {}

            def connect(w: int) -> Any:
                node, zone = client_node(w, groups, nodes)
                c = cluster.async_client(node_name(node), f"bench-{w}", timeout=5.0)
                return _Timed(c, by_zone.setdefault(zone, []), loop.time)

            def key_of(rng: random.Random, w: int, i: int) -> str:
                zone = client_node(w, groups, nodes)[1]
                return pick_key(rng, w, i, conflict, zone, len(groups), locality)

            out = await load(connect, clients, seconds, keys=clients, key_of=key_of,
                             clock=loop.time, settle=True)  # fmt: skip
            out["p50_ms_by_zone"] = {
                str(z): round(_percentile(sorted(v), 0.5) * 1000, 1) for z, v in by_zone.items()
            }
            leaders = cluster.world.leaders() if mode == "leader" else []  # type: ignore[union-attr]
            out["leader_zone"] = cluster.zone_of_node(leaders[0]) if leaders else None
            return out
        finally:
            cluster.teardown()

    result = run_virtual(main())
    result.update(
        mode=mode,
        nodes=nodes,
        clients=clients,
        conflict=conflict,
        locality=locality,
        zones=cluster.zones,
        latency=latency,
        seed=seed,
        simulated=True,
    )
    return result


__all__ = ["bench_cell", "client_node"]
