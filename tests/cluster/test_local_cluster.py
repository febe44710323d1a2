"""The local backend with the real store: three processes on loopback, faults by signal.

Every write the store acknowledged must be readable after a kill -9 and restart and after a
pause, and no store process may outlive the cluster, also when the test body fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cluster import local
from cluster.base import ClusterError, Unsupported
from cluster.local import LocalCluster, _pid_state
from paxos_impl.client import Client, PaxosError
from tests.support.paths import REPO_ROOT
from tests.support.waiting import wait_for, write_acked

pytestmark = pytest.mark.timeout(120)


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if _pid_state(p) not in (None, "Z")]


@pytest.fixture
def make(tmp_path):
    """A factory of set-up local clusters under tmp_path, all torn down at the end."""
    made: list[LocalCluster] = []

    def _make(n: int = 3, name: str = "paxlab-test-local", **kw) -> LocalCluster:
        c = LocalCluster(name, n, run_dir=tmp_path / name, faketime=False, **kw)
        made.append(c)
        c.setup()
        return c

    yield _make
    for c in made:
        c.teardown()


@pytest.fixture
def cluster(make):
    return make()


def test_write_read_kill_restart_pause_resume(cluster, tmp_path):
    c = cluster
    c.start_all()
    assert all(c.is_running(n) for n in c.nodes)
    pids = [c.pid(n) for n in c.nodes]
    acked: dict[str, object] = {}
    with Client(c.config, node=0, timeout=3.0) as client:
        for i in range(5):
            write_acked(client, f"k{i}", {"v": i}, acked)
        assert client.read("k3") == {"v": 3}

        # kill -9 one node, keep writing through the others, restart it
        c.kill("n1")
        assert not c.is_running("n1")
        assert _alive([pids[0]]) == []
    with Client(c.config, node=1, timeout=3.0) as client:
        for i in range(5, 10):
            write_acked(client, f"k{i}", i, acked)
    c.start("n1")
    assert c.is_running("n1") and c.pid("n1") != pids[0]

    # pause one node: the process is stopped (state T), writes still succeed via a majority
    c.pause("n2")
    assert c.is_paused("n2")
    with Client(c.config, node=2, timeout=3.0) as client:
        for i in range(10, 15):
            write_acked(client, f"k{i}", [i], acked)
    c.resume("n2")
    assert not c.is_paused("n2") and c.is_running("n2")

    # every acknowledged write is readable, asking each node in turn
    for node in range(3):
        with Client(c.config, node=node, timeout=3.0) as client:
            for key, value in acked.items():
                got = wait_for(lambda k=key: [client.read(k)], what=f"read {key} via {node}")
                assert got == [value], (node, key)

    # the restarted node caught up: it reports the same applied state as the others
    out = tmp_path / "collected"
    c.collect("n1", out / "n1")
    assert (out / "n1" / "store.log").stat().st_size > 0
    listing = (out / "n1" / "data-listing.txt").read_text()
    assert listing.count("\n") >= 2  # a header and at least one data file


def test_no_process_left_behind_when_the_test_body_fails(tmp_path):
    c = LocalCluster("paxlab-test-local-fail", 3, run_dir=tmp_path / "run", faketime=False)
    pids: list[int] = []
    with pytest.raises(RuntimeError), c:
        c.start_all()
        pids = [c.pid(n) for n in c.nodes]
        c.pause("n3")  # a stopped process must die too
        raise RuntimeError("the test failed midway")
    assert len(pids) == 3 and all(pids)
    assert _alive(pids) == []
    for n in c.nodes:
        assert not (c.node_dir(n) / "server.pid").exists()


def test_a_second_handle_on_the_same_run_dir_finds_and_stops_the_nodes(tmp_path):
    """`paxlab cluster up` leaves nodes running; `cluster down` is another process."""
    run = tmp_path / "run"
    first = LocalCluster(
        "paxlab-test-local-up", 3, run_dir=run, faketime=False, cleanup_at_exit=False
    )
    try:
        first.setup()
        first.start_all()
        pids = [first.pid(n) for n in first.nodes]
        second = LocalCluster("paxlab-test-local-up", 3, run_dir=run, faketime=False)
        assert second.config.to_dict() == first.config.to_dict()
        assert [second.pid(n) for n in second.nodes] == pids
        second.teardown()
        assert _alive(pids) == []
        assert not first.is_running("n1")
    finally:
        first.teardown()


def test_unknown_node_and_mismatched_run_dir_are_one_line_errors(make):
    c = make(2, "paxlab-test-local-bad")
    with pytest.raises(ClusterError, match="no node 'n7'"):
        c.kill("n7")
    with pytest.raises(ClusterError, match="not running"):
        c.pause("n1")
    with pytest.raises(ClusterError, match="describes 2 nodes, not 3"):
        LocalCluster("paxlab-test-local-bad", 3, run_dir=c.run_dir)


def test_exec_and_files_run_in_the_node_directory(make, tmp_path):
    c = make(1, "paxlab-test-local-exec")
    r = c.exec("n1", ["sh", "-c", "pwd; echo oops >&2; exit 3"])
    assert (r.exit_code, r.stdout.strip(), r.stderr.strip()) == (3, str(c.node_dir("n1")), "oops")
    assert c.exec("n1", ["sleep", "5"], timeout=0.2).exit_code == 124
    src = tmp_path / "f.txt"
    src.write_text("hello")
    c.put_file("n1", src, "sub/f.txt")
    c.get_file("n1", "sub/f.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello"
    assert Path(c.node_dir("n1") / "sub" / "f.txt").exists()
    assert os.path.isdir(c.node_dir("n1") / "data")


def _leader(c: LocalCluster) -> int:
    def ask():
        with Client(c.config, node=0, timeout=2.0) as client:
            st = client.status(0)
            return st.get("leader") if st.get("leader") is not None else None

    return wait_for(lambda: (ask(),) if ask() is not None else None, what="a leader")[0]


def test_partition_isolates_the_leader_and_heals(cluster):
    c = cluster
    if "partition" not in c.capabilities():
        pytest.skip("partitions on the local backend need root and iptables")
    c.start_all()
    acked: dict[str, object] = {}
    with Client(c.config, node=0, timeout=3.0) as client:
        write_acked(client, "before", 1, acked)
    old = _leader(c)
    others = [n for n in range(3) if n != old]
    lead, rest = f"n{old + 1}", {f"n{n + 1}" for n in others}
    c.partition({lead: rest, **{n: {lead} for n in rest}})

    # the majority elects a new leader and goes on
    with Client(c.config, node=others[0], timeout=3.0) as client:
        for i in range(3):
            write_acked(client, f"during{i}", i, acked)
        st = wait_for(lambda: client.status(others[0]).get("leader") in others, what="new leader")
        assert st
    # the old leader, cut off from every quorum, cannot complete a write
    with Client(c.config, node=old, timeout=1.5, follow_redirects=False) as client:
        with pytest.raises(PaxosError):
            client.write("isolated", "x")

    c.heal_network()
    for node in range(3):
        with Client(c.config, node=node, timeout=3.0) as client:
            for key, value in acked.items():
                got = wait_for(lambda k=key: [client.read(k)], what=f"read {key} via {node}")
                assert got == [value], (node, key)


def test_without_a_working_libfaketime_clock_is_refused_up_front(monkeypatch, tmp_path):
    """This host's libfaketime (none, or bookworm's, whose time.sleep fails) gives no clock."""
    monkeypatch.setitem(local._probe_cache, "faketime", None)
    c = LocalCluster("paxlab-test-local-noclock", 2, run_dir=tmp_path / "run")
    try:
        assert "clock" not in c.capabilities()
        with pytest.raises(Unsupported, match="libfaketime"):
            c.set_clock_offset("n1", 5)
        with pytest.raises(Unsupported, match="libfaketime"):
            LocalCluster("paxlab-test-local-noclock2", 2, faketime=True)
    finally:
        c.teardown()


ORPHAN = """
import sys
from cluster.local import LocalCluster
c = LocalCluster("paxlab-test-local-exit", 3, run_dir=sys.argv[1], faketime=False)
c.setup()
c.start_all()
print(" ".join(str(c.pid(n)) for n in c.nodes), flush=True)
raise SystemExit(3)  # no teardown: the interpreter's exit must still take the nodes down
"""


def test_nodes_die_with_the_interpreter_that_forgot_teardown(tmp_path):
    r = subprocess.run(
        [sys.executable, "-c", ORPHAN, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )
    assert r.returncode == 3, r.stderr
    pids = [int(p) for p in r.stdout.split()]
    assert len(pids) == 3
    assert _alive(pids) == []


def test_a_store_that_dies_at_start_is_a_one_line_error_with_its_last_words(make):
    c = make(1, "paxlab-test-local-dies")
    with pytest.raises(ClusterError, match=r"n1: the store is not serving on 127\.0\.0\.11") as e:
        c.start("n1", bugs=["no-such-bug"])
    assert "\n" not in str(e.value)
    assert "no-such-bug" in str(e.value)  # the store's own complaint, from its log
    assert not c.is_running("n1")
