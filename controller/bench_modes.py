"""``paxlab bench --mode leader,masterless,epaxos``: the store's protocols side by side.

One invocation runs every mode on 3 and 5 local processes (``--node-counts``) with the same
load, and prints one table of throughput and latency. ``--conflict`` is the share of writes
that go to one hot key (the rest to keys no other write touches): it is the knob that
separates the modes, since EPaxos commits non-conflicting commands in one round trip from
any node but must order conflicting ones (slow path), while a leader orders everything.
Clients spread over the nodes (worker w talks to node w mod N; a leader-mode node
redirects to its leader). Loopback has no wide-area latency, so the figures here are about
CPU and round trips, not about distance.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from controller.bench_cli import LocalServers, load
from paxos_impl.client import AsyncClient

MODES = ("leader", "masterless", "epaxos", "mencius", "wpaxos")


def bench_mode(mode: str, nodes: int, clients: int, seconds: float, fsync: bool,
               conflict: float) -> dict:  # fmt: skip
    """One cell of the table: fresh processes in ``mode``, the mixed hot/cold load."""
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-") as tmp:
        with LocalServers(Path(tmp), nodes, fsync=fsync, mode=mode) as servers:
            servers.start_all()
            servers.wait_for_leader()
            cfg = servers.config
            result = asyncio.run(
                load(
                    lambda w: AsyncClient(cfg, node=w % nodes, timeout=5.0),
                    clients,
                    seconds,
                    keys=1,
                    conflict=conflict,
                )  # fmt: skip
            )
    result.update(mode=mode, nodes=nodes, clients=clients, conflict=conflict)
    return result


def run(args: argparse.Namespace) -> int:
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    if modes == ["all"]:  # the whole family, in the table's order
        modes = list(MODES)
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        sys.stderr.write(f"paxlab bench: unknown mode {bad[0] if bad else ''!r}; "
                         f"known: {', '.join(MODES)}\n")  # fmt: skip
        return 2
    if not 0.0 <= args.conflict <= 1.0:
        sys.stderr.write("paxlab bench: --conflict is a share between 0 and 1\n")
        return 2
    counts = args.node_counts or [3, 5]
    if any(n < 1 for n in counts):
        sys.stderr.write("paxlab bench: --node-counts must be positive\n")
        return 2
    rows = []
    for n in counts:
        for m in modes:
            try:
                rows.append(bench_mode(m, n, args.clients, args.seconds, not args.no_fsync,
                                       args.conflict))  # fmt: skip
            except RuntimeError as e:
                sys.stderr.write(f"paxlab bench: {m} on {n} nodes: {e}\n")
                return 2
    if args.json:
        print(json.dumps({"rows": rows}))
        return 0
    print(
        f"modes: {args.clients} clients, {args.seconds:g} s per cell, "
        f"{args.conflict:.0%} of writes on one hot key, fsync "
        f"{'off' if args.no_fsync else 'on'} ({os.cpu_count()} CPUs, loopback)"
    )
    print(f"{'mode':<11} {'nodes':>5} {'writes/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'ok':>6} {'fail':>5} {'info':>5}")  # fmt: skip
    for r in rows:
        print(f"{r['mode']:<11} {r['nodes']:>5} {r['ops_per_s']:>9.0f} {r['p50_ms']:>8.1f} "
              f"{r['p99_ms']:>8.1f} {r['ok']:>6} {r['fail']:>5} {r['info']:>5}")  # fmt: skip
    return 0
