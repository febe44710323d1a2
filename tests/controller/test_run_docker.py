"""`paxlab test` against real containers: verdicts, aimed bug finding, clean-up, Ctrl-C.

Short runs (3 nodes, ~8 s of faults) so the container tier stays within its budget.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.history import read_history
from controller.run import run_test
from controller.spec import TestSpec
from tests.support.paths import REPO_ROOT as ROOT

pytestmark = pytest.mark.docker


def docker():
    from cluster.image import docker_client

    return docker_client()


def assert_nothing_left(run_dir: Path, cluster: str) -> None:
    from cluster.docker_backend import leftovers

    assert leftovers(docker(), cluster) == {"containers": [], "networks": []}
    host = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    assert cluster not in host
    # rules inside the nodes as collected after healing: our chains hold no DROP
    for rules in run_dir.glob("nodes/*/iptables.txt"):
        assert not [
            ln for ln in rules.read_text().splitlines() if "PAXLAB" in ln and "DROP" in ln
        ], rules


def run(tmp_path: Path, **kw):
    base = dict(backend="docker", nodes=3, concurrency=6, time_limit=8.0, nemesis_interval=1.5,
                op_timeout=2.0, recovery_time=20.0, seed=11)  # fmt: skip
    base.update(kw)
    out = run_test(TestSpec(**base), results_root=tmp_path, progress=False, report=False)
    assert_nothing_left(out.run_dir, out.results["cluster"])
    return out


def faults_list(out) -> list[str]:
    return [
        e["f"] for e in read_history(out.run_dir / "history.jsonl")
        if e["process"] == "nemesis" and e["type"] == "info" and "error" not in e
    ]  # fmt: skip


def faults(out) -> set[str]:
    return set(faults_list(out))


@pytest.mark.timeout(150)
def test_partitions_and_kills_against_the_correct_store_are_valid(tmp_path):
    out = run(tmp_path, workload="kv", nemesis=["partition", "kill"], time_limit=10.0)
    assert out.valid is True, out.results
    assert {"start-partition", "stop-partition", "start-kill", "stop-kill", "heal"} <= faults(out)
    assert out.results["ops"]["ok"] > 50


@pytest.mark.timeout(150)
def test_pause_clock_netem_against_the_correct_store_are_valid(tmp_path):
    # three faults in turn: short quiet gaps and enough time for each to come once under load
    out = run(
        tmp_path,
        workload="set",
        nemesis=["pause", "clock", "netem"],
        time_limit=15.0,
        nemesis_interval=0.5,
    )
    assert out.valid is True, out.results
    assert {"start-pause", "start-clock", "start-netem", "heal"} <= faults(out)
    assert out.results["checkers"]["set"]["reads"] == 3


@pytest.mark.timeout(150)
def test_early_ack_is_caught_by_isolating_the_leader(tmp_path):
    out = run(tmp_path, workload="set", nemesis=["partition:isolate-leader"], bugs=["early-ack"])
    assert out.valid is False and out.exit_code == 1
    assert out.results["checkers"]["set"]["lost_count"] > 0


@pytest.mark.timeout(300)
def test_volatile_acceptor_is_caught_by_the_aimed_kill_and_the_correct_store_survives_it(tmp_path):
    # Each cycle kills everything just after the followers went deaf; what the leader
    # acknowledged in between is lost by amnesiac acceptors. A cycle hits when an operation
    # was in flight at the cut: about 2 in 3 under load here, so several cycles per run.
    aimed = dict(
        workload="set",
        nemesis=["kill:all-leader-last"],
        rate=0,
        concurrency=30,
        nemesis_interval=1.0,
    )
    good = run(tmp_path / "good", time_limit=6.0, **aimed)
    assert good.valid is True, good.results
    bad = run(tmp_path / "bad", time_limit=24.0, bugs=["volatile-acceptor"], **aimed)
    assert sum(1 for f in faults_list(bad) if f == "start-kill") >= 3
    assert bad.valid is False and bad.exit_code == 1
    assert bad.results["checkers"]["set"]["lost_count"] > 0


@pytest.mark.timeout(120)
def test_sigint_mid_run_leaves_partial_history_unknown_verdict_and_no_cluster(tmp_path):
    cmd = [sys.executable, "-m", "controller.cli", "test", "--backend", "docker", "--nodes", "3",
           "--workload", "kv", "--nemesis", "partition", "--nemesis-interval", "1",
           "--time-limit", "60", "--seed", "5", "--results-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        hist = None
        while time.monotonic() < deadline:
            found = list(tmp_path.glob("*/*/history.jsonl"))
            if found and sum(1 for ln in found[0].read_text().splitlines() if '"ok"' in ln) >= 20:
                hist = found[0]
                break
            time.sleep(0.2)
        assert hist is not None, "the run never got going"
        time.sleep(1.5)  # mid-run, with a partition probably in force
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    assert proc.returncode == 2, stderr
    assert time.monotonic() - t0 < 45
    run_dir = hist.parent
    r = json.loads((run_dir / "results.json").read_text())
    assert r["valid"] == "unknown" and r["interrupted"] is True
    events = read_history(hist)
    assert sum(1 for e in events if e["type"] == "ok") >= 20
    assert [e["f"] for e in events if e["process"] == "nemesis"][-1] == "heal"
    assert "heal" in r["phases"] and "final" not in r["phases"]
    assert "verdict: UNKNOWN" in stdout
    assert_nothing_left(run_dir, r["cluster"])
