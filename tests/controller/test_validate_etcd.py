"""``paxlab validate --target etcd``: etcd's weak setting is found, its default is not
accused. Real etcd members on the local backend, the smallest budget that still says so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from controller.catalogue import ETCD_CATALOGUE, ETCD_CLEAN, LOCAL
from controller.validate import Options, validate

pytestmark = pytest.mark.timeout(300)


def test_the_plans_cover_every_nemesis_etcd_takes_and_never_the_clock():
    assert {"partition", "kill", "pause", "netem"} <= set(ETCD_CLEAN)
    assert all("clock" not in ex.nemesis for ex in ETCD_CLEAN.values())
    (entry,) = ETCD_CATALOGUE
    assert entry.bug is None  # a setting, not a --bug
    assert dict(entry.exposure(LOCAL).target_opts) == {"read": "serializable"}


@pytest.mark.slow
def test_serializable_reads_are_found_and_linearizable_reads_pass(tmp_path):
    folder, summary = validate(
        Options(backend=LOCAL, target="etcd", runs=1, nemeses=["partition"], results_root=tmp_path)
    )
    (bug,) = summary["bugs"]
    assert bug["name"] == "read=serializable"
    assert bug["status"] == "found", bug
    assert bug["runs"] <= bug["budget_runs"] == 8
    (clean,) = summary["clean"]
    assert clean["valid"] == 1 and not clean["false_positives"], clean
    assert summary["valid"] is True
    assert folder.parent.name == "validate-etcd-local"
    assert (folder / "summary.html").exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--target", "etcd", "--backend", "sim"], "validated on local or docker"),
        (["--backend", "local"], "validated on sim or docker"),
        (["--target", "etcd", "--nemeses", "clock"], "unknown nemesis 'clock'"),
    ],
)
def test_impossible_combinations_are_refused_in_one_line(args, says):
    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "validate", *args, "--json"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2, r.stdout
    assert says in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not r.stdout or "valid" not in json.loads(r.stdout or "{}")
