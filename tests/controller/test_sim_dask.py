"""`paxlab sim --scheduler ADDR`: a sweep on a real Dask cluster (a scheduler and two worker
processes on loopback) gives a local sweep's rows in seed order, stores failing seeds here, and
an unreachable scheduler is one line and exit 2 before anything runs, as is one lost mid-sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from controller.cli import main
from tests.support.dask_cluster import dask_cluster
from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port
from tests.support.sim_sweeps import LOCAL_READ, SHORT
from tests.support.sim_sweeps import sweep_json as _sweep
from tests.support.waiting import wait_for


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    with dask_cluster(workers=2, log_dir=tmp_path_factory.mktemp("dask-logs")) as cluster:
        yield cluster.address


@pytest.mark.timeout(90)
def test_dask_sweep_gives_the_local_rows_in_seed_order(capsys, scheduler):
    argv = ["--seeds", "6", "--start-seed", "3", *SHORT]
    rc1, local, s1 = _sweep(capsys, *argv)
    rc2, remote, s2 = _sweep(capsys, *argv, "--scheduler", scheduler)
    assert [r["seed"] for r in remote] == list(range(3, 9))
    assert remote == local and rc2 == rc1 == 0
    assert len({r["history_sha256"] for r in local}) == 6  # six different histories, each matched
    assert all(r["ops"]["ok"] > 0 for r in local)
    assert s2["scheduler"] == scheduler and s2["jobs"] == 2 and s2["valid"] == 6
    assert s2["sim_s"] == s1["sim_s"]


@pytest.mark.timeout(90)
def test_dask_sweep_stores_failing_seeds_locally(capsys, scheduler, tmp_path):
    argv = ["--seeds", "3", *LOCAL_READ]
    rc1, local, _ = _sweep(capsys, *argv, "--results-dir", str(tmp_path / "a"))
    rc2, remote, summary = _sweep(
        capsys, *argv, "--results-dir", str(tmp_path / "b"), "--scheduler", scheduler
    )
    assert rc1 == rc2 == 1
    assert remote == local
    failing = [r["seed"] for r in remote if r["valid"] is False]
    assert failing and summary["failing"] == failing
    stored = sorted((tmp_path / "b").glob("*/*/history.jsonl"))
    assert len(stored) == len(failing)  # stored here, by the caller, once per failing seed
    assert all(r["replayed_same_verdict"] is True for r in remote if r["valid"] is False)


def test_unreachable_scheduler_is_one_line_exit_2_before_any_seed(capsys, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    rc = main(
        ["sim", "--seeds", "2", *SHORT, "--scheduler", address, "--results-dir", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"paxlab sim: cannot reach the Dask scheduler at {address}"
    )
    assert not list(tmp_path.iterdir())


def test_scheduler_goes_with_neither_jobs_nor_bench(capsys):
    assert main(["sim", "--seeds", "1", "--jobs", "2", "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "paxlab sim: --scheduler runs the sweep on Dask: it goes with neither --jobs nor --bench"
    ]


def _interrupted_sweep(cluster, tmp_path, seeds: int, interrupt) -> subprocess.CompletedProcess:
    """A sweep on the cluster in a process of its own session; `interrupt(proc)` once its first
    row is out; what it printed and its exit code (it is killed if it does not end)."""
    argv = ["sim", "--seeds", str(seeds), *SHORT, "--scheduler", cluster.address]
    p = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", *argv, "--results-dir", str(tmp_path / "r")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert p.stdout.readline().startswith(f"[1/{seeds}] seed 0 ")
        interrupt(p)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


@pytest.mark.timeout(90)
def test_losing_the_scheduler_mid_sweep_is_one_line_exit_2(tmp_path):
    with dask_cluster(workers=1, log_dir=tmp_path) as cluster:
        r = _interrupted_sweep(cluster, tmp_path, 200, lambda _: cluster.scheduler.terminate())
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "200 seeds:" not in r.stdout
    assert r.stderr.splitlines()[-1].startswith(
        f"paxlab sim: the Dask scheduler at {cluster.address} dropped the sweep"
    )


@pytest.mark.timeout(90)
def test_ctrl_c_is_one_line_exit_2_and_leaves_no_seed_queued_on_the_cluster(tmp_path):
    from distributed import Client

    with dask_cluster(workers=1, log_dir=tmp_path) as cluster:
        # SIGINT to the sweep's whole process group, as a terminal's Ctrl-C sends it
        r = _interrupted_sweep(cluster, tmp_path, 300, lambda p: os.killpg(p.pid, signal.SIGINT))
        with Client(cluster.address, timeout=10, set_as_default=False) as c:
            left = wait_for(
                lambda: not c.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)),
                timeout=20,
                what="the scheduler to drop the sweep's tasks",
            )
    assert r.returncode == 2
    lines = r.stderr.splitlines()  # the header, maybe progress lines, then the one line
    assert lines[-1] == "paxlab sim: interrupted"
    assert all(x.startswith("paxlab sim: ") for x in lines), lines
    assert "300 seeds:" not in r.stdout and left
