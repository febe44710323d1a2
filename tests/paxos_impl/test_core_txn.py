"""Transactions in the sans-IO core: one command in the log, applied atomically on every
replica, in both modes, through the real encoders; refused at the door when malformed."""

from __future__ import annotations

import pytest

from tests.support.bus import Bus

MOPS = [["append", "x", 1], ["w", "y", 5], ["r", "x", None], ["r", "z", None]]


@pytest.mark.parametrize("mode", ["leader", "masterless"])
@pytest.mark.parametrize("read_mode", ["log", "lease"])
def test_txn_goes_through_the_log_and_every_replica_applies_it_whole(mode, read_mode):
    b = Bus(wire=True, mode=mode, read_mode=read_mode)
    b.run(3.0)  # a lease-mode leader waits out older leases before it leads
    node = b.leader() if mode == "leader" else 1
    slots = {i: r.status()["commit_index"] for i, r in b.r.items()}
    b.request(node, "t", "txn", key=None, value=MOPS)
    b.run(0.5)
    (rep,) = b.answers("t")
    assert rep == {"ok": True, "value": [["append", "x", 1], ["w", "y", 5], ["r", "x", [1]],
                                         ["r", "z", None]]}  # fmt: skip
    for i, r in b.r.items():  # a log slot (even under a lease) and the same state everywhere
        assert r.status()["commit_index"] > slots[i], i
        assert r.sm.kv == {"x": [1], "y": 5}, i
    b.request(node, "t2", "txn", key=None, value=MOPS)  # the same seq again: a retry
    b.run(0.5)
    assert b.answers("t2") == [rep] and b.r[node].sm.kv["x"] == [1]


def test_malformed_txn_is_refused_before_anything_is_proposed():
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    before = b.r[ld].status()["commit_index"]
    for n, bad in enumerate(([], [["r", 1, None]], [["cas", "x", [1, 2]]], {"r": "x"}, "x")):
        b.request(ld, ("bad", n), "txn", key=None, value=bad, seq=n + 1)
        (rep,) = b.answers(("bad", n))
        assert rep["ok"] is False and rep["error"] == "bad_request" and "txn" in rep["reason"]
    b.run(0.3)
    assert b.r[ld].status()["commit_index"] == before
