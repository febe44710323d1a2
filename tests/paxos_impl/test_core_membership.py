"""Membership changes in the sans-IO core: learners, promotion, removal, refusals, recovery."""

from __future__ import annotations

from tests.support.bus import Bus
from tests.support.members import add_replica, change, members, restart_all


def _write(bus: Bus, i: int, key: str, value: int, seq: int, cid: str = "c") -> list[dict]:
    h = ("w", cid, seq)
    bus.request(i, h, "write", key=key, value=value, cid=cid, seq=seq)
    bus.run(0.5)
    return bus.answers(h)


def _grown(n_learners: int = 1, **kw) -> tuple[Bus, int]:
    bus = Bus(3, seed=1, **kw)
    bus.run(1.5)
    lead = bus.leader()
    for k in range(n_learners):
        add_replica(bus, 3 + k)
        assert change(bus, lead, 1 + k, "add", 3 + k)["ok"]
        bus.run(0.5)
    return bus, lead


def test_a_learner_gets_every_chosen_value_and_is_then_promoted_to_voter() -> None:
    bus, lead = _grown()
    assert members(bus, lead)["learners"] == [3]
    assert _write(bus, lead, "x", 1, 1) == [{"ok": True, "value": None}]
    bus.run(1.0)
    assert bus.r[3].sm.read("x") == 1
    assert bus.r[3].status()["role"] == "follower"
    assert change(bus, lead, 2, "promote", 3)["ok"]
    bus.run(0.5)
    view = members(bus, 3)
    assert view["voters"] == [0, 1, 2, 3] and view["learners"] == []
    assert _write(bus, lead, "x", 2, 2) == [{"ok": True, "value": None}]


def test_a_learner_never_counts_in_a_quorum() -> None:
    bus, lead = _grown(2)  # voters 0,1,2 and learners 3,4
    others = [i for i in (0, 1, 2) if i != lead]
    bus.cut.update(others)  # the leader and the two learners are 3 of 5 nodes, 1 of 3 voters
    assert _write(bus, lead, "y", 1, 1) in ([], [{"ok": False, "error": "timeout", "leader": None}])
    bus.run(4.0)
    assert all(bus.r[i].sm.read("y") is None for i in (3, 4))


def test_with_the_learner_quorum_bug_a_learner_is_counted() -> None:
    bus, lead = _grown(2, bugs=["learner-quorum"])
    bus.cut.update(i for i in (0, 1, 2) if i != lead)
    assert _write(bus, lead, "y", 1, 1) == [{"ok": True, "value": None}]


def test_a_removed_leader_hands_over_and_the_rest_go_on() -> None:
    bus, lead = _grown()
    assert change(bus, lead, 2, "promote", 3)["ok"]
    bus.run(0.5)
    assert change(bus, lead, 3, "remove", lead)["ok"]
    bus.run(2.0)
    new = bus.leader()
    assert new != lead and lead not in members(bus, new)["voters"]
    assert _write(bus, new, "z", 7, 1) == [{"ok": True, "value": None}]
    bus.run(3.0)  # the removed node never campaigns again
    assert bus.leader() == new and bus.r[lead].status()["role"] == "follower"


def test_refusals_are_definite_and_change_nothing() -> None:
    bus, lead = _grown()
    before = members(bus, lead)
    assert change(bus, lead, 2, "promote", 1)["error"] == "bad_request"  # a voter already
    assert change(bus, lead, 3, "remove", 9)["error"] == "bad_request"
    bus.cut.update(i for i in (0, 1, 2) if i != lead)
    bus.run(0.2)
    h = ("late", 1)
    # while a change is in flight (not chosen: the voters are cut off) a second is refused
    bus.request(lead, h, "reconfig", key=None, value={"action": "remove", "node": 3},
                cid="admin", seq=4)  # fmt: skip
    bus.request(lead, ("late", 2), "reconfig", key=None, value={"action": "promote", "node": 3},
                cid="admin2", seq=1)  # fmt: skip
    assert bus.answers(("late", 2))[0]["error"] == "reconfig_in_progress"
    assert members(bus, lead) == before


def test_a_change_that_leaves_no_live_quorum_is_refused() -> None:
    bus, lead = _grown()
    bus.cut.add(3)  # the learner is silent
    bus.run(1.0)
    ans = change(bus, lead, 2, "promote", 3)
    assert ans["error"] == "not_caught_up"


def test_a_masterless_cluster_refuses_changes() -> None:
    bus = Bus(3, seed=1, mode="masterless")
    bus.run(0.5)
    assert change(bus, 0, 1, "remove", 2)["error"] == "unsupported"


def test_membership_survives_a_restart_of_every_node() -> None:
    for every in (1000, 3):  # from the log's records, then from snapshots
        bus, lead = _grown(snapshot_every=every)
        assert change(bus, lead, 2, "promote", 3)["ok"]
        bus.run(0.5)
        for i in range(6):
            _write(bus, lead, "k", i, 10 + i)
        want = members(bus, lead)
        restart_all(bus, 4)
        for i in range(4):
            got = members(bus, i)
            assert (got["voters"], got["learners"]) == (want["voters"], want["learners"])
            assert bus.r[i].sm.read("k") == 5


def test_removing_a_live_voter_when_the_rest_are_down_is_refused_with_no_quorum() -> None:
    bus = Bus(5, seed=2)
    bus.run(1.5)
    lead = bus.leader()
    down = [i for i in range(5) if i != lead][:2]
    bus.cut.update(down)
    bus.run(1.0)  # the leader still has 3 of 5: it leads on
    victim = next(i for i in range(5) if i != lead and i not in down)
    ans = change(bus, lead, 1, "remove", victim)
    assert ans["error"] == "no_quorum"
    assert victim in members(bus, lead)["voters"]


def _shrunk_by_two(**kw) -> tuple[Bus, int, list[int], list[int]]:
    """Five voters, two of them removed (their replicas keep running): leader, the two
    voters that stay, the two nodes that left."""
    bus = Bus(5, seed=4, **kw)
    bus.run(1.5)
    lead = bus.leader()
    others = [i for i in range(5) if i != lead]
    gone = others[:2]
    for k, node in enumerate(gone):
        assert change(bus, lead, 1 + k, "remove", node)["ok"]
        bus.run(0.5)
    bus.run(1.0)
    lead = bus.leader()  # the same one, or one of the voters that stay
    voters = members(bus, lead)["voters"]
    assert sorted(voters + gone) == list(range(5))
    return bus, lead, [v for v in voters if v != lead], gone


def test_a_removed_node_never_counts_in_a_quorum() -> None:
    bus, lead, stay, _gone = _shrunk_by_two()
    bus.cut.update(stay)  # the leader is 1 of 3 voters; the two that left still run
    assert _write(bus, lead, "r", 1, 1) in ([], [{"ok": False, "error": "timeout", "leader": None}])


def test_with_the_removed_node_votes_bug_a_node_that_left_is_counted() -> None:
    bus, lead, stay, _gone = _shrunk_by_two(bugs=["removed-node-votes"])
    bus.cut.update(stay)
    assert _write(bus, lead, "r", 1, 1) == [{"ok": True, "value": None}]
