"""Workloads: client outcome mapping, key rotation, and the set and append element checkers."""

from __future__ import annotations

import asyncio
import random

import pytest

import workloads
from generator import Context
from paxos_impl.client import CasMismatch, DefiniteFailure, Indeterminate
from targets.bundled.client import StoreClient
from workloads.append import check_elements
from workloads.base import CheckInput, KeyPool
from workloads.set import check_set


class Conn:
    def __init__(self, exc=None, value=None):
        self.exc, self.value, self.calls = exc, value, []

    async def _do(self, *call):
        self.calls.append(call)
        if self.exc:
            raise self.exc
        return self.value

    async def read(self, key):
        return await self._do("read", key)

    async def write(self, key, v):
        return await self._do("write", key, v)

    async def cas(self, key, a, b):
        return await self._do("cas", key, a, b)

    async def append(self, key, v):
        return await self._do("append", key, v)

    async def close(self):
        pass


def invoke(conn, op):
    return asyncio.run(StoreClient(conn).invoke(op))


@pytest.mark.parametrize(
    "exc, outcome, error",
    [
        (None, "ok", None),
        (CasMismatch("saw 3", "mismatch"), "fail", "mismatch"),
        (DefiniteFailure("no quorum", "unavailable"), "fail", "unavailable"),
        (Indeterminate("timed out", "timeout"), "info", "timeout"),
        (ConnectionResetError("reset"), "info", "ConnectionResetError: reset"),
    ],
)
def test_client_outcomes(exc, outcome, error):
    r = invoke(Conn(exc), {"f": "cas", "key": "k", "value": [1, 2]})
    assert r["type"] == outcome and r.get("error") == error


def test_client_maps_operations():
    c = Conn(value=7)
    assert invoke(c, {"f": "read", "key": "k"}) == {"type": "ok", "value": 7}
    invoke(c, {"f": "add", "key": "set", "value": 4})
    invoke(c, {"f": "append", "key": "a", "value": [9]})
    assert c.calls[1:] == [("append", "set", [4]), ("append", "a", [9])]


def test_keys_rotate_and_stay_short():
    pool = KeyPool(active=3, ops_per_key=10)
    rng = random.Random(0)
    picks = [pool.pick(rng) for _ in range(300)]
    counts = {k: picks.count(k) for k in set(picks)}
    assert len(counts) >= 28 and max(counts.values()) <= 10


def test_generators_are_seeded():
    def ops(seed):
        w = workloads.make("kv", 4)
        gen, rng = w.generator(), random.Random(seed)
        return [gen.next(Context(time=0, worker=0, rng=rng)) for _ in range(50)]

    assert ops(1) == ops(1) and ops(1) != ops(2)


def ev(i, p, typ, f, key, value, t=None):
    return {
        "index": i,
        "time": t if t is not None else i,
        "process": p,
        "type": typ,
        "f": f,
        "key": key,
        "value": value,
    }


def test_set_checker_reports_lost_unexpected_and_duplicated():
    h = [
        ev(0, 0, "invoke", "add", "set", 1), ev(1, 0, "ok", "add", "set", 1),
        ev(2, 0, "invoke", "add", "set", 2), ev(3, 0, "ok", "add", "set", 2),
        ev(4, 1, "invoke", "add", "set", 3), ev(5, 1, "info", "add", "set", 3),
        ev(6, 2, "invoke", "read", "set", None), ev(7, 2, "ok", "read", "set", [1, 3, 3, 99]),
    ]  # fmt: skip
    r = check_set(CheckInput(None, h))
    assert r["valid"] is False
    assert r["lost"] == [2] and r["unexpected"] == [99] and r["duplicated"] == [3]
    assert r["recovered_count"] == 1 and r["availability"] == round(2 / 3, 4)
    ok = check_set(
        CheckInput(
            None,
            h[:6]
            + [ev(6, 2, "invoke", "read", "set", None), ev(7, 2, "ok", "read", "set", [2, 1])],
        )
    )
    assert ok["valid"] is True
    assert check_set(CheckInput(None, h[:6]))["valid"] == "unknown"


def test_append_checker_lost_only_if_acked_before_the_read_began():
    h = [
        ev(0, 0, "invoke", "append", "a0", [1]), ev(1, 0, "ok", "append", "a0", [1]),
        ev(2, 1, "invoke", "read", "a0", None),
        ev(3, 0, "invoke", "append", "a0", [2]), ev(4, 0, "ok", "append", "a0", [2]),
        ev(5, 1, "ok", "read", "a0", [1]),  # [2] was concurrent with this read: fine
    ]  # fmt: skip
    assert check_elements(CheckInput(None, h))["valid"] is True
    h += [ev(6, 1, "invoke", "read", "a0", None), ev(7, 1, "ok", "read", "a0", [1, 1])]
    r = check_elements(CheckInput(None, h))
    assert r["valid"] is False and r["lost"] == {"a0": [2]} and r["duplicated"] == {"a0": [1]}
