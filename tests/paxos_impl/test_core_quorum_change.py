"""Quorum sizes changed through the log (``reconfig quorum Q1 Q2``): in effect per slot,
refused when they would not overlap, reset by a change of the voters, durable."""

from __future__ import annotations

from paxos_impl.membership import Conf, Membership, is_dump
from tests.support.bus import Bus
from tests.support.members import add_replica, change, members, restart_all, set_quorums


def _write(bus: Bus, i: int, key: str, value: int, seq: int) -> list[dict]:
    h = ("w", key, seq)
    bus.request(i, h, "write", key=key, value=value, cid="c", seq=seq)
    bus.run(0.5)
    return bus.answers(h)


def _five(**kw) -> tuple[Bus, int]:
    bus = Bus(5, seed=3, **kw)
    bus.run(1.5)
    return bus, bus.leader()


def test_a_smaller_phase2_quorum_commits_where_a_majority_could_not() -> None:
    bus, lead = _five()
    others = [i for i in range(5) if i != lead]
    # majorities: the leader and one voter are 2 of 5, too few to commit
    bus.cut.update(others[1:])
    assert _write(bus, lead, "a", 1, 1) in ([], [{"ok": False, "error": "timeout", "leader": None}])
    bus.cut.clear()
    bus.run(2.0)
    lead = bus.leader()
    ans = set_quorums(bus, lead, 1, 4, 2)
    assert ans["ok"] and ans["value"]["quorums"] == [4, 2]
    bus.run(0.5)
    others = [i for i in range(5) if i != lead]
    bus.cut.update(others[1:])
    assert _write(bus, lead, "b", 2, 2) == [{"ok": True, "value": None}]
    for i in range(5):
        assert members(bus, i)["quorums"] == [4, 2]


def test_a_larger_phase1_quorum_is_needed_to_elect() -> None:
    bus, lead = _five()
    assert set_quorums(bus, lead, 1, 4, 2)["ok"]
    bus.run(0.5)
    others = [i for i in range(5) if i != lead]
    # the leader and one more voter on one side, three voters on the other: a majority,
    # but not the 4 promises phase 1 now needs, so nobody new is elected there
    bus.cut.add(lead)
    bus.cut.add(others[0])
    bus.run(4.0)
    assert all(bus.r[i].status()["role"] != "leader" for i in others[1:])
    bus.cut.clear()
    bus.run(3.0)
    assert bus.leader() is not None


def test_sizes_that_do_not_overlap_or_do_not_fit_are_refused() -> None:
    bus, lead = _five()
    before = members(bus, lead)
    ans = set_quorums(bus, lead, 1, 2, 3)
    assert ans["error"] == "bad_request" and "overlap" in ans["reason"]
    assert set_quorums(bus, lead, 2, 6, 1)["error"] == "bad_request"
    assert set_quorums(bus, lead, 3, 0, 5)["error"] == "bad_request"
    assert members(bus, lead) == before
    bus2, lead2 = _five(unsafe_quorums=True)
    assert set_quorums(bus2, lead2, 1, 2, 3)["ok"]  # permitted on purpose


def test_sizes_that_leave_no_live_quorum_are_refused() -> None:
    bus, lead = _five()
    bus.cut.add(next(i for i in range(5) if i != lead))
    bus.run(1.0)
    assert set_quorums(bus, lead, 1, 5, 1)["error"] == "no_quorum"
    assert set_quorums(bus, lead, 2, 4, 2)["ok"]


def test_a_new_learner_keeps_the_sizes_and_new_voters_go_back_to_majorities() -> None:
    bus, lead = _five()
    assert set_quorums(bus, lead, 1, 4, 2)["ok"]
    bus.run(0.5)
    add_replica(bus, 5)
    assert change(bus, lead, 2, "add", 5)["value"]["quorums"] == [4, 2]
    bus.run(1.0)
    view = change(bus, lead, 3, "promote", 5)["value"]
    assert view["voters"] == [0, 1, 2, 3, 4, 5] and view["quorums"] == [4, 4]


def test_sizes_survive_a_restart_of_every_node() -> None:
    for every in (1000, 3):  # from the log's records, then from snapshots
        bus, lead = _five(snapshot_every=every)
        assert set_quorums(bus, lead, 1, 2, 4)["ok"]
        for i in range(5):
            _write(bus, lead, "k", i, 10 + i)
        restart_all(bus, 5)
        for i in range(5):
            assert members(bus, i)["quorums"] == [2, 4]


def test_a_dump_written_before_sizes_were_kept_loads_with_the_files_sizes() -> None:
    m = Membership([0, 1, 2, 3, 4], 4, {}, (4, 2))
    old = {"confs": [[1, [0, 1, 2, 3, 4], []], [9, [0, 1, 2, 3], [4]]], "addrs": {}, "dedup": {}}
    assert is_dump(old)
    m.load(old)
    assert m.confs == [Conf(1, (0, 1, 2, 3, 4), (), 4, 2), Conf(9, (0, 1, 2, 3), (4,))]
    assert [m.quorums(c) for c in m.confs] == [(4, 2), (3, 3)]
    assert not is_dump({**old, "confs": [[1, [0], [], -1, 2]]})
