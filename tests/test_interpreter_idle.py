"""The interpreter's idle room: staggered workers share one timer, yet rate and limits hold."""

from __future__ import annotations

import asyncio
import random

import pytest

import generator as g
from controller.history import HistoryWriter, read_history
from controller.interpreter import Env, ProcessIds, run_workers
from controller.virtual_loop import run_virtual


class _Client:
    async def invoke(self, op):
        await asyncio.sleep(0.01)
        return {"type": "ok", "value": op.get("value")}

    async def close(self):
        pass


def _run(tmp_path, gen, concurrency=10, name="h.jsonl"):
    timers = []

    async def main():
        env = Env(direct_calls=True)
        loop = asyncio.get_running_loop()
        call_at = loop.call_at

        def counting_call_at(when, cb, *args, **kw):
            timers.append(when)
            return call_at(when, cb, *args, **kw)

        loop.call_at = counting_call_at
        history = HistoryWriter(tmp_path / name)
        await run_workers(
            gen,
            env=env,
            history=history,
            nodes=["n1", "n2"],
            concurrency=concurrency,
            open_client=lambda node, p: _Client(),
            seed=3,
            phase="run",
            processes=ProcessIds(),
            op_timeout=1.0,
        )
        return env.now()

    end = run_virtual(main())
    return read_history(tmp_path / name), timers, end


@pytest.mark.timeout(30)
def test_stagger_keeps_its_rate_with_about_one_timer_per_operation(tmp_path):
    gen = g.time_limit(20.0, g.stagger(0.1, g.const({"f": "read", "key": 1})))
    events, timers, end = _run(tmp_path, gen)
    oks = [e for e in events if e["type"] == "ok"]
    assert 150 <= len(oks) <= 250  # ~10 ops/s over 20 s, spread over all ten workers
    assert len({e["process"] for e in oks}) == 10
    assert max(e["time"] for e in events) <= 20.1e9
    assert end == pytest.approx(20.0, abs=0.1)  # every worker left at the time limit
    # a timer per op (the client's sleep) plus about one per due time; with a timer per
    # sleeping worker it was ten per operation
    assert len(timers) < 4 * len(oks)


@pytest.mark.timeout(30)
def test_same_seed_same_history(tmp_path):
    def gen():
        return g.time_limit(5.0, g.stagger(0.05, g.const({"f": "read", "key": 1})))

    a, _, _ = _run(tmp_path, gen(), name="a.jsonl")
    b, _, _ = _run(tmp_path, gen(), name="b.jsonl")
    assert a == b and len(a) > 100


@pytest.mark.timeout(30)
def test_per_worker_sleeps_are_honoured(tmp_path):
    # workers with different Sleeps are each asked again at their own time, not earlier
    gen = g.each_worker(lambda w: g.seq([g.sleep(0.5 * (w + 1)), {"f": "write", "value": w}]))
    events, _, end = _run(tmp_path, gen, concurrency=3)
    invokes = sorted((e["time"], e["value"]) for e in events if e["type"] == "invoke")
    assert [v for _, v in invokes] == [0, 1, 2]
    for (t, w), want in zip(invokes, (0.5, 1.0, 1.5), strict=True):
        assert t == pytest.approx(want * 1e9, abs=1e6), w
    assert end == pytest.approx(1.51, abs=0.01)


def _ctx(t, worker=0):
    return g.Context(time=t, worker=worker, rng=random.Random(worker))


def test_only_worker_independent_sleeps_are_shared():
    op = {"f": "read", "key": 1}
    st = g.time_limit(10, g.stagger(1.0, g.const(op)))
    assert isinstance(st.next(_ctx(0)), dict)
    s = st.next(_ctx(0, worker=1))
    assert isinstance(s, g.Sleep) and s.shared  # every worker waits for the same due time
    # combinators whose answer depends on the worker (or its random stream) drop the promise
    for gen in (
        g.then(g.stagger(1.0, g.const(op))),
        g.each_worker(lambda w: g.stagger(1.0, g.const(op))),
        g.mix([g.stagger(1.0, g.const(op))]),
        g.until_ok(g.stagger(1.0, g.const(op))),
    ):
        assert isinstance(gen.next(_ctx(0)), dict)
        s = gen.next(_ctx(0))
        assert isinstance(s, g.Sleep) and not s.shared, gen
    assert g.Sleep(1.0, shared=True) == g.Sleep(1.0)  # the hint is not part of the answer


@pytest.mark.timeout(30)
def test_per_worker_plans_under_a_shared_stagger_still_get_asked(tmp_path):
    # each worker's own step decides; a shared sleep of one worker must not skip another
    def plan(w):
        return g.seq([g.sleep(0.3 * w), {"f": "write", "value": w}])

    gen = g.then(g.stagger(0.05, g.limit(2, g.const({"f": "read"}))), g.each_worker(plan))
    events, _, _ = _run(tmp_path, gen, concurrency=4)
    writes = sorted(e["value"] for e in events if e["type"] == "invoke" and e["f"] == "write")
    assert writes == [0, 1, 2, 3]
