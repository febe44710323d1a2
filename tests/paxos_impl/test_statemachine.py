"""The bundled key-value machine (and the register): operation semantics, snapshots.

De-duplication is the core's, for every machine: tests/paxos_impl/test_dedup.py."""

import json

import pytest

from paxos_impl.statemachine import KeyValue, Register


def cmd(op, key, value=None, cid="c1", seq=1):
    return {"op": op, "key": key, "value": value, "client_id": cid, "seq": seq}


def test_read_write_cas_semantics():
    sm = KeyValue()
    assert sm.apply(cmd("read", "k", seq=1)) == {"ok": True, "value": None}
    assert sm.apply(cmd("write", "k", {"a": [1]}, seq=2))["ok"]
    assert sm.apply(cmd("read", "k", seq=3))["value"] == {"a": [1]}
    r = sm.apply(cmd("cas", "k", [1, 2], seq=4))
    assert r["ok"] is False and r["error"] == "mismatch"
    assert sm.read("k") == {"a": [1]}
    assert sm.apply(cmd("cas", "k", [{"a": [1]}, 7], seq=5))["ok"]
    assert sm.read("k") == 7


def test_cas_on_missing_key_compares_with_null_and_bad_cas_is_rejected():
    sm = KeyValue()
    assert sm.apply(cmd("cas", None, [None, 1], seq=1))["ok"]  # None is the single register
    assert sm.read(None) == 1
    assert sm.apply(cmd("cas", None, "oops", seq=2))["error"] == "bad_request"


def test_append_concatenates_strings_and_extends_lists():
    sm = KeyValue()
    sm.apply(cmd("append", "s", "ab", seq=1))
    sm.apply(cmd("append", "s", "cd", seq=2))
    assert sm.read("s") == "abcd"
    sm.apply(cmd("append", "l", 1, seq=3))
    sm.apply(cmd("append", "l", [2, 3], seq=4))
    assert sm.read("l") == [1, 2, 3]
    assert sm.apply(cmd("append", "s", 5, seq=5))["error"] == "bad_request"  # str + int
    assert sm.read("s") == "abcd"


def test_append_never_mutates_a_value_handed_out_earlier():
    sm = KeyValue()
    sm.apply(cmd("append", "l", 1, seq=1))
    seen = sm.apply(cmd("read", "l", seq=2))["value"]
    sm.apply(cmd("append", "l", 2, seq=3))
    assert seen == [1]


def test_snapshot_and_restore_round_trip_through_json_including_null_key():
    sm = KeyValue()
    sm.apply(cmd("write", None, "reg", seq=1))
    sm.apply(cmd("write", "null", "not the register", seq=2))
    sm.apply(cmd("append", "l", [1], cid="c2", seq=9))
    back = KeyValue()
    back.restore(json.loads(json.dumps(sm.snapshot())))
    assert back.kv == sm.kv
    assert back.read(None) == "reg" and back.read("null") == "not the register"
    assert back.apply(cmd("append", "l", [2], cid="c2", seq=10))["ok"]
    assert back.read("l") == [1, 2]


@pytest.mark.parametrize("bad", [None, [], {"kv": 3}, {"kv": [[1, 2]]}, {"kv": [["k"]]}])
def test_restore_refuses_a_state_that_is_not_a_kv_one(bad):
    sm = KeyValue()
    sm.apply(cmd("write", "k", 1))
    with pytest.raises(ValueError):
        sm.restore(bad)
    assert sm.read("k") == 1


def test_register_takes_only_the_null_key_and_register_ops():
    reg = Register()
    assert reg.apply(cmd("write", None, 1))["ok"]
    assert reg.apply(cmd("cas", None, [1, 2]))["ok"] and reg.read(None) == 2
    assert reg.apply(cmd("write", "k", 1))["error"] == "bad_request"
    assert reg.apply(cmd("append", None, [1]))["error"] == "bad_request"
    assert reg.query(cmd("read", None)) == {"ok": True, "value": 2}
    assert "append" not in Register.ops and "txn" in KeyValue.ops


def test_unknown_op_is_a_bad_request():
    sm = KeyValue()
    assert sm.apply(cmd("delete", "k"))["error"] == "bad_request"


def _txn(sm, mops, seq=1, cid="c"):
    return sm.apply({"op": "txn", "key": None, "value": mops, "client_id": cid, "seq": seq})


def test_txn_reads_see_own_writes_and_are_filled_in_on_the_reply():
    sm = KeyValue()
    sm.kv["y"] = 7
    r = _txn(sm, [["append", "x", 1], ["r", "x", None], ["r", "y", None], ["w", "y", 8]])
    assert r == {"ok": True, "value": [["append", "x", 1], ["r", "x", [1]], ["r", "y", 7],
                                       ["w", "y", 8]]}  # fmt: skip
    assert sm.kv == {"x": [1], "y": 8}


def test_txn_is_all_or_nothing_when_one_micro_op_is_refused():
    sm = KeyValue()
    sm.max_value_bytes = 50
    sm.kv["s"] = "text"
    r = _txn(sm, [["append", "x", 1], ["append", "s", [1]]])  # a string cannot take a list
    assert r["ok"] is False and r["error"] == "bad_request"
    r = _txn(sm, [["w", "y", 1], ["append", "x", "a" * 60]], seq=2)  # would outgrow the limit
    assert r["ok"] is False
    assert sm.kv == {"s": "text"}


def test_txn_whose_reply_would_outgrow_the_value_limit_is_refused_whole():
    sm = KeyValue()
    sm.max_value_bytes = 60
    sm.kv["x"] = list(range(15))  # 36 bytes encoded: one read fits, two do not
    assert _txn(sm, [["r", "x", None]])["ok"] is True
    r = _txn(sm, [["w", "y", 1], ["r", "x", None], ["r", "x", None]], seq=2)
    assert r["ok"] is False and r["error"] == "bad_request" and "y" not in sm.kv


def test_malformed_txn_is_a_bad_request():
    sm = KeyValue()
    for bad in ([], [["x", "k", 1]], [["r", None, None]], [["w", "k"]], "r k", None):
        assert _txn(sm, bad)["error"] == "bad_request", bad
    assert sm.kv == {}


def test_bug_txn_split_lets_the_next_command_see_half_a_transaction():
    sm = KeyValue()
    sm.txn_bugs = frozenset({"txn-split"})
    _txn(sm, [["append", "x", 1], ["append", "y", 1]])
    seen = sm.apply({"op": "read", "key": "y", "value": None, "client_id": "d", "seq": 1})
    assert sm.kv["x"] == [1] and seen["value"] is None  # x applied, y owed
    assert sm.kv["y"] == [1]  # and landed after the read


def test_bug_txn_stale_read_misses_committed_writes_in_transactions_only():
    sm = KeyValue()
    sm.txn_bugs = frozenset({"txn-stale-read"})
    sm.apply({"op": "write", "key": "x", "value": 1, "client_id": "d", "seq": 1})
    assert _txn(sm, [["r", "x", None]])["value"] == [["r", "x", None]]  # stale
    assert sm.apply({"op": "read", "key": "x", "value": None, "client_id": "d", "seq": 2}) == {
        "ok": True, "value": 1}  # fmt: skip
