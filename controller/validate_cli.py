"""`paxlab validate`: is every deliberate bug found, and is the correct store never accused?

Per catalogued bug (controller.catalogue) it runs the exposing test until the bug shows or
its budget is spent; per nemesis it runs the correct store ``--runs`` times. It prints a
table (or ``--json``: one object) and keeps everything under results/validate-<backend>/.

Exit codes: 0 every bug found and no false positive, 1 otherwise, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from controller.catalogue import VALIDATE_BACKENDS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        choices=VALIDATE_BACKENDS,
        default=None,
        help="sim (the default for the bundled store), docker, or local (etcd's default)",
    )
    p.add_argument(
        "--target",
        choices=("bundled", "etcd"),
        default="bundled",
        help="the system under test; another target's bugs are its documented weak settings",
    )
    p.add_argument(
        "--runs", type=int, default=20, help="clean runs of the correct store per nemesis"
    )
    p.add_argument("--bugs", default=None, help="comma-separated bugs (default: the catalogue)")
    p.add_argument(
        "--nemeses",
        default=None,
        help="comma-separated nemeses for the clean runs (default: all); 'none' skips them",
    )
    p.add_argument(
        "--time-limit", type=float, default=None, help="seconds per run (default: the catalogue's)"
    )
    p.add_argument(
        "--max-runs", type=int, default=None, help="runs per bug (default: the catalogue's budget)"
    )
    p.add_argument(
        "--target-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every run, bug hunts and clean runs alike, e.g. transport=udp "
        "(repeatable; as paxlab test's)",
    )
    p.add_argument("--seed", type=int, default=1, help="first seed (attempt i uses seed + i)")
    p.add_argument("--results-dir", default=None, help="where runs go (default: ./results)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def _split(value: str | None, known: list[str], what: str) -> list[str] | None:
    from controller.cli import UsageError

    if value is None:
        return None
    items = [x.strip() for x in value.split(",") if x.strip()]
    if items == ["none"]:
        return []
    bad = [x for x in items if x not in known]
    if bad:
        raise UsageError(f"unknown {what} {bad[0]!r}; known: {', '.join(known)}")
    if not items:
        raise UsageError(f"--{what}s needs at least one name")
    return items


def options_from_args(args: argparse.Namespace):
    from controller.catalogue import TARGET_BACKENDS, catalogue_of, clean_plans
    from controller.cli import UsageError
    from controller.validate import Options

    backends = TARGET_BACKENDS[args.target]
    backend = args.backend or backends[0]
    if backend not in backends:
        raise UsageError(
            f"the {args.target} target is validated on {' or '.join(backends)}, not {backend}"
        )
    if args.runs < 0:
        raise UsageError(f"--runs must be 0 or more, got {args.runs}")
    if args.time_limit is not None and not args.time_limit > 0:
        raise UsageError(f"--time-limit must be positive, got {args.time_limit}")
    if args.max_runs is not None and args.max_runs < 1:
        raise UsageError(f"--max-runs must be at least 1, got {args.max_runs}")
    target_opts = _target_opts(args.target, getattr(args, "target_opt", []))
    return Options(
        target_opts=target_opts,
        backend=backend,
        target=args.target,
        runs=args.runs,
        bugs=_split(args.bugs, [b.id for b in catalogue_of(args.target)], "bug"),
        nemeses=_split(args.nemeses, list(clean_plans(args.target)), "nemesis"),
        time_limit=args.time_limit,
        max_runs=args.max_runs,
        seed=args.seed,
        results_root=args.results_dir,
        argv=["paxlab", *sys.argv[1:]],
    )


def _target_opts(target: str, items: list[str]) -> dict[str, Any]:
    """--target-opt KEY=VALUE, checked as paxlab test checks them (one line if refused)."""
    import targets
    from controller.cli import UsageError
    from controller.spec import SpecError, TestSpec

    try:
        opts = targets.parse_opts(items)
        TestSpec(target=target, target_opts=opts).make_target()
    except (targets.TargetError, SpecError) as e:
        raise UsageError(str(e)) from None
    return opts


def run(args: argparse.Namespace) -> int:
    from controller.validate import exit_code, validate

    opts = options_from_args(args)

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"validate: {msg}", file=sys.stderr, flush=True)

    folder, summary = validate(opts, progress)
    if args.json:
        print(json.dumps({**summary, "dir": str(folder)}, default=str))
    else:
        print_tables(summary)
        print(f"summary: {folder / 'summary.html'}")
    return exit_code(summary)


def print_tables(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    target = summary.get("target", "bundled")
    what = "deliberate bugs" if target == "bundled" else f"{target}'s weak settings"
    bugs = Table(title=f"{what} ({summary['backend']})")
    for col in ("bug", "status", "found by", "runs", "time", "nemesis", "workload", "seed"):
        bugs.add_column(col)
    bugs.add_column("showed it", overflow="fold")
    for b in summary["bugs"]:
        style = {"found": "green", "not exposable": "dim"}.get(b["status"], "red")
        status = f"[{style}]{b['status']}[/]"
        if b.get("control") and b["control"]["valid"] is not True:
            status += f" [red](control {_word(b['control']['valid'])})[/]"
        bugs.add_row(
            b["name"],
            status,
            b.get("found_by") or "",
            f"{b['runs']}/{b['budget_runs']}",
            f"{b['seconds']:.1f}s",
            ", ".join(b["nemesis"]) or ("none" if b["status"] != "not exposable" else ""),
            b["workload"],
            "" if b["seed"] is None else str(b["seed"]),
            b["report"] or b["run"] or (b["reason"] or ""),
        )
    if summary["bugs"]:
        console.print(bugs)
        if target == "bundled":
            names = " ".join(b["name"] for b in summary["bugs"])
            console.print(
                f"Why each bug breaks Paxos, its lines, its smallest failure: paxlab explain {names}",
                markup=False,
                highlight=False,
            )
    correct = "correct store" if target == "bundled" else f"{target}, default settings"
    clean = Table(title=f"{correct}: false positives")
    for col in ("nemesis", "workload", "runs", "valid", "false positives", "undecided", "time"):
        clean.add_column(col)
    for c in summary["clean"]:
        fp = c["false_positives"]
        clean.add_row(
            c["nemesis"],
            c["workload"],
            str(c["runs"]),
            str(c["valid"]),
            ("[red]" if fp else "[green]")
            + str(len(fp))
            + "[/] "
            + " ".join(a["report"] or a["run"] or "" for a in fp),
            str(len(c["undecided"]))
            + "".join(f" {a['run'] or a['error']}" for a in c["undecided"]),
            f"{c['seconds']:.1f}s",
        )
    if summary["clean"]:
        console.print(clean)
    verdict = "[green]PASS[/]" if summary["valid"] is True else "[red]FAIL[/]"
    if summary.get("interrupted"):
        verdict = "[yellow]INTERRUPTED[/] (partial)"
    console.print(
        f"{verdict}: bugs found by the history checkers "
        f"{summary['bugs_found']}/{summary['bugs_expected']}"
        + "".join(
            f" ({b['bug']}: simulator invariants only, seed {b['seed']}: {b['why']})"
            for b in summary.get("bugs_invariants_only", [])
        )
        + ", "
        f"false positives {summary['false_positives']} in {summary['clean_runs']} clean runs, "
        f"undecided {summary['undecided']}, simulator-seen store violations in clean runs "
        + f"{summary['store_violations']}, {summary['duration_s']:.0f}s"
    )


def _word(valid: Any) -> str:
    return {True: "valid", False: "INVALID", None: "error"}.get(valid, "unknown")
