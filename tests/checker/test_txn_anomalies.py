"""checker.txn on histories built to hold one anomaly each, and the same histories with
the offending transaction removed (valid): every class is found, and nothing else is."""

from __future__ import annotations

import pytest

from checker.txn.brute import serializable
from checker.txn.check import check_txns
from tests.support.txn import txns

A, R, W = "append", "r", "w"

# name -> (model, consistency, the anomaly type, history, the offending txn: its index, or
# (index, micro-op indices) when removing only those micro-ops leaves a valid history)
CASES = {
    "G0 write cycle": ("list-append", "serializable", "G0", [
        ("ok", [[A, "x", 1], [A, "y", 1]]),
        ("ok", [[A, "x", 2], [A, "y", 2]]),
        ("ok", [[R, "x", [1, 2]], [R, "y", [2, 1]]]),
    ], 2),
    "G1a aborted read": ("list-append", "serializable", "G1a", [
        ("fail", [[A, "x", 1]]),
        ("ok", [[R, "x", [1]]]),
    ], 1),
    "G1b intermediate read": ("list-append", "serializable", "G1b", [
        ("ok", [[A, "x", 1], [A, "x", 2]]),
        ("ok", [[R, "x", [1]]]),
    ], 1),
    "G1c circular information flow": ("list-append", "serializable", "G1c", [
        ("ok", [[A, "x", 1], [R, "y", [1]]]),
        ("ok", [[A, "y", 1], [R, "x", [1]]]),
    ], (0, [1])),
    "G-single read skew": ("list-append", "snapshot-isolation", "G-single", [
        ("ok", [[A, "x", 1], [A, "y", 1]]),
        ("ok", [[R, "x", []], [R, "y", [1]]]),
    ], 1),
    "G2-item write skew": ("list-append", "serializable", "G2-item", [
        ("ok", [[R, "x", []], [A, "y", 1]]),
        ("ok", [[R, "y", []], [A, "x", 1]]),
    ], 1),
    "incompatible order": ("list-append", "serializable", "incompatible-order", [
        ("ok", [[A, "x", 1]]),
        ("ok", [[A, "x", 2]]),
        ("ok", [[R, "x", [1, 2]]]),
        ("ok", [[R, "x", [2]]]),
    ], 3),
    "duplicate elements": ("list-append", "serializable", "duplicate-elements", [
        ("ok", [[A, "x", 1]]),
        ("ok", [[R, "x", [1, 1]]]),
    ], 1),
    "garbage read": ("list-append", "serializable", "garbage-read", [
        ("ok", [[A, "x", 1]]),
        ("ok", [[R, "x", [1, 9]]]),
    ], 1),
    "rw G1a aborted read": ("rw-register", "serializable", "G1a", [
        ("fail", [[W, "x", 1]]),
        ("ok", [[R, "x", 1]]),
    ], 1),
    "rw G1b intermediate read": ("rw-register", "serializable", "G1b", [
        ("ok", [[W, "x", 1], [W, "x", 2]]),
        ("ok", [[R, "x", 1]]),
    ], 1),
    "rw G1c": ("rw-register", "serializable", "G1c", [
        ("ok", [[W, "x", 1], [R, "y", 1]]),
        ("ok", [[W, "y", 1], [R, "x", 1]]),
    ], (0, [1])),
    "rw G0 lost update order": ("rw-register", "serializable", "G0", [
        ("ok", [[W, "x", 1], [W, "y", 1]]),
        ("ok", [[R, "x", 1], [W, "x", 2], [R, "y", 2], [W, "y", 3]]),
        ("ok", [[R, "y", 1], [W, "y", 2], [R, "x", 2], [W, "x", 3]]),
    ], (2, [2, 3])),
    "rw G-single": ("rw-register", "snapshot-isolation", "G-single", [
        ("ok", [[W, "x", 1], [W, "y", 1]]),
        ("ok", [[R, "x", None], [R, "y", 1]]),
    ], 1),
    "rw G2-item write skew": ("rw-register", "serializable", "G2-item", [
        ("ok", [[R, "x", None], [W, "y", 1]]),
        ("ok", [[R, "y", None], [W, "x", 1]]),
    ], 1),
    "rw garbage read": ("rw-register", "serializable", "garbage-read", [
        ("ok", [[W, "x", 1]]),
        ("ok", [[R, "x", 7]]),
    ], 1),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_each_anomaly_found_and_gone_without_its_txn(name: str) -> None:
    model, consistency, kind, spec, offending = CASES[name]
    culprit, mops = offending if isinstance(offending, tuple) else (offending, None)
    r = check_txns(txns(spec, model), model, consistency)
    assert r["valid"] is False
    assert kind in r["anomaly_types"], r["anomaly_types"]
    found = next(a for a in r["anomalies"] if a["type"] == kind)
    # the anomaly names the culprit, except a write cycle, which the reader only reveals
    assert set(found["txns"]) == {0, 1} if name == "G0 write cycle" else culprit in found["txns"]
    for step in found.get("cycle", []):  # every edge says why it exists
        assert step["type"] in ("ww", "wr", "rw", "rt") and f"T{step['from']}" in step["why"]
    if "cycle" in found:  # a cycle closes
        assert found["cycle"][0]["from"] == found["cycle"][-1]["to"]
    if mops is None:
        without = spec[:culprit] + spec[culprit + 1 :]
    else:
        kept = [m for j, m in enumerate(spec[culprit][1]) if j not in mops]
        without = [*spec[:culprit], (spec[culprit][0], kept), *spec[culprit + 1 :]]
    r2 = check_txns(txns(without, model), model, consistency)
    assert r2["valid"] is True, r2["anomalies"]
    if len(spec) <= 6:  # the brute-force reference agrees on both
        assert serializable(txns(spec, model), model) is False
        assert serializable(txns(without, model), model) is True


def test_snapshot_isolation_allows_write_skew_but_not_read_skew() -> None:
    skew = CASES["G2-item write skew"][3]
    r = check_txns(txns(skew), "list-append", "snapshot-isolation")
    assert r["valid"] is True
    assert [a["type"] for a in r["allowed_anomalies"]] == ["G2-item"]
    read_skew = CASES["G-single read skew"][3]
    assert check_txns(txns(read_skew), "list-append", "snapshot-isolation")["valid"] is False


STALE = [  # T1 completes after T0 appended, then reads as if T0 never happened
    ("ok", [[A, "x", 1]]),
    ("ok", [[R, "x", []]]),
]


def test_stale_read_is_serializable_but_not_strict() -> None:
    h = txns(STALE, sequential=True)
    assert check_txns(h, "list-append", "serializable")["valid"] is True
    r = check_txns(h, "list-append", "strict-serializable")
    assert r["valid"] is False
    assert r["anomaly_types"] == ["G-single-realtime"]
    kinds = [s["type"] for s in r["anomalies"][0]["cycle"]]
    assert sorted(kinds) == ["rt", "rw"]
    rt = next(s for s in r["anomalies"][0]["cycle"] if s["type"] == "rt")
    assert rt["why"] == f"T{rt['from']} completed before T{rt['to']} was invoked"
    assert r["edges"] == 2  # T0 -rt-> T1 (counted, though its reason is not stored), T1 -rw-> T0
    assert serializable(h, "list-append", realtime=True) is False
    assert serializable(h, "list-append", realtime=False) is True
    concurrent = txns(STALE, sequential=False)  # overlapping: the stale read is allowed
    assert check_txns(concurrent, "list-append", "strict-serializable")["valid"] is True


def test_realtime_g1c_variant() -> None:
    # T1 reads T2's append, but T1 completed before T2 was invoked
    spec = [("ok", [[A, "y", 5]]), ("ok", [[R, "x", [1]]]), ("ok", [[A, "x", 1]])]
    h = txns(spec, sequential=True)
    r = check_txns(h, "list-append", "strict-serializable")
    assert r["anomaly_types"] == ["G1c-realtime"]
    assert check_txns(h, "list-append", "serializable")["valid"] is True


def test_indeterminate_writes_may_be_read_or_not() -> None:
    seen = [("info", [[A, "x", 1]]), ("ok", [[R, "x", [1]]])]
    unseen = [("info", [[A, "x", 1]]), ("ok", [[R, "x", []]])]
    for spec in (seen, unseen):
        h = txns(spec, sequential=True)
        assert check_txns(h, "list-append", "strict-serializable")["valid"] is True
        assert serializable(h, "list-append", realtime=True) is True
    # an info append seen by one read and then not by a later one is an incompatible order
    flip = [("info", [[A, "x", 1]]), ("ok", [[R, "x", [1]]]), ("ok", [[R, "x", [2]]]),
            ("ok", [[A, "x", 2]])]  # fmt: skip
    r = check_txns(txns(flip), "list-append", "serializable")
    assert "incompatible-order" in r["anomaly_types"]


def test_own_writes_are_not_external_reads() -> None:
    spec = [("ok", [[A, "x", 1], [R, "x", [1]]]), ("ok", [[R, "x", [1]], [A, "x", 2],
                                                       [R, "x", [1, 2]]])]  # fmt: skip
    assert check_txns(txns(spec), "list-append", "serializable")["valid"] is True


def test_unknown_models_refused() -> None:
    with pytest.raises(ValueError, match="transaction model"):
        check_txns([], "register")
    with pytest.raises(ValueError, match="consistency"):
        check_txns([], "list-append", "linearizable")
