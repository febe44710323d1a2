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
    ],
)
def test_bad_options_are_one_line_errors(capsys, argv, msg):
    assert main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1


@pytest.mark.timeout(120)
def test_one_invocation_gives_a_row_per_mode_and_size_with_real_writes(capsys):
    argv = ["bench", "--mode", "leader,epaxos", "--node-counts", "3", "--seconds", "0.5"]
    assert main([*argv, "--clients", "4", "--conflict", "0.5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r["mode"], r["nodes"]) for r in rows] == [("leader", 3), ("epaxos", 3)]
    for r in rows:
        assert r["ok"] > 0 and r["p50_ms"] <= r["p99_ms"] and r["conflict"] == 0.5
