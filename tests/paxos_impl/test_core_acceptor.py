"""Acceptor rules, persist-then-send, message validation and recovery of one replica."""

import copy
import random

import pytest

from paxos_impl.acceptor import Acceptor
from paxos_impl.config import local_config
from paxos_impl.core import Replica
from paxos_impl.messages import ProtocolError

W = [{"op": "write", "key": "k", "value": 1, "client_id": "c", "seq": 1}]


def replica(i=1, n=3, **kw):
    return Replica(i, local_config(n, **kw), random.Random(i))


def prepare(r, first=1, to=None):
    return {"type": "prepare", "ballot": [r, 0], "from": first, "to": to}


def accept(r, entries, commit=0):
    return {"type": "accept", "ballot": [r, 0], "entries": entries, "commit": commit}


# -- the acceptor alone -----------------------------------------------------------------------
def test_promise_only_upwards_and_accept_respects_promise():
    a = Acceptor()
    assert a.prepare((2, 0), 1, None) == {"t": "promise", "ballot": [2, 0], "slot": None}
    assert a.prepare((1, 5), 1, None) is None  # lower ballot: refused
    slots, rec = a.accept((1, 5), [[1, W]])
    assert slots == [] and rec is None
    slots, rec = a.accept((2, 0), [[1, W], [2, []]])
    assert slots == [1, 2] and rec == {
        "t": "accept",
        "ballot": [2, 0],
        "entries": [[1, W], [2, []]],
    }
    assert a.report(2, None) == [[2, [2, 0], []]]


def test_per_slot_promise_binds_only_its_slot():
    a = Acceptor()
    assert a.prepare((3, 1), 5, 5)["slot"] == 5
    assert a.accept((2, 0), [[5, W]], raise_promise=False)[0] == []
    assert a.accept((2, 0), [[6, W]], raise_promise=False)[0] == [6]
    assert a.promised < (2, 0)  # masterless accepts do not raise the global promise


def test_restore_and_compact():
    a = Acceptor()
    recs = [a.prepare((2, 0), 1, None), a.accept((2, 0), [[1, W], [2, W]])[1]]
    b = Acceptor()
    for rec in recs:
        b.restore(rec)
    assert b.promised == (2, 0) and b.accepted == a.accepted
    b.compact(1)
    assert list(b.accepted) == [2] and b.accept((9, 9), [[1, W]])[0] == []
    assert Acceptor.load(b.dump()).accepted == b.accepted


# -- one replica: persist-then-send and rejections ------------------------------------------------
def test_promise_is_persisted_in_the_same_ready_as_the_message():
    r = replica()
    ready = r.on_message(0, prepare(5), 0.0)
    assert {"t": "promise", "ballot": [5, 0], "slot": None} in ready.persist
    (dst, m), *_ = ready.messages
    assert dst == 0 and m["type"] == "promise" and m["ballot"] == [5, 0]


def test_stale_prepare_and_accept_are_rejected_with_the_higher_ballot():
    r = replica()
    r.on_message(2, {"type": "prepare", "ballot": [7, 2], "from": 1, "to": None}, 0.0)
    ready = r.on_message(0, prepare(5), 0.1)
    assert ready.persist == [] and ready.messages == [
        (0, {"type": "nack", "ballot": [7, 2], "slot": None})
    ]
    ready = r.on_message(0, accept(5, [[1, W]]), 0.2)
    assert ready.persist == []
    assert ready.messages[0][1]["type"] == "nack" and ready.messages[0][1]["ballot"] == [7, 2]


def test_accept_is_persisted_before_it_is_acknowledged():
    r = replica()
    ready = r.on_message(0, accept(1, [[1, W], [2, []]]), 0.0)
    assert ready.persist == [{"t": "accept", "ballot": [1, 0], "entries": [[1, W], [2, []]]}]
    assert ready.messages == [
        (0, {"type": "accepted", "ballot": [1, 0], "slots": [1, 2], "commit": 0})
    ]


def test_volatile_acceptor_bug_persists_nothing():
    r = replica(bugs=["volatile-acceptor"])
    assert r.on_message(0, prepare(5), 0.0).persist == []
    assert r.on_message(0, accept(5, [[1, W]]), 0.0).persist == []


@pytest.mark.parametrize(
    "msg",
    [
        None,
        [],
        {"type": "teleport"},
        {"type": "prepare", "ballot": [1], "from": 1, "to": None},
        {"type": "prepare", "ballot": [1, 0], "from": 0, "to": None},
        {"type": "prepare", "ballot": ["1", 0], "from": 1, "to": None},
        {"type": "accept", "ballot": [1, 0], "entries": [[1, "not a batch"]], "commit": 0},
        {"type": "accept", "ballot": [1, 0], "entries": [[1, [{"op": "rm"}]]], "commit": 0},
        {"type": "accept", "ballot": [1, 0], "entries": [[1, W]]},
        {"type": "learn", "entries": [[-3, W]], "commit": 0},
        {"type": "heartbeat_ok", "ballot": [1, 0], "round": 1, "commit": 0, "lease": "yes"},
        {"type": "snapshot", "snap": {"applied": 3}},
        {"type": "snapshot", "snap": {"applied": 3, "sm": {"kv": [[["k"], 1]], "dedup": {}}}},
        {"type": "snapshot", "snap": {"applied": 3, "sm": {"kv": [], "dedup": {"c": 5}}}},
        {"type": "catchup", "from": True},
    ],
)
def test_malformed_messages_raise_protocol_error_and_change_nothing(msg):
    r = replica()
    r.on_message(0, accept(1, [[1, W]], commit=0), 0.0)
    before = (copy.deepcopy(r.acc.dump()), r.status(), dict(r.chosen))
    with pytest.raises(ProtocolError):
        r.on_message(0, msg, 1.0)
    assert (r.acc.dump(), r.status(), dict(r.chosen)) == before


def test_message_from_unknown_node_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="unknown node"):
        replica().on_message(7, prepare(1), 0.0)


def test_bad_client_request_gets_bad_request():
    r = replica()
    ready = r.on_client_request("h", {"op": "write", "key": "k", "value": 1}, 0.0)
    ((h, rep),) = ready.replies
    assert h == "h" and rep["ok"] is False and rep["error"] == "bad_request"


# -- recovery ---------------------------------------------------------------------------------------
def test_recovery_rebuilds_promise_accepted_chosen_and_applied_state():
    r = replica()
    recs = []
    recs += r.on_message(0, prepare(4), 0.0).persist
    recs += r.on_message(0, accept(4, [[1, W], [2, []], [3, W]]), 0.0).persist
    # the leader says slots <= 2 are chosen: accepted at its ballot, so learned here
    hb = r.on_message(0, {"type": "heartbeat", "ballot": [4, 0], "commit": 2, "round": 1}, 0.1)
    assert hb.persist == [] and hb.next_tick is not None  # chosen records wait for a tick
    recs += r.on_tick(hb.next_tick).persist
    assert {"t": "chosen", "entries": [[1, W], [2, []]]} in recs
    assert r.commit_index == 2 and r.sm.read("k") == 1
    back = Replica(1, r.cfg, random.Random(9), None, recs)
    assert back.acc.promised == (4, 0)
    assert back.acc.accepted == r.acc.accepted
    assert back.commit_index == back.applied_index == 2 and back.sm.read("k") == 1
    # a stale leader is still refused after the restart
    assert back.on_message(2, accept(3, [[3, []]]), 1.0).messages[0][1]["type"] == "nack"


def test_recovery_from_snapshot_plus_later_records():
    r = replica(snapshot_every=2)
    snap, recs = None, []
    for ready in (
        r.on_message(0, accept(1, [[1, W], [2, []], [3, W]]), 0.0),
        r.on_message(0, {"type": "heartbeat", "ballot": [1, 0], "commit": 3, "round": 1}, 0.1),
        r.on_message(0, accept(1, [[4, []]]), 0.2),
    ):
        recs += ready.persist
        if ready.snapshot is not None:
            snap, recs = ready.snapshot, []
    assert snap is not None and snap["applied"] == 3
    back = Replica(1, r.cfg, random.Random(3), snap, recs)
    assert back.applied_index == 3 and back.snap_index == 3
    assert back.acc.accepted == {4: ((1, 0), [])}
    assert back.sm.read("k") == 1


def test_a_per_slot_accept_promises_its_ballot_so_a_lower_one_is_refused_after_it():
    # an accept at (11, 0) overtook its prepare; the owner's (0, 2) accept comes next
    a = Acceptor()
    assert a.accept((11, 0), [[7, []]], raise_promise=False)[0] == [7]
    assert a.accept((0, 2), [[7, ["x"]]], raise_promise=False)[0] == []
    assert a.accepted[7] == ((11, 0), [])
    assert a.prepare((5, 1), 7, 7) is None  # nor a promise below what it accepted
