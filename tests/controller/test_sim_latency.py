"""`paxlab sim --backend-opt latency=wan3`: seeds over a wide-area matrix run valid under
faults, replay with the option, and a bad option is a one-line error before any seed."""

from __future__ import annotations

import json

import pytest

from controller import sim_cli
from controller.cli import main
from tests.support.sim_sweeps import sim_args as _args


@pytest.mark.timeout(180)
def test_seeds_over_the_wide_area_stay_valid_and_take_longer(tmp_path):
    base = ("--nodes", "3", "--concurrency", "3", "--time-limit", "3", "--nemesis", "partition")
    far = _args(*base, "--backend-opt", "latency=wan3", "--backend-opt", "jitter=0.2")
    near = _args(*base)
    rows = [sim_cli.run_seed(far, s, tmp_path) for s in (1, 2)]
    assert all(r["valid"] is True and r["ops"]["ok"] > 0 for r in rows), rows
    # the same seed on the default LAN-like links completes more operations: distance costs
    assert sim_cli.run_seed(near, 1, tmp_path)["ops"]["ok"] > rows[0]["ops"]["ok"]
    assert sim_cli.replay_argv(far, 1)[-6:] == [
        "--backend-opt", "latency=wan3", "--backend-opt", "jitter=0.2", "--seed", "1"
    ]  # fmt: skip


@pytest.mark.parametrize(
    "opt, msg",
    [
        ("latency=moon", "latency wants a preset"),
        ("drop=0.1", "--backend-opt drop has its own flag: --drop"),
        ("latency", "--backend-opt wants KEY=VALUE"),
    ],
)
def test_bad_backend_options_are_one_line_errors(capsys, opt, msg):
    assert main(["sim", "--seeds", "1", "--nodes", "3", "--backend-opt", opt]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1, err


def test_a_matrix_given_as_rows_reaches_the_simulator(capsys, tmp_path):
    argv = ["sim", "--seeds", "1", "--nodes", "2", "--concurrency", "2", "--time-limit", "1"]
    argv += ["--nemesis", "none", "--json", "--results-dir", str(tmp_path)]
    assert main([*argv, "--backend-opt", "latency=0.5,20/20,0.5"]) == 0
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["valid"] is True
