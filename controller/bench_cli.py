"""``paxlab bench``: throughput and latency of the store on local processes.

Starts N ``paxos-server`` processes in a temporary directory on free loopback ports, drives
C concurrent clients (small writes, fsync on unless --no-fsync) for a few seconds and prints
ops/s, latency p50/p99 and how many writes shared each fsync on the leader: that last figure
is what shows batching at work (throughput that grows with clients instead of staying at one
fsync per write). ``--checker`` benchmarks the linearizability checker instead;
``--target etcd`` and ``--compare etcd`` load etcd with the same generator
(controller.bench_etcd).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import fields
from functools import partial
from pathlib import Path
from typing import Any

from controller.bench_cpu import CpuMeter
from controller.bench_keys import pick_key
from paxos_impl.client import AsyncClient, Client, DefiniteFailure, Indeterminate, PaxosError
from paxos_impl.config import TRANSPORTS, Config, local_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nodes", type=int, default=3, help="store processes (default 3)")
    p.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    p.add_argument("--seconds", type=float, default=5.0, help="measured duration (default 5)")
    p.add_argument("--no-fsync", action="store_true", help="nodes skip fsync (not durable!)")
    p.add_argument("--keys", type=int, default=100, help="distinct keys written (default 100)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--checker", action="store_true", help="benchmark the linearizability checker instead"
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="plain and mutual TLS in the same run, alternated; prints both and the ratio",
    )
    p.add_argument(
        "--target",
        choices=("bundled", "etcd"),
        default="bundled",
        help="the system to load: the bundled store (default) or 3 local etcd members",
    )
    p.add_argument(
        "--compare",
        choices=("etcd",),
        default=None,
        help="run the store and etcd back to back at each --client-counts; one table",
    )
    p.add_argument(
        "--client-counts",
        type=lambda v: [int(x) for x in v.split(",")],
        default=None,
        metavar="N,N,...",
        help="with --compare: the client counts (default 1,8,32,128,256)",
    )
    p.add_argument(
        "--transport",
        type=_transports,
        default=["tcp"],
        metavar="tcp|udp|tcp,udp",
        help="the store's peer transport; with --compare, several give one column each",
    )
    p.add_argument(
        "--mode",
        default=None,
        metavar="MODE,MODE,...",
        help="compare the store's protocols (leader, masterless, epaxos, mencius; all) on 3 "
        "and 5 nodes: one table and chart (controller/bench_modes.py; --sim: wide area)",
    )
    p.add_argument(
        "--conflict",
        type=_shares,
        default=[0.1],
        metavar="P,P,...",
        help="with --mode: share of writes on a hot key; several give a column each (default 0.1)",
    )
    p.add_argument(
        "--locality",
        type=_shares,
        default=None,
        metavar="L,L,...",
        help="with --mode and zones: share of a zone's writes on its own zone's keys; "
        "several give a column each (default: no locality, every zone alike)",
    )
    p.add_argument(
        "--zones",
        default=None,
        metavar="Z|0,1,2/3,4,5",
        type=lambda v: int(v) if v.strip().isdigit() else v,
        help="with --mode: nodes in Z contiguous zones (or these groups), clients with them "
        "(default with --sim: one zone per row of the latency matrix)",
    )
    p.add_argument(
        "--sim",
        action="store_true",
        help="with --mode: run the cells in the simulator over a wide-area latency matrix, "
        "in simulated time (controller/bench_sim.py)",
    )
    p.add_argument(
        "--latency",
        default=None,
        metavar="wan3|wan5|lan3|MS,MS/MS,MS",
        help="with --sim: one-way ms between zones, a preset or rows (default wan3)",
    )
    p.add_argument("--seed", type=int, default=1, help="with --sim: the simulation's seed")
    p.add_argument(
        "--node-counts",
        type=lambda v: [int(x) for x in v.split(",")],
        default=None,
        metavar="N,N,...",
        help="with --mode: the cluster sizes (default 3,5)",
    )
    p.add_argument("--results-dir", default=None, help="where --compare's chart goes (./results)")
    p.add_argument("--case", action="append", metavar="NAME",
                   help="with --checker: one case (repeatable; default: the quick ones)")  # fmt: skip
    p.add_argument("--all", action="store_true",
                   help="with --checker: every case, the 1M-op one included")  # fmt: skip


def _shares(value: str) -> list[float]:
    """'0,0.5' -> [0.0, 0.5] (range checked by the bench, with a one-line error)."""
    try:
        return [float(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"want shares like 0,0.5, got {value!r}") from None


def _transports(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in names if v not in TRANSPORTS]
    if not names or bad or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"want tcp, udp or tcp,udp, got {value!r}")
    return names


def cpu_text(cpu: dict) -> str:
    """'leader 310 µs, follower 150 µs' of CPU per write (n/a where it could not be read)."""

    def us(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.0f} µs"

    return f"leader {us(cpu.get('leader'))}, follower {us(cpu.get('follower'))}"


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """n distinct free ports (held open together so none is handed out twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def server_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).parent / "paxos-server"
    return [str(script)] if script.exists() else [sys.executable, "-m", "paxos_impl.server"]


def zones_setting(groups: list[list[int]]) -> dict[str, Any]:
    """``{"zones": groups}`` for a store that has the setting (WPaxos places its leaders by
    zone), else nothing: the bench's zones then only place clients and name keys."""
    known = {f.name for f in fields(Config)}
    return {"zones": groups} if groups and "zones" in known else {}


class LocalServers:
    """N paxos-server processes on loopback, each with its own data dir and log file.

    Used by the bench and by tests; ``close()`` kills whatever is still running (also when
    start-up failed half-way), so nothing outlives its owner.
    """

    def __init__(self, workdir: Path, n: int = 3, **config_kw: Any) -> None:
        self.workdir = Path(workdir)
        ports = free_ports(2 * n)
        self.config: Config = local_config(n, **config_kw)
        for i, a in enumerate(self.config.nodes):
            a.peer_port, a.client_port = ports[i], ports[n + i]
        self.config_path = self.workdir / "cluster.toml"
        self.config_path.write_text(self.config.to_toml())
        self.procs: dict[int, subprocess.Popen] = {}

    def data_dir(self, i: int) -> Path:
        return self.workdir / f"node{i}.paxos"

    def log_path(self, i: int) -> Path:
        return self.workdir / f"node{i}.log"

    def start(self, i: int, *extra: str) -> subprocess.Popen:
        cmd = [*server_command(), str(i), "--config", str(self.config_path)]
        cmd += ["--data-dir", str(self.data_dir(i)), *extra]
        with open(self.log_path(i), "ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs[i] = proc
        return proc

    def start_all(self, *extra: str) -> None:
        for i in range(self.config.n):
            self.start(i, *extra)

    def kill(self, i: int, sig: int = signal.SIGKILL) -> int:
        proc = self.procs.pop(i)
        if proc.poll() is None:
            proc.send_signal(sig)
        return proc.wait(timeout=10)

    def close(self) -> None:
        for i in list(self.procs):
            self.kill(i)

    def __enter__(self) -> LocalServers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_for_leader(self, timeout: float = 15.0) -> int:
        """Block until some node says it is leader and a write goes through; its id."""
        deadline = time.monotonic() + timeout
        with Client(self.config, timeout=2.0) as c:
            while time.monotonic() < deadline:
                for i, proc in self.procs.items():
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"node {i} exited with {proc.returncode}: {self.tail(i)}"
                        )
                try:
                    c.write("__bench_warmup__", 0)
                    for i in self.procs:
                        if c.status(i).get("role") == "leader":
                            return i
                except PaxosError:
                    pass
                time.sleep(0.1)
        raise RuntimeError(f"no leader within {timeout:.0f} s")

    def tail(self, i: int, lines: int = 3) -> str:
        try:
            text = self.log_path(i).read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])


async def _load(config: Config, clients: int, seconds: float, keys: int) -> dict:
    """The store's clients (each finds the leader through redirects) under load()."""
    return await load(lambda w: AsyncClient(config, node=0, timeout=5.0), clients, seconds, keys)


async def load(
    connect: Callable[[int], Any],
    clients: int,
    seconds: float,
    keys: int,
    conflict: float | None = None,
    *,
    key_of: Callable[[random.Random, int, int], str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    settle: bool = False,
) -> dict:
    """``clients`` workers, each writing small values to ``keys`` keys back to back for
    ``seconds``; writes/s and latency percentiles of the successful writes. With
    ``conflict``, that share of the writes goes to one hot key and the rest to keys of
    their own (no two writes share one), instead of the ``keys`` keys; ``key_of(rng, w, i)``
    chooses instead when given (controller.bench_keys: zones and locality).

    ``connect(w)`` makes worker w's client (async ``write(key, value)`` and ``close()``,
    raising the store client's DefiniteFailure/Indeterminate): the same generator drives
    every target, so their figures compare. ``clock`` is the loop's time in a simulation
    (figures in simulated seconds); with ``settle`` the measurement starts only once every
    worker's first write is through (a simulated cluster elects its leader first)."""
    latencies: list[float] = []
    counts = {"ok": 0, "fail": 0, "info": 0}
    warmed = [0]
    settled = [0]  # workers past their warm-up, whether it went through or not
    if key_of is None and conflict is not None:
        key_of = partial(pick_key, conflict=conflict)

    async def worker(w: int) -> None:
        c = connect(w)
        pick = random.Random(w)
        try:
            for _ in range(WARMUP_TRIES):  # connect and find the leader before measuring
                try:
                    await c.write(f"k{w % keys}", 0)
                except (DefiniteFailure, Indeterminate):
                    continue  # (a protocol that duels may take a few tries to start)
                warmed[0] += 1
                break
            settled[0] += 1
            await start.wait()
            i = 0
            while clock() < stop_at:
                i += 1
                t0 = clock()
                if key_of is None:
                    key = f"k{(w * 7919 + i) % keys}"
                else:
                    key = key_of(pick, w, i)
                try:
                    await c.write(key, i)
                except DefiniteFailure:
                    counts["fail"] += 1
                except Indeterminate:
                    counts["info"] += 1
                else:
                    counts["ok"] += 1
                    latencies.append(clock() - t0)
        finally:
            await c.close()

    start = asyncio.Event()
    stop_at = float("inf")
    tasks = [asyncio.create_task(worker(w)) for w in range(clients)]
    await asyncio.sleep(0.2)
    while settle and settled[0] < clients and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    t0 = clock()
    stop_at = t0 + seconds
    start.set()
    await asyncio.gather(*tasks)
    elapsed = clock() - t0
    latencies.sort()
    return {
        "ops_per_s": counts["ok"] / elapsed,
        "writes": counts["ok"] + warmed[0],  # every acknowledged write, warm-ups included
        "elapsed_s": elapsed,
        **counts,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else 0.0,
    }


WARMUP_TRIES = 3  # first writes a worker tries before it measures anyway


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def bench_store(
    nodes: int,
    clients: int,
    seconds: float,
    fsync: bool,
    keys: int = 100,
    tls: bool = False,
    transport: str = "tcp",
) -> dict:
    """Run one benchmark on fresh local processes; the figures as a dict (with the CPU
    each node spent per acknowledged write, see controller.bench_cpu)."""
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-") as tmp:
        kw: dict[str, Any] = {"transport": transport}
        if tls:  # mutual TLS, certificates made for this run as the cluster backends do
            from cluster import certs

            kw["tls"] = certs.generate(Path(tmp) / "tls", list(range(nodes))).settings()
        with LocalServers(Path(tmp), nodes, fsync=fsync, **kw) as servers:
            servers.start_all()
            leader = servers.wait_for_leader()
            with Client(servers.config, timeout=2.0) as c:
                before = c.status(leader)
            meter = CpuMeter({str(i): p.pid for i, p in servers.procs.items()})
            meter.start()
            result = asyncio.run(_load(servers.config, clients, seconds, keys))
            meter.stop()
            with Client(servers.config, timeout=2.0) as c:
                after = c.status(leader)
    syncs = after.get("storage", {}).get("syncs", 0) - before.get("storage", {}).get("syncs", 0)
    result.update(
        nodes=nodes,
        clients=clients,
        seconds=seconds,
        fsync=fsync,
        tls=tls,
        transport=transport,
        cpu_us_per_write=meter.per_write(result["writes"], str(leader)),
        leader_fsyncs=syncs,
        writes_per_fsync=(result["ok"] / syncs) if syncs else None,
    )
    return result


def run(args: argparse.Namespace) -> int:
    if args.checker:
        try:
            import checker.bench as checker_bench
        except ModuleNotFoundError as e:
            if e.name not in ("checker.bench", "checker"):
                raise
            sys.stderr.write("paxlab bench: the checker benchmark (checker/bench.py) is missing\n")
            return 2
        known = [*checker_bench.CASES, *checker_bench.SETS]
        for c in args.case or ():
            if c not in known:
                sys.stderr.write(f"paxlab bench: unknown checker case {c!r} "
                                 f"(want one of {', '.join(known)})\n")  # fmt: skip
                return 2
        argv = [a for c in args.case or () for a in ("--case", c)]
        argv += ["--all"] * args.all + ["--json"] * args.json
        return int(checker_bench.main(argv) or 0)
    if args.nodes < 1 or args.clients < 1 or args.seconds <= 0 or args.keys < 1:
        sys.stderr.write(
            "paxlab bench: --nodes, --clients, --keys and --seconds must be positive\n"
        )
        return 2
    if args.mode is None and (args.sim or args.locality or args.zones is not None
                              or args.latency is not None):  # fmt: skip
        sys.stderr.write("paxlab bench: --sim, --zones, --locality and --latency go with --mode\n")
        return 2
    if args.mode is not None:
        from controller import bench_modes

        return bench_modes.run(args)
    if args.compare or args.target == "etcd":
        if args.tls or args.no_fsync:
            sys.stderr.write("paxlab bench: --tls and --no-fsync are for the bundled store alone\n")
            return 2
        if args.client_counts is not None and (
            not args.compare or any(c < 1 for c in args.client_counts)
        ):
            sys.stderr.write("paxlab bench: --client-counts are positive, and need --compare\n")
            return 2
        from controller import bench_etcd

        return bench_etcd.run(args)
    if len(args.transport) > 1 and not args.compare:
        sys.stderr.write("paxlab bench: several --transport values need --compare etcd\n")
        return 2
    if args.tls and args.transport != ["tcp"]:
        sys.stderr.write("paxlab bench: --tls runs over tcp only (UDP datagrams carry no TLS)\n")
        return 2
    if args.tls:
        from controller import bench_tls

        return bench_tls.run(args, bench_store)
    try:
        r = bench_store(
            args.nodes, args.clients, args.seconds, not args.no_fsync, args.keys,
            transport=args.transport[0],
        )  # fmt: skip
    except RuntimeError as e:
        sys.stderr.write(f"paxlab bench: {e}\n")
        return 2
    if args.json:
        print(json.dumps(r))
        return 0
    wpf = f"{r['writes_per_fsync']:.1f}" if r["writes_per_fsync"] else "n/a"
    print(
        f"store: {r['nodes']} nodes, {r['clients']} clients, {r['elapsed_s']:.1f} s, "
        f"fsync {'on' if r['fsync'] else 'off'} ({os.cpu_count()} CPUs)\n"
        f"  throughput  {r['ops_per_s']:.0f} writes/s  (ok {r['ok']}, fail {r['fail']}, "
        f"unknown {r['info']})\n"
        f"  latency     p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  "
        f"max {r['max_ms']:.1f} ms\n"
        f"  batching    {r['leader_fsyncs']} fsyncs on the leader, {wpf} writes per fsync\n"
        f"  cpu/write   {cpu_text(r['cpu_us_per_write'])}"
    )
    return 0
