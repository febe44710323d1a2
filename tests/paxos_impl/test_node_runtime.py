"""The node runtime (paxos_impl.runtime): the one consumer of the core's Ready.

Its transport, timer and disk are fakes here (the asyncio node and the simulator are its real
hosts, tested elsewhere); the core is a scripted stand-in where a test needs a Ready the real
core would not produce, and the real Replica where the protocol matters.
"""

import random

import pytest

from paxos_impl.config import local_config
from paxos_impl.core import ProtocolError, Ready, Replica
from paxos_impl.runtime import BAD_REQUEST, TIMEOUT, Fatal, NodeRuntime
from paxos_impl.storage import encode_record
from tests.support.runtime_io import RecordingIO


class Scripted:
    """A core that answers each event with the Ready the test queued for its kind."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []
        self.out: dict[str, list[Ready]] = {}

    def _next(self, kind, *args):
        self.seen.append((kind, *args))
        todo = self.out.get(kind)
        return todo.pop(0) if todo else Ready()

    def start(self, now):
        return self._next("start", now)

    def on_tick(self, now):
        return self._next("tick", now)

    def on_message(self, src, msg, now):
        if msg.get("bad"):
            raise ProtocolError("bad message")
        if msg.get("boom"):
            raise KeyError("core bug")
        return self._next("peer", src, msg["type"])

    def on_client_request(self, handle, req, now):
        if req.get("bad"):
            raise ProtocolError("bad request")
        return self._next("client", handle)


def _runtime(core, io, **kw):
    return NodeRuntime(core, lambda: 5.0, io, io, protocol_error=ProtocolError, **kw)


def test_records_then_snapshot_then_records_and_sends_only_on_finish():
    core, io = Scripted(), RecordingIO()
    snap = {"applied": 3}
    core.out["peer"] = [
        Ready(persist=[{"t": "a"}], messages=[(1, {"type": "x"})], next_tick=7.0),
        Ready(persist=[{"t": "b"}], snapshot=snap, replies=[("h", {"ok": True})]),
        Ready(persist=[{"t": "c"}], messages=[(2, {"type": "y"})], next_tick=6.0),
    ]
    rt = _runtime(core, io)
    for k in range(3):
        rt.push(("peer", 1, {"type": f"m{k}"}))
    batch = rt.next_batch()
    assert batch.events == 3
    # the snapshot covers a and b, so they must be on disk before it; c comes after
    assert batch.writes == [([{"t": "a"}, {"t": "b"}], snap), ([{"t": "c"}], None)]
    assert io.sent == [] and io.replies == []  # nothing leaves before the host's writes
    assert io.armed == [7.0, None, 6.0]  # the timer follows the core after every step
    rt.finish(batch)
    assert io.sent == [(1, {"type": "x"}), (2, {"type": "y"})]
    assert io.replies == [("h", {"ok": True})]


def test_a_tick_goes_after_the_messages_of_its_batch_and_only_once():
    core, io = Scripted(), RecordingIO()
    rt = _runtime(core, io)
    for e in [("tick",), ("peer", 1, {"type": "hb"}), ("tick", 9.0), ("peer", 2, {"type": "ok"})]:
        rt.push(e)
    rt.next_batch()
    assert core.seen == [("peer", 1, "hb"), ("peer", 2, "ok"), ("tick", 5.0)]
    assert not rt.pending


def test_a_tick_is_never_told_an_earlier_time_than_it_was_armed_for():
    core, io = Scripted(), RecordingIO()
    rt = _runtime(core, io)
    rt.push(("tick", 5.5))
    rt.next_batch()
    assert core.seen == [("tick", 5.5)]


def test_batches_are_bounded():
    core, io = Scripted(), RecordingIO()
    rt = _runtime(core, io, max_events=2)
    for k in range(5):
        rt.push(("peer", 1, {"type": str(k)}))
    assert [rt.next_batch().events for _ in range(3)] == [2, 2, 1]


def test_malformed_input_is_dropped_alone_and_a_client_is_told():
    core, io = Scripted(), RecordingIO()
    core.out["peer"] = [Ready(messages=[(1, {"type": "fine"})])]
    rt = _runtime(core, io)
    rt.push(("peer", 2, {"bad": True}))
    rt.push(("client", "h1", {"bad": True}))
    rt.push(("peer", 1, {"type": "good"}))
    batch = rt.next_batch()
    assert io.replies == [("h1", BAD_REQUEST)]  # at once: nothing of it waits for a disk
    assert [e[:2] for e, _why in batch.refused] == [("peer", 2), ("client", "h1")]
    rt.finish(batch)
    assert io.sent == [(1, {"type": "fine"})]


def test_a_record_that_cannot_be_encoded_refuses_its_own_event_only():
    core, io = Scripted(), RecordingIO()
    core.out["client"] = [
        Ready(persist=[{"t": "x", "v": float("nan")}], replies=[("h1", {"ok": True})]),
        Ready(persist=[{"t": "y"}], replies=[("h2", {"ok": True})]),
    ]
    rt = NodeRuntime(core, lambda: 1.0, io, io, encode_record, ProtocolError)
    rt.push(("client", "h1", {}))
    rt.push(("client", "h2", {}))
    batch = rt.next_batch()
    assert io.replies == [("h1", BAD_REQUEST)]
    assert [(e[1], why[:26]) for e, why in batch.refused] == [("h1", "cannot encode a log record")]
    assert batch.writes == [([encode_record({"t": "y"})], None)]
    rt.finish(batch)
    assert io.replies == [("h1", BAD_REQUEST), ("h2", {"ok": True})]


def test_a_request_already_answered_is_not_started():
    core, io = Scripted(), RecordingIO()
    io.dead.add("late")
    rt = _runtime(core, io)
    rt.push(("client", "late", {}))
    rt.next_batch()
    assert core.seen == []


def test_any_other_core_failure_is_fatal():
    rt = _runtime(Scripted(), RecordingIO())
    rt.push(("peer", 1, {"boom": True}))
    with pytest.raises(Fatal, match="internal error in the protocol core"):
        rt.next_batch()


def test_the_real_core_a_single_node_commits_through_the_runtime():
    cfg = local_config(1)
    io = RecordingIO()
    rt = NodeRuntime(Replica(0, cfg, random.Random(0)), lambda: 1.0, io, io, encode_record)
    rt.push(("start",))
    rt.push(("tick",))
    rt.finish(rt.next_batch())  # elected (alone), promise on disk
    req = {"op": "write", "key": "k", "value": 1, "client_id": "c", "seq": 1}
    rt.push(("client", "h", req))
    batch = rt.next_batch()
    assert batch.writes and io.replies == []  # the accept must be durable first
    rt.finish(batch)
    assert io.replies == [("h", {"ok": True, "value": None})]


def test_a_request_is_answered_timeout_unless_answered_first_and_then_not_started():
    core, io = Scripted(), RecordingIO()
    rt = _runtime(core, io, request_s=3.0)
    assert rt.admit("h1", {}) == "timer" and rt.admit("h2", {}) == "timer"
    (d1, fire1, h1), (d2, fire2, h2) = io.timers
    assert (d1, h1, d2, h2) == (3.0, "h1", 3.0, "h2")
    io.dead.add("h2")  # answered already (the host marks what it answered)
    fire1(h1)
    fire2(h2)
    assert io.replies == [("h1", TIMEOUT)]
    io.dead.add("h1")
    rt.next_batch()  # a request that timed out while queued is never started
    assert core.seen == []


def test_without_a_request_timeout_no_timer_is_set():
    io = RecordingIO()
    rt = _runtime(Scripted(), io)
    assert rt.admit("h", {}) is None and io.timers == [] and rt.pending
