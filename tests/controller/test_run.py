"""controller.run end to end against the fake cluster: phases, results store, verdicts, SIGINT."""

from __future__ import annotations

import json
import time

import pytest

from cluster.base import Unsupported
from controller.history import read_history
from controller.run import run_test
from controller.spec import TestSpec
from tests.support.fakes import FakeCluster


def spec(**kw) -> TestSpec:
    base = dict(
        workload="kv",
        nemesis=[],
        nodes=3,
        concurrency=4,
        time_limit=20.0,
        seed=7,
        nemesis_interval=2.0,
        backend="sim",
        recovery_time=10.0,
        op_timeout=1.0,
    )
    base.update(kw)
    return TestSpec(**base)


def nemesis_events(events):
    return [e for e in events if e["process"] == "nemesis"]


@pytest.mark.timeout(60)
def test_kv_under_partitions_and_kills_is_valid_and_stored(tmp_path):
    cluster = FakeCluster(5)
    out = run_test(
        spec(nemesis=["partition", "kill"], nodes=5, nemesis_schedule="rotate"),
        cluster=cluster,
        results_root=tmp_path,
    )
    r = out.results
    assert out.valid is True and out.exit_code == 0, r
    assert r["checkers"]["linearizable"]["valid"] is True
    assert r["phases"] == ["setup", "run", "heal", "recover", "final", "collect", "check"]
    assert r["ops"]["ok"] > 100 and r["ops"]["fail"] > 0  # partitions refused some ops
    run = out.run_dir
    assert (tmp_path / "latest").resolve() == run.resolve()
    assert json.loads((run / "test.json").read_text())["seed"] == 7
    assert json.loads((run / "results.json").read_text())["valid"] is True
    assert (run / "nodes" / "n1" / "store.log").exists()
    assert (run / "report.html").exists() and "report_error" not in r
    assert cluster.torn_down
    events = read_history(run / "history.jsonl")
    assert [e["index"] for e in events] == list(range(len(events)))
    times = [e["time"] for e in events]
    assert times == sorted(times) and all(isinstance(t, int) for t in times)
    nem = nemesis_events(events)
    fs = [e["f"] for e in nem if e["type"] == "info"]
    # rotate: faults alternate start/stop, partition and kill interleaved, then one heal
    assert fs[:4] == ["start-partition", "stop-partition", "start-kill", "stop-kill"]
    assert fs[-1] == "heal"
    assert all(e["type"] in ("invoke", "info") for e in nem)
    first = next(e for e in nem if e["type"] == "info")
    assert first["value"]["kind"] == "halves" and first["value"]["grudge"]
    # no process invokes again after an info
    dead = set()
    for e in events:
        if isinstance(e["process"], int):
            assert e["process"] not in dead
            if e["type"] == "info":
                dead.add(e["process"])


@pytest.mark.timeout(60)
def test_same_seed_same_history_in_virtual_time(tmp_path):
    def history(seed, sub):
        out = run_test(
            spec(nemesis=["partition", "pause"], seed=seed),
            cluster=FakeCluster(3),
            results_root=tmp_path / sub,
            report=False,
        )
        return (out.run_dir / "history.jsonl").read_bytes()

    a, b, c = history(1, "a"), history(1, "b"), history(2, "c")
    assert a == b
    assert a != c


@pytest.mark.timeout(60)
def test_lost_writes_are_caught(tmp_path):
    out = run_test(
        spec(), cluster=FakeCluster(3, lose_writes=True), results_root=tmp_path, report=False
    )
    assert out.valid is False and out.exit_code == 1
    assert out.results["checkers"]["linearizable"]["valid"] is False


@pytest.mark.timeout(60)
def test_set_workload_finds_a_lost_element(tmp_path):
    ok = run_test(
        spec(workload="set"), cluster=FakeCluster(3), results_root=tmp_path / "ok", report=False
    )
    assert ok.valid is True, ok.results
    assert ok.results["checkers"]["set"]["reads"] == 3  # one final read from every node
    bad = run_test(
        spec(workload="set"),
        cluster=FakeCluster(3, lose_set_element=5),
        results_root=tmp_path / "bad",
        report=False,
    )
    assert bad.valid is False
    assert bad.results["checkers"]["set"]["lost"] == [5]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("workload", ["register", "append"])
def test_other_workloads_valid_against_a_correct_store(tmp_path, workload):
    out = run_test(
        spec(workload=workload, nemesis=["partition"]),
        cluster=FakeCluster(3),
        results_root=tmp_path,
        report=False,
    )
    assert out.valid is True, out.results["checkers"]


def test_impossible_nemesis_is_refused_before_anything_starts(tmp_path):
    cluster = FakeCluster(3, caps={"kill"})
    with pytest.raises(Unsupported, match="partition"):
        run_test(
            spec(nemesis=["kill", "partition"]),
            cluster=cluster,
            results_root=tmp_path,
            report=False,
        )
    assert cluster.calls == []
    assert not any(tmp_path.iterdir())


@pytest.mark.timeout(60)
def test_teardown_error_does_not_hide_the_verdict(tmp_path):
    out = run_test(
        spec(), cluster=FakeCluster(3, teardown_error=True), results_root=tmp_path, report=False
    )
    assert out.valid is True
    assert "network still in use" in out.results["teardown_error"]


@pytest.mark.timeout(60)
def test_setup_failure_is_unknown_and_still_torn_down(tmp_path):
    cluster = FakeCluster(3, setup_error=True)
    out = run_test(spec(), cluster=cluster, results_root=tmp_path, report=False)
    assert out.valid == "unknown" and out.exit_code == 2
    assert "setup failed" in out.results["error"] and "no room" in out.results["error"]
    assert cluster.torn_down


@pytest.mark.timeout(30)
def test_sigint_mid_run_stores_partial_history_heals_and_tears_down(tmp_path):
    cluster = FakeCluster(3, virtual=False, latency=0.005, sigint_after_ops=100)
    t0 = time.monotonic()
    out = run_test(
        spec(nemesis=["partition"], nemesis_interval=0.2, time_limit=30.0, rate=0),
        cluster=cluster,
        results_root=tmp_path,
        report=False,
        progress=False,
    )
    assert time.monotonic() - t0 < 15
    r = json.loads((out.run_dir / "results.json").read_text())
    assert r["valid"] == "unknown" and out.exit_code == 2
    assert r["interrupted"] is True and "SIGINT" in r["error"]
    events = read_history(out.run_dir / "history.jsonl")
    assert sum(1 for e in events if e["type"] == "ok") > 50
    assert nemesis_events(events)[-1]["f"] == "heal"
    assert cluster.grudge == {} and cluster.torn_down
    assert "final" not in r["phases"] and "heal" in r["phases"]
