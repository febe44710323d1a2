"""The simulator's message trace: every send, what became of it, bounded."""

from __future__ import annotations

from cluster.sim.trace import SimTrace
from tests.support.sim.booted import booted


def test_every_delivery_repeats_an_earlier_send_and_a_partition_swallows_messages():
    c = booted()
    leader = c.world.leaders()[0]
    other = next(i for i in range(3) if i != leader)
    c.partition({f"n{other + 1}": {f"n{leader + 1}"}})  # `other` drops what the leader sends
    c.run_for(1.0)
    recs = c.message_trace(run_t0=1.0)
    sends = {r["id"]: r for r in recs if r["dir"] == "send"}
    recvs = [r for r in recs if r["dir"] == "recv"]
    assert sends and recvs
    for r in recvs:
        s = sends[r["id"]]
        assert s["t"] <= r["t"] and (s["from"], s["to"], s["type"]) == (
            r["from"],
            r["to"],
            r["type"],
        )
    delivered = {r["id"] for r in recvs}
    cut = [
        s
        for s in sends.values()
        if s["t"] > 1e9 and s["from"] == f"n{leader + 1}" and s["to"] == f"n{other + 1}"
    ]
    assert cut and not any(s["id"] in delivered for s in cut)  # heartbeats into the partition
    assert any(s["type"] == "heartbeat" and s["id"] in delivered for s in sends.values())
    assert all(r["t"] < 0 for r in recs if r["dir"] == "send" and r["id"] == 1)  # run_t0 shift
    assert all(isinstance(s["size"], int) and s["size"] > 0 for s in sends.values())


def test_learning_and_applying_a_slot_are_recorded_per_node():
    c = booted()
    w = c.world
    replies: list[dict] = []
    w.client_inbox["cl"] = replies.append
    req = {"op": "write", "key": "k", "value": 1, "client_id": "s5-p7", "seq": 1}
    w.request("cl", w.leaders()[0], ("cl", 1, 1), req)
    c.run_for(1.0)
    assert replies and replies[0]["ok"] is True
    recs = c.message_trace()
    learned = [r for r in recs if r["dir"] in ("chosen", "apply")]
    assert {r["node"] for r in learned} == {"n1", "n2", "n3"}
    assert {r["dir"] for r in learned} == {"chosen", "apply"}
    slot = learned[0]["slot"]
    accepts = [r for r in recs if r["dir"] == "send" and r["type"] == "accept"]
    assert any(f"s5-p7:1@{slot}" in a["cmds"] for a in accepts)
    client = [r for r in recs if r.get("type") in ("request", "reply")]
    assert {(r["dir"], r["type"], r["from"]) for r in client} >= {
        ("send", "request", "s5-p7"),
        ("recv", "request", "s5-p7"),
    }
    assert {r["to"] for r in client if r["type"] == "reply"} == {"s5-p7"}


def test_the_ring_keeps_the_newest_entries_and_counts_the_rest():
    t = SimTrace(maxlen=10)
    for k in range(25):
        t.sent(float(k), float(k), 0, 1, b'{"type":"heartbeat","ballot":[1,0]}')
    assert len(t.entries) == 10 and t.dropped == 15
    recs = t.records()
    assert [r["id"] for r in recs] == list(range(16, 26))
    assert recs[0]["type"] == "heartbeat" and recs[0]["from"] == "n1"


def test_an_undecodable_payload_is_recorded_as_unknown():
    t = SimTrace()
    mid = t.sent(0.0, 0.0, 0, 1, b"not json")
    t.received(0.001, 0.001, 0, 1, mid)
    recs = t.records()
    assert recs[0]["type"] == "?" and recs[1]["type"] == "?"


def test_the_cluster_reports_what_its_ring_let_go():
    c = booted()
    assert c.messages_dropped == 0
    c.world.trace.entries = type(c.world.trace.entries)(c.world.trace.entries, maxlen=50)
    c.run_for(1.0)
    assert c.messages_dropped > 0 and len(c.message_trace()) == 50
