"""`paxlab validate`: the suite must find every catalogued bug and never accuse the correct store.

The fast tier runs the catalogue on the simulator, so a change that blinds the suite to a
bug (a weaker checker, a nemesis that misses its target, a workload that hides lost writes)
fails here. Each bug gets a small seed budget from seed 1; the simulator is deterministic,
so these tests are too. Every found bug is replayed without the bug (same seed) and must
then be valid: the checker caught the bug, not noise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.catalogue import (
    BUG_HOME,
    CATALOGUE,
    CLEAN,
    DOCKER,
    SIM,
    bug_names,
    uncatalogued,
)
from controller.cli import main
from controller.validate import Attempt, BugResult, CleanResult, Options, Validation, exit_code
from paxos_impl.config import KNOWN_BUGS, MODES
from tests.support.paths import REPO_ROOT

CI_SEEDS = 6  # per bug: a bug the suite cannot find in six aimed seeds counts as missed
CLEAN_RUNS = 2  # per nemesis in the fast tier (paxlab validate does 20)


def _validate(tmp_path: Path, **kw) -> dict:
    opts = Options(backend=SIM, results_root=tmp_path, reports=False, **kw)
    return Validation(opts).go()


SIM_EXPOSABLE = [b.id for b in CATALOGUE if b.exposure(SIM) is not None]


def test_every_store_bug_is_catalogued_with_a_sim_test_in_every_mode():
    assert uncatalogued(KNOWN_BUGS) == []
    for mode in MODES:  # every bug has an entry per mode: a test, or why none can work
        assert sorted(b.name for b in CATALOGUE if b.mode == mode) == sorted(KNOWN_BUGS), mode
    assert len(set(bug_names())) == len(CATALOGUE)
    for b in CATALOGUE:
        for backend in (SIM, DOCKER):
            assert b.exposure(backend) is not None or b.not_exposable.get(backend), b.id
        if b.mode == BUG_HOME.get(b.name, "leader"):  # in its own mode, a bug has a test
            assert b.exposure(SIM) is not None, b.id
        assert b.rule and b.symptom
    assert "skip-phase1-adopt@masterless" in SIM_EXPOSABLE
    assert "epaxos-recovery-ignores-preaccept@epaxos" in SIM_EXPOSABLE


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bug", SIM_EXPOSABLE)
def test_sim_finds_the_bug_and_the_same_seed_without_it_is_valid(tmp_path, bug):
    s = _validate(tmp_path, bugs=[bug], nemeses=[], runs=0, max_runs=CI_SEEDS)
    (b,) = s["bugs"]
    tried = [(a["seed"], a["valid"], a["error"]) for a in b["attempts"]]
    assert b["status"] == "found", f"{bug} not found in {CI_SEEDS} seeds: {tried}"
    assert b["found_by"] == "history checkers"  # what a black-box test sees, not only the sim
    assert b["runs"] <= CI_SEEDS and b["seed"] == b["attempts"][-1]["seed"]
    assert b["control"]["valid"] is True, f"seed {b['seed']} without the bug: {b['control']}"
    assert s["valid"] is True and exit_code(s) == 0
    run = tmp_path / "validate-sim"
    (vdir,) = [p for p in run.iterdir() if p.is_dir() and p.name != "latest"]
    res = json.loads((vdir / b["run"] / "results.json").read_text())
    assert res["valid"] is False and res["history_valid"] is False
    spec = json.loads((vdir / b["run"] / "test.json").read_text())
    assert spec["bugs"] == [bug.split("@")[0]]
    assert spec["backend_opts"].get("mode", "leader") == (bug.split("@") + ["leader"])[1]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("nemesis", list(CLEAN))
def test_correct_store_is_never_accused_under_each_nemesis(tmp_path, nemesis):
    s = _validate(tmp_path, bugs=[], nemeses=[nemesis], runs=CLEAN_RUNS)
    (c,) = s["clean"]
    assert c["runs"] == CLEAN_RUNS
    assert c["false_positives"] == [], c["false_positives"]
    assert c["store_violations"] == [], c["store_violations"]
    assert c["valid"] == CLEAN_RUNS, c["undecided"]
    assert exit_code(s) == 0


@pytest.mark.timeout(120)
def test_cli_json_results_and_summary_page_link_the_report(tmp_path, capsys):
    rc = main(
        [
            "validate",
            "--bugs",
            "local-read",
            "--nemeses",
            "partition",
            "--runs",
            "1",
            "--results-dir",
            str(tmp_path),
            "--json",
            "--quiet",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["valid"] is True
    assert out["bugs_found"] == out["bugs_expected"] == 1 and out["clean_runs"] == 1
    assert out["bugs"][0]["found_by"] == "history checkers" and out["bugs_invariants_only"] == []
    vdir = Path(out["dir"])
    assert vdir.parent == tmp_path / "validate-sim"
    assert json.loads((vdir / "results.json").read_text())["bugs_found"] == 1
    assert json.loads((vdir / "test.json").read_text())["bugs"] == ["local-read"]
    report = out["bugs"][0]["report"]
    assert report and (vdir / report).is_file()  # relative to the validation folder
    page = (vdir / "summary.html").read_text()
    assert f'href="{report}"' in page and "local-read" in page and "PASS" in page
    assert f'href="{report}#messages"' in page  # the run's message diagram
    assert 'id="bug-local-read"' in page and "has_bug(&quot;local-read&quot;)" in page
    assert 'id="lamport-data"' in (vdir / report).read_text()  # the validate run kept its trace
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_target_opt_reaches_every_run_so_udp_is_validated_too(tmp_path, capsys):
    rc = main(
        ["validate", "--bugs", "early-ack", "--nemeses", "partition", "--runs", "1",
         "--target-opt", "transport=udp", "--results-dir", str(tmp_path), "--json", "--quiet"]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["valid"] is True and out["bugs_found"] == 1
    vdir = Path(out["dir"])
    assert json.loads((vdir / "test.json").read_text())["target_opts"] == {"transport": "udp"}
    runs = [json.loads(p.read_text()) for p in (vdir / "runs").rglob("test.json")]
    assert {r["name"].split("-")[0] for r in runs} >= {"bug", "clean"}  # hunt, clean run
    assert all(r["target_opts"]["transport"] == "udp" for r in runs)


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--target-opt", "transport=quic"], "transport must be one of tcp, udp"),
        (["--target-opt", "nosuch=1"], "unknown store setting 'nosuch'"),
        (["--bugs", "no-such-bug"], "unknown bug 'no-such-bug'"),
        (["--nemeses", "flood"], "unknown nemesis 'flood'"),
        (["--runs", "-1"], "--runs must be 0 or more"),
        (["--max-runs", "0"], "--max-runs must be at least 1"),
        (["--backend", "ssh"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    with_dir = ["validate", *argv, "--results-dir", str(tmp_path)]
    try:
        rc = main(with_dir)
    except SystemExit as e:  # argparse's own errors
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "validate-sim").exists()


def _summary(tmp_path: Path, bugs: list[BugResult], clean: list[CleanResult] = ()) -> dict:
    v = Validation(Options(backend=SIM, results_root=tmp_path, bugs=[], nemeses=[]))
    v.entries = [CATALOGUE[0]] * len(bugs)
    v.bugs, v.clean = bugs, list(clean)
    return v.summary(final=True)


def test_exit_code_is_1_for_a_missed_bug_and_0_only_when_all_found(tmp_path):
    found = BugResult("a", "r", "found")
    missed = BugResult("b", "r", "not found")
    skipped = BugResult("c", "r", "not exposable", reason="no real fault reaches it")
    assert exit_code(_summary(tmp_path, [found, skipped])) == 0
    assert exit_code(_summary(tmp_path, [found, missed])) == 1
    assert exit_code(_summary(tmp_path, [BugResult("d", "r", "error")])) == 1


def test_exit_code_is_1_for_a_false_positive_or_a_failed_control(tmp_path):
    found = BugResult("a", "r", "found")
    clean = CleanResult("kill", "set", runs=2, valid=1)
    assert exit_code(_summary(tmp_path, [found], [clean])) == 0
    clean.false_positives.append(Attempt(7, False, "runs/clean-kill/x", 1.0))
    s = _summary(tmp_path, [found], [clean])
    assert s["false_positives"] == 1 and exit_code(s) == 1
    found.control = Attempt(3, False, "runs/control-a/x", 1.0)
    assert _summary(tmp_path, [found])["false_positives"] == 1


@pytest.mark.timeout(120)
def test_ctrl_c_stops_after_the_run_in_progress_and_keeps_what_was_done(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    cmd = [sys.executable, "-m", "controller.cli", "validate", "--bugs", "none"]
    cmd += ["--nemeses", "pause", "--runs", "200", "--results-dir", str(tmp_path)]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(lines) < 2:
        lines.append(p.stderr.readline())
    p.send_signal(signal.SIGINT)
    rc = p.wait(timeout=60)
    rest = p.stderr.read()
    assert rc == 2, (lines, rest)
    (vdir,) = [d for d in (tmp_path / "validate-sim").iterdir() if d.name != "latest"]
    res = json.loads((vdir / "results.json").read_text())
    assert res["interrupted"] is True and res["valid"] == "unknown"
    assert 1 <= res["clean"][0]["runs"] < 200
    assert "INTERRUPTED" in (vdir / "summary.html").read_text()
    assert "Traceback" not in rest


def test_a_bug_seen_only_by_the_simulator_invariants_is_not_counted_as_found(tmp_path):
    """The hunt goes on past a run only the store's invariants judged invalid; if the history
    checkers never find the bug, validate says so (with the seed) and fails."""
    v = Validation(
        Options(backend=SIM, results_root=tmp_path, bugs=["local-read"], nemeses=[], reports=False)
    )
    seen: list[tuple[int, str | None]] = []

    def fake_attempt(ex, seed, bug, name):
        seen.append((seed, bug))
        a = Attempt(seed, False if bug else True, None, 0.0)
        a.history_valid = True  # the clients saw nothing
        return a

    v.attempt = fake_attempt
    s = v.go()
    (b,) = s["bugs"]
    assert b["status"] == "invariants only" and b["found_by"] == "simulator invariants only"
    assert b["runs"] == b["budget_runs"] == 10  # kept hunting for a history finding
    assert b["seed"] == b["invariants_seed"] == 1 and b["control"]["valid"] is True
    assert s["bugs_found"] == 0 and s["bugs_invariants_only"][0]["bug"] == "local-read"
    assert exit_code(s) == 1


def test_a_history_finding_after_an_invariants_only_run_counts_as_found(tmp_path):
    v = Validation(
        Options(backend=SIM, results_root=tmp_path, bugs=["local-read"], nemeses=[], reports=False)
    )

    def fake_attempt(ex, seed, bug, name):
        a = Attempt(seed, False if bug else True, None, 0.0)
        a.history_valid = (seed != 3) if bug else True
        return a

    v.attempt = fake_attempt
    (b,) = v.go()["bugs"]
    assert b["status"] == "found" and b["found_by"] == "history checkers"
    assert b["seed"] == 3 and b["invariants_seed"] == 1 and b["runs"] == 3
