"""`paxlab sim`: sweep many seeds of a simulated test; every failing seed is a replayable bug.

Each seed is one ``paxlab test --backend sim`` run: the controller's phases, the workload's
generators and checkers and the nemeses, unchanged, in virtual time. Passing seeds leave
nothing behind; a seed that is invalid (or undecided) is run again into the results store
as a normal run with its report (the rerun is the same run, byte for byte: that is the
point of a seed), and its one-line replay command is printed.

``--jobs N`` runs the seeds in N worker processes (seeds are independent and CPU-bound, as
FoundationDB and TigerBeetle run many simulations side by side); rows still come out in seed
order and each is exactly what a serial sweep gives, so only the timings differ.
``--scheduler ADDR`` runs them on a Dask cluster instead (`controller.sim_dask`), same rows.

``--shrink SEED`` searches for the smallest run of a failing seed that still fails
(controller.shrink, docs/shrinking.md).

``--bench`` measures instead: simulated test-seconds per wall-second (and per CPU-second),
setup to final reads, for the shape given (default five nodes, ten clients, every nemesis),
over seeds from the first until a minute of simulated time is covered (or ``--seeds N``).

Exit codes: 0 every seed valid, 1 some seed invalid, 2 none invalid but some undecided, or
bad input.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from math import ceil
from pathlib import Path
from typing import Any

from cluster.capabilities import Inspect
from controller.spec import NEMESIS_SCHEDULES, READ_MODES, WORKLOADS

VERDICT = {True: "valid", False: "INVALID"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--seeds", type=int, default=None, help="how many seeds (default 100; 1 with --seed)"
    )
    p.add_argument("--start-seed", type=int, default=0, help="first seed of the sweep")
    p.add_argument("--seed", type=int, default=None, help="just this seed (replays a failure)")
    p.add_argument("--workload", choices=WORKLOADS, default="kv")
    p.add_argument("--nemesis", default="partition,kill,pause,clock,netem")
    p.add_argument("--bug", action="append", default=[], help="a deliberate store bug (repeatable)")
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--time-limit", type=float, default=10.0, help="simulated seconds per seed")
    p.add_argument("--rate", type=float, default=None, help="total ops/s (default: the workload's)")
    p.add_argument("--nemesis-interval", type=float, default=1.0)
    p.add_argument(
        "--nemesis-schedule",
        choices=NEMESIS_SCHEDULES,
        default="mixed",
        help="mixed: faults of different nemeses overlap (default); rotate: one at a time",
    )
    p.add_argument("--op-timeout", type=float, default=1.0)
    p.add_argument("--read-mode", choices=READ_MODES, default="log")
    p.add_argument(
        "--mode",
        choices=("leader", "masterless", "epaxos", "mencius", "wpaxos"),
        default="leader",
        help="the store's mode",
    )
    p.add_argument("--power-loss", type=float, default=0.5, help="fraction of kills that cut power")
    p.add_argument(
        "--clock-drift", type=float, default=0.0, help="max drift rate with clock faults"
    )
    p.add_argument("--drop", type=float, default=0.0, help="node-to-node message loss")
    p.add_argument("--dup", type=float, default=0.0, help="node-to-node message duplication")
    p.add_argument(
        "--snapshot-every",
        type=int,
        default=None,
        help="applied slots between the store's snapshots (default 256 in simulation)",
    )
    from controller.run_cli import add_target_opt

    add_target_opt(p)  # store settings, as for paxlab test
    p.add_argument(
        "--backend-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a simulator option, e.g. latency=wan3 (zones this far apart: docs/modes.md) "
        "or jitter=0.2 (repeatable; VALUE is read as JSON, else as a string)",
    )
    p.add_argument("--results-dir", default=None, help="where failing runs go (default ./results)")
    p.add_argument(
        "--each-kind",
        action="store_true",
        help="seed k runs only the k-th fault kind of --nemesis (short seeds still cover all)",
    )
    p.add_argument("--stop-at-first", action="store_true", help="stop at the first invalid seed")
    p.add_argument("--json", action="store_true", help="one JSON object per seed, then a summary")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="worker processes for the sweep (default 1; 0 = one per CPU; --bench ignores it)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="run the sweep's seeds on this Dask scheduler (tcp://HOST:PORT; docs/sweeps.md)",
    )
    p.add_argument(
        "--bench",
        action="store_true",
        help="measure simulated seconds per second (over 60 simulated s unless --seeds)",
    )
    from controller.shrink import add_arguments as add_shrink

    add_shrink(p)  # --shrink SEED: the smallest failing run of a seed (controller.shrink)


def _bad(msg: str) -> None:
    from controller.cli import UsageError

    raise UsageError(msg)


def _check_args(args: argparse.Namespace) -> list[int]:
    if args.seed is not None:
        seeds = (
            [args.seed] if args.seeds is None else list(range(args.seed, args.seed + args.seeds))
        )
    else:
        n = 100 if args.seeds is None else args.seeds
        seeds = list(range(args.start_seed, args.start_seed + n))
    if not seeds:
        _bad("--seeds must be at least 1")
    for name in ("power_loss", "drop", "dup"):
        v = getattr(args, name)
        if not 0.0 <= v <= 1.0:
            _bad(f"--{name.replace('_', '-')} must be between 0 and 1, got {v}")
    if not 0.0 <= args.clock_drift < 0.5:
        _bad(f"--clock-drift must be in [0, 0.5), got {args.clock_drift}")
    if args.jobs < 0:
        _bad(f"--jobs must be 0 (one per CPU) or more, got {args.jobs}")
    if getattr(args, "scheduler", None) and (args.bench or args.jobs != 1):
        _bad("--scheduler runs the sweep on Dask: it goes with neither --jobs nor --bench")
    if args.snapshot_every is not None and args.snapshot_every < 1:
        _bad(f"--snapshot-every must be at least 1, got {args.snapshot_every}")
    return seeds


# simulator options that paxlab sim sets with flags of their own (one way to set each)
SIM_FLAGS = {
    "mode": "--mode",
    "snapshot_every": "--snapshot-every",
    "power_loss": "--power-loss",
    "clock_drift": "--clock-drift",
    "drop": "--drop",
    "dup": "--dup",
    "seed": "--seed",
}


def backend_opts(args: argparse.Namespace) -> dict[str, Any]:
    from controller.run_cli import parse_backend_opts

    every = getattr(args, "snapshot_every", None)
    try:
        extra = parse_backend_opts(getattr(args, "backend_opt", []))
    except ValueError as e:
        _bad(str(e))
    for key in sorted(set(extra) & set(SIM_FLAGS)):
        _bad(f"--backend-opt {key} has its own flag: {SIM_FLAGS[key]}")
    return {
        **extra,
        **({"mode": args.mode} if args.mode != "leader" else {}),  # else --target-opt may
        **({"snapshot_every": every} if every is not None else {}),
        "power_loss": args.power_loss,
        "clock_drift": args.clock_drift,
        "drop": args.drop,
        "dup": args.dup,
    }


def replay_argv(args: argparse.Namespace, seed: int) -> list[str]:
    """`paxlab sim ... --seed S`: the exact run of one seed again."""
    argv = ["paxlab", "sim", "--workload", args.workload, "--nemesis", args.nemesis]
    if getattr(args, "target", "bundled") != "bundled":
        argv += ["--target", args.target]
    for b in args.bug:
        argv += ["--bug", b]
    for flag, value, default in (
        ("--nodes", args.nodes, 5),
        ("--concurrency", args.concurrency, 10),
        ("--time-limit", args.time_limit, 10.0),
        ("--rate", args.rate, None),
        ("--nemesis-interval", args.nemesis_interval, 1.0),
        ("--nemesis-schedule", getattr(args, "nemesis_schedule", "mixed"), "mixed"),
        ("--op-timeout", args.op_timeout, 1.0),
        ("--read-mode", args.read_mode, "log"),
        ("--mode", args.mode, "leader"),
        ("--power-loss", args.power_loss, 0.5),
        ("--clock-drift", args.clock_drift, 0.0),
        ("--drop", args.drop, 0.0),
        ("--dup", args.dup, 0.0),
        ("--snapshot-every", getattr(args, "snapshot_every", None), None),
    ):
        if value != default:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    for setting in getattr(args, "target_opt", []):
        argv += ["--target-opt", setting]
    for setting in getattr(args, "backend_opt", []):
        argv += ["--backend-opt", setting]
    return argv + ["--seed", str(seed)]


def make_spec(args: argparse.Namespace, seed: int):
    """The spec of one seed: ``paxlab test --backend sim`` with these options."""
    from controller.run_cli import spec_from_args

    return spec_from_args(
        args,
        replay_argv(args, seed),
        seed=seed,
        backend="sim",
        backend_opts=backend_opts(args),
    )


def kinds_of(nemesis: str) -> list[str]:
    """'partition,kill:leader' -> ['partition:halves', ..., 'kill:leader']."""
    from nemesis import REGISTRY

    out = []
    for entry in (e.strip() for e in nemesis.split(",")):
        name, _, kinds = entry.partition(":")
        if not entry or name == "none":
            continue
        cls = REGISTRY.get(name)
        if cls is None:
            _bad(f"unknown nemesis {name!r}; known: {', '.join(REGISTRY)}")
        out += [f"{name}:{k}" for k in (kinds.split("+") if kinds else cls.KINDS)]
    return out or ["none"]


def for_seed(args: argparse.Namespace, seed: int, index: int) -> argparse.Namespace:
    """The arguments one seed runs with (``--each-kind`` picks its fault kind)."""
    if not args.each_kind:
        return args
    kinds = kinds_of(args.nemesis)
    return argparse.Namespace(**{**vars(args), "nemesis": kinds[index % len(kinds)]})


def run_seed(args: argparse.Namespace, seed: int, scratch: Path) -> dict[str, Any]:
    """One seed in a scratch results dir; what it found (the run dir is removed).

    Besides the workload's checkers, the simulator watches the cores themselves: two values
    chosen for one slot is a safety violation even when no client happened to see it. The
    run's verdict already counts that (its ``store-invariants`` checker), so this row, the
    stored run's results.json, its report and the index all say the same."""
    from controller.run import make_cluster_for, run_test

    spec = make_spec(args, seed)
    cluster = make_cluster_for(spec)
    cluster.record_messages = False  # type: ignore[attr-defined]  # (the run dir goes; a
    t0 = time.monotonic()  # failing seed is rerun and stored, trace and all)
    out = run_test(spec, cluster=cluster, results_root=scratch, progress=False, report=False)
    history = hashlib.sha256((Path(out.run_dir) / "history.jsonl").read_bytes()).hexdigest()
    shutil.rmtree(out.run_dir, ignore_errors=True)
    r = out.results
    row: dict[str, Any] = {
        "seed": seed,
        "nemesis": args.nemesis,
        "valid": r["valid"],
        "ops": r["ops"],
        "wall_s": round(time.monotonic() - t0, 3),
        "sim_s": round(cluster.now(), 3),  # every phase, for the sweep's sim-s per wall-s
        "error": r.get("error"),
    }
    bad = [n for n, c in r.get("checkers", {}).items() if c.get("valid") is not True]
    if bad:
        row["checkers"] = bad
    if isinstance(cluster, Inspect):
        _inside(cluster, row)
    row["history_valid"] = r.get("history_valid", r["valid"])
    row["history_sha256"] = history  # two sweeps of a seed, anywhere, give the same history
    return row


def _inside(cluster: Inspect, row: dict[str, Any]) -> None:
    """What the simulator saw inside the nodes: power cuts, torn tails, violations."""
    if cluster.world is not None:  # what the faults did to the disks
        disks = [n.disk for n in cluster.world.nodes.values()]
        row["power_losses"] = sum(len(getattr(d, "power_losses", ())) for d in disks)
        row["torn"] = sum(getattr(d, "torn_recoveries", 0) for d in disks)
    violations = cluster.violations
    if violations:  # the run's verdict already counts them (its store-invariants checker)
        row["world_violations"] = violations[:5]


def store_failure(args: argparse.Namespace, seed: int) -> tuple[Path, Any]:
    """Run the seed again, this time into the results store with a report."""
    from controller.run import run_test

    out = run_test(make_spec(args, seed), results_root=args.results_dir, progress=False)
    return out.run_dir, out.valid


def run(args: argparse.Namespace) -> int:
    from cluster.base import ClusterError
    from controller.spec import SpecError
    from nemesis.base import NemesisError

    seeds = _check_args(args)
    try:
        from controller.run import make_cluster_for

        make_cluster_for(make_spec(for_seed(args, seeds[0], 0), seeds[0]))  # options checked
        if args.shrink is not None:
            from controller.shrink import run as shrink

            return shrink(args)
        if args.bench:
            return bench(args, seeds)
        return sweep(args, seeds)
    except (SpecError, NemesisError, ClusterError) as e:
        _bad(str(e).splitlines()[0] if str(e) else type(e).__name__)
    return 2  # pragma: no cover - _bad raises


def sweep(args: argparse.Namespace, seeds: list[int]) -> int:
    err = sys.stderr
    dask = None
    if getattr(args, "scheduler", None):  # reached before any seed runs, or exit 2
        from controller.sim_dask import DaskSweep

        dask = DaskSweep(args.scheduler)
    print(
        f"paxlab sim: {len(seeds)} seeds from {seeds[0]}, {args.workload} / {args.nemesis}"
        + (f", bugs {','.join(args.bug)}" if args.bug else "")
        + f", {args.nodes} nodes, {args.concurrency} clients, {args.time_limit:g}s each",
        file=err,
        flush=True,
    )
    jobs = dask.workers if dask else _jobs(args, len(seeds))
    counts = {"valid": 0, "invalid": 0, "unknown": 0}
    failures = []
    store_only = 0  # invalid seeds that only the simulator's invariants judged so
    sim_s = 0.0
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="paxlab-sim-") as scratch:
        rows = (
            dask.rows(args, seeds)
            if dask
            else _rows_serial(args, seeds, Path(scratch))
            if jobs == 1
            else _rows_parallel(args, seeds, Path(scratch), jobs)
        )
        try:
            for k, (a, row) in enumerate(rows, 1):
                seed, v = row["seed"], row["valid"]
                sim_s += row.get("sim_s", 0.0)
                counts["valid" if v is True else "invalid" if v is False else "unknown"] += 1
                store_only += v is False and row.get("history_valid") is True
                if v is not True:
                    run_dir, again = store_failure(a, seed)
                    row["run"] = str(run_dir)
                    row["replay"] = shlex.join(replay_argv(a, seed))
                    row["replayed_same_verdict"] = again == v
                    failures.append(row)
                _print_row(args, row, k, len(seeds), t0)
                if v is False and args.stop_at_first:
                    break
        finally:
            rows.close()  # a parallel sweep stops its workers before the scratch dir goes
            if dask:
                dask.close()
    total = sum(counts.values())
    wall = time.monotonic() - t0
    summary = {
        "seeds": total,
        **counts,
        "wall_s": round(wall, 2),
        "jobs": jobs,
        **({"scheduler": args.scheduler} if dask else {}),
        "sim_s": round(sim_s, 3),
        "sim_s_per_wall_s": round(sim_s / wall, 1) if wall > 0 else None,
        "failing": [f["seed"] for f in failures],
        "invalid_store_only": store_only,
    }
    if args.json:
        print(json.dumps({"summary": summary}))
    else:
        print(
            f"{total} seeds: {counts['valid']} valid, {counts['invalid']} invalid"
            + (f" ({store_only} seen only inside the store)" if store_only else "")
            + ", "
            f"{counts['unknown']} unknown in {summary['wall_s']:g}s "
            f"({jobs} job{'s' if jobs != 1 else ''}, "
            f"{summary['sim_s_per_wall_s']} simulated s per wall s)"
        )
        for f in failures:
            print(f"  seed {f['seed']}: {VERDICT.get(f['valid'], 'unknown')}  {f['run']}")
            print(f"    replay: {f['replay']}")
    if counts["invalid"]:
        return 1
    return 2 if counts["unknown"] else 0


def _jobs(args: argparse.Namespace, n_seeds: int) -> int:
    """Worker processes to use: --jobs, 0 meaning one per CPU, never more than there are seeds."""
    jobs = args.jobs or os.cpu_count() or 1
    return max(1, min(jobs, n_seeds))


Rows = Iterator[tuple[argparse.Namespace, dict[str, Any]]]


def _rows_serial(args: argparse.Namespace, seeds: list[int], scratch: Path) -> Rows:
    """Each seed's arguments and row, one after the other in this process."""
    for i, seed in enumerate(seeds):
        a = for_seed(args, seed, i)
        yield a, run_seed(a, seed, scratch)


def _rows_parallel(args: argparse.Namespace, seeds: list[int], scratch: Path, jobs: int) -> Rows:
    """The same rows as `_rows_serial`, in seed order, computed by `jobs` worker processes.

    At most 2 x jobs seeds are submitted at a time, so that workers stay busy while the caller
    stores a failure, yet a stop (an invalid seed under --stop-at-first, Ctrl-C, closing this
    generator) leaves little to cancel. Rows that complete early wait in a buffer for their turn.
    Workers start by "forkserver" (or "spawn"): the parent may hold threads or an event loop,
    which fork would copy half-way."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_worker_init)
    per_seed = [for_seed(args, seed, i) for i, seed in enumerate(seeds)]
    running: dict[cf.Future, int] = {}
    done: dict[int, dict[str, Any]] = {}
    limit = len(seeds)  # seeds from this index on are not needed (past a stopping failure)
    submitted = emitted = 0
    try:
        while emitted < limit:
            while submitted < limit and len(running) < 2 * jobs:
                a = per_seed[submitted]
                fut = pool.submit(_run_seed_in_worker, a, seeds[submitted], str(scratch))
                running[fut] = submitted
                submitted += 1
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                i = running.pop(fut)
                if i >= limit:  # cancelled, or past the stopping failure: not reported
                    continue
                try:
                    done[i] = row = fut.result()
                except cf.BrokenExecutor:
                    _bad("a worker process died (out of memory?); --jobs 1 runs the seeds here")
                if args.stop_at_first and row["valid"] is False and i < limit:
                    limit = i + 1
                    for other, j in list(running.items()):
                        if j >= limit:
                            other.cancel()
            while emitted in done:
                yield per_seed[emitted], done.pop(emitted)
                emitted += 1
    finally:
        _stop_pool(pool, kill=bool(running))


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which shuts them down (one message, no tracebacks)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_seed_in_worker(args: argparse.Namespace, seed: int, scratch_root: str) -> dict[str, Any]:
    """`run_seed` in a worker, in its own scratch dir (two runs must not share a results root)."""
    scratch = Path(scratch_root) / f"worker-{os.getpid()}"
    scratch.mkdir(exist_ok=True)
    return run_seed(args, seed, scratch)


def _stop_pool(pool: cf.ProcessPoolExecutor, kill: bool) -> None:
    """Shut the pool down; with ``kill``, end seeds still running rather than wait for them.

    Either way no worker outlives the sweep (nor writes into its scratch dir once it is gone)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=not kill, cancel_futures=True)
    if kill:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=10)


def _print_row(args: argparse.Namespace, row: dict[str, Any], k: int, n: int, t0: float) -> None:
    if args.json:
        print(json.dumps(row, default=str), flush=True)
        return
    verdict = VERDICT.get(row["valid"], "unknown")
    ops = row["ops"]
    line = (
        f"[{k}/{n}] seed {row['seed']} {row['nemesis']}: {verdict}  ok {ops['ok']} fail {ops['fail']} "
        f"info {ops['info']}  ({row['wall_s']:.2f}s, {time.monotonic() - t0:.0f}s total)"
    )
    if row["valid"] is not True:
        line += f"  checkers: {','.join(row.get('checkers', [])) or '-'}"
        if row.get("error"):
            line += f"  error: {row['error'][:120]}"
        if row["valid"] is False and row.get("history_valid") is True:
            line += "  (seen only inside the store; the history checkers found nothing)"
        if row.get("world_violations"):
            line += f"  simulator saw: {row['world_violations'][0][:160]}"
    print(line, flush=True)


BENCH_SIMULATED_S = 60.0  # --bench runs seeds until this much simulated time is covered


def bench(args: argparse.Namespace, seeds: list[int]) -> int:
    """Simulated seconds per wall second and per CPU second, setup to final reads.

    One short seed is a noisy figure (and seeds differ in how much their faults cost), so
    unless ``--seeds`` says how many, seeds from the first are run until at least
    BENCH_SIMULATED_S simulated seconds are covered, and the totals are reported."""
    n = len(seeds) if args.seeds is not None else max(1, ceil(BENCH_SIMULATED_S / args.time_limit))
    first = seeds[0]
    rows = [_bench_one(args, first + k) for k in range(n)]
    sim_s = sum(r["simulated_s"] for r in rows)
    wall = sum(r["loop_wall_s"] for r in rows)
    cpu = sum(r["loop_cpu_s"] for r in rows)
    ops = {k: sum(r["ops"][k] for r in rows) for k in ("ok", "fail", "info")}
    verdicts = [r["valid"] for r in rows]
    valid = False if False in verdicts else True if all(v is True for v in verdicts) else "unknown"
    per_wall = [r["sim_s_per_wall_s"] for r in rows if r["sim_s_per_wall_s"]]
    result = {
        "nodes": args.nodes,
        "clients": args.concurrency,
        "workload": args.workload,
        "nemesis": args.nemesis,
        "seeds": [first, first + n - 1],
        "simulated_s": round(sim_s, 3),
        "test_time_s": rows[0]["test_time_s"],
        "loop_wall_s": round(wall, 3),
        "loop_cpu_s": round(cpu, 3),
        "sim_s_per_wall_s": round(sim_s / wall, 1) if wall else None,
        "sim_s_per_cpu_s": round(sim_s / cpu, 1) if cpu else None,
        "per_seed_sim_s_per_wall_s": {
            "min": min(per_wall, default=None),
            "median": statistics.median(per_wall) if per_wall else None,
            "max": max(per_wall, default=None),
        },
        "ops": ops,
        "valid": valid,
    }
    if args.json:
        print(json.dumps(result))
    else:
        spread = result["per_seed_sim_s_per_wall_s"]
        print(
            f"{args.nodes} nodes, {args.concurrency} clients, {n} seed(s) from {first}, "
            f"{result['simulated_s']:g} simulated s: {result['sim_s_per_wall_s']} sim-s per "
            f"wall-s, {result['sim_s_per_cpu_s']} per CPU-s (per seed {spread['min']} / "
            f"{spread['median']} / {spread['max']} min/median/max; setup to final reads: "
            f"{result['loop_wall_s']}s wall, {result['loop_cpu_s']}s CPU); ops {ops}"
        )
    return 0 if valid is True else 1 if valid is False else 2


def _bench_one(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One seed, timed around the event loop (setup to final reads, no checking)."""
    from controller.run import make_cluster_for, run_test
    from controller.virtual_loop import run_virtual

    timing: dict[str, float] = {}

    def runner(coro):
        w0, c0 = time.monotonic(), time.process_time()
        try:
            return run_virtual(coro)
        finally:
            timing["wall"] = time.monotonic() - w0
            timing["cpu"] = time.process_time() - c0

    spec = make_spec(args, seed)
    cluster = make_cluster_for(spec)
    cluster.record_messages = False  # type: ignore[attr-defined]  # (timed: nothing kept)
    with tempfile.TemporaryDirectory(prefix="paxlab-sim-bench-") as scratch:
        out = run_test(
            spec,
            cluster=cluster,
            results_root=scratch,
            progress=False,
            runner=runner,
            report=False,
        )
    r = out.results
    sim_s = round(cluster.now(), 3)  # every phase on the loop, not only the run phase
    wall, cpu = timing.get("wall", 0.0), timing.get("cpu", 0.0)
    return {
        "seed": seed,
        "simulated_s": sim_s,
        "test_time_s": r.get("test_time_s"),
        "loop_wall_s": wall,
        "loop_cpu_s": cpu,
        "sim_s_per_wall_s": round(sim_s / wall, 1) if wall else None,
        "ops": r["ops"],
        "valid": r["valid"],
    }
