"""`paxlab sim --shrink SEED`: a failing seed shrinks to a run that still fails, no larger, that
replays from its test.json to the same verdict; a valid seed is refused; an explicit fault
schedule replays what it says, and a run without one is the seeded run it always was."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from controller.cli import main
from controller.run import run_test
from controller.shrink import Outcome, Shrinker, units
from controller.spec import SpecError, TestSpec

# early-ack under leader isolation (controller/catalogue.py's sim exposure, shorter):
# seed 0 of this fails by the set checker
EARLY_ACK = [
    "sim", "--workload", "set", "--nemesis", "partition:isolate-leader", "--bug", "early-ack",
    "--nemesis-schedule", "rotate", "--nemesis-interval", "1", "--time-limit", "6",
]  # fmt: skip


def _one_run(root: Path) -> Path:
    (run,) = [p.parent for p in root.glob("*/*/test.json")]
    return run


@pytest.mark.timeout(240)
def test_a_failing_seed_shrinks_to_a_smaller_run_that_replays_to_the_same_verdict(tmp_path, capsys):
    code = main([*EARLY_ACK, "--shrink", "0", "--results-dir", str(tmp_path / "res")])
    out, err = capsys.readouterr()
    assert code == 1, out + err
    assert "[shrink 1/" in err and "still fails" in err  # progress, attempt by attempt
    run = _one_run(tmp_path / "res")
    results = json.loads((run / "results.json").read_text())
    spec = json.loads((run / "test.json").read_text())
    assert results["valid"] is False and results["history_valid"] is False
    assert (run / "report.html").exists()
    # no larger than the seed's run on every axis, smaller on some
    before = {"faults": 0, "clients": 10, "time": 6.0}
    first = json.loads(json.dumps(spec))  # the seed's run, for its fault count
    first.update(nemesis_events=None, concurrency=10, time_limit=6.0, rate=None, argv=None)
    seeded = run_test(
        TestSpec.from_dict(first), results_root=tmp_path / "seed", progress=False, report=False
    )
    assert seeded.valid is False
    before["faults"] = len(units(seeded.results["faults"]["events"]))
    after = {
        "faults": len(units(spec["nemesis_events"])),
        "clients": spec["concurrency"],
        "time": spec["time_limit"],
    }
    assert all(after[k] <= before[k] for k in before), (before, after)
    assert after != before
    assert results["ops"]["ok"] < seeded.results["ops"]["ok"]
    assert f"replay: paxlab test --spec {run / 'test.json'}" in out
    assert (
        results["checkers"]["store-invariants"]["replay"] == f"paxlab test --spec {run}/test.json"
    )
    # the replay: the same verdict and the same history, byte for byte
    code = main(["test", "--spec", str(run / "test.json"), "--results-dir", str(tmp_path / "re")])
    assert code == 1
    again = _one_run(tmp_path / "re")
    assert (again / "history.jsonl").read_bytes() == (run / "history.jsonl").read_bytes()


def test_a_valid_seed_is_refused_in_one_line(tmp_path, capsys):
    argv = ["sim", "--workload", "set", "--nemesis", "partition:isolate-leader",
            "--time-limit", "2", "--shrink", "0", "--results-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) >= 1
    last = err.splitlines()[-1]
    assert "seed 0 is valid: nothing to shrink" in last
    assert not list(tmp_path.glob("*/*"))  # nothing stored


def test_shrink_refuses_options_it_cannot_honour(capsys):
    assert main(["sim", "--each-kind", "--shrink", "3"]) == 2
    assert main(["sim", "--shrink", "3", "--shrink-runs", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "not --each-kind" in err[0] and "--shrink-runs must be at least 1" in err[1]


def _spec(**kw) -> TestSpec:
    base = dict(
        workload="set", nemesis=["kill:leader"], backend="sim", time_limit=3.0,
        nemesis_interval=0.5, nemesis_schedule="rotate", op_timeout=1.0, seed=4,
        recovery_time=5.0, final_time_limit=5.0,
    )  # fmt: skip
    return TestSpec(**{**base, **kw}).validate()


def test_an_explicit_schedule_runs_exactly_its_events(tmp_path):
    events = [
        {"at": 0.7, "f": "start", "nemesis": "kill", "kind": "leader"},
        {"at": 1.4, "f": "stop", "nemesis": "kill"},
    ]
    out = run_test(_spec(nemesis_events=events), results_root=tmp_path, report=False)
    ran = out.results["faults"]["events"]
    assert [(e["f"], round(e["at"], 6)) for e in ran] == [("start", 0.7), ("stop", 1.4)]
    assert out.results["faults"]["schedule"] == "explicit"
    history = [json.loads(x) for x in (out.run_dir / "history.jsonl").read_text().splitlines()]
    starts = [e for e in history if e.get("f") == "start-kill" and e["type"] == "invoke"]
    assert len(starts) == 1


def test_a_run_without_explicit_schedule_records_the_seeded_one(tmp_path):
    """The seeded schedule is untouched (kept in results.json as it ran)."""
    out = run_test(_spec(), results_root=tmp_path, report=False)
    ran = out.results["faults"]["events"]
    assert [e["f"] for e in ran[:4]] == ["start", "stop", "start", "stop"]
    assert ran[0]["at"] == pytest.approx(0.5)  # rotate: an interval, then the first fault


@pytest.mark.parametrize("schedule", ["rotate", "mixed"])
def test_the_recorded_schedule_given_back_explicitly_replays_the_seed_byte_for_byte(
    tmp_path, schedule
):
    nemesis = ["kill:leader"] if schedule == "rotate" else ["partition", "kill"]
    seeded = run_test(
        _spec(nemesis=nemesis, nemesis_schedule=schedule), results_root=tmp_path / "a", report=False
    )
    events = seeded.results["faults"]["events"]
    assert len(events) >= 4
    explicit = _spec(nemesis=nemesis, nemesis_schedule=schedule, nemesis_events=events)
    again = run_test(explicit, results_root=tmp_path / "b", report=False)
    history = (seeded.run_dir / "history.jsonl").read_bytes()
    assert (again.run_dir / "history.jsonl").read_bytes() == history


@pytest.mark.parametrize(
    "events, why",
    [
        ({"at": 1}, "must be a list"),
        ([{"at": 1, "f": "heal", "nemesis": "kill"}], "f start or stop"),
        ([{"at": -1, "f": "stop", "nemesis": "kill"}], "a time 'at'"),
        ([{"at": 1, "f": "stop", "nemesis": "pause"}], "not one of this run's nemeses"),
        ([{"at": 1, "f": "start", "nemesis": "kill", "kind": "nope"}], "no kind 'nope'"),
    ],
)
def test_a_bad_explicit_schedule_is_refused_in_one_line(events, why):
    with pytest.raises(SpecError, match=why):
        _spec(nemesis_events=events)


def test_units_pair_each_start_with_its_stop():
    ev = [
        {"at": 0.1, "f": "start", "nemesis": "kill", "kind": "leader"},
        {"at": 0.2, "f": "start", "nemesis": "partition", "kind": "halves"},
        {"at": 0.3, "f": "stop", "nemesis": "kill"},
        {"at": 0.5, "f": "start", "nemesis": "kill", "kind": "one"},
    ]
    assert [[e["at"] for e in u] for u in units(ev)] == [[0.1, 0.3], [0.2], [0.5]]


def test_spec_file_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "test.json"
    bad.write_text('{"nodes": "five"}')
    assert main(["test", "--spec", str(bad)]) == 2
    assert main(["test", "--spec", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("paxlab") for line in err)


class _Predicate(Shrinker):
    """The search without runs: a schedule "fails" while it keeps both culprit faults."""

    def __init__(self, base: TestSpec, culprits: set[float]) -> None:
        first = Outcome(False, False, ["set"], 100, 8, base.concurrency, 3.0, [])
        super().__init__(base, first, budget=100, out=io.StringIO())
        self.culprits = culprits

    def attempt(self, spec: TestSpec, what: str) -> bool:
        self.runs += 1
        starts = {e["at"] for e in spec.nemesis_events or [] if e["f"] == "start"}
        still = self.culprits <= starts
        if still:
            self.best_spec = spec
        return still


def test_ddmin_keeps_exactly_the_faults_the_failure_needs():
    events = []
    for k in range(8):
        events += [
            {"at": k + 0.1, "f": "start", "nemesis": "kill", "kind": "leader"},
            {"at": k + 0.6, "f": "stop", "nemesis": "kill"},
        ]
    s = _Predicate(_spec(nemesis_events=events), culprits={2.1, 5.1})
    s.faults()
    kept = s.best_spec.nemesis_events
    assert [e["at"] for e in kept] == [2.1, 2.6, 5.1, 5.6]
    assert s.runs < 2 * 8 * 2  # ddmin's bound is far below trying every subset
