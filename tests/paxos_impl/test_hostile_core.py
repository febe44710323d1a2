"""Hostile input at the sans-IO core (issue 13, items 2-4): values checked at the door, every
message the core emits fits in one frame, catch-up and snapshots by bytes.

The hand-cranked bus of tests/support/bus.py, made to *encode* every message and record the
way the node would, and fails the test when one could not be sent or written: before the
fixes, a big enough batch, learn or promise made exactly that happen on real nodes.
"""

import functools
import json
import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxos_impl import limits, wire
from paxos_impl import messages as M
from paxos_impl.config import local_config
from paxos_impl.core import Replica
from tests.support.bus import Bus as _Bus

FRAME = 64 * 1024  # the smallest frame a config allows: big values are cheap to make
SMALL = {"max_frame_bytes": FRAME, "max_command_bytes": 20_000, "max_buffered_bytes": FRAME}


# every message, record and reply goes through the encoders, as on a real node
Bus = functools.partial(_Bus, wire=True)


def nested(depth):
    v = 0
    for _ in range(depth):
        v = [v]
    return v


# -- 2. values checked at the door -------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [math.inf, -math.inf, math.nan, [1, math.inf], {"a": [math.nan]}, nested(980), nested(65)],
    ids=["inf", "-inf", "nan", "inf-in-list", "nan-in-object", "980-deep", "65-deep"],
)
@pytest.mark.parametrize("op", ["write", "append", "cas"])
def test_unstorable_values_are_refused_at_the_door(value, op):
    b = Bus()
    b.run(1.0)
    ld = b.leader()
    v = [None, value] if op == "cas" else value
    b.request(ld, "h", op, value=v)
    b.run(0.5)
    (rep,) = b.answers("h")
    assert rep["ok"] is False and rep["error"] == "bad_request", rep
    assert b.r[ld].commit_index == b.r[ld].applied_index  # nothing was proposed for it
    b.request(ld, "h2", "write", value=nested(64), seq=2)  # the deepest allowed is fine
    b.run(0.5)
    assert b.answers("h2") == [{"ok": True, "value": None}]


def test_a_command_too_big_to_replicate_is_refused_before_it_is_proposed():
    b = Bus(**SMALL)
    b.run(1.0)
    ld = b.leader()
    slots = b.r[ld].commit_index
    b.request(ld, "h", "write", value="x" * 20_000)
    b.run(0.5)
    (rep,) = b.answers("h")
    assert rep["error"] == "bad_request" and "max_command_bytes" in rep["reason"]
    assert b.r[ld].commit_index == slots
    b.request(ld, "h2", "write", value="x" * 19_900, seq=2)
    b.run(0.5)
    assert b.answers("h2") == [{"ok": True, "value": None}]


def test_appends_cannot_grow_a_value_past_what_a_frame_can_carry():
    b = Bus(**SMALL)
    b.run(1.0)
    ld = b.leader()
    outcomes = []
    for seq in range(1, 8):
        b.request(ld, seq, "append", value="y" * 5000, seq=seq)
        b.run(0.2)
        outcomes.append(b.answers(seq)[0]["ok"])
    assert outcomes[:3] == [True] * 3 and outcomes[-1] is False
    sizes = {limits.encoded_size(r.sm.read("k")) for r in b.r.values()}
    assert len(sizes) == 1 and sizes.pop() <= b.cfg.max_command_bytes  # all refused alike
    b.request(ld, "read", "read", seq=99)
    b.run(0.2)
    assert b.answers("read")[0]["ok"] is True


# -- 3/4. every message bounded by bytes -----------------------------------------------------
def test_full_batches_of_big_commands_fit_in_frames():
    """Many clients' commands just under the limit at once: before, one batch (64 commands)
    and one accept (16 slots) were cut by count only, into frames far over the limit."""
    b = Bus(**SMALL)
    b.run(1.0)
    ld = b.leader()
    for c in range(40):
        b.request(ld, c, "write", key=f"k{c}", value="z" * 19_000, cid=f"c{c}")
    b.run(1.0)
    assert all(b.answers(c) == [{"ok": True, "value": None}] for c in range(40))
    assert b.biggest <= FRAME


def test_lagging_follower_catches_up_by_bytes_and_by_snapshot_parts():
    """Issue 13 item 4, scaled to a 64 KiB frame: 60 writes of 10 KB while a follower is cut
    off, then it comes back. Before, one learn carried 64 slots (600 KB) and could never be
    sent, and a snapshot was one message however big the state."""
    b = Bus(snapshot_every=25, **SMALL)
    b.run(1.0)
    ld = b.leader()
    lag = next(i for i in b.r if i != ld)
    b.cut = {lag}
    for seq in range(1, 61):
        b.request(ld, seq, "write", key=f"k{seq}", value="w" * 10_000, seq=seq)
        b.run(0.05)
    assert all(b.answers(s)[0]["ok"] for s in range(1, 61))
    b.cut = set()
    b.run(3.0)
    want = b.r[ld].sm.snapshot()["kv"]
    assert b.r[lag].applied_index == b.r[ld].applied_index
    assert b.r[lag].sm.snapshot()["kv"] == want
    assert "snapshot" in b.types and b.biggest <= FRAME


def test_promise_reports_every_accepted_value_in_pages():
    """A candidate must hear every value an acceptor accepted above its commit index (it may
    be chosen). More than a frame of them go in pages, each fitting a frame."""
    cfg = local_config(3, **SMALL)
    acc = Replica(1, cfg, random.Random(1))
    entries = [[s, [M.command(dict(op="write", key=f"k{s}", value="v" * 15_000,
                                   client_id="c", seq=s))]] for s in range(1, 21)]  # fmt: skip
    for i in range(0, 20, 2):
        acc.on_message(0, M.msg("accept", ballot=(1, 0), entries=entries[i : i + 2], commit=0), 1.0)
    got: dict[int, list] = {}
    frm = 1
    for _ in range(30):
        ready = acc.on_message(2, M.msg("prepare", ballot=(2, 2), to=None, **{"from": frm}), 2.0)
        (_, promise), *_ = [(d, m) for d, m in ready.messages if m["type"] == "promise"]
        assert len(wire.encode(promise, FRAME)) <= FRAME
        got.update({s: v for s, _, v in promise["entries"]})
        if promise.get("more") is None:
            break
        frm = promise["more"]
    assert got == {s: v for s, v in entries}


def test_candidate_gathers_paged_promises_and_reproposes_every_value():
    b = Bus(**SMALL)
    b.run(1.0)
    ld = b.leader()
    # the leader gets accepts out but no commits back: every follower holds 30 accepted slots
    for c in range(30):
        b.request(ld, c, "write", key=f"k{c}", value="p" * 15_000, cid=f"c{c}")
    b.deliver()
    others = [i for i in b.r if i != ld]
    b.cut = {ld}
    b.run(3.0)
    new = b.leader()
    assert new != ld
    for c in range(30):
        assert b.r[new].sm.read(f"k{c}") == "p" * 15_000
    assert b.biggest <= FRAME and others


# -- fuzzing: whatever a client or peer sends, the core answers or refuses -----------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    op=st.sampled_from(["read", "write", "cas", "append", "status", "bogus", 3, None]),
    key=st.one_of(st.none(), st.text(max_size=5), st.integers()),
    value=json_values,
    seq=st.one_of(st.integers(min_value=-2, max_value=10**30), st.floats(), st.text()),
)
def test_fuzzed_client_requests_are_answered_and_never_poison_the_log(op, key, value, seq):
    b = FUZZ_BUS
    req = {"op": op, "key": key, "value": value, "client_id": "fz", "seq": seq}
    handle = object()
    b.client(b.ld, handle, req)
    for _ in range(80):  # a request is answered within request_ms (3 s) at the latest
        b.run(0.05)
        if b.answers(handle):
            break
    (rep,) = b.answers(handle)
    assert rep["ok"] in (True, False)
    b.replies.clear()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    mtype=st.sampled_from(M.TYPES),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "ballot",
                "from",
                "to",
                "entries",
                "chosen",
                "snap",
                "commit",
                "slot",
                "slots",
                "round",
                "lease",
                "more",
                "part",
                "parts",
            ]
        ),  # fmt: skip
        json_values,
    ),
)
def test_fuzzed_peer_messages_are_refused_or_handled(mtype, fields):
    b = PEER_BUS
    m = {"type": mtype, **fields}
    follower = next(i for i in b.r if i != b.ld)
    try:  # the runtime drops a malformed message (step.refused); anything else is Fatal
        b.message(follower, b.ld, json.loads(json.dumps(m)))
    except ValueError:  # json.dumps of NaN is allowed there: the wire refuses it anyway
        pass


FUZZ_BUS = Bus(seed=3, **SMALL)
FUZZ_BUS.run(1.0)
FUZZ_BUS.ld = FUZZ_BUS.leader()
PEER_BUS = Bus(seed=4, **SMALL)  # its own: fuzzed messages may well depose its leader
PEER_BUS.run(1.0)
PEER_BUS.ld = PEER_BUS.leader()


@pytest.mark.parametrize(
    "kw",
    [
        {"max_frame_bytes": 1000},
        {"max_command_bytes": 4 * 1024 * 1024},  # could never fit in an accept
        {"max_command_bytes": 10},
        {"max_value_depth": 0},
        {"max_value_depth": 900},  # deeper than the JSON codecs can take
        {"max_client_conns": 0},
        {"max_buffered_bytes": 1000},  # could not hold one legitimate frame
    ],
)
def test_limits_that_cannot_work_are_config_errors(kw):
    from paxos_impl.config import ConfigError

    with pytest.raises(ConfigError):
        local_config(3, **kw)


def test_default_limits_nest():
    cfg = local_config(3)
    assert cfg.max_command_bytes <= limits.batch_budget(cfg.max_frame_bytes)
    assert cfg.max_buffered_bytes >= cfg.max_frame_bytes
    assert config_roundtrip(cfg) == cfg


def config_roundtrip(cfg):  # noqa: N802 - reads as what it checks
    import tomllib

    from paxos_impl.config import Config

    return Config.from_dict(tomllib.loads(cfg.to_toml()))
