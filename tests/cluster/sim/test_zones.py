"""Zones and the wide-area latency matrix: the grouping the zones contract fixes, the
matrix's one-way delays on every link (nodes and clients), and one schedule per seed."""

import random

import pytest

from cluster.base import ClusterError
from cluster.sim.backend import SimCluster
from cluster.sim.network import LinkModel
from cluster.sim.runtime import SimNetwork
from cluster.sim.zones import PRESETS, ZoneError, latency_matrix, zone_groups, zone_of


@pytest.mark.parametrize(
    "spec, n, want",
    [
        (3, 9, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
        (2, 5, [[0, 1, 2], [3, 4]]),  # the first zones take the remainder
        (3, 5, [[0, 1], [2, 3], [4]]),
        ("3", 3, [[0], [1], [2]]),
        ("0,1,2/3,4,5/6,7,8", 9, [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
        ("0,4/1,2,3", 5, [[0, 4], [1, 2, 3]]),
        ([[2], [0, 1]], 3, [[2], [0, 1]]),
    ],
)
def test_zone_groups_follow_the_contract(spec, n, want):
    assert zone_groups(spec, list(range(n))) == want


@pytest.mark.parametrize(
    "spec, why",
    [
        (0, "within 1..3"),
        (4, "within 1..3"),
        ("0,1/1,2", "exactly once"),  # node 1 twice
        ("0,1", "exactly once"),  # node 2 in none
        ("a,b", "node ids"),
        (True, "zone count"),
    ],
)
def test_bad_zones_are_refused_in_one_line(spec, why):
    with pytest.raises(ZoneError, match=why):
        zone_groups(spec, [0, 1, 2])


def test_latency_matrix_from_preset_rows_and_lists():
    assert latency_matrix("wan3") == PRESETS["wan3"]
    assert latency_matrix("0.5,30/30,0.5") == [[0.5, 30.0], [30.0, 0.5]]
    assert latency_matrix([[1, 2], [3, 4]]) == [[1.0, 2.0], [3.0, 4.0]]
    for bad, why in (("wan9", "preset"), ("1,2/3", "square"), ([[1, -2], [0, 1]], "non-neg")):
        with pytest.raises(ZoneError, match=why):
            latency_matrix(bad)


def zoned_net(jitter: float = 0.1) -> SimNetwork:
    net = SimNetwork(random.Random(7), LinkModel(0.0005, 0.003), "udp")
    net.set_zones(zone_of(zone_groups(3, list(range(9)))), PRESETS["wan3"], jitter)
    return net


def test_every_node_pair_takes_its_zones_one_way_delay_with_jitter():
    net, m = zoned_net(), PRESETS["wan3"]
    z = zone_of(zone_groups(3, list(range(9))))
    for src in range(9):
        for dst in range(9):
            if src == dst:
                continue
            want = m[z[src]][z[dst]] / 1000
            got = [net.delays(src, dst)[0] for _ in range(50)]
            assert all(want <= d <= want * 1.1 + 1e-12 for d in got), (src, dst, got[:3])
            assert max(got) > min(got)  # jitter: not one fixed delay


def test_a_client_placed_in_a_zone_pays_the_matrix_to_far_nodes():
    net = zoned_net(jitter=0.0)
    net.place("client1", 2)
    assert net.delays("client1", 6) == [pytest.approx(0.0005)]  # its own zone
    assert net.delays("client1", 0) == [pytest.approx(0.040)]  # zone 2 -> zone 0
    assert net.delays(3, "client1") == [pytest.approx(0.070)]  # zone 1 -> zone 2
    net.unplace("client1")
    assert 0.0005 <= net.delays("client1", 0)[0] <= 0.003  # back on the default link


def test_distances_survive_healing_and_partitions_still_cut():
    net = zoned_net(jitter=0.0)
    net.partition([[0, 1, 2], [3, 4, 5, 6, 7, 8]])
    assert net.delays(0, 3) == [] and net.delays(0, 1) == [pytest.approx(0.0005)]
    net.heal()
    net.heal_links()
    assert net.delays(0, 3) == [pytest.approx(0.035)]


def test_sim_cluster_puts_nodes_and_their_clients_in_zones():
    c = SimCluster("z", 9, seed=3, latency="wan3")
    assert c.zones == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    c.setup()
    try:
        net = c.world.net
        assert all(0.070 <= net.delays(4, 7)[0] <= 0.077 for _ in range(20))  # zone 1 -> 2
        c.start("n5")  # (the client's node need not be up to place it)
        client = c.async_client("n5", "cl", timeout=1.0)  # node 4: zone 1
        assert 0.035 <= net.delays(client.name, 0)[0] <= 0.0385
        assert net.delays(client.name, 5)[0] <= 0.00055
    finally:
        c.teardown()


def test_sim_cluster_options_are_checked():
    assert SimCluster("z", 5, latency="wan3").zones == [[0, 1], [2, 3], [4]]
    assert SimCluster("z", 2, latency="wan3").zones == [[0], [1]]  # fewer nodes than zones
    assert SimCluster("z", 3).zones == []  # no latency: no zones, the default link
    for kw, why in (
        ({"latency": "moon"}, "preset"),
        ({"latency": "wan3", "jitter": -1}, "jitter"),
        ({"latency": "0.5,9/9,0.5", "zones": 3}, "3 zones but a 2-zone"),
    ):
        with pytest.raises(ClusterError, match=why):
            SimCluster("z", 6, **kw)


def test_one_seed_is_one_schedule_over_the_wide_area():
    def run(seed: int) -> tuple:
        c = SimCluster("z", 3, seed=seed, latency="wan3")
        c.record_messages = False
        c.setup()
        for n in c.nodes:
            c.start(n)
        c.run_for(3.0)
        w = c.world
        return w.steps, w.net.sent, tuple(w.leaders())

    assert run(5) == run(5)
    assert run(5) != run(6)
