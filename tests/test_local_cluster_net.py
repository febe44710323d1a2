"""Loopback partitions of the local backend, checked with real sockets and real iptables.

The store is not involved: a listener on each node's peer port and connections opened from
each node's own address show exactly which traffic the rules drop, and that teardown leaves
no rule behind.
"""

from __future__ import annotations

import socket
import subprocess
from contextlib import ExitStack

import pytest

from cluster import local
from cluster.base import Unsupported
from cluster.local import LocalCluster


def _can_connect(src_host: str, dst: tuple[str, int], timeout: float = 0.4) -> bool:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src_host, 0))
        s.connect(dst)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _iptables_input() -> str:
    return subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True).stdout


@pytest.fixture
def net_cluster():
    c = LocalCluster("paxlab-test-lonet", 3, faketime=False)
    if "partition" not in c.capabilities():
        c.teardown()
        pytest.skip(local.probe_iptables() or "no partition capability")
    c.setup()
    with ExitStack() as stack:
        listeners = {}
        for node in c.nodes:
            a = c.config.node(int(node[1:]) - 1)
            for port in (a.peer_port, a.client_port):
                srv = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                srv.bind((a.host, port))
                srv.listen(64)
                listeners[(node, port)] = srv
        try:
            yield c
        finally:
            c.teardown()


def _peer(c: LocalCluster, node: str) -> tuple[str, int]:
    a = c.config.node(int(node[1:]) - 1)
    return a.host, a.peer_port


def _client(c: LocalCluster, node: str) -> tuple[str, int]:
    a = c.config.node(int(node[1:]) - 1)
    return a.host, a.client_port


@pytest.mark.timeout(60)
def test_partition_drops_exactly_the_grudged_links_and_heals(net_cluster):
    c = net_cluster
    h = {n: c.address(n) for n in c.nodes}
    assert _can_connect(h["n2"], _peer(c, "n1"))

    c.partition({"n1": {"n2"}})  # n1 drops everything n2 sends it
    assert not _can_connect(h["n2"], _peer(c, "n1"))  # n2's own connection to n1
    assert not _can_connect(h["n1"], _peer(c, "n2"))  # n2's answers on n1's connection
    assert _can_connect(h["n3"], _peer(c, "n1"))  # other links untouched
    assert _can_connect(h["n2"], _peer(c, "n3"))
    assert _can_connect("127.0.0.1", _client(c, "n1"))  # clients on the host untouched
    assert _can_connect(h["n2"], _client(c, "n1"))  # only peer ports are cut

    c.partition({"n3": {"n1", "n2"}})  # replaces the earlier partition
    assert _can_connect(h["n2"], _peer(c, "n1"))
    assert not _can_connect(h["n1"], _peer(c, "n3"))
    assert not _can_connect(h["n2"], _peer(c, "n3"))

    c.heal_network()
    for a in c.nodes:
        for b in c.nodes:
            if a != b:
                assert _can_connect(h[a], _peer(c, b)), (a, b)


@pytest.mark.timeout(60)
def test_teardown_removes_the_chain_and_the_jump(net_cluster):
    c = net_cluster
    c.partition({"n1": {"n2", "n3"}})
    chain = c._chain
    assert chain in _iptables_input()
    c.teardown()
    assert chain not in _iptables_input()
    r = subprocess.run(["iptables", "-w", "-S", chain], capture_output=True, text=True)
    assert r.returncode != 0  # the chain itself is gone


def test_partition_rules_name_only_this_clusters_addresses_and_ports():
    c = LocalCluster("paxlab-test-lorules", 3, faketime=False)
    try:
        rules = c._partition_rules({"n1": {"n2", "n1"}, "n3": set()})
        a, b = c.config.node(0), c.config.node(1)
        assert rules == [
            f"-A {c._chain} -s {b.host}/32 -d {a.host}/32 -p tcp --dport {a.peer_port} -j DROP",
            f"-A {c._chain} -s {b.host}/32 -d {a.host}/32 -p tcp --sport {b.peer_port} -j DROP",
        ]
    finally:
        c.teardown()


def test_without_iptables_partition_is_refused_up_front(monkeypatch):
    monkeypatch.setitem(local._probe_cache, "iptables", "partitions on the local backend need root")
    c = LocalCluster("paxlab-test-lonoroot", 3, faketime=False)
    try:
        assert "partition" not in c.capabilities()
        with pytest.raises(Unsupported, match="need root"):
            c.partition({"n1": {"n2"}})
        with pytest.raises(Unsupported):
            c.require("partition")
    finally:
        c.teardown()
