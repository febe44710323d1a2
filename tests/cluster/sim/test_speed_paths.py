"""The simulator's fast paths must agree with the slow ones they stand in for: the orjson
codec with ``json.loads(json.dumps(x))``, the inline message checks with the full ones."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.sim.codec import copy, encode
from paxos_impl import messages as M

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=4), st.integers(-3, 3)), inner, max_size=4),
    ),
    max_leaves=12,
)


def _same(a: object, b: object) -> bool:
    """Equality that counts NaN equal to NaN and tells 1 from 1.0 and True."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)  # type: ignore[attr-defined]
    return a == b


@settings(max_examples=400, deadline=None, derandomize=True)
@given(values)
def test_codec_copy_is_the_json_round_trip(x):
    assert _same(copy(x), json.loads(json.dumps(x)))


def test_codec_refuses_what_json_refuses():
    for bad in (object(), {(1, 2): 3}, {1, 2}, b"bytes"):
        with pytest.raises(TypeError):
            encode(bad)
    assert copy([2**80]) == [2**80] and type(copy([2**80])[0]) is int


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), [1, float("-inf")]])
def test_nan_never_reaches_the_simulator_the_client_refuses_it(bad):
    """The codec does not keep NaN (orjson writes null); that is safe only because the
    client refuses it before anything is sent, as the real wire does."""
    from cluster.sim.backend import SimCluster
    from controller.virtual_loop import run_virtual
    from paxos_impl.client import DefiniteFailure

    c = SimCluster("paxlab-nan", 3, seed=1)
    c.setup()
    for node in c.nodes:
        c.start(node)

    async def go() -> None:
        cl = c.async_client(c.nodes[0], "nan-client", timeout=1.0)
        with pytest.raises(DefiniteFailure) as e:
            await cl.write("k", bad)
        assert e.value.error == "bad_request"
        assert cl._attempts == 0  # nothing went out on the simulated connection
        await cl.close()

    try:
        run_virtual(go())
    finally:
        c.teardown()


ints = st.one_of(st.integers(-2, 5), st.booleans(), st.none(), st.text(max_size=1))
ballots = st.one_of(st.lists(ints, max_size=3), ints)
fast_types = st.fixed_dictionaries(
    {"type": st.sampled_from(["heartbeat", "heartbeat_ok", "accepted", "accept", "nonsense"])},
    optional={
        "ballot": ballots,
        "commit": ints,
        "round": ints,
        "lease": ints,
        "slots": st.one_of(st.lists(ints, max_size=3), ints),
        "entries": st.one_of(
            ints,
            st.lists(
                st.one_of(
                    st.tuples(ints, st.just([])).map(list),
                    st.tuples(
                        ints,
                        st.lists(
                            st.fixed_dictionaries(
                                {
                                    "op": st.sampled_from(["read", "write", "status", "x"]),
                                    "key": st.one_of(st.none(), st.text(max_size=1), ints),
                                    "value": ints,
                                    "client_id": st.one_of(st.just("c"), ints),
                                    "seq": ints,
                                }
                            ),
                            max_size=2,
                        ),
                    ).map(list),
                    ints,
                ),
                max_size=3,
            ),
        ),
    },
)


def _full_ok(src, m) -> bool:
    try:
        M.validate(src, m, range(1, 4))
    except M.ProtocolError:
        return False
    return True


@settings(max_examples=600, deadline=None, derandomize=True)
@given(st.one_of(st.integers(0, 4), st.booleans()), fast_types)
def test_inline_checks_accept_only_what_the_full_checks_accept(src, m):
    fast = type(src) is int and src in range(1, 4) and M._fast_ok(m)
    if fast:  # the fast path may say no to good messages (they go the long way), never yes to bad
        assert _full_ok(src, m)
    assert _full_ok(src, m) == (
        src in range(1, 4)
        and not isinstance(src, bool)
        and (m["type"] != "nonsense")
        and all(f(m) for f in _SLOW[m["type"]])
    )


_SLOW = {
    "heartbeat": [
        lambda m: M.is_ballot(m.get("ballot")),
        lambda m: _nat(m, "commit"),
        lambda m: _nat(m, "round"),
    ],
    "heartbeat_ok": [
        lambda m: M.is_ballot(m.get("ballot")),
        lambda m: _nat(m, "commit"),
        lambda m: _nat(m, "round"),
        lambda m: isinstance(m.get("lease"), bool),
    ],
    "accepted": [
        lambda m: M.is_ballot(m.get("ballot")),
        lambda m: _nat(m, "commit"),
        lambda m: (
            isinstance(m.get("slots"), list)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in m["slots"])
        ),
    ],
    "accept": [
        lambda m: M.is_ballot(m.get("ballot")),
        lambda m: _nat(m, "commit"),
        lambda m: (
            isinstance(m.get("entries"), list) and all(M._slot_batch(e) for e in m["entries"])
        ),
    ],
    "nonsense": [],
}


def _nat(m: dict, k: str) -> bool:
    v = m.get(k)
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def test_a_well_formed_heartbeat_takes_the_fast_path():
    assert M._fast_ok({"type": "heartbeat", "ballot": [3, 1], "commit": 7, "round": 2})
    assert M._fast_ok({"type": "accepted", "ballot": [3, 1], "slots": [4, 5], "commit": 7})
    cmd = {"op": "write", "key": "k", "value": 1, "client_id": "c", "seq": 0}
    assert M._fast_ok({"type": "accept", "ballot": [3, 1], "entries": [[4, [cmd]]], "commit": 3})
    assert not M._fast_ok({"type": "heartbeat", "ballot": [3, True], "commit": 7, "round": 2})


def test_records_kept_as_objects_still_equal_their_encoding_at_write_time(tmp_path, monkeypatch):
    """SimDisk keeps the record objects the core handed over, and a restarting node gets
    them back shared, not copied; that is sound only while nobody changes a record after
    it was written. After a kill-heavy run (every node restarted several times from a
    growing log, half the kills power cuts) every record on every disk must still be what
    it encoded to when it was written."""
    import argparse

    from cluster.sim.codec import encode
    from cluster.sim.disk import SimDisk
    from controller.run import make_cluster_for, run_test
    from controller.sim_cli import make_spec

    at_write: dict[int, tuple[dict, bytes | str]] = {}
    write = SimDisk.write

    def recording_write(self, records, snapshot=None):
        for r in records:
            at_write[id(r)] = (r, encode(r))  # holding r keeps its id unique
        return write(self, records, snapshot)

    monkeypatch.setattr(SimDisk, "write", recording_write)
    args = argparse.Namespace(
        workload="kv", nemesis="kill", bug=[], nodes=5, concurrency=10, time_limit=20.0,
        rate=None, nemesis_interval=0.5, op_timeout=1.0, read_mode="log", mode="leader",
        power_loss=0.5, clock_drift=0.0, drop=0.0, dup=0.0,
    )  # fmt: skip
    spec = make_spec(args, 3)
    cluster = make_cluster_for(spec)
    out = run_test(spec, cluster=cluster, results_root=tmp_path, progress=False, report=False)
    assert out.results["valid"] is True
    checked = 0
    for n in cluster.world.nodes.values():
        for rec in n.disk.durable_records():
            kept = at_write.get(id(rec))
            if kept is not None and kept[0] is rec:  # (a torn tail's survivors are new)
                assert encode(rec) == kept[1], rec
                checked += 1
    restarts = sum(n.incarnation for n in cluster.world.nodes.values())
    assert restarts > 20 and checked > 100, (restarts, checked)
    # the simulator's default snapshot interval makes even a short run compact its logs
    assert all(n.disk.snapshot is not None for n in cluster.world.nodes.values())
