"""Loopback partitions of the local backend, checked with real sockets and real iptables.

The store is not involved: a listener on each node's peer port, and connections opened by
child processes running with a node's group id (as that node's store does), show exactly
which traffic the rules drop, and that teardown leaves no rule behind.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import ExitStack

import pytest

from cluster import local
from cluster.base import Unsupported
from cluster.local import LocalCluster

PROBE = """
import socket, sys
for spec in sys.argv[1:]:
    host, port = spec.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(0.3)
    try:
        s.connect((host, int(port)))
        print(1)
    except OSError:
        print(0)
    finally:
        s.close()
"""


def _reach(gid: int | None, *dsts: tuple[str, int]) -> list[bool]:
    """Which dsts a process of group gid (as a store runs) can connect to."""
    r = subprocess.run(
        [sys.executable, "-c", PROBE, *(f"{h}:{p}" for h, p in dsts)],
        group=gid,
        extra_groups=[] if gid is not None else None,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return [x == "1" for x in r.stdout.split()]


def _iptables_output() -> str:
    return subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True, text=True).stdout


def _set_up(name: str, **opts) -> LocalCluster:
    """A local cluster whose partitions work here (else the test is skipped, with why)."""
    c = LocalCluster(name, 3, faketime=False, **opts)
    if "partition" not in c.capabilities():
        c.teardown()
        pytest.skip(local.probe_iptables() or "no partition capability")
    c.setup()
    return c


@pytest.fixture
def net_cluster():
    c = _set_up("paxlab-test-lonet")
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
    g = {n: c.gid(n) for n in c.nodes}
    n1, n2, n3 = (_peer(c, n) for n in c.nodes)
    assert _reach(g["n2"], n1, n3) == [True, True]

    c.partition({"n1": {"n2"}})  # n1 drops everything n2 sends it: both TCP directions die
    assert _reach(g["n2"], n1, n3, _client(c, "n1")) == [False, True, True]
    assert _reach(g["n1"], n2, n3) == [False, True]
    assert _reach(g["n3"], n1, n2) == [True, True]  # other links untouched
    assert _reach(None, n1, n2, n3) == [True, True, True]  # the controller is untouched

    c.partition({"n3": {"n1", "n2"}})  # replaces the earlier partition
    assert _reach(g["n2"], n1, n3) == [True, False]
    assert _reach(g["n1"], n2, n3) == [True, False]
    assert _reach(g["n3"], n1, n2) == [False, False]

    c.heal_network()
    for a in c.nodes:
        assert _reach(g[a], n1, n2, n3) == [True, True, True], a


@pytest.mark.timeout(60)
def test_loss_drops_what_a_node_sends_and_what_is_sent_to_it(net_cluster):
    c = net_cluster
    g = {n: c.gid(n) for n in c.nodes}
    n1, n2, n3 = (_peer(c, n) for n in c.nodes)
    assert "netem-loss" in c.capabilities() and "netem-delay" not in c.capabilities()
    c.netem("n1", loss=1.0)  # certain loss makes the effect deterministic
    assert _reach(g["n1"], n2, n3) == [False, False]
    assert _reach(g["n2"], n1, n3, _client(c, "n1")) == [False, True, False]
    assert _reach(None, _client(c, "n2")) == [True]
    c.netem("n2", loss=0.25)
    rules = subprocess.run(["iptables", "-w", "-S", c._loss_chain], capture_output=True, text=True)
    assert rules.stdout.count("--probability 0.25") == 2, rules.stdout
    with pytest.raises(Unsupported, match="cannot delay"):
        c.netem("n3", delay_ms=50)
    c.heal_netem()
    assert _reach(g["n1"], n2, n3) == [True, True]


@pytest.mark.timeout(60)
def test_teardown_removes_the_chains_and_the_jumps(net_cluster):
    c = net_cluster
    c.partition({"n1": {"n2", "n3"}})
    c.netem("n2", loss=0.5)
    chains = [c._chain, c._loss_chain]
    assert all(ch in _iptables_output() for ch in chains)
    c.teardown()
    for ch in chains:
        assert ch not in _iptables_output()
        r = subprocess.run(["iptables", "-w", "-S", ch], capture_output=True, text=True)
        assert r.returncode != 0  # the chain itself is gone


def test_partition_rules_name_only_this_clusters_addresses_and_ports():
    c = LocalCluster("paxlab-test-lorules", 3, faketime=False)
    try:
        rules = c._partition_rules({"n1": {"n2", "n1"}, "n2": {"n1"}, "n3": set()})
        a, b = c.config.node(0), c.config.node(1)
        assert rules == [
            f"-A {c._chain} -o lo -d {a.host}/32 -p tcp --dport {a.peer_port}"
            f" -m owner --gid-owner {c.gid('n2')} -j DROP",
            f"-A {c._chain} -o lo -d {b.host}/32 -p tcp --dport {b.peer_port}"
            f" -m owner --gid-owner {c.gid('n1')} -j DROP",
        ]
        assert len({c.gid(n) for n in c.nodes}) == 3
    finally:
        c.teardown()


def test_partition_rules_over_udp_also_drop_datagrams_one_way():
    c = LocalCluster("paxlab-test-loudp", 3, faketime=False, transport="udp")
    try:
        rules = c._partition_rules({"n1": {"n2"}})
        a = c.config.node(0)
        udp = [r for r in rules if "-p udp" in r]
        assert udp == [  # n1 drops what n2 sends it, and nothing else of UDP
            f"-A {c._chain} -o lo -d {a.host}/32 -p udp --dport {a.peer_port}"
            f" -m owner --gid-owner {c.gid('n2')} -j DROP"
        ]
        c._loss = {"n1": 0.5}
        assert any("-p udp" in r and str(a.peer_port) in r for r in c._loss_rules())
    finally:
        c.teardown()


def test_without_iptables_partition_is_refused_up_front(monkeypatch):
    monkeypatch.setitem(local._probe_cache, "iptables", "partitions on the local backend need root")
    c = LocalCluster("paxlab-test-lonoroot", 3, faketime=False)
    try:
        assert not {"partition", "netem-loss"} & c.capabilities()
        with pytest.raises(Unsupported, match="need root"):
            c.netem("n1", loss=0.5)
        with pytest.raises(Unsupported, match="need root"):
            c.partition({"n1": {"n2"}})
        with pytest.raises(Unsupported):
            c.require("partition")
    finally:
        c.teardown()


UDP_PROBE = """
import socket, sys
for spec in sys.argv[1:]:
    host, port = spec.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.sendto(b"probe", (host, int(port)))
        except PermissionError:  # the DROP rule refuses a local sender at once
            pass
"""


@pytest.mark.timeout(60)
def test_over_udp_a_grudge_drops_datagrams_one_way_and_heals():
    c = _set_up("paxlab-test-loudpnet", transport="udp")
    with ExitStack() as stack:
        inbox = {}
        for node in c.nodes:
            s = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            s.bind(_peer(c, node))
            s.settimeout(0.3)
            inbox[node] = s

        def arrives(sender: str, *dsts: str) -> list[bool]:
            subprocess.run(
                [sys.executable, "-c", UDP_PROBE, *(f"{h}:{p}" for h, p in map(
                    lambda d: _peer(c, d), dsts))],
                group=c.gid(sender), extra_groups=[], check=True, timeout=30,
            )  # fmt: skip
            got = []
            for d in dsts:
                try:
                    got.append(inbox[d].recv(64) == b"probe")
                except TimeoutError:
                    got.append(False)
            return got

        try:
            assert arrives("n2", "n1", "n3") == [True, True]
            c.partition({"n1": {"n2"}})  # n1 drops what n2 sends it; n1 -> n2 still flows
            assert arrives("n2", "n1", "n3") == [False, True]
            assert arrives("n1", "n2", "n3") == [True, True]
            c.heal_network()
            assert arrives("n2", "n1", "n3") == [True, True]
        finally:
            c.teardown()
