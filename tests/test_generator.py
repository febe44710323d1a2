"""Generators are pure: the same seed and the same questions give the same plan."""

from __future__ import annotations

import random

import generator as g
from generator import Context, Sleep


def ctx(t: float, worker=0, seed=1, last=None, last_done=None) -> Context:
    return Context(time=t, worker=worker, rng=random.Random(seed), last=last, last_done=last_done)


def run(gen, until: float, workers: int = 1, seed: int = 3):
    """A tiny interpreter: instant ops, workers asking in turn, a shared clock."""
    rngs = [random.Random(f"{seed}:{w}") for w in range(workers)]
    wake = [0.0] * workers
    done = [False] * workers
    out = []
    while not all(done):
        w = min((i for i in range(workers) if not done[i]), key=lambda i: (wake[i], i))
        t = wake[w]
        if t >= until:
            break
        r = gen.next(Context(time=t, worker=w, rng=rngs[w]))
        if r is None:
            done[w] = True
        elif isinstance(r, Sleep):
            wake[w] = max(r.until, t + 1e-9)
        else:
            out.append((round(t, 6), w, r))
            wake[w] = t + 0.001
    return out


def test_stagger_sets_the_total_rate():
    ops = run(g.time_limit(100, g.rate(10, g.const({"f": "read"}))), until=200, workers=5)
    assert 900 <= len(ops) <= 1100  # 10/s for 100 s
    assert max(t for t, _, _ in ops) < 100


def test_rate_zero_is_unlimited():
    ops = run(g.time_limit(1, g.rate(0, g.const({"f": "read"}))), until=2, workers=2)
    assert len(ops) > 1500  # one per ms per worker


def test_same_seed_same_plan_and_different_seed_different_plan():
    def plan(seed):
        gen = g.time_limit(
            20, g.stagger(0.1, g.mix([g.const({"f": "read"}), g.const({"f": "write"})]))
        )
        return run(gen, until=30, workers=3, seed=seed)

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)


def test_mix_weights_and_exhaustion():
    gen = g.mix([g.limit(3, g.const({"f": "a"})), g.const({"f": "b"})], weights=[100, 1])
    fs = [gen.next(ctx(0, seed=s))["f"] for s in range(20)]
    assert fs.count("a") == 3  # a is used up, then only b is left


def test_time_limit_starts_at_first_ask_and_clips_sleeps():
    gen = g.time_limit(5, g.sleep(100))
    assert gen.next(ctx(10)) == Sleep(15)
    assert gen.next(ctx(15)) is None


def test_then_each_worker_and_until_ok():
    gen = g.each_worker(
        lambda w: g.then(
            g.until_ok(g.const({"f": "read", "key": w}), attempts=3), g.const({"f": "x"})
        )
    )
    assert gen.next(ctx(0, worker=1))["key"] == 1
    # the read failed: retried after the backoff, not before
    failed = {"type": "fail"}
    assert gen.next(ctx(0.1, worker=1, last=failed, last_done=0.1)) == Sleep(0.6)
    assert gen.next(ctx(0.6, worker=1, last=failed, last_done=0.1))["f"] == "read"
    # now it succeeds: on to the next generator
    assert gen.next(ctx(0.7, worker=1, last={"type": "ok"}, last_done=0.7))["f"] == "x"
    # another worker has its own sequence
    assert gen.next(ctx(0.7, worker=2))["key"] == 2


def test_until_ok_gives_up_after_attempts():
    gen = g.until_ok(g.const({"f": "read"}), attempts=2, backoff=0)
    bad = {"type": "info"}
    assert gen.next(ctx(0))["f"] == "read"
    assert gen.next(ctx(1, last=bad, last_done=1))["f"] == "read"
    assert gen.next(ctx(2, last=bad, last_done=2)) is None


def test_seq_and_limit():
    gen = g.seq([{"f": "a"}, g.sleep(1), {"f": "b"}])
    assert gen.next(ctx(0)) == {"f": "a"}
    assert gen.next(ctx(0)) == Sleep(1)
    assert gen.next(ctx(1)) == {"f": "b"}
    assert gen.next(ctx(1)) is None
    lim = g.limit(2, g.const({"f": "a"}))
    assert [lim.next(ctx(0)) for _ in range(3)] == [{"f": "a"}, {"f": "a"}, None]


def test_drain_previews_a_plan():
    rng = random.Random(5)
    gen = g.time_limit(1, g.stagger(0.1, g.const({"f": "r"})))
    ops = g.drain(gen, lambda t: Context(time=t, worker=0, rng=rng), until=5)
    assert 5 <= len(ops) <= 20 and all(o["_time"] < 1 for o in ops)
