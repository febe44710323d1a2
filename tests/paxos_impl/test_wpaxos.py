"""WPaxos mode (paxos_impl/wpaxos.py): per-key owners, steals with phase 1, grid quorums.

Driven through the hand-cranked bus on real replicas (mode=wpaxos), so every assertion is
about what the sans-IO core asked to send, persist and answer. The zone settings' checks
(paxos_impl/config.py) are here too: they exist for this mode.
"""

from __future__ import annotations

import pytest

from paxos_impl.config import ConfigError, Grid, local_config
from paxos_impl.wpaxos import STEAL_AFTER, grid_of
from tests.support.bus import Bus

OK = {"ok": True, "value": None}


def _kv(b: Bus, key: str = "k") -> list[object]:
    return [r.sm.read(key) for r in b.r.values()]


def _sent(b: Bus, kind: str) -> list[tuple[int, int, dict]]:
    return [(s, d, m) for s, d, m in b.net if m["type"] == kind]


# -- zones and grid quorums ------------------------------------------------------------------
def test_zones_come_as_lists_a_count_or_a_string_and_every_node_is_in_exactly_one():
    assert local_config(9, zones=3).zones == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert local_config(5, zones=2).zones == [[0, 1, 2], [3, 4]]  # the first take the rest
    assert local_config(5, zones="0,1/2,3,4").zones == [[0, 1], [2, 3, 4]]
    assert local_config(3).zones == []
    for bad, why in (([[0, 1], [1, 2]], "exactly once"), (4, "within 1..3"), ("0,x", "node ids")):
        with pytest.raises(ConfigError, match=why):
            local_config(3, zones=bad)


def test_the_standard_grid_sizing_on_one_zone_is_two_majorities_and_on_three_is_local_q2():
    assert local_config(3, mode="wpaxos").grid() == Grid([[0, 1, 2]], 1, 2, 1, 2)
    assert local_config(5, mode="wpaxos").grid() == Grid([[0, 1, 2, 3, 4]], 1, 3, 1, 3)
    g = local_config(9, mode="wpaxos", zones=3).grid()
    assert (g.z1, g.n1, g.z2, g.n2) == (3, 2, 1, 2)  # Q2: 2 nodes of one zone
    assert g.q2({0, 1}) and not g.q2({0, 3})
    assert g.q1({0, 1, 3, 4, 6, 7}) and not g.q1({0, 1, 2, 3, 4, 5})
    g = local_config(9, mode="wpaxos", zones=3, zone_faults=1).grid()
    assert (g.z1, g.n1, g.z2, g.n2) == (2, 2, 2, 2)


def test_quorums_that_can_miss_each_other_are_refused_at_start_up_in_one_line():
    for sizes in ([3, 1, 1, 2], [2, 2, 1, 2]):
        with pytest.raises(ConfigError, match="can miss each other") as e:
            local_config(9, mode="wpaxos", zones=3, grid_sizes=sizes)
        assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="zone_faults"):
        local_config(9, mode="wpaxos", zones=3, zone_faults=3)
    local_config(9, mode="leader", zones=3, grid_sizes=[3, 1, 1, 2])  # other modes ignore it


def test_the_disjoint_quorums_bug_shrinks_q1_below_the_check():
    b = Bus(n=9, mode="wpaxos", zones=3, bugs=["wpaxos-quorums-disjoint"])
    g = grid_of(b.r[0])
    assert g.n1 == 1 and not g.intersect()
    assert b.cfg.grid().intersect()  # the configuration itself was fine


# -- the protocol -------------------------------------------------------------------------------
def test_a_request_for_an_unowned_key_steals_it_with_phase_1_then_commits():
    b = Bus(mode="wpaxos", wire=True)
    b.request(2, "h", "write", value=1)
    assert [d for _, d, m in _sent(b, "wp_prepare")] == [0, 1]  # (itself: in the same step)
    b.deliver()
    assert b.answers("h") == [OK]
    assert b.r[2].p.objs['"k"'].phase == 2
    assert _kv(b) == [1, 1, 1]


def test_a_live_owner_gets_the_others_requests_forwarded_until_they_steal_it():
    b = Bus(mode="wpaxos", wire=True)
    b.request(0, "h0", "write", value=0)
    b.deliver()
    for seq in range(1, STEAL_AFTER + 1):
        b.request(1, f"h{seq}", "write", value=seq, cid="d", seq=seq)
        assert _sent(b, "wp_fwd") and not _sent(b, "wp_prepare")
        b.deliver()
        assert b.answers(f"h{seq}") == [OK]
    b.request(1, "hs", "write", value=99, cid="d", seq=99)  # one too many: node 1 takes the key
    assert _sent(b, "wp_prepare")
    b.deliver()
    assert b.answers("hs") == [OK] and _kv(b) == [99, 99, 99]
    assert b.r[1].p.objs['"k"'].phase == 2 and b.r[0].p.objs['"k"'].phase == 0


def test_keys_have_owners_of_their_own_and_every_node_applies_every_key():
    b = Bus(n=5, mode="wpaxos", wire=True)
    for i in range(5):
        b.request(i, f"h{i}", "append", key=f"k{i}", value=[i], cid=f"c{i}")
    b.run(0.5)
    for i in range(5):
        assert b.answers(f"h{i}") == [OK]
        assert b.r[i].p.objs[f'"k{i}"'].phase == 2  # each node owns its own key
        assert _kv(b, f"k{i}") == [[i]] * 5


def _accepted_but_uncommitted(bugs: list[str]) -> Bus:
    """Node 1 owns k; its next append is accepted by every acceptor and answered, and node 1
    crashes before any commit leaves it; node 2 then takes the key over."""
    b = Bus(mode="wpaxos", bugs=bugs)
    b.request(1, "h0", "append", value=[0])
    b.deliver()
    b.request(1, "h", "append", value=[1], seq=2)
    while b.net:  # accepts and their answers, but no commit leaves node 1
        src, dst, m = b.net.pop(0)
        if m["type"] != "wp_commit" and dst in b.r:
            b.message(dst, src, m)
    assert b.answers("h") == [OK]  # acknowledged
    b.crash(1)
    b.run(1.0)  # long enough for node 1 to be presumed dead
    b.request(2, "h2", "append", value=[2], cid="d")
    b.run(1.0)
    assert b.answers("h2") == [OK]
    return b


def test_a_steal_keeps_a_value_the_last_owner_got_chosen_and_the_bug_loses_it():
    b = _accepted_but_uncommitted([])
    assert [b.r[i].sm.read("k") for i in (0, 2)] == [[0, 1, 2]] * 2
    b = _accepted_but_uncommitted(["wpaxos-steal-no-phase1"])
    assert [b.r[i].sm.read("k") for i in (0, 2)] == [[0, 2]] * 2  # the acknowledged 1 is gone
    # a steal that runs phase 1 but does not adopt what it reports loses it the same way
    b = _accepted_but_uncommitted(["skip-phase1-adopt"])
    assert [b.r[i].sm.read("k") for i in (0, 2)] == [[0, 2]] * 2


def test_phase_2_commits_inside_one_zone_on_nine_nodes():
    b = Bus(n=9, mode="wpaxos", zones=3)
    b.request(0, "h", "write", value=1)
    b.deliver()  # phase 1 needs every zone; done
    b.cut = set(range(2, 9))  # only nodes 0 and 1 (zone 0) still hear each other
    b.request(0, "h2", "write", value=2, seq=2)
    b.deliver()
    assert b.answers("h2") == [OK]


def test_a_retry_at_another_node_is_applied_once():
    b = Bus(mode="wpaxos")
    b.request(0, "h", "append", value=[7])
    b.deliver()
    b.request(2, "h-retry", "append", value=[7])  # same client and seq: a retry
    b.run(0.5)
    assert b.answers("h-retry") == [OK]
    assert _kv(b) == [[7]] * 3


def test_transactions_over_several_keys_are_refused_and_one_key_ones_go_through():
    b = Bus(mode="wpaxos")
    b.request(0, "h", "txn", key=None, value=[["append", "x", 1], ["r", "y", None]])
    (rep,) = b.answers("h")
    assert rep["error"] == "unsupported" and "one key" in rep["reason"]
    b.request(0, "h1", "txn", key=None, value=[["append", "x", 1], ["r", "x", None]], seq=2)
    b.run(0.5)
    assert b.answers("h1") == [{"ok": True, "value": [["append", "x", 1], ["r", "x", [1]]]}]


def test_a_restarted_node_re_executes_nothing_and_still_serves_its_keys():
    b = Bus(mode="wpaxos", snapshot_every=3)
    for seq in range(1, 6):
        b.request(0, f"h{seq}", "append", value=[seq], seq=seq)
        b.run(0.1)
    b.crash(0)
    b.restart(0)
    assert b.r[0].sm.read("k") == [1, 2, 3, 4, 5]
    assert b.r[0].p.objs['"k"'].done == 5
    b.request(0, "h6", "append", value=[6], seq=6)
    b.run(1.0)
    assert b.answers("h6") == [OK]
    assert _kv(b) == [[1, 2, 3, 4, 5, 6]] * 3


def test_a_node_that_missed_commits_catches_up_from_the_tips_gossip():
    b = Bus(mode="wpaxos")
    b.cut = {2}
    b.request(0, "h", "write", value=3)
    b.run(0.1)
    assert b.answers("h") == [OK] and b.r[2].sm.read("k") is None
    b.cut = set()
    b.run(0.5)
    assert _kv(b) == [3, 3, 3]


@pytest.mark.parametrize(
    "m",
    [
        {"type": "wp_accept", "ballot": [1, 0], "obj": '"k"', "entries": [[0, []]]},
        {"type": "wp_prepare", "ballot": [1, 0], "obj": 7, "from": 1},
        {
            "type": "wp_promise",
            "ballot": [1, 0],
            "obj": '"k"',
            "from": 1,
            "entries": [[1]],
            "chosen": [],
        },  # fmt: skip
        {"type": "wp_tips", "obj": None, "tips": [['"k"', -1]]},
        {"type": "wp_fwd", "obj": '"k"', "cmds": [{"op": "write"}], "hops": 0},
        {"type": "wp_commit", "obj": '"k"', "entries": "x"},
    ],
)
def test_malformed_peer_messages_are_refused_and_the_node_keeps_serving(m):
    b = Bus(mode="wpaxos", wire=True)
    step = b.message(0, 1, m)
    assert step.refused and not step.messages and not step.persist
    b.request(0, "h", "write", value=1)
    b.deliver()
    assert b.answers("h") == [OK]
