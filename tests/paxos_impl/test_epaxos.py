"""EPaxos mode (paxos_impl/epaxos.py): fast and slow paths, execution order, recovery, restart.

Driven through the hand-cranked bus on real replicas (mode=epaxos), so every assertion is
about what the sans-IO core asked to send, persist and answer.
"""

from __future__ import annotations

import pytest

from paxos_impl.epaxos import fast_quorum
from paxos_impl.epaxos_exec import execution_order
from paxos_impl.messages import ProtocolError
from tests.support.bus import Bus


def _types(b: Bus) -> list[str]:
    return [m["type"] for _, _, m in b.net]


def _kv(b: Bus) -> list[object]:
    return [r.sm.read("k") for r in b.r.values()]


# -- execution order (pure graph) -------------------------------------------------------------
def test_execution_order_puts_dependencies_first_and_finds_a_cycle():
    graph = {"a": ["b"], "b": ["c"], "c": ["b", "d"], "d": []}
    order, missing = execution_order("a", lambda v: ("ready", graph[v]))
    assert missing == []
    assert order[0] == ["d"] and sorted(order[1]) == ["b", "c"] and order[2] == ["a"]


def test_execution_order_waits_for_an_uncommitted_dependency_unless_bugged():
    graph = {"a": ["b", "x"], "b": [], "x": []}

    def look(v):
        return ("wait", []) if v == "x" else ("ready", graph[v])

    assert execution_order("a", look) == (None, ["x"])
    order, _ = execution_order("a", look, skip_uncommitted=True)
    assert order == [["b"], ["a"]]  # the bug runs a before x commits


def test_execution_order_skips_what_was_executed_and_survives_long_chains():
    n = 5000  # deeper than Python's recursion limit
    order, _ = execution_order(0, lambda v: ("ready", [v + 1] if v < n else []))
    assert [c[0] for c in order] == list(range(n, -1, -1))
    assert execution_order(0, lambda v: ("done", [])) == ([], [])


def test_fast_quorum_is_n_minus_one_and_never_below_a_majority():
    assert [fast_quorum(n) for n in (1, 2, 3, 4, 5, 7)] == [1, 2, 2, 3, 4, 6]
    assert fast_quorum(5, bugged=True) == 2 and fast_quorum(3, bugged=True) == 1


# -- the protocol on the bus --------------------------------------------------------------------
def test_a_lone_command_commits_on_the_fast_path_in_one_round_trip():
    b = Bus(mode="epaxos")
    b.request(0, "h", "write", value=1)
    assert _types(b) == ["ep_preaccept", "ep_preaccept"]
    b.deliver()
    assert "ep_accept" not in b.types | set(_types(b))
    assert b.answers("h") == [{"ok": True, "value": None}]
    assert b.r[0].status()["role"] == "leader"  # every node serves its own clients
    b.run(0.1)
    assert _kv(b) == [1, 1, 1]


def test_conflicting_commands_take_the_slow_path_and_every_replica_orders_them_alike():
    b = Bus(n=5, mode="epaxos", wire=True)
    for i in range(5):  # five leaders, one key: every pair conflicts
        b.request(i, f"h{i}", "append", value=[i], cid=f"c{i}")
    b.run(1.0)
    assert "ep_accept" in b.types  # somebody saw a conflict its leader had not
    for i in range(5):
        assert b.answers(f"h{i}") == [{"ok": True, "value": None}]
    states = _kv(b)
    assert sorted(states[0]) == [0, 1, 2, 3, 4] and states == [states[0]] * 5


def test_reads_go_through_the_protocol_and_see_finished_writes():
    b = Bus(mode="epaxos")
    b.request(0, "w", "write", value="x")
    b.deliver()
    b.request(2, "r", "read", cid="d")
    assert _types(b)[-2:] == ["ep_preaccept", "ep_preaccept"]  # no local answer
    b.deliver()
    assert b.answers("r") == [{"ok": True, "value": "x"}]


def _drop_commits(b: Bus) -> None:
    """Deliver everything in flight except commits, which are lost."""
    while b.net:
        src, dst, m = b.net.pop(0)
        if m["type"] != "ep_commit" and dst in b.r:
            b.message(dst, src, m)


def test_replicas_that_missed_a_commit_recover_it_by_explicit_prepare():
    b = Bus(mode="epaxos", wire=True)
    b.request(0, "h", "append", value=[1])
    _drop_commits(b)
    assert b.answers("h") == [{"ok": True, "value": None}]
    b.crash(0)  # its leader is gone: nobody else knows it committed
    b.request(1, "h2", "append", value=[2], cid="d")  # depends on (0, 1)
    b.run(3.0)
    assert "ep_prepare" in b.types
    assert b.answers("h2") == [{"ok": True, "value": None}]
    assert [b.r[i].sm.read("k") for i in (1, 2)] == [[1, 2], [1, 2]]


def test_recovery_keeps_a_fast_committed_write_and_the_bug_loses_it():
    for bug, kept in (([], True), (["epaxos-recovery-ignores-preaccept"], False)):
        b = Bus(mode="epaxos", bugs=bug)
        b.request(0, "h", "write", value=1)
        _drop_commits(b)
        assert b.answers("h") == [{"ok": True, "value": None}]  # acknowledged: fast path
        b.crash(0)
        b.request(1, "r", "read", cid="d")
        b.run(3.0)
        assert b.answers("r") == [{"ok": True, "value": 1 if kept else None}], bug


def test_a_restarted_replica_rebuilds_its_instances_and_state():
    b = Bus(mode="epaxos", snapshot_every=3)
    for s in range(1, 6):
        b.request(s % 3, f"h{s}", "append", value=[s], cid=f"c{s}", seq=s)
        b.run(0.2)
    before = b.r[1].sm.read("k")
    b.crash(1)
    b.restart(1)
    b.run(0.5)
    assert b.r[1].sm.read("k") == before and sorted(before) == [1, 2, 3, 4, 5]
    b.request(1, "n", "append", value=[6], cid="n")
    b.run(0.5)
    assert b.answers("n") == [{"ok": True, "value": None}]
    assert _kv(b) == [before + [6]] * 3


@pytest.mark.parametrize(
    "msg",
    [
        {"type": "ep_preaccept", "ballot": [0, 1], "inst": [1, 0], "cmds": [], "seq": 1,
         "deps": []},
        {"type": "ep_commit", "inst": [1, 1], "cmds": "x", "seq": 1, "deps": []},
        {"type": "ep_prepare_ok", "ballot": [1, 1], "inst": [1, 1], "ok": True, "status": 9,
         "vballot": [0, 1], "cmds": [], "seq": 0, "deps": [], "eq": False},
        {"type": "ep_accept_ok", "ballot": [1, 1], "inst": [1, 1], "ok": "yes"},
    ],
)  # fmt: skip
def test_malformed_epaxos_messages_are_refused_before_any_state_changes(msg):
    b = Bus(mode="epaxos")
    with pytest.raises(ProtocolError):
        b.r[0].on_message(1, msg, 0.0)
    assert b.r[0].p.inst == {}
