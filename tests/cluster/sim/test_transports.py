"""The simulated network models each peer transport: UDP loses, duplicates and reorders;
TCP keeps each link's order, never duplicates and loses only to a reset (a partition)."""

import random

from cluster.sim.backend import UDP_LINK, SimCluster
from cluster.sim.network import LinkModel
from cluster.sim.runtime import TCP_RTO, SimNetwork


def arrivals(net: SimNetwork, now: list[float], n: int = 2000) -> list[list[float]]:
    out = []
    for i in range(n):
        now[0] = i * 0.0001  # sends 0.1 ms apart, delays 1-5 ms: plenty of overtaking chances
        out.append([now[0] + d for d in net.delays(0, 1)])
    return out


def test_tcp_keeps_order_turns_loss_into_delay_and_loses_only_to_a_partition():
    now = [0.0]
    net = SimNetwork(random.Random(1), LinkModel(0.001, 0.005, drop=0.2, dup=0.5), "tcp",
                     lambda: now[0])  # fmt: skip
    got = arrivals(net, now)
    assert all(len(a) == 1 for a in got)  # never lost, never duplicated
    times = [a[0] for a in got]
    assert times == sorted(times)  # never overtaken on the link
    gaps = [t - i * 0.0001 for i, t in enumerate(times)]
    assert max(gaps) >= TCP_RTO  # a lost segment cost a retransmission timeout
    net.block(0, 1)
    assert net.delays(0, 1) == [] and net.delays(1, 0) != []  # the reset: that link only


def test_udp_loses_duplicates_and_reorders():
    now = [0.0]
    net = SimNetwork(random.Random(1), LinkModel(0.001, 0.005, drop=0.2, dup=0.2), "udp",
                     lambda: now[0])  # fmt: skip
    got = arrivals(net, now)
    assert 0.15 < sum(not a for a in got) / len(got) < 0.25
    assert any(len(a) == 2 for a in got)
    firsts = [a[0] for a in got if a]
    assert firsts != sorted(firsts)


def test_the_sim_backend_gives_udp_its_lossy_default_and_tcp_none():
    assert SimCluster("t", 3, transport="udp").link.drop == UDP_LINK[0] > 0
    assert SimCluster("t", 3, transport="udp").link.dup == UDP_LINK[1] > 0
    tcp = SimCluster("t", 3)
    assert (tcp.link.drop, tcp.link.dup) == (0.0, 0.0) and tcp.config.transport == "tcp"
    assert SimCluster("t", 3, transport="udp", drop=0.0).link.drop == 0.0  # as told
