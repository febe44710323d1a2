"""`paxlab sim --jobs N`: a sweep in worker processes reports exactly what a serial sweep does,
in seed order, stops at the first failure in seed order, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.cli import main
from tests.support.paths import REPO_ROOT as ROOT
from tests.support.sim_sweeps import LOCAL_READ, SHORT
from tests.support.sim_sweeps import sweep_json as _sweep


@pytest.mark.timeout(60)
def test_two_jobs_give_the_serial_rows_in_seed_order(capsys):
    rc1, serial, s1 = _sweep(capsys, "--seeds", "6", "--start-seed", "3", *SHORT, "--jobs", "1")
    rc2, parallel, s2 = _sweep(capsys, "--seeds", "6", "--start-seed", "3", *SHORT, "--jobs", "2")
    assert [r["seed"] for r in parallel] == list(range(3, 9))
    assert parallel == serial and rc2 == rc1 == 0
    assert all(r["ops"]["ok"] > 0 and r["sim_s"] >= 2 for r in serial)
    assert (s1["jobs"], s2["jobs"]) == (1, 2)
    assert s2["sim_s"] == s1["sim_s"] == pytest.approx(sum(r["sim_s"] for r in serial))
    assert s2["sim_s_per_wall_s"] > 0 and s2["valid"] == 6


@pytest.mark.timeout(60)
def test_stop_at_first_reports_up_to_the_first_invalid_seed_in_seed_order(capsys, tmp_path):
    argv = ["--seeds", "8", *LOCAL_READ, "--stop-at-first"]
    rc1, serial, _ = _sweep(capsys, *argv, "--results-dir", str(tmp_path / "a"), "--jobs", "1")
    rc2, parallel, summary = _sweep(
        capsys, *argv, "--results-dir", str(tmp_path / "b"), "--jobs", "2"
    )
    assert rc1 == rc2 == 1
    assert parallel == serial
    assert [r["valid"] for r in parallel][-1] is False
    assert all(r["valid"] is not False for r in parallel[:-1])
    assert summary["invalid"] == 1 and summary["seeds"] == len(parallel) < 8
    # the failing seed was stored by the parent, once, as in a serial sweep
    assert len(list((tmp_path / "b").glob("*/*/history.jsonl"))) == 1
    assert parallel[-1]["replayed_same_verdict"] is True


def test_bad_jobs_is_one_line_exit_2(capsys):
    assert main(["sim", "--jobs", "-1", "--seeds", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["paxlab sim: --jobs must be 0 (one per CPU) or more, got -1"]


def test_bench_ignores_jobs(capsys):
    assert main(["sim", "--bench", "--jobs", "2", *SHORT, "--nemesis", "none", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["simulated_s"] >= 2


def _descendants(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for k in map(int, kids):
            out += [k, *_descendants(k)]
    return out


def _alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc for child pids")
def test_ctrl_c_stops_the_workers_exit_2_one_line():
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it."""
    p = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "sim", "--seeds", "500", "--jobs", "2", *SHORT],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert p.stdout.readline().startswith("[1/500] seed 0 ")
        procs = _descendants(p.pid)
        assert len(procs) >= 3  # two workers and multiprocessing's helper(s)
        os.killpg(p.pid, signal.SIGINT)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 2
    assert err.splitlines()[1:] == ["paxlab sim: interrupted"]
    assert "summary" not in out and "500 seeds" not in out
    deadline = time.monotonic() + 10
    while any(map(_alive, procs)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_alive, procs)), [x for x in procs if _alive(x)]
