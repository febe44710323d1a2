"""The Makefile installs what a target needs, and only that: no node image off docker."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.paths import REPO_ROOT as ROOT

RUN_TARGETS = [
    "test-partition",
    "test-kill",
    "test-clock",
    "test-pause",
    "test-netem",
    "test-all",
    "cluster-up",
]


def dry_run(*args: str) -> str:
    """The recipe lines `make` would run (nothing is run)."""
    if shutil.which("make") is None:
        pytest.fail("these tests need GNU make", pytrace=False)
    r = subprocess.run(
        ["make", "-n", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("target", RUN_TARGETS)
@pytest.mark.parametrize("backend", ["sim", "local", "ssh"])
def test_no_image_off_docker(target, backend):
    out = dry_run(target, f"BACKEND={backend}")
    assert "image build" not in out
    assert f"--backend {backend}" in out


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_docker_runs_build_the_image_first(target):
    out = dry_run(target).splitlines()
    build = next(i for i, line in enumerate(out) if "paxlab image build" in line)
    run = next(i for i, line in enumerate(out) if "--backend docker" in line)
    assert build < run
