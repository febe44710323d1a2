"""Whatever a peer sends, a replica either handles it or raises ProtocolError with its state
untouched; nothing else may escape (the node treats any other exception as fatal)."""

import copy
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paxos_impl.core import Replica
from paxos_impl.messages import TYPES, ProtocolError
from tests.support.sim import FaultPlan, run, sim_config

CMD = {"op": "write", "key": "k", "value": 1, "client_id": "c", "seq": 1}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.text(max_size=3),
    st.floats(allow_nan=False, allow_infinity=False),
)
ballots = st.one_of(st.lists(st.integers(-1, 50), min_size=2, max_size=2), scalars)
slots = st.one_of(st.integers(-1, 400), scalars)
commands = st.one_of(
    st.just(CMD),
    st.fixed_dictionaries(
        {"op": st.sampled_from(["write", "read", "cas", "append", "status", "rm"])},
        optional={
            "key": st.one_of(st.none(), st.text(max_size=2), st.integers()),
            "value": scalars,
            "client_id": st.one_of(st.text(max_size=2), st.none(), st.integers()),
            "seq": st.one_of(st.integers(-1, 5), st.none(), st.booleans()),
        },
    ),
    scalars,
)
batches = st.one_of(st.lists(commands, max_size=3), scalars)
fields = {
    "ballot": ballots,
    "from": slots,
    "to": slots,
    "slot": slots,
    "commit": slots,
    "round": slots,
    "snap": st.one_of(
        slots,
        st.fixed_dictionaries(
            {"applied": slots},
            optional={
                "sm": st.one_of(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "kv": st.lists(st.lists(scalars, max_size=3), max_size=2),
                            "text": st.one_of(st.text(max_size=8), scalars),
                            "state": st.one_of(scalars, st.lists(scalars, max_size=2)),
                            "dedup": st.dictionaries(
                                st.text(max_size=2), st.lists(scalars, max_size=2), max_size=2
                            ),
                        },
                    ),
                    scalars,
                )
            },
        ),
    ),
    "lease": scalars,
    "slots": st.one_of(st.lists(slots, max_size=3), scalars),
    "entries": st.one_of(
        st.lists(st.lists(st.one_of(slots, ballots, batches), max_size=3), max_size=3), scalars
    ),
    "chosen": st.one_of(st.lists(st.lists(st.one_of(slots, batches), max_size=2)), scalars),
}
messages = st.builds(
    lambda t, extra: {"type": t, **extra},
    st.sampled_from([*TYPES, "bogus"]),
    st.fixed_dictionaries({}, optional=fields),
)

good_ballot = st.lists(st.integers(0, 40), min_size=2, max_size=2)
good_slot = st.integers(1, 300)
good_batch = st.lists(
    st.builds(lambda v, s: dict(CMD, value=v, seq=s), scalars, st.integers(0, 9)), max_size=2
)
good_entry = st.tuples(good_slot, good_batch).map(list)
good_fields = {
    "prepare": {"ballot": good_ballot, "from": good_slot, "to": st.one_of(st.none(), good_slot)},
    "promise": {
        "ballot": good_ballot,
        "from": good_slot,
        "to": st.one_of(st.none(), good_slot),
        "entries": st.lists(st.tuples(good_slot, good_ballot, good_batch).map(list), max_size=3),
        "chosen": st.lists(good_entry, max_size=3),
        "snap": st.integers(0, 300),
        "commit": st.integers(0, 300),
    },
    "nack": {"ballot": good_ballot, "slot": st.one_of(st.none(), good_slot)},
    "accept": {
        "ballot": good_ballot,
        "entries": st.lists(good_entry, max_size=3),
        "commit": st.integers(0, 300),
    },
    "accepted": {
        "ballot": good_ballot,
        "slots": st.lists(good_slot, max_size=3),
        "commit": st.integers(0, 300),
    },
    "heartbeat": {"ballot": good_ballot, "commit": st.integers(0, 300), "round": st.integers(0, 9)},
    "heartbeat_ok": {
        "ballot": good_ballot,
        "round": st.integers(0, 9),
        "commit": st.integers(0, 300),
        "lease": st.booleans(),
    },
    "catchup": {"from": good_slot},
    "learn": {"entries": st.lists(good_entry, max_size=3), "commit": st.integers(0, 300)},
    "snapshot": {
        "snap": st.fixed_dictionaries(
            {
                "applied": st.integers(0, 300),
                "sm": st.fixed_dictionaries(
                    {
                        "kv": st.lists(st.tuples(st.text(max_size=2), scalars).map(list)),
                        "dedup": st.dictionaries(
                            st.text(max_size=2),
                            st.tuples(st.integers(0, 9), st.just({"ok": True, "value": None})).map(
                                list
                            ),
                            max_size=2,
                        ),
                    }
                ),
            }
        )
    },
}
well_formed = st.one_of(
    *[st.fixed_dictionaries({"type": st.just(t), **f}).map(dict) for t, f in good_fields.items()]
)

_world = run(sim_config(3, snapshot_every=10), 4, FaultPlan(), duration=0.6, settle=0.2).world
_replicas = {}
for _i in range(3):
    _r = _world.replica(_i)
    _obs, _r.observer = _r.observer, None  # (the observer would drag the whole world along)
    _replicas[_i] = copy.deepcopy(_r)
    _r.observer = _obs


def _state(r: Replica):
    return (
        r.status(),
        r.acc.dump(),
        dict(r.chosen),
        r.sm.snapshot(),
        r.dedup.dump(),
        r.known_commit,
    )


@pytest.mark.timeout(120)
@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(node=st.integers(0, 2), src=st.integers(0, 2), msg=st.one_of(messages, well_formed))
def test_any_message_is_handled_or_refused_cleanly(node, src, msg):
    r = copy.deepcopy(_replicas[node])
    r.rng = random.Random(0)
    before = copy.deepcopy(_state(r))
    try:
        ready = r.on_message(src, msg, _world.now + 0.01)
    except ProtocolError:
        assert _state(r) == before
        return
    assert ready.next_tick is None or ready.next_tick >= 0


requests = st.one_of(
    scalars,
    st.fixed_dictionaries(
        {},
        optional={
            "op": st.sampled_from(["read", "write", "cas", "append", "status", "drop", None]),
            "key": st.one_of(st.none(), st.text(max_size=2), st.integers()),
            "value": st.one_of(
                scalars,
                st.lists(scalars, max_size=3),
                st.dictionaries(st.text(max_size=2), scalars, max_size=2),
            ),
            "client_id": st.one_of(st.text(max_size=2), st.none(), st.integers()),
            "seq": st.one_of(st.integers(-1, 5), st.none(), st.booleans(), st.text(max_size=1)),
        },
    ),
)


@pytest.mark.timeout(120)
@settings(max_examples=200, deadline=None, derandomize=True)
@given(node=st.integers(0, 2), req=requests)
def test_any_client_request_gets_an_answer_or_is_queued(node, req):
    r = copy.deepcopy(_replicas[node])
    ready = r.on_client_request("h", req, _world.now + 0.01)
    for h, rep in ready.replies:
        assert h == "h" and isinstance(rep.get("ok"), bool)
        if not rep["ok"]:
            assert rep["error"] in ("bad_request", "not_leader", "mismatch", "unavailable")
    if not ready.replies:  # accepted for the log: then it is pending with a deadline
        assert r.waiting or r.p.read_pending("h")
