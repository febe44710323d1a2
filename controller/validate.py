"""Does the suite find every deliberate bug, and does it never cry wolf? (``paxlab validate``)

For each catalogued bug (controller.catalogue) it runs the exposing test again and again --
a new seed each time -- until a run is judged invalid or the bug's budget (runs, seconds)
is spent. For each nemesis it runs the correct store ``runs`` times; any invalid verdict is a
false positive. Every run is a normal run kept under this validation's own folder
(``results/validate-<backend>/<time>/runs/``), so the run that showed a bug, or a false
alarm, can be opened, re-checked and replayed like any other. Reports are built only for
the runs that matter (a found bug, a false positive): a report costs seconds, a simulated
run about one.

A run's verdict has two sources on the simulator: the history checkers (what a black-box
test of a real system sees) and the simulator's invariants (seen inside the store). A bug
counts as found only when the history checkers found it; a bug that only the invariants
saw within its budget is reported as "invariants only" (with the seed that showed it and
the catalogue's note on why the history misses it), and the validation fails, since on a
real cluster nobody would have seen it.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cluster.capabilities import Inspect
from controller.catalogue import (
    SIM,
    SIM_ONLY_CLEAN,
    BugEntry,
    Exposure,
    catalogue_of,
    clean_plan,
    clean_plans,
)
from controller.store import create_run

Progress = Callable[[str], None]


@dataclass
class Attempt:
    """One run of a validation: which seed, what verdict, where it is kept."""

    seed: int
    valid: Any  # True | False | "unknown" | None (the run could not start)
    run: str | None  # run folder, relative to the validation folder
    seconds: float
    error: str | None = None
    report: str | None = None  # relative link to report.html, when built
    violations: list[str] = field(default_factory=list)  # sim: what the cores did wrong
    history_valid: Any = None  # the history checkers' verdict alone (None: did not run)


@dataclass
class BugResult:
    name: str  # the catalogue id: NAME, or NAME@MODE outside leader mode
    rule: str
    status: str  # "found" | "invariants only" | "not found" | "not exposable" | "error"
    mode: str = "leader"
    found_by: str | None = None  # "history checkers" | "simulator invariants only"
    invariants_seed: int | None = None  # sim: the first seed whose invariants broke
    history_note: str = ""  # the catalogue's word on why the history may miss it
    workload: str = ""
    nemesis: list[str] = field(default_factory=list)
    aim: str = ""
    read_mode: str = "log"
    budget_runs: int = 0
    budget_s: float = 0.0
    runs: int = 0  # runs made (up to and including the one that found it)
    seconds: float = 0.0  # wall-clock seconds spent on this bug
    seed: int | None = None  # the seed of the run that found it
    run: str | None = None
    report: str | None = None
    reason: str | None = None  # why not exposable / why it errored
    control: Attempt | None = None  # sim: the finding seed again without the bug (must pass)
    violations_seen: int = 0  # sim: runs in which the cores broke a rule (seen or not)
    attempts: list[Attempt] = field(default_factory=list)


@dataclass
class CleanResult:
    nemesis: str
    workload: str
    runs: int = 0
    valid: int = 0
    seconds: float = 0.0
    false_positives: list[Attempt] = field(default_factory=list)
    undecided: list[Attempt] = field(default_factory=list)
    store_violations: list[Attempt] = field(default_factory=list)  # sim: the cores erred


@dataclass
class Options:
    backend: str = "sim"
    target: str = "bundled"  # the system under test; another target's bugs are its weak settings
    runs: int = 20  # clean runs per nemesis
    bugs: list[str] | None = None  # None: the whole catalogue
    nemeses: list[str] | None = None  # None: every nemesis of CLEAN
    time_limit: float | None = None  # overrides every run's time limit (short docker runs)
    max_runs: int | None = None  # overrides every bug's run budget
    seed: int = 1  # first seed; attempt i uses seed + i
    reports: bool = True  # build report.html for the runs that found a bug or a false alarm
    results_root: str | Path | None = None
    argv: list[str] | None = None
    target_opts: dict[str, Any] = field(default_factory=dict)  # every run's (transport=udp)


class Validation:
    """One ``paxlab validate``: the plan, its folder and what it found."""

    def __init__(self, opts: Options, progress: Progress | None = None) -> None:
        self.opts = opts
        self.progress = progress or (lambda _msg: None)
        catalogue, clean = catalogue_of(opts.target), clean_plans(opts.target)
        self.entries = [b for b in catalogue if opts.bugs is None or b.id in opts.bugs]
        self.nemeses = [
            n
            for n in clean
            if (opts.nemeses is None or n in opts.nemeses)
            and (opts.backend == SIM or n not in SIM_ONLY_CLEAN)
        ]
        self._clean_order = list(clean)
        folder = "validate-" + ("" if opts.target == "bundled" else f"{opts.target}-")
        self.run_dir = create_run(folder + opts.backend, opts.results_root)
        try:
            (self.run_dir.path / "nodes").rmdir()  # a validation has runs, not nodes
        except OSError:
            pass
        self.runs_root = self.run_dir.path / "runs"
        self.interrupted = False
        self.summary_so_far: dict[str, Any] | None = None
        self.bugs: list[BugResult] = []
        self.clean: list[CleanResult] = []
        self.started = datetime.now()
        self.wall0 = time.monotonic()
        self.run_dir.write_spec(
            {
                "validate": True,
                "backend": opts.backend,
                "target": opts.target,
                "runs": opts.runs,
                "bugs": [b.id for b in self.entries],
                "nemesis": self.nemeses,
                "time_limit": opts.time_limit,
                "max_runs": opts.max_runs,
                "target_opts": opts.target_opts,
                "seed": opts.seed,
                "argv": opts.argv,
            }
        )

    # -- driving ---------------------------------------------------------------------------
    def go(self) -> dict[str, Any]:
        """Hunt every bug, then the clean runs. A Ctrl-C stops after the run in progress has
        torn its cluster down; what was done so far is saved (and the interrupt re-raised)."""
        try:
            for e in self.entries:
                self.hunt(e)
                self.save()
            for name in self.nemeses:
                self.clean_runs(name, clean_plan(self.opts.target, name, self.opts.backend))
                self.save()
        except KeyboardInterrupt:
            self.interrupted = True
            self.summary_so_far = self.save(final=True)
            write_summary(self.run_dir.path, self.summary_so_far)
            raise
        summary = self.save(final=True)
        write_summary(self.run_dir.path, summary)
        return summary

    def hunt(self, e: BugEntry) -> BugResult:
        """Run the bug's exposing test with fresh seeds until it is caught or the budget ends."""
        backend = self.opts.backend
        ex = e.exposure(backend)
        if ex is None:
            reason = e.not_exposable.get(backend, f"no exposing test on {backend}")
            self.progress(f"{e.id}: not exposable on {backend} ({reason})")
            self.bugs.append(BugResult(e.id, e.rule, "not exposable", mode=e.mode, reason=reason))
            return self.bugs[-1]
        res = BugResult(
            e.id,
            e.rule,
            "not found",
            mode=e.mode,
            history_note=e.history_note,
            workload=ex.workload,
            nemesis=list(ex.nemesis),
            aim=ex.aim,
            read_mode=ex.read_mode,
            budget_runs=self.opts.max_runs or ex.max_runs,
            budget_s=ex.max_seconds,
        )
        self.bugs.append(res)  # listed from the start: an interrupted hunt still shows
        t0 = time.monotonic()
        tag = e.id.replace("@", "-").replace("=", "-")
        store_only: Attempt | None = None  # the first run only the invariants judged invalid
        for i in range(res.budget_runs):
            if i and time.monotonic() - t0 >= ex.max_seconds:
                break
            a = self.attempt(ex, self.opts.seed + i, e.bug, f"bug-{tag}")
            res.attempts.append(a)
            res.violations_seen += bool(a.violations)
            res.runs = i + 1
            res.seconds = round(time.monotonic() - t0, 2)
            self.progress(
                f"{e.id}: run {i + 1}/{res.budget_runs} seed {a.seed}: {_seen(a)}"
                + (f" ({a.error})" if a.error else "")
            )
            if a.history_valid is False:
                res.status, res.found_by = "found", "history checkers"
                self._showed(res, a, ex, e, tag)
                break
            if a.valid is False and store_only is None:
                store_only = a
                res.invariants_seed = a.seed
            if a.valid is None:  # the run could not even start: more seeds will not help
                res.status, res.reason = "error", a.error
                break
        if res.status == "not found" and store_only is not None:
            res.status, res.found_by = "invariants only", "simulator invariants only"
            self._showed(res, store_only, ex, e, tag)
        return res

    def _showed(self, res: BugResult, a: Attempt, ex: Exposure, e: BugEntry, tag: str) -> None:
        """The run that showed the bug: its report, and (sim) the same seed without the bug,
        which must pass: the checkers caught the bug, not noise."""
        res.seed, res.run = a.seed, a.run
        a.report = res.report = self.report(a)
        if self.opts.backend == SIM:  # the same seed replays exactly
            res.control = self.attempt(ex, a.seed, None, f"control-{tag}")
            if res.control.valid is False:
                res.control.report = self.report(res.control)
            self.progress(f"{e.id}: control without the bug: {_verdict(res.control.valid)}")

    def clean_runs(self, name: str, ex: Exposure) -> CleanResult:
        """``runs`` runs of the correct store under one nemesis; any invalid one is a false alarm."""
        res = CleanResult(name, ex.workload)
        self.clean.append(res)
        t0 = time.monotonic()
        base = self.opts.seed + 1000 * (1 + self._clean_order.index(name))
        for i in range(self.opts.runs):
            a = self.attempt(ex, base + i, None, f"clean-{name}")
            res.runs += 1
            res.seconds = round(time.monotonic() - t0, 2)
            if a.violations:
                res.store_violations.append(a)
            if a.valid is True:
                res.valid += 1
            elif a.valid is False:
                a.report = self.report(a)
                res.false_positives.append(a)
            else:
                res.undecided.append(a)
            self.progress(
                f"clean {name}: run {i + 1}/{self.opts.runs} seed {a.seed}: {_verdict(a.valid)}"
                + (f" ({a.error})" if a.error else "")
            )
            if a.valid is None:
                break  # could not start (e.g. the backend cannot do this fault): say so once
        return res

    def attempt(self, ex: Exposure, seed: int, bug: str | None, name: str) -> Attempt:
        from cluster.base import ClusterError, Unsupported
        from controller.run import make_cluster_for, run_test
        from controller.spec import SpecError
        from nemesis.base import NemesisError

        spec = ex.spec(self.opts.backend, seed, bug, name, self.opts.time_limit)
        spec.argv = None
        if self.opts.target_opts:
            spec.target_opts = {**spec.target_opts, **self.opts.target_opts}
        t0 = time.monotonic()
        try:
            cluster = make_cluster_for(spec)
            out = run_test(
                spec, cluster=cluster, results_root=self.runs_root, progress=False, report=False
            )
        except (SpecError, NemesisError, ClusterError, Unsupported, ValueError) as e:
            return Attempt(seed, None, None, round(time.monotonic() - t0, 2), _line(e))
        err = out.results.get("error") or ""
        if out.results.get("interrupted") or err.startswith("interrupted by SIGINT"):
            raise KeyboardInterrupt  # Ctrl-C: the run cleaned up after itself; stop here
        rel = out.run_dir.relative_to(self.run_dir.path).as_posix()
        a = Attempt(seed, out.valid, rel, round(time.monotonic() - t0, 2), err and _line(err))
        a.history_valid = out.results.get("history_valid", out.valid)
        if isinstance(cluster, Inspect):
            a.violations = [_line(v) for v in cluster.violations[:3]]
        return a

    def report(self, a: Attempt) -> str | None:
        """Build the report of a run that matters; its link relative to this folder."""
        if a.run is None or not self.opts.reports:
            return None
        try:
            from controller.report import build_report

            build_report(self.run_dir.path / a.run)
        except Exception as e:  # the verdict stands without its page
            a.error = a.error or f"report: {_line(e)}"
            return None
        return f"{a.run}/report.html"

    # -- results -------------------------------------------------------------------------
    def summary(self, final: bool = False) -> dict[str, Any]:
        expected = [b for b in self.bugs if b.status != "not exposable"]
        found = [b for b in expected if b.status == "found"]
        store_only = [b for b in expected if b.status == "invariants only"]
        fps = sum(len(c.false_positives) for c in self.clean)
        fps += sum(1 for b in self.bugs if b.control is not None and b.control.valid is False)
        store = sum(len(c.store_violations) for c in self.clean)
        complete = final and not self.interrupted and len(self.bugs) == len(self.entries)
        ok = complete and len(found) == len(expected) and fps == 0 and store == 0
        return {
            "valid": ok if final and not self.interrupted else "unknown",
            "interrupted": self.interrupted,
            "test": self.run_dir.path.parent.name,
            "backend": self.opts.backend,
            "target": self.opts.target,
            "start": self.started.isoformat(timespec="seconds"),
            "end": datetime.now().isoformat(timespec="seconds") if final else None,
            "duration_s": round(time.monotonic() - self.wall0, 2),
            "bugs_found": len(found),
            "bugs_expected": len(expected),
            "bugs_not_exposable": len(self.bugs) - len(expected),
            "bugs_found_by_history": len(found),  # the same as bugs_found, said plainly
            "bugs_invariants_only": [
                {"bug": b.name, "seed": b.seed, "why": b.history_note or "not yet known"}
                for b in store_only
            ],
            "clean_runs": sum(c.runs for c in self.clean),
            "clean_runs_per_nemesis": self.opts.runs,
            "false_positives": fps,
            "undecided": sum(len(c.undecided) for c in self.clean),
            "store_violations": store,
            "bugs": [asdict(b) for b in self.bugs],
            "clean": [asdict(c) for c in self.clean],
        }

    def save(self, final: bool = False) -> dict[str, Any]:
        s = self.summary(final)
        self.run_dir.write_results(s)
        return s


def exit_code(summary: dict[str, Any]) -> int:
    """0 only when every exposable bug was found and no clean run was judged invalid; 2 when
    interrupted before the end (nothing decided), else 1."""
    if summary.get("interrupted"):
        return 2
    return 0 if summary.get("valid") is True else 1


def validate(opts: Options, progress: Progress | None = None) -> tuple[Path, dict[str, Any]]:
    """Run a whole validation; on Ctrl-C, the partial summary (``interrupted``: true)."""
    v = Validation(opts, progress)
    try:
        return v.run_dir.path, v.go()
    except KeyboardInterrupt:
        return v.run_dir.path, v.summary_so_far or v.summary(final=True)


def _seen(a: Attempt) -> str:
    """A run's verdict and who saw it: the history checkers or only the store's invariants."""
    if a.valid is False:
        return (
            "INVALID (history checkers)"
            if a.history_valid is False
            else ("INVALID (simulator invariants only)")
        )
    return _verdict(a.valid)


def _verdict(valid: Any) -> str:
    return {True: "valid", False: "INVALID", None: "error"}.get(valid, "unknown")


def _line(e: object) -> str:
    s = str(e).strip()
    return (s.splitlines()[0] if s else type(e).__name__)[:300]


# -- the HTML summary page -------------------------------------------------------------------
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.ok{color:#176f2c;font-weight:600}
.bad{color:#b00020;font-weight:600}.dim{color:#777}.verdict{font-size:1.3em;padding:.4em .8em;
display:inline-block;border-radius:4px}.verdict.ok{background:#e3f5e6}.verdict.bad{background:#fde7ea}
code{font-size:12px}
"""


def _link(href: str | None, text: str) -> str:
    if not href:
        return html.escape(text)
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _status_cell(status: str) -> str:
    cls = {"found": "ok", "not exposable": "dim"}.get(status, "bad")
    return f'<td class="{cls}">{html.escape(status)}</td>'


def render_summary(summary: dict[str, Any]) -> str:
    """A self-contained page (no scripts, no network) linking each run's report relatively."""
    e = html.escape
    ok = summary.get("valid") is True
    rows = []
    for b in summary["bugs"]:
        link = _link(b.get("report") or b.get("run"), "report" if b.get("report") else "run")
        where = link if b.get("run") else ""
        if b.get("report"):  # the run's message diagram, opened on the anomaly
            where += " " + _link(f"{b['report']}#messages", "diagram")
        control = b.get("control")
        ctl = ""
        if control:
            ctl = _link(control.get("report") or control.get("run"), _verdict(control["valid"]))
        rows.append(
            "<tr>"
            f"<td><code>{e(b['name'])}</code></td>{_status_cell(b['status'])}"
            f"<td>{e(b.get('found_by') or '')}</td><td>{ctl}</td>"
            f"<td>{b['runs']} / {b['budget_runs']}</td><td>{b['seconds']:.1f} s</td>"
            f"<td>{e(b.get('workload') or '')}</td>"
            f"<td>{e(', '.join(b.get('nemesis') or []) or 'none')}</td>"
            f"<td>{e(b.get('read_mode') or '')}</td>"
            f"<td>{'' if b.get('seed') is None else b['seed']}</td><td>{where}</td>"
            f"<td>{e(b['rule'])}<br><span class=dim>{e(b.get('aim') or b.get('reason') or '')}"
            "</span></td></tr>"
        )
    clean_rows = []
    for c in summary["clean"]:
        fps = " ".join(
            _link(a.get("report") or a.get("run"), f"seed {a['seed']}")
            for a in c["false_positives"]
        )
        und = " ".join(_link(a.get("run"), f"seed {a['seed']}") for a in c["undecided"])
        cls = "bad" if c["false_positives"] else "ok"
        clean_rows.append(
            f"<tr><td>{e(c['nemesis'])}</td><td>{e(c['workload'])}</td><td>{c['runs']}</td>"
            f"<td>{c['valid']}</td><td class={cls}>{len(c['false_positives'])} {fps}</td>"
            f"<td>{len(c['undecided'])} {und}</td><td>{c['seconds']:.1f} s</td></tr>"
        )
    verdict = "INTERRUPTED (partial)" if summary.get("interrupted") else "PASS" if ok else "FAIL"
    explained = ""
    if summary.get("target", "bundled") == "bundled":
        from controller.explain import render_explanations

        names = sorted({b["name"] for b in summary["bugs"]})
        explained = render_explanations(names)
        if explained:
            explained = "<h2 id=bugs>Why each bug breaks Paxos</h2>" + explained
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(summary["test"])} {e(summary["start"])}</title>
<style>{_CSS}</style></head><body>
<h1>paxlab validate: {e(summary.get("target", "bundled"))} on the {e(summary["backend"])} backend</h1>
<p><span class="verdict {"ok" if ok else "bad"}">{verdict}</span>
bugs found by the history checkers {summary["bugs_found"]} / {summary["bugs_expected"]}
({len(summary["bugs_invariants_only"])} seen only by the simulator's invariants)
({summary["bugs_not_exposable"]} not exposable here),
false positives {summary["false_positives"]} in {summary["clean_runs"]} clean runs,
undecided {summary["undecided"]}, simulator-seen store violations in clean runs
{summary["store_violations"]}; {summary["duration_s"]:.0f} s, started {e(summary["start"])}.</p>
<h2>Deliberate bugs</h2>
<table><tr><th>bug</th><th>status</th><th>found by</th><th>same seed, no bug</th><th>runs / budget</th><th>time</th><th>workload</th>
<th>nemesis</th><th>read mode</th><th>seed</th><th>showed it</th><th>rule it breaks</th></tr>
{"".join(rows)}</table>
{explained}
<h2>The correct store: false positives</h2>
<table><tr><th>nemesis</th><th>workload</th><th>runs</th><th>valid</th><th>false positives</th>
<th>undecided</th><th>time</th></tr>
{"".join(clean_rows)}</table>
<p class=dim>Every run is kept under <code>runs/</code>; results.json has the same data.</p>
</body></html>
"""


def write_summary(folder: Path, summary: dict[str, Any]) -> Path:
    out = folder / "summary.html"
    tmp = folder / ".summary.html.tmp"
    tmp.write_text(render_summary(summary), encoding="utf-8")
    os.replace(tmp, out)
    return out
