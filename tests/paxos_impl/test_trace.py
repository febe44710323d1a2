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
