"""The disk nemesis end to end: corrupt a stopped node's log, restart it, check the history.

On the simulator (virtual time, many seeds, fast tier) and on local processes (the real
store and its real files): every damaged log must be refused at restart (the node never
votes with it), the intact disk put back when the fault ends, a full disk must stop the
node, and the history must stay linearizable with the simulator's invariants intact (no
slot chosen twice, no acknowledged write missing from the chosen log).
"""

from __future__ import annotations

import json

import pytest

from cluster.base import Unsupported
from cluster.sim.backend import SimCluster
from controller.run import run_test
from controller.spec import TestSpec
from nemesis.combined import build
from nemesis.disk import DiskNemesis


def _events(run_dir, f: str) -> list[dict]:
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    evs = [json.loads(x) for x in lines]
    return [e for e in evs if e.get("process") == "nemesis" and e["f"] == f and e["type"] == "info"]


@pytest.mark.timeout(240)
def test_sim_every_damaged_log_is_refused_and_nothing_is_lost(tmp_path):
    refused: dict[str, int] = {}
    full_stops = 0
    for seed in range(6):
        spec = TestSpec(
            workload="register" if seed % 2 else "kv",
            nemesis=["disk", "partition" if seed % 2 else "kill"],  # with faults that restart
            nodes=3,
            concurrency=6,
            time_limit=16,
            seed=seed,
            backend="sim",
            nemesis_interval=0.5,
            op_timeout=1.0,
        )
        c = SimCluster("t", 3, seed=seed)
        out = run_test(spec, cluster=c, results_root=tmp_path, progress=False, report=False)
        assert out.valid is True, (seed, out.results.get("error"), out.results)
        assert out.results.get("error") is None, out.results["error"]
        assert c.violations == [], (seed, c.violations)
        for e in _events(out.run_dir, "start-disk"):
            v = e["value"]
            if v["kind"] == "full":
                continue
            if "skipped" in v or "skipped" in v.get("damage", {}):
                continue  # nothing to damage: every node was down (kill overlaps) or no log yet
            assert v["restart"] == "refused", (seed, v)  # never started on a damaged log
            refused[v["kind"]] = refused.get(v["kind"], 0) + 1
        stops = _events(out.run_dir, "stop-disk")
        assert stops and all(s["value"].get("restarted", True) for s in stops), stops
        fulls = [s["value"] for s in stops if s["value"].get("kind") == "full"]
        # a full disk stops the node at its next write; a node that wrote nothing meanwhile
        # (alone after kill:majority, a follower waits out its election timeout) runs on
        full_stops += sum("restarted" in s for s in fulls)
    assert set(refused) == {"bitflip", "truncate", "torn"}, refused
    assert full_stops >= 3, full_stops


def test_full_is_dropped_or_refused_where_no_small_disk_exists():
    bare = DiskNemesis()
    assert bare.requires({"disk"}) == {"disk"} and "full" not in bare.kinds
    explicit = DiskNemesis(["full"])
    assert explicit.requires({"disk"}) == {"disk", "disk-full"}

    class NoDisk:
        def capabilities(self):
            return {"kill", "disk"}

        def disk(self, node, action, kind="", seed=0):  # the Disk capability, never called
            raise AssertionError("not called by a preflight check")

    with pytest.raises(Unsupported, match="cannot do the disk nemesis .missing: disk-full"):
        build([("disk", ["full"])]).require(NoDisk())
    build([("disk", None)]).require(NoDisk())  # a bare disk runs what it can


@pytest.mark.timeout(240)
def test_local_processes_refuse_a_damaged_log_and_stay_linearizable(tmp_path):
    spec = TestSpec(
        workload="kv",
        nemesis=["disk"],
        nodes=3,
        concurrency=4,
        time_limit=14,
        seed=5,
        backend="local",
        nemesis_interval=2.0,
        op_timeout=2.0,
    )
    out = run_test(spec, results_root=tmp_path, progress=False, report=False)
    assert out.valid is True, out.results
    starts = [e["value"] for e in _events(out.run_dir, "start-disk")]
    assert starts, "no disk fault ran"
    for v in starts:
        assert v["restart"] == "refused", v
        assert "at the last clean shutdown" in v["why"] or "byte offset" in v["why"], v
        assert v["restored"] is True, v  # the intact directory is back at once
    stops = [e["value"] for e in _events(out.run_dir, "stop-disk")]
    assert stops and all(s.get("restarted") for s in stops), stops


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_docker_every_kind_including_a_full_disk(tmp_path, node_image):
    """Containers, data on a 64 MiB tmpfs so that ``full`` really fills it."""
    spec = TestSpec(
        workload="kv",
        nemesis=["disk"],
        nodes=3,
        concurrency=4,
        time_limit=50,
        seed=2,
        backend="docker",
        nemesis_interval=2.0,
        op_timeout=2.0,
        backend_opts={"data_tmpfs_mb": 64},
    )
    out = run_test(spec, results_root=tmp_path, progress=False, report=False)
    assert out.valid is True, out.results
    starts = [e["value"] for e in _events(out.run_dir, "start-disk")]
    assert {v["kind"] for v in starts} == {"bitflip", "truncate", "torn", "full"}, starts
    for v in starts:
        if v["kind"] != "full":
            assert v["restart"] == "refused", v
        else:
            assert v["filled_bytes"] > 0, v
    stops = [e["value"] for e in _events(out.run_dir, "stop-disk")]
    assert all(s.get("restarted") for s in stops), stops
    full = next(s for s in starts if s["kind"] == "full")["node"]
    log = (out.run_dir / "nodes" / full / "store.log").read_text()
    assert "No space left on device" in log  # it stopped rather than acknowledge


@pytest.mark.timeout(240)
def test_local_full_disk_on_a_tmpfs_stops_the_node_and_nothing_is_lost(tmp_path):
    """--backend-opt data_tmpfs_mb=32: each data directory on a tmpfs (mounted as root), so
    disk:full fills a real file system; the mounts are gone after teardown."""
    spec = TestSpec(
        workload="kv",
        nemesis=["disk:full"],
        nodes=3,
        concurrency=4,
        time_limit=10,
        seed=3,
        backend="local",
        nemesis_interval=2.0,
        op_timeout=2.0,
        backend_opts={"data_tmpfs_mb": 32},
    )
    out = run_test(spec, results_root=tmp_path, progress=False, report=False)
    assert out.valid is True, out.results
    starts = [e["value"] for e in _events(out.run_dir, "start-disk")]
    assert starts and all(v["filled_bytes"] > 0 for v in starts), starts
    logs = "".join(p.read_text() for p in out.run_dir.glob("nodes/*/store.log"))
    assert "No space left on device" in logs
    stops = [e["value"] for e in _events(out.run_dir, "stop-disk")]
    assert stops and all(s["freed"] and s["restarted"] for s in stops), stops
    with open("/proc/mounts") as f:
        assert out.results["cluster"] not in f.read()
