"""`paxlab test`: run one Jepsen-style test, print the verdict, the op counts and the report.

Exit codes: 0 valid, 1 an anomaly was found, 2 undecided, bad input or an impossible nemesis.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from controller.spec import BACKENDS, NEMESIS_SCHEDULES, READ_MODES, TARGETS, WORKLOADS

# the bundled store's protocols (paxos_impl.config.MODES; the controller does not import it)
STORE_MODES = ("leader", "masterless", "epaxos", "mencius", "wpaxos")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workload", choices=WORKLOADS, default="kv")
    p.add_argument(
        "--nemesis",
        default="none",
        help="none|partition|kill|pause|clock|netem, comma-separated to combine; "
        "NAME:KIND[+KIND] picks kinds (e.g. partition:isolate-leader, kill:majority)",
    )
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--concurrency", type=int, default=10, help="client workers")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds of load and faults")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="total ops/s (default: the workload's; 0: no limit)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a fresh one)")
    p.add_argument("--nemesis-interval", type=float, default=5.0, help="seconds between faults")
    p.add_argument(
        "--nemesis-schedule",
        choices=NEMESIS_SCHEDULES,
        default="mixed",
        help="mixed: faults of different nemeses overlap (default); rotate: one at a time",
    )
    p.add_argument("--backend", choices=BACKENDS, default="docker")
    p.add_argument(
        "--backend-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a backend option, e.g. power_loss=0.5 or drop=0.01 on sim "
        "(repeatable; VALUE is read as JSON, else as a string)",
    )
    add_target_opt(p)
    p.add_argument(
        "--nodes-file",
        default=None,
        metavar="FILE",
        help="ssh backend: the hosts file (TOML or JSON; default: $PAXLAB_NODES_FILE)",
    )
    p.add_argument("--bug", action="append", default=[], help="a deliberate store bug (repeatable)")
    p.add_argument("--read-mode", choices=READ_MODES, default="log")
    p.add_argument(
        "--mode",
        choices=STORE_MODES,
        default=None,
        help="the bundled store's protocol (leader, masterless, epaxos; "
        "the same as --backend-opt mode=MODE)",
    )
    p.add_argument("--name", default=None, help="test name (default: WORKLOAD-NEMESIS)")
    p.add_argument("--results-dir", default=None, help="where runs go (default: ./results)")
    p.add_argument("--op-timeout", type=float, default=5.0, help="client timeout per operation")
    p.add_argument("--no-progress", action="store_true", help="no live progress line")
    p.add_argument("--json", action="store_true", help="print results.json as one JSON object")
    p.add_argument(
        "--spec",
        default=None,
        metavar="TEST_JSON",
        help="replay a stored run's test.json (its every option; only --results-dir, "
        "--no-progress and --json are read besides)",
    )


def add_target_opt(p: argparse.ArgumentParser) -> None:
    """``--target NAME`` (the system under test) and ``--target-opt KEY=VALUE`` (one of its
    settings; the bundled store's are its configuration names), the same on every backend."""
    p.add_argument(
        "--target",
        choices=TARGETS,
        default="bundled",
        help="the system under test (default: bundled, the Multi-Paxos store; docs/targets.md)",
    )
    p.add_argument(
        "--target-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a store setting by its configuration name, e.g. phase1_quorum=2, "
        "timeouts.lease_ms=500, max_clock_drift_ms=0, mode=masterless (repeatable; "
        "unsafe_quorums=true permits Q1+Q2<=N on purpose; docs/cli.md lists them all)",
    )


def spec_from_args(
    args: argparse.Namespace,
    argv: list[str] | None = None,
    *,
    seed: int | None = None,
    backend: str | None = None,
    backend_opts: dict[str, Any] | None = None,
):
    """The TestSpec the test options describe (``paxlab test``; ``paxlab sim`` passes the
    seed, the backend and its options itself)."""
    import targets
    from controller.spec import SpecError, TestSpec

    nemesis = [n.strip() for n in args.nemesis.split(",") if n.strip()]
    if seed is None:
        seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    if backend_opts is None:
        backend_opts = parse_backend_opts(getattr(args, "backend_opt", []))
        if getattr(args, "mode", None):
            backend_opts = {**backend_opts, "mode": args.mode}
    backend = backend or args.backend
    try:
        target_opts = targets.parse_opts(getattr(args, "target_opt", []))
    except targets.TargetError as e:
        raise SpecError(str(e)) from None
    nodes_file = getattr(args, "nodes_file", None)
    if nodes_file is not None:
        if backend != "ssh":
            raise SpecError(f"--nodes-file is for --backend ssh, not {backend}")
        backend_opts = {**backend_opts, "nodes_file": str(Path(nodes_file).expanduser().resolve())}
    return TestSpec(
        workload=args.workload,
        nemesis=[] if nemesis == ["none"] else nemesis,
        nodes=args.nodes,
        concurrency=args.concurrency,
        time_limit=args.time_limit,
        rate=args.rate,
        seed=seed,
        nemesis_interval=args.nemesis_interval,
        nemesis_schedule=getattr(args, "nemesis_schedule", "mixed"),
        backend=backend,
        target=getattr(args, "target", "bundled"),
        bugs=list(args.bug),
        read_mode=args.read_mode,
        name=getattr(args, "name", None),
        op_timeout=args.op_timeout,
        backend_opts=backend_opts,
        target_opts=target_opts,
        argv=argv if argv is not None else ["paxlab", *sys.argv[1:]],
    ).validate()


def spec_from_file(path: str):
    """The TestSpec a stored run's test.json holds (SpecError, one line, if it cannot)."""
    from controller.spec import SpecError, TestSpec

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read the spec {path}: {e}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path} is not a test spec (a JSON object)")
    try:
        return TestSpec.from_dict(data)
    except TypeError as e:  # a value of the wrong type, e.g. "nodes": "five"
        raise SpecError(f"{path}: {e}") from None


def parse_backend_opts(items: list[str]) -> dict[str, Any]:
    """['power_loss=0.5', 'drop=0.01'] -> {'power_loss': 0.5, 'drop': 0.01}.

    A store setting is refused here with the flag that sets it (--target-opt): one way to
    set the store, whatever the backend."""
    from targets.bundled.settings import ELSEWHERE, SETTINGS

    store_keys = {k.partition(".")[0] for k in SETTINGS} | set(ELSEWHERE) | {"config"}
    opts: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise ValueError(f"--backend-opt wants KEY=VALUE, got {item!r}")
        if key in ELSEWHERE:
            raise ValueError(f"--backend-opt {key} is a store setting: {ELSEWHERE[key]}")
        if key in store_keys:
            raise ValueError(
                f"--backend-opt {key} is a store setting: use --target-opt KEY=VALUE "
                "(one per setting, e.g. --target-opt snapshot_every=50)"
            )
        try:
            opts[key] = json.loads(raw)
        except json.JSONDecodeError:
            opts[key] = raw
    return opts


def run(args: argparse.Namespace) -> int:
    from cluster.base import ClusterError
    from controller.cli import UsageError
    from controller.run import run_test
    from controller.spec import SpecError
    from nemesis.base import NemesisError

    try:
        spec = spec_from_file(args.spec) if args.spec else spec_from_args(args)
        print(
            f"paxlab test: {spec.test_name} on {spec.backend}, {spec.nodes} nodes, "
            f"{spec.concurrency} workers, {spec.time_limit:g}s, seed {spec.seed}",
            file=sys.stderr,
        )
        outcome = run_test(spec, results_root=args.results_dir, progress=not args.no_progress)
    except (SpecError, NemesisError, ClusterError, ValueError) as e:
        raise UsageError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
    r = outcome.results
    if args.json:
        print(json.dumps(r, default=str))
        return outcome.exit_code
    verdict = {True: "VALID", False: "INVALID"}.get(r["valid"], "UNKNOWN")
    ops = r["ops"]
    print(f"verdict: {verdict}")
    print(f"ops: ok {ops['ok']}  fail {ops['fail']}  info {ops['info']}")
    for name, res in r.get("checkers", {}).items():
        print(f"  {name}: {res.get('valid')}" + (f" ({res['error']})" if res.get("error") else ""))
    if r.get("error"):
        print(f"error: {r['error']}")
    if r.get("teardown_error"):
        print(f"teardown error: {r['teardown_error']}")
    report = outcome.report
    print(
        f"report: {report}"
        if report
        else f"run: {outcome.run_dir} (no report: {r.get('report_error')})"
    )
    if spec.backend == "sim" and r["valid"] is not True:  # a seed replays exactly: say how
        from controller.report import rerun_command

        print(f"replay: {rerun_command(spec.to_dict())}")
    return outcome.exit_code
