"""``paxlab bench --tls``: what mutual TLS costs the store, as a ratio measured in one run.

Why alternate: on a shared machine throughput drifts with whatever else runs, so plain and
TLS rounds take turns (plain, TLS, plain, TLS, ...) on fresh clusters and the ratio is taken
between the medians; a figure from two separate runs would mostly measure the neighbours.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from typing import Any

ROUNDS = 2


def compare(bench: Callable[..., dict], rounds: int = ROUNDS, **kw: Any) -> dict:
    """``rounds`` benchmarks of each kind, interleaved; medians and TLS / plain ratios."""
    runs: dict[str, list[dict]] = {"plain": [], "tls": []}
    for _ in range(rounds):
        for kind in ("plain", "tls"):
            runs[kind].append(bench(tls=kind == "tls", **kw))

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    out: dict[str, Any] = {"rounds": rounds, **kw}
    for kind in runs:
        out[kind] = {
            "ops_per_s": median(kind, "ops_per_s"),
            "p50_ms": median(kind, "p50_ms"),
            "p99_ms": median(kind, "p99_ms"),
            "each_ops_per_s": [round(r["ops_per_s"], 1) for r in runs[kind]],
        }
    p, t = out["plain"], out["tls"]
    out["throughput_ratio"] = t["ops_per_s"] / p["ops_per_s"] if p["ops_per_s"] else None
    out["p50_ratio"] = t["p50_ms"] / p["p50_ms"] if p["p50_ms"] else None
    return out


def run(args: argparse.Namespace, bench: Callable[..., dict]) -> int:
    try:
        r = compare(
            bench,
            nodes=args.nodes,
            clients=args.clients,
            seconds=args.seconds,
            fsync=not args.no_fsync,
            keys=args.keys,
        )
    except RuntimeError as e:
        sys.stderr.write(f"paxlab bench: {e}\n")
        return 2
    if args.json:
        print(json.dumps(r))
        return 0
    ratio = r["throughput_ratio"]
    rows = []
    for kind, label in (("plain", "plain"), ("tls", "TLS  ")):
        k = r[kind]
        rows.append(
            f"  {label}  {k['ops_per_s']:.0f} writes/s  p50 {k['p50_ms']:.1f} ms"
            f"  p99 {k['p99_ms']:.1f} ms  (rounds: {k['each_ops_per_s']})"
        )
    print(
        f"store, plain vs mutual TLS: {r['nodes']} nodes, {r['clients']} clients, "
        f"{r['rounds']} x {r['seconds']:.0f} s each, interleaved, "
        f"fsync {'on' if r['fsync'] else 'off'}"
    )
    print("\n".join(rows))
    print(f"  ratio  TLS / plain throughput {ratio:.2f}" if ratio else "  ratio  n/a")
    return 0
