"""``paxlab bench --mode leader,masterless,epaxos,...``: the store's protocols side by side.

One invocation runs every mode, on every cluster size (``--node-counts``), at every
conflict (``--conflict 0,0.5``) and locality (``--locality 0.5,0.9``) setting with the same
load, and prints one table (controller.bench_family), writing it, a chart and the rows as
JSON next to each other under results/bench/. ``--conflict`` is the share of writes on a hot
key (the rest to keys no other write touches): it separates the modes, since EPaxos commits
non-conflicting commands in one round trip from any node but must order conflicting ones
(slow path), while a leader orders everything. ``--zones Z`` puts the nodes in Z zones and
the clients with them; ``--locality L`` is then the share of a zone's writes on its own
zone's keys (controller.bench_keys).

By default the cells are fresh local processes on loopback, where nothing is far away, so
the figures are about CPU and round trips. ``--sim`` runs the same cells in the simulator
with a wide-area latency matrix between the zones (``--latency wan3``, the default there;
controller.bench_sim), in simulated time: the comparison where distance matters.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from controller import bench_family
from controller.bench_cli import LocalServers, load, zones_setting
from controller.bench_keys import pick_key
from controller.bench_sim import bench_cell, client_node
from paxos_impl.client import AsyncClient

MODES = ("leader", "masterless", "epaxos", "mencius", "wpaxos")


def bench_mode(mode: str, nodes: int, clients: int, seconds: float, fsync: bool,
               conflict: float, locality: float | None = None,
               zones: list[list[int]] | None = None) -> dict:  # fmt: skip
    """One cell of the table: fresh processes in ``mode``, the mixed hot/cold load (with
    ``zones``: clients in zones, keys by locality; the store told its zones if it has the
    setting)."""
    groups = zones or []
    kw: dict[str, Any] = {"mode": mode, **zones_setting(groups)}
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-") as tmp:
        with LocalServers(Path(tmp), nodes, fsync=fsync, **kw) as servers:
            servers.start_all()
            servers.wait_for_leader()
            cfg = servers.config

            def connect(w: int) -> AsyncClient:
                return AsyncClient(cfg, node=client_node(w, groups, nodes)[0], timeout=5.0)

            def key_of(rng: Any, w: int, i: int) -> str:
                zone = client_node(w, groups, nodes)[1]
                return pick_key(rng, w, i, conflict, zone, len(groups), locality)

            result = asyncio.run(load(connect, clients, seconds, keys=1, key_of=key_of))
    result.update(mode=mode, nodes=nodes, clients=clients, conflict=conflict,
                  locality=locality, zones=groups)  # fmt: skip
    return result


def _fail(msg: str) -> int:
    sys.stderr.write(f"paxlab bench: {msg}\n")
    return 2


def _zones_for(spec: Any, n: int) -> list[list[int]]:
    from cluster.sim.zones import zone_groups

    return zone_groups(spec, list(range(n))) if spec is not None else []


def run(args: argparse.Namespace) -> int:
    from cluster.sim.zones import ZoneError, latency_matrix

    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    if modes == ["all"]:  # the whole family, in the table's order
        modes = list(MODES)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        return _fail(f"unknown mode {bad[0] if bad else ''!r}; known: {', '.join(MODES)}")
    conflicts = args.conflict if isinstance(args.conflict, list) else [args.conflict]
    if not conflicts or not all(0.0 <= c <= 1.0 for c in conflicts):
        return _fail("--conflict is a share between 0 and 1")
    localities: list[float | None] = list(args.locality or [None])
    if not all(lo is None or 0.0 <= lo <= 1.0 for lo in localities):
        return _fail("--locality is a share between 0 and 1")
    counts = args.node_counts or [3, 5]
    if any(n < 1 for n in counts):
        return _fail("--node-counts must be positive")
    sim = getattr(args, "sim", False)
    latency = getattr(args, "latency", None)
    if latency is not None and not sim:
        return _fail("--latency is for --sim (loopback has no distance to model)")
    latency = (latency or "wan3") if sim else None
    try:
        matrix = latency_matrix(latency) if sim else []
        zone_spec = args.zones if args.zones is not None else (len(matrix) if sim else None)
        zones = {n: _zones_for(zone_spec if not isinstance(zone_spec, int)
                               else min(zone_spec, n), n) for n in counts}  # fmt: skip
    except ZoneError as e:
        return _fail(str(e))
    if sim and any(len(z) > len(matrix) for z in zones.values()):
        return _fail(f"more zones than the {len(matrix)}-zone latency matrix has")
    if args.locality and not any(len(z) > 1 for z in zones.values()):
        return _fail("--locality needs zones (--zones Z, or --sim's latency matrix)")
    cells = [(n, m, c, lo) for n in counts for m in modes for c in conflicts for lo in localities]
    rows = []
    t_start = time.monotonic()
    for k, (n, m, c, lo) in enumerate(cells, 1):
        t0 = time.monotonic()
        try:
            if sim:
                r = bench_cell(m, n, args.clients, args.seconds, c, lo, latency, zones[n],
                               seed=args.seed)  # fmt: skip
            else:
                r = bench_mode(m, n, args.clients, args.seconds, not args.no_fsync, c, lo,
                               zones[n])  # fmt: skip
        except RuntimeError as e:
            return _fail(f"{m} on {n} nodes: {e}")
        rows.append(r)
        sys.stderr.write(
            f"[{k}/{len(cells)}] {m} {n} nodes, {bench_family.setting_label(c, lo)}: "
            f"{r['ops_per_s']:.0f} writes/s, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms "
            f"({time.monotonic() - t0:.1f} s; {time.monotonic() - t_start:.0f} s so far)\n"
        )
        sys.stderr.flush()
    header = _header(args, sim, latency, matrix, zones)
    title = (
        f"simulated time, latency {latency if isinstance(latency, str) else 'matrix'}, "
        if sim
        else "loopback processes, "
    ) + f"{args.clients} clients, {args.seconds:g} s a cell"
    folder = bench_family.write(rows, header, title, getattr(args, "results_dir", None))
    if args.json:
        print(json.dumps({"header": header, "rows": rows, "files": str(folder)}, default=str))
        return 0
    print(header + "\n")
    print(bench_family.table(rows))
    print(f"\ntable, chart and rows: {folder}/ (table.md, chart.png, chart.svg, rows.json)")
    return 0


def _header(args: argparse.Namespace, sim: bool, latency: Any, matrix: list,
            zones: dict[int, list[list[int]]]) -> str:  # fmt: skip
    """What the figures are, in one line above the table."""
    counts = sorted(zones)
    zone_text = "; ".join(
        f"{n} nodes: " + " / ".join(",".join(map(str, g)) for g in zones[n])
        for n in counts
        if zones[n]
    )
    if sim:
        name = latency if isinstance(latency, str) and "," not in latency else "a matrix"
        rows = " / ".join(",".join(f"{d:g}" for d in r) for r in matrix)
        return (
            f"SIMULATED TIME: writes per simulated second and simulated ms; {args.clients} "
            f"clients in zones, {args.seconds:g} simulated s a cell, seed {args.seed}; "
            f"latency {name} (one-way ms between zones: {rows}); zones {zone_text}"
        )
    return (
        f"loopback processes: {args.clients} clients, {args.seconds:g} s a cell, fsync "
        f"{'off' if args.no_fsync else 'on'} ({os.cpu_count()} CPUs)"
        + (f"; zones {zone_text}" if zone_text else "")
    )


__all__ = ["MODES", "bench_mode", "run"]
