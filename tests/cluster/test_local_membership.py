"""The local backend grows and shrinks: a host (directory, ports, certificate) before the store
hears of the node, the node program started with --join, and the host gone after the store let
it go; then the membership nemesis on real processes."""

from __future__ import annotations

import json
import time

import pytest

from cluster.base import ClusterError
from cluster.local import LocalCluster
from controller.run import run_test
from controller.spec import TestSpec
from paxos_impl.client import Client, DefiniteFailure


@pytest.mark.timeout(120)
def test_a_node_added_to_a_local_cluster_joins_over_tls_and_leaves(tmp_path):
    c = LocalCluster("paxlab-test-grow", 3, run_dir=tmp_path / "run", faketime=False)
    try:
        c.setup()
        c.start_all()
        new = c.add_node()
        assert new == "n4" and new in c.nodes and not c.is_running(new)
        host, peer, client = c.node_address(new)
        c.start(new)  # waits until it serves clients: it listens where --join says
        with Client(c.config, timeout=10.0) as cl:
            cl.write("k", 1)
            view = cl.reconfig("add", 3, [host, peer, client])
            assert view["learners"] == [3]
            for _ in range(50):
                try:
                    view = cl.reconfig("promote", 3)
                    break
                except DefiniteFailure as e:  # not caught up yet
                    assert e.error in ("not_caught_up", "reconfig_in_progress"), e
                    time.sleep(0.2)
            assert view["voters"] == [0, 1, 2, 3]
            assert cl.status(3)["commit_index"] >= 1
            cl.reconfig("remove", 3)
        c.remove_node(new)
        assert new not in c.nodes and c.add_node() == "n5"  # ids are never reused
        with pytest.raises(ClusterError, match="no node 'n4'"):
            c.kill("n4")
    finally:
        c.teardown()


@pytest.mark.timeout(180)
def test_membership_nemesis_on_local_processes_stays_valid(tmp_path):
    spec = TestSpec(
        workload="set",
        nemesis=["membership"],
        nodes=3,
        concurrency=4,
        time_limit=12,
        seed=3,
        backend="local",
        nemesis_interval=2.0,
    )
    out = run_test(spec, results_root=tmp_path, progress=False, report=False)
    assert out.valid is True, out.results.get("error")
    changes = []
    for line in (out.run_dir / "history.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["f"] == "start-membership" and e["type"] != "invoke" and "error" not in e["value"]:
            changes.append(e["value"]["kind"])
    assert changes, "no membership change went through"
