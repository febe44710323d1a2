"""`paxlab bench --mode`: the store's protocols side by side, one row per mode and size."""

from __future__ import annotations

import json

import pytest

from controller.cli import main


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--mode", "leader,raft"], "unknown mode 'raft'"),
        (["--mode", "epaxos", "--conflict", "1.5"], "--conflict is a share between 0 and 1"),
        (["--mode", "epaxos", "--node-counts", "0"], "--node-counts must be positive"),
        (["--mode", "leader", "--locality", "0.9"], "--locality needs zones"),
        (["--mode", "leader", "--locality", "2", "--sim"], "--locality is a share"),
        (["--mode", "leader", "--latency", "wan3"], "--latency is for --sim"),
        (["--mode", "leader", "--sim", "--latency", "mars"], "latency wants a preset"),
        (["--mode", "leader", "--zones", "0,1/2", "--node-counts", "3,5"], "exactly once"),
        (["--sim"], "go with --mode"),
        (["--mode", "leader", "--sim", "--zones", "5", "--node-counts", "9"], "3-zone latency"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, argv, msg):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


@pytest.mark.timeout(120)
def test_one_invocation_gives_a_row_per_mode_and_size_with_real_writes(capsys, tmp_path):
    argv = ["bench", "--mode", "leader,epaxos", "--node-counts", "3", "--seconds", "0.5"]
    argv += ["--results-dir", str(tmp_path)]
    assert main([*argv, "--clients", "4", "--conflict", "0.5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["mode"], r["nodes"]) for r in rows] == [("leader", 3), ("epaxos", 3)]
    for r in rows:
        assert r["ok"] > 0 and r["p50_ms"] <= r["p99_ms"] and r["conflict"] == 0.5


@pytest.mark.timeout(120)
def test_loopback_cells_per_conflict_and_locality_with_clients_in_zones(capsys, tmp_path):
    argv = ["bench", "--mode", "leader", "--node-counts", "3", "--seconds", "0.5", "--json"]
    argv += ["--zones", "3", "--locality", "0.9", "--conflict", "0,0.5", "--clients", "3"]
    assert main([*argv, "--results-dir", str(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["rows"]
    assert [(r["conflict"], r["locality"]) for r in rows] == [(0.0, 0.9), (0.5, 0.9)]
    assert all(r["ok"] > 0 and r["zones"] == [[0], [1], [2]] for r in rows)
    assert out["header"].startswith("loopback processes")
