"""Reports of real simulated runs (`paxlab test --backend sim`) in headless Chromium.

A valid run without bugs, and an invalid one from a deliberate bug (`--bug local-read`
serves reads from a node's local state, so a partitioned node answers stale values).
The simulator is seeded and deterministic; a few seeds are tried in case one happens not
to expose the bug, and the test fails if none does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import check_invalid, check_valid, failing_index

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

BASE = ["--backend", "sim", "--workload", "register", "--nodes", "3", "--concurrency", "5"]


def paxlab_test(results: Path, *args: str) -> tuple[int, Path | None]:
    env = dict(os.environ, PAXLAB_RESULTS=str(results))
    before = set(results.glob("*/*/report.html"))
    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "test", *BASE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    new = sorted(set(results.glob("*/*/report.html")) - before)
    assert r.returncode in (0, 1), f"paxlab test failed ({r.returncode}): {r.stderr[-800:]}"
    return r.returncode, new[-1] if new else None


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory) -> dict[str, Path]:
    results = tmp_path_factory.mktemp("results")
    rc, valid = paxlab_test(
        results, "--nemesis", "partition", "--time-limit", "10", "--seed", "1", "--rate", "30"
    )
    assert rc == 0 and valid is not None, "a bug-free simulated run should be valid"
    invalid = None
    for seed in ("3", "4", "5"):
        rc, report = paxlab_test(
            results,
            *("--nemesis", "partition,kill", "--nemesis-interval", "2", "--rate", "50"),
            *("--time-limit", "20", "--seed", seed, "--bug", "local-read"),
        )
        if rc == 1:
            invalid = report
            break
    assert invalid is not None, "no seed exposed --bug local-read"
    return {"valid": valid, "invalid": invalid}


def test_real_valid_run_report(browser, real_runs, tmp_path):
    check_valid(browser, real_runs["valid"], tmp_path / "real-valid.png")


def test_real_invalid_run_report(browser, real_runs, tmp_path):
    report = real_runs["invalid"]
    check_invalid(browser, report, failing_index(report), tmp_path, "real-invalid")
