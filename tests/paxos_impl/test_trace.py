"""summarize: what a trace keeps of each message (type, ballot, slots, commands)."""

from __future__ import annotations

from paxos_impl.messages import msg
from paxos_impl.trace import MAX_SLOTS, summarize


def _cmd(cid: str, seq: int) -> dict:
    return {"op": "write", "key": None, "value": seq, "client_id": cid, "seq": seq}


def test_accept_keeps_its_ballot_slots_and_the_commands_of_each_slot():
    m = msg("accept", ballot=(3, 1), entries=[[7, [_cmd("s1-p2", 5)]], [8, []]], commit=6)
    assert summarize(m) == {
        "type": "accept",
        "ballot": [3, 1],
        "slots": [7, 8],
        "cmds": ["s1-p2:5@7"],
    }


def test_promise_reports_accepted_and_chosen_slots():
    m = msg(
        "promise",
        ballot=(4, 0),
        entries=[[9, [2, 1], [_cmd("c", 1)]]],
        chosen=[[5, [_cmd("d", 2)]]],
        snap=0,
        commit=4,
    )
    s = summarize(m)
    assert s["slots"] == [9, 5] and s["cmds"] == ["c:1@9"] and s["ballot"] == [4, 0]


def test_accepted_nack_and_client_messages():
    assert summarize(msg("accepted", ballot=(1, 0), slots=[3, 4], commit=2))["slots"] == [3, 4]
    assert summarize(msg("nack", ballot=(2, 2), slot=11))["slots"] == [11]
    req = {"op": "write", "key": None, "value": 1, "client_id": "s0-p3", "seq": 9}
    assert summarize(req) == {"type": "request", "ballot": None, "slots": [], "cmds": ["s0-p3:9"]}
    assert summarize({"ok": True, "value": 1})["type"] == "reply"


def test_malformed_messages_summarise_to_less_never_raise():
    for bad in (
        None,
        3,
        [],
        {"type": "accept", "entries": "x"},
        {"entries": [[None]]},
        {"type": "accept", "ballot": "b", "slots": ["a", 2], "entries": [[1, "nope"]]},
    ):
        s = summarize(bad)
        assert set(s) == {"type", "ballot", "slots", "cmds"}
    assert summarize({"type": "accept", "ballot": [1], "slots": ["a", 2]})["slots"] == [2]


def test_a_huge_learn_is_cut_to_a_bounded_summary():
    entries = [[s, [_cmd("c", s)]] for s in range(1, 500)]
    s = summarize(msg("learn", entries=entries, commit=499))
    assert len(s["slots"]) == MAX_SLOTS and len(s["cmds"]) <= 64


# -- a real node's bounded log, fed by the node runtime ------------------------------------
def _rt_with_log(tmp_path, max_bytes=1_000_000):
    import random

    from paxos_impl.config import local_config
    from paxos_impl.core import ProtocolError, Replica
    from paxos_impl.runtime import NodeRuntime
    from paxos_impl.trace import MessageLog
    from tests.support.runtime_io import RecordingIO

    cfg, io = local_config(3), RecordingIO()
    rt = NodeRuntime(
        Replica(0, cfg, random.Random(1)), lambda: 5.0, io, io, protocol_error=ProtocolError
    )
    rt.trace = MessageLog(tmp_path / "messages.jsonl", 0, max_bytes, wall=lambda: 7)
    return rt


def test_the_runtime_records_what_it_steps_and_sends_in_a_real_nodes_log(tmp_path):
    import json

    rt = _rt_with_log(tmp_path)
    rt.finish(rt.step(("start",)))
    rt.finish(rt.step(("tick", 100.0)))  # past the election timeout: a prepare to each peer
    rt.finish(rt.step(("peer", 1, msg("heartbeat", ballot=(9, 1), commit=0, round=0))))
    rt.finish(
        rt.step(
            (
                "client",
                "h",
                {"op": "read", "key": None, "value": None, "client_id": "s0-p4", "seq": 1},
            )
        )
    )
    rt.trace.close()
    recs = [json.loads(x) for x in (tmp_path / "messages.jsonl").read_text().splitlines()]
    prepares = [r for r in recs if r["dir"] == "send" and r["type"] == "prepare"]
    assert {r["to"] for r in prepares} == {1, 2} and all(r["size"] > 0 for r in prepares)
    assert {
        "t": 7,
        "clock": 5.0,
        "dir": "recv",
        "from": 1,
        "to": 0,
        "type": "heartbeat",
    }.items() <= next(r for r in recs if r["type"] == "heartbeat").items()
    assert any(
        r["type"] == "request" and r["from"] == "s0-p4" and r["cmds"] == ["s0-p4:1"] for r in recs
    )


def test_the_log_never_holds_more_than_its_cap(tmp_path):
    rt = _rt_with_log(tmp_path, max_bytes=10_000)
    for k in range(400):
        rt.step(("peer", 1, msg("heartbeat", ballot=(k + 1, 1), commit=0, round=0)))
    rt.trace.close()
    files = sorted(tmp_path.glob("messages.jsonl*"))
    assert [f.name for f in files] == ["messages.jsonl", "messages.jsonl.1"]
    assert sum(f.stat().st_size for f in files) <= 10_000 + 400
    assert '"ballot":[400,1]' in files[0].read_text()  # the newest entries are kept


def test_a_trace_that_cannot_be_written_stops_and_the_node_goes_on(tmp_path):
    rt = _rt_with_log(tmp_path)

    class Full:
        def write(self, *_):
            raise OSError(28, "No space left on device")

        flush = close = write

    rt.trace.f = Full()
    rt.finish(rt.step(("start",)))
    batch = rt.step(("tick", 100.0))  # a prepare to each peer: sent although the trace failed
    rt.finish(batch)
    assert rt.trace.broken and [m["type"] for _, m in rt.transport.sent[-2:]] == ["prepare"] * 2
    rt.step(("peer", 1, msg("heartbeat", ballot=(9, 1), commit=0, round=0)))  # no raise
    rt.trace.close()
