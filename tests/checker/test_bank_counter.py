"""The bank and counter checkers on histories whose verdict is known by construction."""

from __future__ import annotations

import random

from checker.bank_check import check_bank
from checker.counter_check import check_counter

ACCTS = ["a", "b", "c"]


def _ev(i, p, typ, f, value, key=None):
    return {"index": i, "time": i, "process": p, "type": typ, "f": f, "key": key, "value": value}


def _serial_bank(seed: int, n: int = 200, split_at: int | None = None) -> list[dict]:
    """A serial bank: each transfer applied whole; with ``split_at``, one transfer's second
    half lands after the read that follows it (a torn transaction)."""
    rng = random.Random(seed)
    lists: dict[str, list[int]] = {a: [] for a in ACCTS}
    events, owed = [], None
    for i in range(n):
        if rng.random() < 0.5:
            mops = [["r", a, list(lists[a]) or None] for a in ACCTS]
            events += [_ev(2 * i, 0, "invoke", "txn", [["r", a, None] for a in ACCTS]),
                       _ev(2 * i + 1, 0, "ok", "txn", mops)]  # fmt: skip
            if owed:
                lists[owed[0]].append(owed[1])
                owed = None
            continue
        src, dst = rng.sample(ACCTS, 2)
        amt = rng.randint(1, 5)
        mops = [["append", src, -amt], ["append", dst, amt]]
        lists[src].append(-amt)
        if i == split_at:
            owed = (dst, amt)
        else:
            lists[dst].append(amt)
        events += [_ev(2 * i, 1, "invoke", "txn", mops), _ev(2 * i + 1, 1, "ok", "txn", mops)]
    return events


def test_bank_serial_histories_are_valid():
    for seed in range(20):
        r = check_bank(_serial_bank(seed), ACCTS, 10)
        assert r["valid"] is True and r["reads"] > 0 and r["expected_total"] == 30, r


def test_bank_torn_transfer_seen_by_a_read_is_invalid():
    ev = _serial_bank(3)
    split = next(i for i in range(200) if ev[2 * i]["value"][0][0] == "append" and
                 ev[2 * i + 2]["value"][0][0] == "r")  # fmt: skip
    r = check_bank(_serial_bank(3, split_at=split), ACCTS, 10)
    assert r["valid"] is False and r["wrong_totals"] >= 1
    assert r["first_wrong"][0]["total"] != 30


def test_bank_read_of_a_garbled_balance_is_invalid_and_no_reads_is_unknown():
    garbled = [_ev(0, 0, "invoke", "txn", [["r", a, None] for a in ACCTS]),
               _ev(1, 0, "ok", "txn", [["r", "a", ["x"]], ["r", "b", None], ["r", "c", None]])]  # fmt: skip
    assert check_bank(garbled, ACCTS, 10)["valid"] is False
    assert check_bank(garbled[:1], ACCTS, 10)["valid"] == "unknown"


def _counter(ops):
    """ops: (process, type, f, value) in order."""
    return [_ev(i, p, t, f, v, key="c") for i, (p, t, f, v) in enumerate(ops)]


def test_counter_read_between_acknowledged_and_attempted_is_valid():
    h = _counter([
        (1, "invoke", "add", 2), (1, "ok", "add", 2),
        (2, "invoke", "add", 3),                      # never completes: may or may not count
        (0, "invoke", "read", None), (0, "ok", "read", [2, 3]),
        (0, "invoke", "read", None), (0, "ok", "read", [2]),
        (0, "invoke", "read", None), (0, "ok", "read", 5),  # an integer read counts as it is
    ])  # fmt: skip
    r = check_counter(h, key="c")
    assert r["valid"] is True and r["reads"] == 3


def test_counter_lost_increment_and_phantom_increment_are_invalid():
    lost = _counter([(1, "invoke", "add", 2), (1, "ok", "add", 2),
                     (0, "invoke", "read", None), (0, "ok", "read", None)])  # fmt: skip
    r = check_counter(lost, key="c")
    assert r["valid"] is False and r["first_errors"][0] == {"index": 3, "value": 0, "lower": 2,
                                                             "upper": 2}  # fmt: skip
    failed = _counter([(1, "invoke", "add", 2), (1, "fail", "add", 2),
                       (0, "invoke", "read", None), (0, "ok", "read", [2])])  # fmt: skip
    assert check_counter(failed, key="c")["valid"] is False  # a failed add must not count
    # an add invoked after the read completed cannot be in it
    late = _counter([(0, "invoke", "read", None), (0, "ok", "read", [1]),
                     (1, "invoke", "add", 1), (1, "ok", "add", 1)])  # fmt: skip
    assert check_counter(late, key="c")["valid"] is False


def test_counter_random_serial_histories_are_valid_and_a_dropped_add_is_not():
    for seed in range(20):
        rng = random.Random(seed)
        applied: list[int] = []
        ops = []
        for _ in range(100):
            if rng.random() < 0.5:
                v = rng.randint(1, 3)
                applied.append(v)
                ops += [(1, "invoke", "add", v), (1, "ok", "add", v)]
            else:
                ops += [(0, "invoke", "read", None), (0, "ok", "read", list(applied))]
        assert check_counter(_counter(ops), key="c")["valid"] is True
        first_add = next(i for i, o in enumerate(ops) if o[2] == "add")
        read = next(i for i, o in enumerate(ops) if o[2] == "read" and o[1] == "ok" and
                    i > first_add)  # fmt: skip
        bad = list(ops)
        bad[read] = (0, "ok", "read", [])  # lost every add acknowledged before it
        assert check_counter(_counter(bad), key="c")["valid"] is False
