"""`--target-opt KEY=VALUE`: one way to set the store (quorums, timers, drift bound, ...), the
same on every backend, checked before anything starts."""

from __future__ import annotations

import json

import pytest

from controller.cli import build_parser, main
from controller.run import make_cluster_for
from controller.run_cli import spec_from_args
from targets.bundled import settings as store_settings

SETTINGS = [
    "--target-opt", "phase1_quorum=4",
    "--target-opt", "phase2_quorum=2",
    "--target-opt", "max_clock_drift_ms=0",
    "--target-opt", "timeouts.lease_ms=700",
    "--target-opt", "timeouts.heartbeat_ms=40",
    "--target-opt", "fsync=false",
]  # fmt: skip


def spec(*argv):
    return spec_from_args(build_parser().parse_args(["test", *argv]), argv=["paxlab", "test"])


def check_config(cfg):
    assert (cfg.q1, cfg.q2, cfg.max_clock_drift_ms, cfg.fsync) == (4, 2, 0, False)
    assert (cfg.timeouts.lease_ms, cfg.timeouts.heartbeat_ms) == (700, 40)
    assert cfg.timeouts.election_min_ms == 300  # the timers not named keep their defaults


def test_parse_reads_json_else_strings():
    assert store_settings.parse(["phase1_quorum=2", "mode=masterless", "fsync=false"]) == {
        "phase1_quorum": 2,
        "mode": "masterless",
        "fsync": False,
    }
    assert store_settings.config_kwargs({"timeouts.lease_ms": 5, "mode": "leader"}) == {
        "timeouts": {"lease_ms": 5},
        "mode": "leader",
    }


@pytest.mark.parametrize("backend", ["sim", "local", "docker", "ssh"])
def test_the_same_settings_reach_the_store_on_every_backend(backend, tmp_path, monkeypatch):
    """The cluster each backend makes (nothing started) has the settings asked for."""
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps({"nodes": [{"host": f"10.9.9.{i}"} for i in range(5)]}))
    monkeypatch.setenv("PAXLAB_NODES_FILE", str(nodes))
    s = spec("--backend", backend, "--nodes", "5", *SETTINGS)
    assert s.target_opts["timeouts.lease_ms"] == 700
    cluster = make_cluster_for(s)
    try:
        check_config(cluster.config)
    finally:
        if backend == "local":
            cluster.teardown()  # removes its temp dir; nothing was started


def test_a_simulated_run_uses_them(tmp_path):
    argv = ["test", "--backend", "sim", "--nemesis", "none", "--time-limit", "2", "--seed", "3",
            "--results-dir", str(tmp_path), "--no-progress", "--json", *SETTINGS]  # fmt: skip
    assert main(argv) == 0
    stored = json.loads(next(tmp_path.glob("*/*/test.json")).read_text())
    assert stored["target_opts"]["phase1_quorum"] == 4  # replays with the same settings


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target-opt", "bogus=1"], "unknown store setting 'bogus'"),
        (["--target-opt", "lease_ms=500"], "did you mean timeouts.lease_ms?"),
        (["--target-opt", "phase1_quorum=two"], "phase1_quorum wants an integer"),
        (["--target-opt", "fsync=1"], "fsync wants true or false"),
        (["--target-opt", "timeouts.heartbeat_ms=0"], "heartbeat_ms must be at least 1"),
        (["--target-opt", "timeouts.heartbeat_ms=900"], "heartbeat_ms < election_min_ms"),
        (["--target-opt", "mode=raft"], "mode must be one of"),
        (["--target-opt", "zones=0,1/2"], "zones must hold every node exactly once"),
        (
            [
                "--target-opt",
                "mode=wpaxos",
                "--target-opt",
                "zones=5",
                "--target-opt",
                "grid_sizes=[4,1,1,1]",
            ],  # fmt: skip
            "WPaxos quorums can miss each other",
        ),
        (["--target-opt", "phase1_quorum=6"], "quorum sizes must be within 1..5"),
        (["--target-opt", "read_mode=lease"], "use --read-mode"),
        (["--target-opt", "nokey"], "--target-opt wants KEY=VALUE"),
        (
            ["--target-opt", "phase1_quorum=2", "--target-opt", "phase2_quorum=2"],
            "quorums must overlap: 2 + 2 <= 5 (unsafe_quorums = true",
        ),
        # the old way is refused with the new one named, and never an AttributeError later
        (["--backend-opt", 'config={"phase1_quorum": 2}'], "use --target-opt"),
        (["--backend-opt", "snapshot_every=50"], "use --target-opt"),
        (["--backend-opt", "timeouts={}"], "use --target-opt"),
    ],
)
@pytest.mark.parametrize("backend", ["sim", "local"])
def test_bad_settings_are_refused_before_anything_starts(argv, message, backend, tmp_path, capsys):
    rc = main(["test", "--backend", backend, "--nodes", "5", "--time-limit", "1",
               "--results-dir", str(tmp_path), "--no-progress", *argv])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert message in err[-1] and "Traceback" not in "\n".join(err)
    assert not list(tmp_path.iterdir())  # no run left behind


def test_disjoint_quorums_only_on_purpose():
    s = spec("--backend", "sim", "--nodes", "5", "--target-opt", "phase1_quorum=2",
             "--target-opt", "phase2_quorum=2", "--target-opt", "unsafe_quorums=true")  # fmt: skip
    cfg = make_cluster_for(s).config
    assert (cfg.q1, cfg.q2, cfg.unsafe_quorums) == (2, 2, True)


def test_zones_reach_the_store_as_lists_of_node_ids():
    s = spec("--backend", "sim", "--nodes", "5", "--target-opt", "mode=wpaxos",
             "--target-opt", "zones=0,1,2/3,4", "--target-opt", "zone_faults=0")  # fmt: skip
    cfg = make_cluster_for(s).config
    assert cfg.zones == [[0, 1, 2], [3, 4]] and cfg.grid().q2({3})  # f_n = 0: one node


def test_a_setting_and_a_backend_option_may_not_both_say_it():
    from controller.spec import SpecError, TestSpec

    with pytest.raises(SpecError, match="both"):
        TestSpec(backend="sim", backend_opts={"mode": "leader"},
                 target_opts={"mode": "masterless"}).validate()  # fmt: skip


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--target-opt", "bogus=1"], "unknown store setting 'bogus'"),
        (["--target-opt", "phase1_quorum=1"], "quorums must overlap"),
        (["--nodes-file", "x.toml"], "--nodes-file is for --backend ssh"),
    ],
)
def test_cluster_up_checks_settings_before_making_anything(
    argv, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PAXLAB_HOME", str(tmp_path))
    assert main(["cluster", "up", "--backend", "local", "--name", "st", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not list(tmp_path.rglob("*.json"))  # no state: nothing was made


def test_paxlab_sim_takes_them_and_replays_them():
    from controller import sim_cli

    args = build_parser().parse_args(
        [
            "sim",
            "--seeds",
            "1",
            "--target-opt",
            "phase2_quorum=4",
            "--target-opt",
            "mode=masterless",
        ]
    )
    s = sim_cli.make_spec(args, 7)
    assert s.target_opts == {"phase2_quorum": 4, "mode": "masterless"}
    assert make_cluster_for(s).config.mode == "masterless"
    replay = sim_cli.replay_argv(args, 7)
    assert replay[-6:] == ["--target-opt", "phase2_quorum=4", "--target-opt", "mode=masterless",
                           "--seed", "7"]  # fmt: skip


def test_paxlab_sim_refuses_a_bad_one_in_one_line(capsys):
    assert main(["sim", "--seeds", "1", "--target-opt", "phase1_quorum=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "quorums must overlap" in err[0]
