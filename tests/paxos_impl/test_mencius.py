"""Mencius mode (paxos_impl/mencius.py): owner slots without phase 1, skips, revocation.

Driven through the hand-cranked bus on real replicas (mode=mencius), so every assertion is
about what the sans-IO core asked to send, persist and answer.
"""

from __future__ import annotations

from tests.support.bus import Bus


def _kv(b: Bus) -> list[object]:
    return [r.sm.read("k") for r in b.r.values()]


def _accepts(b: Bus, slot: int) -> list[dict]:
    return [m for _, _, m in b.net if m["type"] == "accept" and m["entries"][0][0] == slot]


def test_an_owner_writes_in_its_own_slot_without_phase_1_and_the_others_skip():
    b = Bus(mode="mencius", wire=True)
    b.request(2, "h", "write", value=1)
    (m, _) = _accepts(b, 2)  # slot 2 is node 2's (2 mod 3), at its owner ballot (0, 2)
    assert m["ballot"] == [0, 2]
    b.deliver()
    assert "prepare" not in b.types
    assert b.answers("h") == [{"ok": True, "value": None}]
    # node 1 gave up slot 1 (a skip): every replica applied slots 1 and 2
    assert [r.applied_index for r in b.r.values()] == [2, 2, 2]
    assert [r.chosen.get(1, r.sm.read("k")) for r in b.r.values()] == [[], [], []]
    assert _kv(b) == [1, 1, 1]


def test_writes_at_every_node_are_answered_and_applied_in_one_order():
    b = Bus(n=5, mode="mencius", wire=True)
    for i in range(5):
        b.request(i, f"h{i}", "append", value=[i], cid=f"c{i}")
    b.run(0.5)
    for i in range(5):
        assert b.answers(f"h{i}") == [{"ok": True, "value": None}]
    states = _kv(b)
    assert sorted(states[0]) == [0, 1, 2, 3, 4] and states == [states[0]] * 5


def test_a_dead_owner_s_blocking_slot_is_revoked_with_phase_1():
    b = Bus(mode="mencius", wire=True)
    b.crash(1)  # owns slots 1, 4, 7...: it never skips
    b.request(2, "h", "write", value=5)  # slot 2 is chosen but waits behind slot 1
    b.deliver()
    assert b.answers("h") == []
    b.run(2.0)
    assert "prepare" in b.types
    assert b.answers("h") == [{"ok": True, "value": None}]
    assert _kv(b) == [5, 5]


def _accepted_but_unlearned(bugs: list[str]) -> Bus:
    """Node 1 gets its write in slot 1 accepted by every acceptor, answers its client, and
    crashes before anybody else learns it; node 2 then writes in slot 2."""
    b = Bus(mode="mencius", bugs=bugs)
    b.request(1, "h", "append", value=[1])
    while b.net:  # accepts and their answers, but no learn leaves node 1
        src, dst, m = b.net.pop(0)
        if m["type"] != "learn" and dst in b.r:
            b.message(dst, src, m)
    assert b.answers("h") == [{"ok": True, "value": None}]  # acknowledged
    b.crash(1)
    b.request(2, "h2", "append", value=[2], cid="d")
    b.run(2.0)
    return b


def test_revocation_keeps_a_value_the_owner_got_chosen_and_the_bug_loses_it():
    b = _accepted_but_unlearned([])
    assert [b.r[i].sm.read("k") for i in (0, 2)] == [[1, 2], [1, 2]]
    b = _accepted_but_unlearned(["mencius-revoke-no-phase1"])
    assert [b.r[i].sm.read("k") for i in (0, 2)] == [[2], [2]]  # the acknowledged 1 is gone


def test_a_restarted_owner_never_reuses_a_slot_it_used_or_skipped():
    b = Bus(mode="mencius")
    b.request(0, "h", "write", value=1)  # node 0's first slot is 3; 1 and 2 get skipped
    b.deliver()
    b.request(2, "h2", "write", value=2, cid="d")  # slot 5 (node 2's next after its skip)
    b.deliver()
    used = b.r[0].p.next_own
    b.crash(0)
    b.restart(0)
    assert b.r[0].p.next_own >= used and b.r[0].p.next_own % 3 == 0
    b.request(0, "h3", "write", value=3, cid="e")
    b.run(0.5)
    assert b.answers("h3") == [{"ok": True, "value": None}]
    assert _kv(b) == [3, 3, 3]
