"""The linearizability checker: verdicts known by construction, and agreement with brute force."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.bench import corrupt_read, generate, reorder, stale_read
from checker.brute import linearizable
from checker.history import ops_from
from checker.linearizability import check, relaxed_refutation, relevant, static_refutation
from checker.models import freeze, get_model
from tests.support.histories import random_history


def ev(i, p, type_, f, value=None, key=None, **extra):
    d = {"index": i, "time": i * 10, "process": p, "type": type_, "f": f, "key": key,
         "value": value}  # fmt: skip
    d.update(extra)
    return d


def seq(*ops, key=None):
    """Sequential history from (f, invoke value, completion type, completion value)."""
    out = []
    for f, v, t, r, *extra in ops:
        out.append(ev(len(out), 0, "invoke", f, v, key))
        out.append(ev(len(out), 0, t, f, r, key, **(extra[0] if extra else {})))
    return out


# --- small hand-made cases ---------------------------------------------------------------


def test_sequential_valid_and_stale_read():
    good = seq(("write", 1, "ok", 1), ("read", None, "ok", 1), ("cas", [1, 2], "ok", [1, 2]),
               ("read", None, "ok", 2))  # fmt: skip
    assert check(good)["valid"] is True
    bad = seq(("write", 1, "ok", 1), ("write", 2, "ok", 2), ("read", None, "ok", 1))
    r = check(bad)
    assert r["valid"] is False
    assert r["op"]["f"] == "read" and r["op"]["output"] == 1
    assert [p["state"] for p in r["prefix"]] == [1, 2]


def test_initial_value():
    h = seq(("read", None, "ok", 5))
    assert check(h)["valid"] is False
    assert check(h, initial=5)["valid"] is True


def test_closed_intervals_touching_ops_are_concurrent():
    # write 1 completes at t=20 and the read is invoked at t=20: they may be reordered
    h = [
        {"index": 0, "time": 10, "process": 0, "type": "invoke", "f": "write", "value": 1},
        {"index": 1, "time": 20, "process": 1, "type": "invoke", "f": "read", "value": None},
        {"index": 2, "time": 20, "process": 0, "type": "ok", "f": "write", "value": 1},
        {"index": 3, "time": 30, "process": 1, "type": "ok", "f": "read", "value": None},
    ]
    assert check(h)["valid"] is True
    h[1], h[2] = h[2], dict(h[1], time=21)
    assert check(h)["valid"] is False


def test_fail_is_dropped_but_cas_mismatch_is_an_observation():
    h = seq(("write", 1, "ok", 1), ("write", 2, "fail", 2, {"error": "unavailable"}),
            ("read", None, "ok", 1))  # fmt: skip
    assert check(h)["valid"] is True
    # the cas saw "not 1" while the register certainly held 1
    h = seq(("write", 1, "ok", 1), ("cas", [1, 3], "fail", [1, 3], {"error": "mismatch"}))
    assert check(h)["valid"] is False
    h = seq(("write", 1, "ok", 1), ("cas", [2, 3], "fail", [2, 3], {"error": "mismatch"}))
    assert check(h)["valid"] is True


def test_info_may_happen_late_or_never():
    late = [
        ev(0, 0, "invoke", "write", 1),
        ev(1, 0, "info", "write", 1),
        ev(2, 1, "invoke", "read"),
        ev(3, 1, "ok", "read", None),
        ev(4, 1, "invoke", "read"),
        ev(5, 1, "ok", "read", 1),
    ]
    assert check(late)["valid"] is True
    # once seen, the info write cannot be undone
    back = late + [ev(6, 1, "invoke", "read"), ev(7, 1, "ok", "read", None)]
    assert check(back)["valid"] is False
    # an invocation with no completion is info
    assert check(late[:1] + late[2:])["valid"] is True


def test_info_cas_takes_effect_at_most_once():
    h = [
        ev(0, 0, "invoke", "write", 0), ev(1, 0, "ok", "write", 0),
        ev(2, 1, "invoke", "cas", [0, 1]), ev(3, 1, "info", "cas", [0, 1]),
        ev(4, 0, "invoke", "read"), ev(5, 0, "ok", "read", 1),
        ev(6, 0, "invoke", "write", 0), ev(7, 0, "ok", "write", 0),
        ev(8, 0, "invoke", "read"), ev(9, 0, "ok", "read", 1),
    ]  # fmt: skip
    assert check(h)["valid"] is False
    assert check(h[:8])["valid"] is True


def test_kv_append_and_keys():
    h = seq(("append", [1], "ok", [1]), ("append", [2], "ok", [2]), ("read", None, "ok", [1, 2]),
            key="a")  # fmt: skip
    h += [dict(e, index=len(h) + i, time=(len(h) + i) * 10) for i, e in enumerate(
        seq(("append", "x", "ok", "x"), ("append", "y", "ok", "y"), ("read", None, "ok", "yx"),
            key="b"))]  # fmt: skip
    r = check(h, model="kv", full=True)
    assert r["valid"] is False and r["key"] == "b"
    assert r["keys"]["a"]["valid"] is True and r["keys"]["b"]["valid"] is False


def test_true_is_not_one():
    assert check(seq(("write", True, "ok", True), ("read", None, "ok", 1)))["valid"] is False
    assert check(seq(("write", [1], "ok", [1]), ("read", None, "ok", {"0": 1})))["valid"] is False


def test_time_limit_gives_unknown():
    h = reorder(generate(400, clients=10, info_rate=0.15, seed=1), seed=3)
    r = check(h, time_limit=0.2)
    assert r["valid"] in ("unknown", False)
    assert r["time_s"] < 5


# --- verdicts known by construction ------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("clients", [3, 10])
def test_generated_register_histories(seed, clients):
    assert check(generate(1000, clients=clients, info_rate=0.1, seed=seed))["valid"] is True
    # An invalid history makes the search exhaust every configuration before the anomaly,
    # which timed-out ops multiply: these stay at a size that is quick to refute.
    h = generate(200, clients=clients, info_rate=0.05, fail_rate=0.05, seed=seed)
    assert check(h)["valid"] is True
    r = check(corrupt_read(h, seed), time_limit=20)
    assert r["valid"] is False
    assert r["op"]["output"] == "never-written"
    r = check(reorder(h, seed), time_limit=20)
    assert r["valid"] is False
    assert r["op"]["output"] == "fresh-value"
    # a stale read is only refuted by the search: it must exhaust what comes before
    small = generate(120, clients=clients, info_rate=0.05, fail_rate=0.05, seed=seed)
    r = check(stale_read(small, seed), time_limit=20)
    assert r["valid"] is False and "reason" not in r
    assert r["op"]["output"] == "stale-A" and r["prefix"][-1]["state"] == "stale-B"


@pytest.mark.parametrize("seed", range(3))
def test_generated_kv_histories(seed):
    h = generate(3000, clients=20, keys=30, info_rate=0.1,
                 mix=("read", "write", "cas", "append"), seed=seed)  # fmt: skip
    r = check(h, model="kv")
    assert r["valid"] is True and r["keys_checked"] == r["keys_total"] == 30
    bad = corrupt_read(h, seed)
    r = check(bad, model="kv", full=True)
    assert r["valid"] is False
    assert sum(k["valid"] is False for k in r["keys"].values()) == 1
    assert r["op"]["key"] == r["key"]


def test_parallel_matches_serial(monkeypatch):
    import checker.linearizability as lin

    monkeypatch.setattr(lin, "PARALLEL_MIN_OPS", 100)
    h = generate(2000, clients=10, keys=20, info_rate=0.1, seed=7)
    bad = corrupt_read(h, 2)
    for hist in (h, bad):
        assert check(hist, "kv", jobs=2)["valid"] == check(hist, "kv", jobs=1)["valid"]


# --- agreement with brute force ----------------------------------------------------------


@settings(max_examples=3000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(st.integers(0, 2**32 - 1), st.integers(1, 7), st.integers(1, 4), st.booleans())
def test_agrees_with_brute_force(seed, n_ops, procs, kv):
    rng = random.Random(seed)
    h = random_history(rng, n_ops, procs, kv)
    initial = rng.choice([None, 0])
    model = "kv" if kv else "register"
    ops = ops_from(h)
    expected = linearizable(ops, initial=initial, model=model)
    got = check(h, model=model, initial=initial)["valid"]
    assert got is expected, h
    # the search-free refutations must never call a valid history invalid
    mdl = get_model(model)
    for kops in mdl.split(ops).values():
        if static_refutation(relevant(kops, mdl), mdl, freeze(initial)) is not None:
            assert expected is False, h


def test_relaxed_refutation_is_one_sided():
    """Reusable info ops only add orders: never a refutation of a valid history, and it
    refutes corrupted ones the exact search takes far longer on."""
    m = get_model("register")
    refuted = 0
    for seed in range(6):
        h = generate(300, clients=10, info_rate=0.2, values=5, seed=seed)
        ops = relevant(ops_from(h), m)
        assert relaxed_refutation(ops, m)[0] is None
        bad = relevant(ops_from(stale_read(h, seed)), m)
        refuted += relaxed_refutation(bad, m)[0] is not None
    assert refuted >= 3
    kv = get_model("kv")  # appends leave no fixed state: never relaxed
    h = generate(200, clients=5, keys=None, info_rate=0.3, seed=1, mix=("append", "read"))
    assert relaxed_refutation(relevant(ops_from(h), kv), kv) == (None, 0)
