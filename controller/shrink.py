"""`paxlab sim --shrink SEED`: from a failing seed, the smallest run found that still fails.

A failing seed of ten simulated seconds holds dozens of faults, ten clients and hundreds of
operations, most of them beside the point. This searches for a smaller run that fails the
same way, as delta debugging does (Zeller's ddmin): the seed's fault schedule, as it ran
(results.json keeps it), becomes an explicit list of events (``TestSpec.nemesis_events``);
ddmin drops fault events (a start with its stop) while the run still fails; then clients
are halved, the faults move sooner, the run ends after its last fault (then the time limit is halved), the request
rate is halved, and the faults are tried once more. Every attempt is one
simulated run, so the search is deterministic and the smallest run replays exactly from its
test.json (``paxlab test --spec``).

"Fails the same way": a seed found invalid by the history checkers must stay so (a run
that only the simulator's invariants judge invalid does not count); a seed only the
invariants judged invalid must stay invalid by them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Any

from controller.spec import TestSpec

DEFAULT_RUNS = 60  # attempts, before the search stops with the smallest found so far


def add_arguments(p: argparse.ArgumentParser) -> None:
    """``--shrink SEED`` and its budget, on ``paxlab sim``."""
    p.add_argument(
        "--shrink",
        type=int,
        default=None,
        metavar="SEED",
        help="search for the smallest run of this failing seed that still fails, and store it",
    )
    p.add_argument(
        "--shrink-runs",
        type=int,
        default=DEFAULT_RUNS,
        help=f"most attempts --shrink makes (default {DEFAULT_RUNS})",
    )


@dataclass
class Outcome:
    """One run's verdict and size."""

    valid: Any
    history_valid: Any
    failing: list[str]
    ops: int
    faults: int  # fault starts in the schedule
    clients: int
    sim_s: float
    events: list[dict[str, Any]]

    def size(self) -> str:
        return (
            f"{self.ops} ops, {self.faults} fault events, {self.clients} clients, "
            f"{self.sim_s:g} simulated s"
        )


def outcome_of(results: dict[str, Any], spec: TestSpec) -> Outcome:
    events = (results.get("faults") or {}).get("events") or []
    ops = results.get("ops") or {}
    return Outcome(
        valid=results.get("valid"),
        history_valid=results.get("history_valid", results.get("valid")),
        failing=[n for n, c in (results.get("checkers") or {}).items() if c.get("valid") is False],
        ops=sum(int(ops.get(k, 0)) for k in ("ok", "fail", "info")),
        faults=sum(1 for e in events if e.get("f") == "start"),
        clients=spec.concurrency,
        sim_s=float(results.get("test_time_s") or spec.time_limit),
        events=events,
    )


def fails_like(first: Outcome, other: Outcome) -> bool:
    """Does ``other`` fail the way ``first`` did (history checkers, or invariants only)?"""
    if first.history_valid is False:
        return other.history_valid is False
    return other.valid is False


def units(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The schedule as fault units: each start with the stop of the same nemesis after it
    (a start the time limit cut keeps no stop; the final heal ends it)."""
    out: list[list[dict[str, Any]]] = []
    open_: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        name = ev["nemesis"]
        if ev["f"] == "start":
            unit = [ev]
            open_[name] = unit
            out.append(unit)
        elif name in open_:
            open_.pop(name).append(ev)
    return out


def flatten(kept: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return sorted((ev for unit in kept for ev in unit), key=lambda e: e["at"])


class Shrinker:
    """The search: ``attempt`` runs a spec and says whether it still fails."""

    def __init__(self, base: TestSpec, first: Outcome, budget: int, out=None) -> None:
        self.best_spec = base
        self.best = first
        self.first = first
        self.budget = budget
        self.runs = 0
        self.out = out
        self.scratch = tempfile.TemporaryDirectory(prefix="paxlab-shrink-")

    def attempt(self, spec: TestSpec, what: str) -> bool:
        """Run ``spec``; a failure like the first one becomes the best so far."""
        from controller.run import run_test

        if self.runs >= self.budget:
            return False
        self.runs += 1
        t0 = time.monotonic()
        res = run_test(spec, results_root=self.scratch.name, progress=False, report=False)
        shutil.rmtree(res.run_dir, ignore_errors=True)
        o = outcome_of(res.results, spec)
        still = fails_like(self.first, o)
        verdict = "still fails" if still else "passes" if o.valid is True else "no longer fails"
        print(
            f"[shrink {self.runs}/{self.budget}] {what}: {verdict} "
            f"({o.size()}; {time.monotonic() - t0:.1f}s)",
            file=self.out or sys.stderr,
            flush=True,
        )
        if still:  # every candidate is no larger than the best it came from
            self.best, self.best_spec = o, spec
        return still

    # -- the steps ------------------------------------------------------------------------
    def faults(self) -> None:
        """ddmin over the fault units of the best spec's schedule."""
        spec = self.best_spec
        us = units(spec.nemesis_events or [])
        if not us:
            return
        if self.attempt(replace(spec, nemesis_events=[]), f"removed all {len(us)} faults"):
            return
        n = 2
        while len(us) >= 2 and self.runs < self.budget:
            chunk = -(-len(us) // n)
            parts = [us[i : i + chunk] for i in range(0, len(us), chunk)]
            reduced = False
            for i in range(len(parts)):  # keep only the complement of one part
                rest = [u for j, p in enumerate(parts) if j != i for u in p]
                what = f"removed {len(parts[i])} of {len(us)} faults (part {i + 1}/{len(parts)})"
                if self.attempt(replace(spec, nemesis_events=flatten(rest)), what):
                    us, spec, reduced = rest, self.best_spec, True
                    n = max(n - 1, 2)
                    break
            if not reduced:
                if n >= len(us):
                    break
                n = min(len(us), 2 * n)

    def clients(self) -> None:
        """Halve the clients while it still fails."""
        while self.best_spec.concurrency > 1 and self.runs < self.budget:
            c = self.best_spec.concurrency // 2
            spec = replace(self.best_spec, concurrency=c)
            if not self.attempt(spec, f"{self.best_spec.concurrency} -> {c} clients"):
                break

    def rate(self) -> None:
        """Halve the request rate (fewer operations in the same time) while it still fails."""
        import workloads

        spec = self.best_spec
        rate = (
            spec.rate
            or workloads.make(spec.workload, spec.concurrency, spec.target_opts).default_rate
        )
        while rate and rate > 2 and self.runs < self.budget:
            rate = round(rate / 2, 3)
            if not self.attempt(replace(self.best_spec, rate=rate), f"rate -> {rate:g} ops/s"):
                break

    def sooner(self) -> None:
        """Move the faults earlier (the first to start at 0.2 s, else half as much sooner) and
        end the run a second after the last: a late fault no longer holds the run long."""
        spec = self.best_spec
        events = spec.nemesis_events or []
        if not events or events[0]["at"] <= 0.3:
            return
        for frac in (1.0, 0.5):
            shift = round(frac * (events[0]["at"] - 0.2), 6)
            moved = [{**e, "at": round(e["at"] - shift, 6)} for e in events]
            limit = min(spec.time_limit, round(moved[-1]["at"] + 1.0, 3))
            what = f"faults {shift:g} s sooner, {spec.time_limit:g} -> {limit:g} s"
            if self.attempt(replace(spec, nemesis_events=moved, time_limit=limit), what):
                return

    def time(self) -> None:
        """End the run soon after its last fault, then halve the time limit (faults past it
        dropped) while it still fails."""
        events = self.best_spec.nemesis_events or []
        if events:
            limit = round(max(e["at"] for e in events) + 1.0, 3)
            if limit < self.best_spec.time_limit:
                spec = replace(self.best_spec, time_limit=limit)
                self.attempt(spec, f"{self.best_spec.time_limit:g} -> {limit:g} s (last fault)")
        while self.best_spec.time_limit > 0.5 and self.runs < self.budget:
            limit = round(self.best_spec.time_limit / 2, 3)
            kept = [u for u in units(self.best_spec.nemesis_events or []) if u[0]["at"] < limit]
            spec = replace(self.best_spec, time_limit=limit, nemesis_events=flatten(kept))
            if not self.attempt(spec, f"{self.best_spec.time_limit:g} -> {limit:g} s"):
                break


def run(args: argparse.Namespace) -> int:
    """`paxlab sim --shrink SEED`: exit 1 with the smallest failing run stored, 2 if the
    seed does not fail (nothing to shrink) or on bad input."""
    from controller.cli import UsageError
    from controller.run import run_test
    from controller.sim_cli import make_spec

    if args.shrink_runs < 1:
        raise UsageError(f"--shrink-runs must be at least 1, got {args.shrink_runs}")
    if args.each_kind:  # seed k of such a sweep ran one kind: its replay command names it
        raise UsageError("--shrink takes the options of the seed's replay line, not --each-kind")
    seed = args.shrink
    spec = make_spec(args, seed)
    err = sys.stderr
    print(f"paxlab sim --shrink: seed {seed}, {spec.test_name}", file=err, flush=True)
    with tempfile.TemporaryDirectory(prefix="paxlab-shrink-") as scratch:
        res = run_test(spec, results_root=scratch, progress=False, report=False)
    first = outcome_of(res.results, spec)
    if first.valid is not False:
        what = "valid" if first.valid is True else "undecided"
        raise UsageError(f"seed {seed} is {what}: nothing to shrink (give a failing seed)")
    how = "by the history checkers" if first.history_valid is False else "by invariants only"
    print(f"seed {seed} fails {how} ({', '.join(first.failing)}): {first.size()}", file=err)
    base = replace(spec, nemesis_events=first.events, argv=None)
    s = Shrinker(base, first, args.shrink_runs)
    try:
        s.faults()
        s.clients()
        s.sooner()
        s.time()
        s.rate()
        s.faults()
    finally:
        s.scratch.cleanup()
    return _store(args, s, first)


def _store(args: argparse.Namespace, s: Shrinker, first: Outcome) -> int:
    """Run the smallest spec into the results store (with its report) and say how to replay."""
    from controller import report
    from controller.run import run_test
    from controller.store import write_json_atomic

    smallest = s.best_spec
    if smallest.nemesis_events is None:  # nothing smaller failed: the seed's own schedule
        smallest = replace(smallest, nemesis_events=first.events)
    out = run_test(smallest, results_root=args.results_dir, progress=False)
    spec_path = out.run_dir / "test.json"
    stored = json.loads(spec_path.read_text())
    stored["argv"] = ["paxlab", "test", "--spec", str(spec_path)]
    write_json_atomic(spec_path, stored)
    replay = shlex.join(stored["argv"])
    res_path = out.run_dir / "results.json"
    results = json.loads(res_path.read_text())
    for checker in (results.get("checkers") or {}).values():
        if isinstance(checker, dict) and "replay" in checker:  # the simulator's invariants
            checker["replay"] = replay
    write_json_atomic(res_path, results)
    report.build_report(out.run_dir)  # its replay command is the one above
    after = outcome_of(out.results, smallest)
    rows = [
        ("ops", first.ops, after.ops),
        ("fault events", first.faults, after.faults),
        ("clients", first.clients, after.clients),
        ("simulated s", first.sim_s, after.sim_s),
    ]
    print(f"shrunk in {s.runs} attempts: {'same failure' if fails_like(first, after) else 'LOST'}")
    for name, a, b in rows:
        print(f"  {name:13} {a:>8g} -> {b:g}")
    print(f"run: {out.run_dir}")
    print(f"replay: {replay}")
    return 1 if after.valid is False else 2
