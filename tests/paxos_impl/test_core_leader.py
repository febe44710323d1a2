"""Leader-mode proposer: election, phase 1 adoption, pipelined and batched phase 2, commit,
redirects, reads by each route, catch-up and the bug switches that live in the leader.

A hand-cranked bus delivers messages instantly (or not at all) so each test controls exactly
which messages arrive.
"""

import random

import pytest

from paxos_impl.core import Replica
from tests.support.bus import Bus


def test_one_leader_is_elected_and_status_reports_it():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    for i, r in b.r.items():
        st = r.status()
        assert set(st) >= {"id", "role", "leader", "ballot", "commit_index", "applied_index"}
        assert st["id"] == i and st["leader"] == ld and st["mode"] == "leader"
        assert st["read_mode"] == "log"


def test_follower_redirects_to_the_leader():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    f = (ld + 1) % 3
    b.request(f, "h", "write", value=1)
    assert b.answers("h") == [{"ok": False, "error": "not_leader", "leader": ld}]


def test_write_is_answered_only_after_a_phase2_quorum_and_then_everywhere_applied():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    ready = b.request(ld, "h", "write", value=42)
    assert ready.replies == []
    accepts = [(d, m) for d, m in ready.messages if m["type"] == "accept"]
    assert {d for d, _ in accepts} == {0, 1, 2} - {ld}
    assert ready.persist and ready.persist[0]["t"] == "accept"  # the leader's own acceptance
    b.deliver()
    assert b.answers("h") == [{"ok": True, "value": None}]
    b.run(0.2)  # heartbeats carry the commit index to the followers
    assert all(r.sm.read("k") == 42 for r in b.r.values())


def test_no_answer_without_a_quorum():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    b.cut = {i for i in range(3) if i != ld}
    b.request(ld, "h", "write", value=1)
    b.deliver()
    assert b.answers("h") == []


def test_early_ack_bug_answers_before_any_follower_accepted():
    b = Bus(bugs=["early-ack"])
    b.run(1.0)
    ld = b.leader()
    ready = b.request(ld, "h", "write", value=1)
    assert (("h", {"ok": True, "value": None})) in ready.replies


def test_pipelining_keeps_max_inflight_slots_and_batches_the_rest():
    b = Bus(max_inflight=2, max_batch=3)
    b.run(1.0)
    ld = b.leader()
    b.cut = {i for i in range(3) if i != ld}
    slots = []
    for s in range(1, 9):
        ready = b.request(ld, f"h{s}", "append", value=s, cid=f"c{s}")
        for _, m in ready.messages:
            if m["type"] == "accept":
                slots += [e[0] for e in m["entries"]]
    assert len(set(slots)) == 2  # the window is full: 6 commands wait in the queue
    b.cut = set()
    b.net.clear()
    b.run(1.0)  # retransmission and batching drain the queue
    r = b.r[ld]
    assert r.sm.read("k") == list(range(1, 9))
    assert r.commit_index <= 2 + 2 + 1  # 8 commands in at most 5 slots: batched
    batches = [len(v) for v in r.chosen.values()]
    assert max(batches) == 3


def test_new_leader_adopts_highest_ballot_value_and_fills_holes_with_noops():
    b = Bus(n=5)  # phase-1 quorum of 3: itself and the two promises below
    r0 = b.r[0]
    b.tick(0, at=10.0)  # election timeout: 0 campaigns
    prep = next(m for _, d, m in b.net if m["type"] == "prepare" and d == 1)
    bal = prep["ballot"]
    b.net.clear()
    old = [{"op": "write", "key": "k", "value": "old", "client_id": "a", "seq": 1}]
    new = [{"op": "write", "key": "k", "value": "new", "client_id": "b", "seq": 1}]
    promise = {
        "type": "promise",
        "ballot": bal,
        "from": 1,
        "to": None,
        "entries": [[1, [1, 1], old], [3, [1, 1], old]],
        "chosen": [],
        "snap": 0,
        "commit": 0,
    }
    b.message(0, 1, promise)
    promise2 = dict(promise, entries=[[1, [2, 2], new]])
    ready = b.message(0, 2, promise2)
    assert r0.status()["role"] == "leader"
    acc = next(m for _, m in ready.messages if m["type"] == "accept")
    assert acc["entries"] == [[1, new], [2, []], [3, old]]


def test_skip_phase1_adopt_bug_ignores_reported_values():
    b = Bus(n=3, bugs=["skip-phase1-adopt"])
    r0 = b.r[0]
    b.tick(0, at=10.0)
    bal = next(m for _, _, m in b.net if m["type"] == "prepare")["ballot"]
    old = [{"op": "write", "key": "k", "value": "old", "client_id": "a", "seq": 1}]
    promise = {
        "type": "promise",
        "ballot": bal,
        "from": 1,
        "to": None,
        "entries": [[1, [1, 1], old]],
        "chosen": [],
        "snap": 0,
        "commit": 0,
    }
    b.message(0, 1, promise)
    assert r0.status()["role"] == "leader"
    b.request(0, "h", "write", value="mine")
    acc = [m for _, _, m in b.net if m["type"] == "accept"]
    assert acc[-1]["entries"][0][0] == 1  # slot 1 reused for a new value


def test_deposed_leader_steps_down_on_a_higher_ballot():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    other = (ld + 1) % 3
    b.cut = {ld}
    b.run(2.0)
    assert b.r[other].status()["role"] in ("leader", "follower")
    new = [i for i in range(3) if i != ld and b.r[i].status()["role"] == "leader"]
    assert len(new) == 1
    b.cut = set()
    b.run(2.0)  # the old leader may disrupt once with its higher rounds, then all agree
    now = b.leader()
    assert {r.status()["leader"] for r in b.r.values()} == {now}
    assert b.r[ld].status()["ballot"] == b.r[now].status()["ballot"]


def test_retried_write_is_answered_from_the_dedup_table_without_a_new_slot():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    b.request(ld, "h1", "append", value=1)
    b.deliver()
    commit = b.r[ld].commit_index
    ready = b.request(ld, "h2", "append", value=1)  # same client id and seq
    assert ready.replies == [("h2", {"ok": True, "value": None})]
    assert not [m for _, m in ready.messages if m["type"] == "accept"]
    assert b.r[ld].commit_index == commit and b.r[ld].sm.read("k") == [1]


def test_request_times_out_when_nothing_can_be_decided():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    b.cut = {i for i in range(3) if i != ld}
    b.request(ld, "h", "write", value=1)
    b.run(b.cfg.timeouts.request_ms / 1000 + 0.1)
    assert {"ok": False, "error": "timeout", "leader": None} in b.answers("h")


@pytest.mark.parametrize("mode", ["quorum", "lease"])
def test_quorum_and_lease_reads_write_nothing_to_the_log(mode):
    b = Bus(read_mode=mode)
    b.run(2.0)  # under leases a fresh node promises nobody for lease_ms
    ld = b.leader()
    b.request(ld, "w", "write", value=7)
    b.run(0.3)
    commit = b.r[ld].commit_index
    ready = b.request(ld, "r", "read", seq=2)
    assert not [m for _, m in ready.messages if m["type"] == "accept"]
    if mode == "lease":  # the lease is held: answered at once, no messages
        assert ready.replies == [("r", {"ok": True, "value": 7})]
    else:
        assert ready.replies == []
        assert any(m["type"] == "heartbeat" for _, m in ready.messages)
        b.deliver()
        assert b.answers("r") == [{"ok": True, "value": 7}]
    assert b.r[ld].commit_index == commit


def test_quorum_read_is_not_answered_by_a_leader_cut_off_from_its_quorum():
    b = Bus(read_mode="quorum")
    b.run(1.0)
    ld = b.leader()
    b.cut = {i for i in range(3) if i != ld}
    b.request(ld, "r", "read")
    b.deliver()
    assert b.answers("r") == []


def test_local_read_bug_lets_a_follower_answer_from_its_own_state():
    b = Bus(bugs=["local-read"])
    b.run(1.0)
    f = (b.leader() + 1) % 3
    ready = b.request(f, "r", "read")
    assert ready.replies == [("r", {"ok": True, "value": None})]


def test_lagging_follower_catches_up_from_the_log_and_then_from_a_snapshot():
    b = Bus(snapshot_every=5)
    b.run(1.0)
    ld = b.leader()
    lag = (ld + 1) % 3
    b.cut = {lag}
    for s in range(1, 13):
        b.request(ld, f"h{s}", "append", value=s, seq=s)
        b.run(0.01)
    assert b.r[ld].status()["snapshot_index"] >= 5  # the prefix the laggard needs is gone
    b.cut = set()
    b.run(1.5)
    r = b.r[lag]
    assert r.applied_index == b.r[ld].applied_index
    assert r.sm.read("k") == list(range(1, 13))


def test_restarted_node_recovers_and_catches_up():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    f = (ld + 1) % 3
    b.request(ld, "h1", "write", value=1)
    b.run(0.2)
    b.r[f] = Replica(f, b.cfg, random.Random(5), None, list(b.disk[f]))
    assert b.r[f].sm.read("k") == 1  # recovered from its own records
    b.start(f)
    b.request(ld, "h2", "write", value=2, seq=2)
    b.run(0.5)
    assert b.r[f].sm.read("k") == 2


def test_single_node_cluster_elects_itself_and_serves():
    b = Bus(n=1)
    b.run(0.1)
    b.request(0, "h", "write", value=3)
    b.deliver()
    assert b.answers("h") == [{"ok": True, "value": None}]


def test_masterless_every_node_serves_and_all_agree():
    b = Bus(mode="masterless")
    b.run(0.2)
    for i in range(3):
        b.request(i, f"h{i}", "append", value=i, cid=f"c{i}")
    b.run(1.0)
    for i in range(3):
        assert b.answers(f"h{i}") == [{"ok": True, "value": None}]
    states = [sorted(r.sm.read("k")) for r in b.r.values()]
    assert states == [[0, 1, 2]] * 3
    assert {r.status()["role"] for r in b.r.values()} == {"leader"}


def test_leader_keeps_heartbeating_after_its_clock_jumps_back():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    r = b.r[ld]
    # from now on the leader's clock reads 100 s behind everyone else's
    ready = r.on_tick(b.now - 100.0)
    assert ready.next_tick is not None and ready.next_tick <= b.now - 100.0 + 0.1
    hb = [m for _, m in r.on_tick(b.now - 100.0 + 0.06).messages if m["type"] == "heartbeat"]
    assert hb


def test_far_behind_candidate_catches_up_before_it_proposes():
    b = Bus(snapshot_every=1000)
    b.run(1.0)
    ld = b.leader()
    lag = (ld + 1) % 3
    b.cut = {lag}
    for s in range(1, 151):  # more chosen slots than one promise carries
        b.request(ld, f"h{s}", "append", value=[s], seq=s)
        b.deliver()
    b.cut = set()
    r = b.r[lag]
    b.tick(lag, at=b.now + 5.0)  # it campaigns before hearing from the leader
    b.run(1.0)
    assert r.status()["role"] == "leader"
    assert r.sm.read("k") == list(range(1, 151))
    b.request(lag, "n", "append", value=["new"], cid="n")
    b.run(0.3)
    assert all(x.sm.read("k") == [*range(1, 151), "new"] for x in b.r.values())


def _heartbeats_during_load(b, leader, seconds, start_seq):
    """Drive a write every 10 ms at the leader; count the heartbeats it sends meanwhile."""
    sent = []
    event = b.event

    def counting(i, ev):
        step = event(i, ev)
        sent.extend(m for _, m in step.messages if i == leader and m["type"] == "heartbeat")
        return step

    b.event = counting
    try:
        for k in range(int(seconds / 0.01)):
            b.request(leader, ("load", start_seq + k), "write", value=k, cid="load",
                      seq=start_seq + k)  # fmt: skip
            b.run(0.01)
    finally:
        b.event = event
    return len(sent)


def test_a_busy_leader_heartbeats_only_while_a_peer_is_silent():
    """Accepts answered by every peer do a heartbeat's work; while any peer stays silent the
    heartbeats go out as usual (they carry the nacks that depose a stale leader)."""
    b = Bus(n=5)
    b.run(1.0)
    ld = b.leader()
    busy = _heartbeats_during_load(b, ld, 0.5, start_seq=1)
    assert busy <= 1  # at most the round already due when the load began
    b.cut.add(next(i for i in b.r if i != ld))  # one follower falls silent
    silent = _heartbeats_during_load(b, ld, 0.5, start_seq=1000)
    assert silent >= 5  # every 50 ms, load or not
    assert b.leader() == ld  # four of five still answer: it keeps leading
