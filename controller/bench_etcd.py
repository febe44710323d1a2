"""``paxlab bench --target etcd`` and ``--compare etcd``: the store's load generator on etcd.

etcd runs as 3 local members (Debian's etcd binary, its default durable settings: the WAL
is fsync'd before a write is acknowledged), the bundled store as ``paxlab bench`` runs it
(fsync on). Both get the same generator (controller.bench_cli.load): C workers writing
small values to 100 keys back to back. Each worker talks to the leader, as each side is
meant to be used: the store's client finds it through redirects, and etcd's clients are
pointed at the member that ``/v3/maintenance/status`` names (a follower would forward the
write, one hop more).

``--compare`` runs both, fresh clusters for every point, store then etcd for each client
count, and prints one table: writes/s, p50 and p99 of each, and the throughput ratio
store / etcd. Both sides ran on the same machine within minutes, so the ratio means more
than either figure (the machine is shared; absolute numbers drift with the neighbours).
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from controller.bench_cli import bench_store, cpu_text, load
from controller.bench_cpu import CpuMeter

CLIENT_COUNTS = (1, 8, 32, 128, 256)


def bench_etcd(nodes: int, clients: int, seconds: float, keys: int = 100) -> dict:
    """One benchmark on a fresh local etcd cluster; the same figures as bench_store's."""
    from cluster.base import ClusterError
    from cluster.local import LocalCluster
    from targets.etcd import EtcdTarget
    from targets.etcd.client import EtcdClient
    from targets.etcd.program import etcd_version
    from targets.etcd.status import wait_leader
    from targets.etcd.target import client_url

    target = EtcdTarget()
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-etcd-") as tmp:
        try:
            cluster = LocalCluster(
                "bench-etcd", nodes, run_dir=tmp, program=target, faketime=False,
                **target.cluster_opts(),
            )  # fmt: skip
            try:
                cluster.setup()
                cluster.start_all()
                urls = {n: client_url(cluster, n) for n in cluster.nodes}
                leader = asyncio.run(wait_leader(urls))
                if not leader:
                    raise RuntimeError("etcd elected no leader to benchmark")
                url = urls[leader[0]]
                meter = CpuMeter({n: cluster.pid(n) or -1 for n in cluster.nodes})
                meter.start()
                result = asyncio.run(
                    load(lambda w: EtcdClient(url, timeout=5.0), clients, seconds, keys)
                )
                meter.stop()
                result["cpu_us_per_write"] = meter.per_write(result["writes"], leader[0])
            finally:
                cluster.teardown()
        except ClusterError as e:
            raise RuntimeError(str(e)) from None
    result.update(
        target="etcd",
        version=etcd_version(),
        nodes=nodes,
        clients=clients,
        seconds=seconds,
        fsync=True,
    )
    return result


def compare(
    client_counts: tuple[int, ...] = CLIENT_COUNTS,
    seconds: float = 5.0,
    nodes: int = 3,
    keys: int = 100,
    progress: Callable[[str], None] = lambda _m: None,
    transports: tuple[str, ...] = ("tcp",),
) -> dict[str, Any]:
    """Both targets at each client count (the store over each transport, then etcd); rows
    and ratios. The first transport's figures are the row's ``store``; each one's are in
    ``stores`` (with its own ``ratio``)."""
    rows = []
    for c in client_counts:
        stores = {}
        for t in transports:
            progress(f"store ({t}), {c} clients ...")
            stores[t] = _figures(bench_store(nodes, c, seconds, fsync=True, keys=keys, transport=t))
        progress(f"etcd, {c} clients ...")
        etcd = _figures(bench_etcd(nodes, c, seconds, keys))
        for f in stores.values():
            f["ratio"] = f["ops_per_s"] / etcd["ops_per_s"] if etcd["ops_per_s"] else None
        store = stores[transports[0]]
        rows.append(
            {"clients": c, "store": store, "stores": stores, "etcd": etcd, "ratio": store["ratio"]}
        )
    from targets.etcd.program import etcd_version

    return {
        "nodes": nodes,
        "seconds": seconds,
        "keys": keys,
        "cpus": os.cpu_count(),
        "etcd_version": etcd_version(),
        "transports": list(transports),
        "rows": rows,
    }


def _figures(r: dict) -> dict:
    keep = ("ops_per_s", "p50_ms", "p99_ms", "ok", "fail", "info")
    out = {k: round(r[k], 2) if isinstance(r[k], float) else r[k] for k in keep}
    cpu = r.get("cpu_us_per_write") or {}
    out["cpu_us_per_write"] = {k: None if v is None else round(v) for k, v in cpu.items()}
    return out


def _cpu(f: dict) -> str:
    """Leader/follower µs of CPU per write, e.g. '310/150'."""
    cpu = f.get("cpu_us_per_write") or {}
    return "/".join("-" if cpu.get(k) is None else f"{cpu[k]:.0f}" for k in ("leader", "follower"))


def table(r: dict[str, Any]) -> str:
    """The side-by-side table a person reads: per point writes/s, p50, p99 and CPU µs per
    write (leader/follower) of the store over each transport, then etcd's, then the ratios
    of writes/s (store / etcd)."""
    transports = r.get("transports") or ["tcp"]
    head = (
        f"store ({', '.join(transports)}) vs etcd {r['etcd_version']}: {r['nodes']} nodes "
        f"each, fsync on, {r['seconds']:.0f} s per point, {r['cpus']} CPUs; "
        "cpu = µs of CPU per write, leader/follower"
    )

    def cells(f: dict) -> str:
        return f"{f['ops_per_s']:>8.0f} {f['p50_ms']:>6.1f} {f['p99_ms']:>6.1f} {_cpu(f):>9}"

    names = [f"store {t}" for t in transports] + ["etcd"]
    cols = f"{'clients':>7} | " + " | ".join(
        f"{n + ' w/s':>8} {'p50':>6} {'p99':>6} {'cpu':>9}" for n in names
    )
    cols += " | " + " ".join(f"{'ratio ' + t:>9}" for t in transports)
    lines = [head, cols, "-" * len(cols)]
    for row in r["rows"]:
        stores = row.get("stores") or {transports[0]: {**row["store"], "ratio": row["ratio"]}}
        sides = [stores[t] for t in transports] + [row["etcd"]]
        ratios = " ".join(
            f"{stores[t]['ratio']:>9.2f}" if stores[t].get("ratio") is not None else f"{'n/a':>9}"
            for t in transports
        )
        lines.append(
            f"{row['clients']:>7} | " + " | ".join(cells(f) for f in sides) + " | " + ratios
        )
    return "\n".join(lines)


def write_page(r: dict[str, Any], results_root: str | Path | None = None) -> Path:
    """results/bench/compare-etcd-<time>.html: the table and a throughput chart (inline
    SVG, so the page opens from disk with no network)."""
    from controller.store import results_root as root_of

    folder = root_of(results_root) / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"compare-etcd-{datetime.now():%Y%m%dT%H%M%S}.html"
    path.write_text(_page(r))
    return path


def _page(r: dict[str, Any]) -> str:
    rows = r["rows"]
    w, h, pad = 560, 300, 48
    top = max(
        [x["store"]["ops_per_s"] for x in rows] + [x["etcd"]["ops_per_s"] for x in rows] + [1]
    )

    def pt(i: int, v: float) -> str:
        x = pad + (w - 2 * pad) * (i / max(1, len(rows) - 1))
        y = h - pad - (h - 2 * pad) * (v / top)
        return f"{x:.1f},{y:.1f}"

    lines = []
    for side, colour in (("store", "#1f77b4"), ("etcd", "#d62728")):
        pts = " ".join(pt(i, x[side]["ops_per_s"]) for i, x in enumerate(rows))
        lines.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        lines.append(
            f'<text x="{w - pad}" y="{pad - 20 + (14 if side == "etcd" else 0)}" '
            f'fill="{colour}" text-anchor="end">{side}</text>'
        )
    for i, x in enumerate(rows):
        px = pt(i, 0).split(",")[0]
        lines.append(
            f'<text x="{px}" y="{h - pad + 18}" text-anchor="middle">{x["clients"]}</text>'
        )
    lines.append(f'<text x="{pad}" y="{pad - 20}">{top:.0f} writes/s</text>')
    lines.append(f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">clients</text>')
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-size="12">'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#888"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#888"/>'
        + "".join(lines)
        + "</svg>"
    )
    return (
        "<!doctype html><meta charset='utf-8'><title>paxlab bench: store vs etcd</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}</style>"
        f"<h1>Writes per second: the bundled store vs etcd</h1>{svg}"
        f"<pre>{html.escape(table(r))}</pre>"
        f"<details><summary>raw figures</summary><pre>{html.escape(json.dumps(r, indent=1))}</pre></details>"
    )


def run(args: Any) -> int:
    """The bench CLI's --target etcd / --compare etcd."""
    if getattr(args, "compare", None):
        counts = tuple(args.client_counts) if args.client_counts else CLIENT_COUNTS
        try:
            r = compare(counts, args.seconds, args.nodes, args.keys, _say, tuple(args.transport))
        except RuntimeError as e:
            sys.stderr.write(f"paxlab bench: {e}\n")
            return 2
        if args.json:
            print(json.dumps(r))
            return 0
        print(table(r))
        print(f"chart: {write_page(r, getattr(args, 'results_dir', None))}")
        return 0
    try:
        r = bench_etcd(args.nodes, args.clients, args.seconds, args.keys)
    except RuntimeError as e:
        sys.stderr.write(f"paxlab bench: {e}\n")
        return 2
    if args.json:
        print(json.dumps(r))
        return 0
    print(
        f"etcd {r['version']}: {r['nodes']} members, {r['clients']} clients, "
        f"{r['elapsed_s']:.1f} s, fsync on ({os.cpu_count()} CPUs)\n"
        f"  throughput  {r['ops_per_s']:.0f} writes/s  (ok {r['ok']}, fail {r['fail']}, "
        f"unknown {r['info']})\n"
        f"  latency     p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.1f} ms\n"
        f"  cpu/write   {cpu_text(r['cpu_us_per_write'])}"
    )
    return 0


def _say(msg: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
