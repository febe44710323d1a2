"""Seed sweeps on the simulator: hundreds of seeds over every fault kind find nothing wrong
with the correct store, and each deliberate bug is found within a few aimed seeds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from controller import sim_cli
from controller.cli import main

ALL = "partition,kill,pause,clock,netem"
SWEEP_SEEDS = 300


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    sim_cli.add_arguments(p)
    return p.parse_args(list(argv))


@pytest.mark.timeout(240)
def test_correct_store_survives_hundreds_of_seeds_over_every_fault_kind(tmp_path):
    """Seed k runs the k-th fault kind (every partition, kill, pause, clock and netem kind), half the kills are power cuts, clocks drift, the network drops and
    duplicates. Short seeds keep the whole sweep in the fast tier."""
    args = _args(
        "--each-kind", "--nemesis", ALL, "--nodes", "3", "--concurrency", "3",
        "--time-limit", "1.5", "--nemesis-interval", "0.3", "--power-loss", "0.5",
        "--clock-drift", "0.01", "--drop", "0.01", "--dup", "0.01",
    )  # fmt: skip
    rows = []
    for k, seed in enumerate(range(SWEEP_SEEDS)):
        a = sim_cli.for_seed(args, seed, k)
        rows.append(sim_cli.run_seed(a, seed, tmp_path))
    bad = [r for r in rows if r["valid"] is not True]
    assert bad == [], "\n".join(
        f"seed {r['seed']} {r['nemesis']}: {r['valid']} {r.get('checkers')} {r.get('error')}\n"
        f"  replay: {' '.join(sim_cli.replay_argv(sim_cli.for_seed(args, r['seed'], r['seed']), r['seed']))}"
        for r in bad
    )
    kinds = {r["nemesis"] for r in rows}
    assert len(kinds) == len(sim_cli.kinds_of(ALL)) >= 17
    assert sum(r["power_losses"] for r in rows) > 20
    assert sum(r["torn"] for r in rows) > 0  # torn tails happened and recovery handled them
    assert sum(r["ops"]["ok"] for r in rows) > 20 * SWEEP_SEEDS
    assert sum(r["ops"]["info"] for r in rows) > 0  # the faults did bite


# each bug with a schedule aimed at it: the fault that exposes it, a load that makes it likely
AIMED = {
    "skip-phase1-adopt": ["--workload", "append", "--nemesis", "partition:isolate-leader",
                          "--rate", "40", "--nemesis-interval", "0.7", "--time-limit", "4"],
    "early-ack": ["--workload", "register", "--nemesis", "partition:isolate-leader",
                  "--rate", "100", "--nemesis-interval", "1", "--time-limit", "4"],
    "volatile-acceptor": ["--workload", "append", "--nemesis", "kill:all", "--rate", "10",
                          "--nemesis-interval", "0.5", "--time-limit", "6"],
    "local-read": ["--workload", "register", "--nemesis", "partition:isolate-one",
                   "--nemesis-interval", "0.5", "--time-limit", "3"],
    "no-dedup": ["--workload", "append", "--nemesis", "kill:leader", "--rate", "40",
                 "--nemesis-interval", "0.3", "--time-limit", "4"],
    # switches added to the store after the first five
    "accept-lower-ballot": ["--workload", "append", "--nemesis", "partition:majorities-ring",
                            "--nodes", "5", "--rate", "40", "--nemesis-interval", "0.7",
                            "--time-limit", "4"],
    "commit-other-ballot": ["--workload", "append", "--nemesis", "partition:isolate-leader",
                            "--rate", "40", "--nemesis-interval", "0.7", "--time-limit", "4"],
    "quorum-off-by-one": ["--workload", "append", "--nemesis", "partition:isolate-leader",
                          "--rate", "40", "--nemesis-interval", "0.7", "--time-limit", "4"],
}  # fmt: skip
MAX_SEEDS = 20


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bug", sorted(AIMED))
def test_each_bug_is_found_by_the_history_checkers_within_a_few_seeds(bug, tmp_path):
    args = _args("--bug", bug, "--nodes", "3", "--concurrency", "5", *AIMED[bug])
    rows = []
    for seed in range(MAX_SEEDS):
        row = sim_cli.run_seed(args, seed, tmp_path)
        found_by = [c for c in row.get("checkers", []) if not c.startswith("simulator")]
        if row["valid"] is False and found_by:
            return
        rows.append(row)
    pytest.fail(f"--bug {bug} not found by the checkers in {MAX_SEEDS} seeds: {rows}")


@pytest.mark.timeout(120)
def test_paxlab_sim_stores_a_failing_seed_with_report_and_replay_command(tmp_path, capsys):
    root = tmp_path / "results"
    argv = ["sim", "--seeds", "4", "--bug", "local-read", "--nodes", "3", "--concurrency", "5"]
    argv += AIMED["local-read"] + ["--results-dir", str(root), "--stop-at-first", "--json"]
    assert main(argv) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    failing = [r for r in lines if r.get("valid") is False]
    assert failing and lines[-1]["summary"]["invalid"] == 1
    row = failing[0]
    run = Path(row["run"])
    assert (run / "report.html").exists() and (run / "history.jsonl").exists()
    assert json.loads((run / "results.json").read_text())["valid"] is False
    assert row["replayed_same_verdict"] is True
    replay = row["replay"].split()
    assert replay[:2] == ["paxlab", "sim"] and replay[-2:] == ["--seed", str(row["seed"])]
    # the replay command gives the same run, byte for byte
    assert main([*replay[1:], "--results-dir", str(tmp_path / "again"), "--json"]) == 1
    (again,) = (tmp_path / "again").glob("*/*/history.jsonl")
    assert again.read_bytes() == (run / "history.jsonl").read_bytes()


def test_bad_input_is_one_line_exit_2(capsys):
    assert main(["sim", "--seeds", "0"]) == 2
    assert main(["sim", "--nemesis", "bogus", "--seeds", "1"]) == 2
    assert main(["sim", "--power-loss", "2", "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("paxlab sim: ") for line in err)
