"""`paxlab bench`: a short real run prints sane figures; bad flags and a missing checker
benchmark are one-line errors with exit code 2."""

import json
import subprocess
import sys

import pytest

from controller import bench_cli
from controller.cli import main


def test_bad_flags_exit_2(capsys):
    assert main(["bench", "--clients", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "positive" in err[0]


def test_missing_checker_bench_is_a_one_line_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "checker.bench", None)  # import now fails as if absent
    assert main(["bench", "--checker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0]


def test_percentile():
    values = [i / 100 for i in range(1, 101)]
    assert bench_cli._percentile(values, 0.5) == 0.51
    assert bench_cli._percentile(values, 0.99) == 1.0
    assert bench_cli._percentile([], 0.5) == 0.0


@pytest.mark.timeout(90)
def test_short_bench_run_reports_throughput_and_batching():
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "controller.cli",
            "bench",
            "--seconds",
            "1.5",
            "--clients",
            "8",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert r.returncode == 0, r.stderr
    figures = json.loads(r.stdout)
    assert figures["ok"] > 0 and figures["ops_per_s"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert figures["nodes"] == 3 and figures["fsync"] is True
    assert figures["leader_fsyncs"] > 0
