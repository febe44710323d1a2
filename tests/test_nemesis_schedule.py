"""Faults together: the mixed schedule overlaps faults of different nemeses, runs every
requested kind within the run (random by seed, replayable), and says which ran; the old
one-at-a-time rotation stays available as ``--nemesis-schedule rotate``.

The issue's case: ``--nemesis partition,kill,pause,clock,netem --time-limit 20`` (faults every
5 s) used to run a halves partition and one kill, nothing else.
"""

from __future__ import annotations

import json
import random
from itertools import combinations
from pathlib import Path

import pytest

from checker.stats import digest
from controller.cli import main
from controller.history import read_history
from generator import Context, Sleep
from nemesis.combined import build, coverage

ALL = "partition,kill,pause,clock,netem"


def _run(tmp_path: Path, *extra: str, seed: int = 3) -> Path:
    root = tmp_path / f"r{seed}-{len(list(tmp_path.iterdir()))}"
    argv = ["test", "--backend", "sim", "--nemesis", ALL, "--time-limit", "20"]
    code = main([*argv, "--seed", str(seed), "--results-dir", str(root), "--no-progress", *extra])
    assert code == 0
    return root / "latest"


def _windows(run: Path):
    return digest(read_history(run / "history.jsonl")).windows


def _overlapping_families(windows) -> set[frozenset[str]]:
    out = set()
    for a, b in combinations(windows, 2):
        if a.name != b.name and a.start < (b.end or 1e30) and b.start < (a.end or 1e30):
            out.add(frozenset((a.name, b.name)))
    return out


def test_every_requested_kind_runs_within_twenty_seconds_and_faults_overlap(tmp_path):
    run = _run(tmp_path)
    results = json.loads((run / "results.json").read_text())
    faults = results["faults"]
    assert faults["schedule"] == "mixed"
    assert len(faults["requested"]) == 18
    assert faults["not_run"] == [] and faults["failed"] == {}
    assert set(faults["ran"]) == set(faults["requested"])
    assert len(_overlapping_families(_windows(run))) >= 3  # several pairs of kinds at once
    page = (run / "report.html").read_text()
    assert "Ran 18 of the 18 kinds requested" in page
    bands = {f'data-nemesis="{n}"' for n in ALL.split(",")}
    assert all(b in page for b in bands)  # one stacked band per nemesis


def test_rotate_keeps_one_fault_at_a_time(tmp_path):
    run = _run(tmp_path, "--nemesis-schedule", "rotate")
    results = json.loads((run / "results.json").read_text())
    assert results["faults"]["schedule"] == "rotate"
    assert _overlapping_families(_windows(run)) == set()
    assert len(results["faults"]["ran"]) == 2  # the old plan: 20 s at 5 s covers two kinds
    assert "Not run:" in (run / "report.html").read_text()


def test_the_mixed_schedule_replays_by_seed(tmp_path):
    def nemesis_events(run: Path) -> list[str]:
        return [
            json.dumps(e, sort_keys=True)
            for e in read_history(run / "history.jsonl")
            if e.get("process") == "nemesis"
        ]

    a, b = _run(tmp_path, seed=5), _run(tmp_path, seed=5)
    assert nemesis_events(a) == nemesis_events(b)
    assert (a / "history.jsonl").read_bytes() == (b / "history.jsonl").read_bytes()
    assert nemesis_events(a) != nemesis_events(_run(tmp_path, seed=6))


def _plan(nemesis: list[str], interval: float, limit: float, seed: int) -> list[tuple]:
    """(time, op) of a mixed schedule up to the time limit, driven like the interpreter."""
    entries = []
    for n in nemesis:
        name, _, kinds = n.partition(":")
        entries.append((name, kinds.split("+") if kinds else None))
    combined = build(entries)
    gen = combined.schedule(interval, limit, "mixed", random.Random(seed))
    t, out = 0.0, []
    while True:
        op = gen.next(Context(time=t, worker="nemesis", rng=random.Random(0)))
        if isinstance(op, Sleep):
            t = op.until
            if t >= limit:
                return out
            continue
        out.append((t, op))


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("limit,interval", [(20.0, 5.0), (3.0, 1.0), (60.0, 1.0)])
def test_plan_covers_every_kind_overlaps_lanes_and_never_pauses_under_kill_all(
    seed, limit, interval
):
    plan = _plan(ALL.split(","), interval, limit, seed)
    combined = build([(n, None) for n in ALL.split(",")])
    events = []
    for _t, op in plan:
        f = f"{op['f']}-{op['nemesis']}"
        events.append({"process": "nemesis", "type": "invoke", "f": f, "value": op.get("kind")})
        value = {"kind": op["kind"]} if op["f"] == "start" else None
        events.append({"process": "nemesis", "type": "info", "f": f, "value": value})
    for e in events:  # the invoke's value is the kind asked for
        if e["type"] == "invoke":
            e["value"] = {"kind": e["value"]} if e["value"] else None
    assert coverage(combined.requested(), events)["not_run"] == []
    active: dict[str, str] = {}
    for _t, op in plan:
        name = op["nemesis"]
        if op["f"] == "start":
            assert name not in active  # within a nemesis, one fault at a time
            if name == "pause":
                assert active.get("kill") not in ("all", "all-leader-last")
            if name == "partition":  # kill:all-leader-last heals the network itself
                assert active.get("kill") != "all-leader-last"
            if (name, op["kind"]) == ("kill", "all-leader-last"):
                assert "partition" not in active
            active[name] = op["kind"]
        else:
            assert active.pop(name)
    starts = [t for t, op in plan if op["f"] == "start"]
    assert starts == sorted(starts) and max(starts) < limit


def test_sim_replay_command_keeps_the_schedule():
    import argparse

    from controller import sim_cli

    p = argparse.ArgumentParser()
    sim_cli.add_arguments(p)
    rotate = p.parse_args(["--nemesis", "kill", "--nemesis-schedule", "rotate"])
    assert "--nemesis-schedule rotate" in " ".join(sim_cli.replay_argv(rotate, 4))
    assert sim_cli.make_spec(rotate, 4).nemesis_schedule == "rotate"
    mixed = p.parse_args(["--nemesis", "kill"])
    assert "--nemesis-schedule" not in sim_cli.replay_argv(mixed, 4)  # the default
    assert sim_cli.make_spec(mixed, 4).nemesis_schedule == "mixed"
