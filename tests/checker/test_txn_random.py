"""checker.txn on random histories: valid ones from a serial executor are accepted under
every model, and on small random (often anomalous) histories its verdict is checked against
the brute-force reference that tries every serial order. No false alarm ever (an anomaly
reported means no serial order exists); for list-append, whose version orders the reads
reveal, the verdicts agree both ways. rw-register is, as in Elle, only sound: a history
whose impossibility needs version orders the reads do not show can pass."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from checker.txn.brute import serializable
from checker.txn.check import CONSISTENCY, check_txns
from checker.txn.gen import generate
from checker.txn.history import txns_from_events
from tests.support.txn import txns

MODELS = ("list-append", "rw-register")


def _txns(evs: list[dict], model: str):
    return txns_from_events([(n + 1, ev) for n, ev in enumerate(evs)], model)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 300), clients=st.integers(1, 8),
       keys=st.integers(1, 5), model=st.sampled_from(MODELS))  # fmt: skip
def test_serial_executor_histories_are_valid(seed, n, clients, keys, model) -> None:
    evs = generate(n, model, seed, clients, keys, writes_per_key=6)
    h = _txns(evs, model)
    assert len(h) == n
    for consistency in CONSISTENCY:
        r = check_txns(h, model, consistency)
        assert r["valid"] is True, (consistency, r["anomalies"][:1], r["allowed_anomalies"][:1])
        assert r["allowed_anomalies"] == []


def _random_spec(rng: random.Random, model: str) -> list[tuple[str, list[list]]]:
    """A few transactions over two keys whose reads are random prefixes or values of what
    was written: mostly not serializable, sometimes by luck."""
    n = rng.randint(2, 5)
    counter = {"x": 0, "y": 0}
    writes: dict[str, list[int]] = {"x": [], "y": []}
    plan = []
    for _ in range(n):
        mops = []
        for _ in range(rng.randint(1, 3)):
            k = rng.choice("xy")
            if rng.random() < 0.5:
                mops.append(["r", k, None])
            else:
                counter[k] += 1
                writes[k].append(counter[k])
                mops.append(["append" if model == "list-append" else "w", k, counter[k]])
        plan.append((rng.choice(["ok"] * 6 + ["info", "fail"]), mops))
    spec = []
    for type_, mops in plan:
        out = []
        for f, k, v in mops:
            if f == "r":
                ws = writes[k]
                if model == "list-append":
                    perm = ws[:] if rng.random() < 0.7 else rng.sample(ws, len(ws))
                    v = perm[: rng.randint(0, len(perm))]
                else:
                    v = rng.choice([None, *ws])
            out.append([f, k, v])
        spec.append((type_, out))
    return spec


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), model=st.sampled_from(MODELS),
       sequential=st.booleans())  # fmt: skip
def test_agrees_with_brute_force_on_small_histories(seed, model, sequential) -> None:
    spec = _random_spec(random.Random(seed), model)
    h = txns(spec, model, sequential)
    for consistency, realtime in (("serializable", False), ("strict-serializable", True)):
        expected = serializable(h, model, realtime)
        r = check_txns(h, model, consistency)
        if r["valid"] is False or model == "list-append":
            assert r["valid"] is expected, (consistency, spec, r["anomalies"][:2])


def test_stale_reads_in_a_large_history_give_closed_cycles() -> None:
    """Reads blanked in a big valid history make one huge component; the bounded search
    still reports a closed cycle of the right class for each kind it finds."""
    evs = generate(3000, "list-append", 5)
    rng = random.Random(1)
    for ev in evs:
        if ev["type"] == "ok" and rng.random() < 0.02:
            ev["value"] = [[f, k, [] if f == "r" else v] for f, k, v in ev["value"]]
    r = check_txns(_txns(evs, "list-append"), "list-append", "serializable")
    assert r["valid"] is False
    cycles = [a for a in r["anomalies"] if "cycle" in a]
    assert cycles
    for a in cycles:
        steps = a["cycle"]
        assert all(s["to"] == t["from"] for s, t in zip(steps, steps[1:] + steps[:1], strict=True))
        rw = sum(s["type"] == "rw" for s in steps)
        assert rw == 1 if a["type"] == "G-single" else rw >= 2 if a["type"] == "G2-item" else True
