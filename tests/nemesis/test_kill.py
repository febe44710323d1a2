"""The kill nemesis: whom each kind picks, and that every killed node comes back with the bugs."""

from __future__ import annotations

import pytest

from controller.virtual_loop import run_virtual
from nemesis.kill import KillNemesis, pick_nodes
from tests.support.fakes import fault_context, started

NODES = ["n1", "n2", "n3", "n4", "n5"]


@pytest.mark.parametrize(
    "kind,count", [("one", 1), ("minority", 2), ("majority", 3), ("all", 5), ("leader", 1)]
)
def test_each_kind_picks_that_many_nodes_in_node_order(kind, count):
    c = started(5)
    for seed in range(10):
        victims, _ = run_virtual(pick_nodes(kind, fault_context(c, seed)))
        assert len(victims) == count == len(set(victims))
        assert victims == sorted(victims, key=NODES.index)


def test_leader_and_majority_aim_at_the_leader_when_it_is_known():
    c = started(5)
    c.kill("n1")  # n2 leads the rest in the fake store
    for kind in ("leader", "majority"):
        victims, extra = run_virtual(pick_nodes(kind, fault_context(c, 3)))
        assert "n2" in victims and extra["leader_known"] is True


def test_without_a_leader_the_victim_is_random_and_says_so():
    c = started(3)
    c.partition({"n1": {"n2", "n3"}, "n2": {"n1", "n3"}, "n3": {"n1", "n2"}})  # nobody leads
    picked = set()
    for seed in range(20):
        victims, extra = run_virtual(pick_nodes("leader", fault_context(c, seed)))
        assert extra["leader_known"] is False
        picked |= set(victims)
    assert picked == {"n1", "n2", "n3"}


def test_two_starts_then_one_stop_restart_each_victim_once_with_the_bugs():
    c = started(5)
    nem = KillNemesis(["one"])
    fx = fault_context(c, 1)
    first = run_virtual(nem.start("one", fx))["nodes"]
    second = run_virtual(nem.start("minority", fx))["nodes"]
    killed = set(first) | set(second)
    assert not any(c.is_running(n) for n in killed)
    out = run_virtual(nem.stop(fx))
    assert sorted(out["restarted"]) == sorted(killed)
    starts = [x for x in c.calls if x[0] == "start" and x[1] in killed]
    assert len(starts) - len(killed) == len(killed)  # start_all once, then once each here
    assert all(bugs == ("early-ack",) for _, _, bugs in starts[-len(killed) :])
    assert all(c.is_running(n) for n in NODES)
