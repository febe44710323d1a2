"""Real nodes record their messages on request (--target-opt trace_messages_bytes=N): a
short run on the local backend collects them into messages.jsonl and the report's diagram."""

from __future__ import annotations

import json

import pytest

from controller.run import run_test
from controller.spec import TestSpec
from tests.support.lamport import lamport_of

pytestmark = pytest.mark.timeout(120)


def test_a_local_run_with_traces_on_leaves_paired_messages_and_a_diagram(tmp_path):
    spec = TestSpec(
        workload="register", nemesis=[], nodes=3, concurrency=2, time_limit=2.0, seed=3,
        backend="local", target_opts={"trace_messages_bytes": 2_000_000},
    ).validate()  # fmt: skip
    out = run_test(spec, results_root=tmp_path, progress=False)
    assert out.valid is True, out.results
    nodes = sorted(p.parent.name for p in out.run_dir.glob("nodes/*/messages.jsonl"))
    assert nodes == ["n1", "n2", "n3"]
    recs = [json.loads(x) for x in (out.run_dir / "messages.jsonl").read_text().splitlines()]
    sends = {r["id"]: r for r in recs if r["dir"] == "send"}
    recvs = [r for r in recs if r["dir"] == "recv"]
    assert {r["type"] for r in recvs} >= {"heartbeat", "accept", "accepted", "request"}
    for r in recvs:
        s = sends[r["id"]]
        assert (s["from"], s["to"], s["type"], s["ballot"]) == (
            r["from"],
            r["to"],
            r["type"],
            r["ballot"],
        )
    assert out.results["messages"] == len(recs)
    data = lamport_of(out.run_dir / "report.html")
    assert data["lanes"][:3] == ["n1", "n2", "n3"] and len(data["msgs"]["s"]) > 10


def test_without_the_setting_real_nodes_record_nothing(tmp_path):
    spec = TestSpec(
        workload="register", nemesis=[], nodes=3, concurrency=1, time_limit=1.0, seed=3,
        backend="local",
    ).validate()  # fmt: skip
    out = run_test(spec, results_root=tmp_path, progress=False)
    assert not list(out.run_dir.glob("nodes/*/messages.jsonl"))
    assert not (out.run_dir / "messages.jsonl").exists()
    assert 'id="lamport-data"' not in (out.run_dir / "report.html").read_text()
