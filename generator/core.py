"""Generators: pure descriptions of what each worker should do next (after Jepsen's).

A generator is asked ``next(ctx)`` by the interpreter and answers with an operation (a dict
with ``f``, ``key``, ``value``), a :class:`Sleep` (ask again at that time), or ``None``
(this worker is done). Generators never read a clock, sleep, start threads or draw from
global randomness: the interpreter passes the time (seconds since the test began, from the
event loop) and a ``random.Random`` seeded from the spec. So a plan is a function of the
seed and of the order in which workers ask, which a virtual-time loop makes deterministic.

Combinators: :func:`fn`, :func:`const`, :func:`mix`, :func:`stagger`, :func:`time_limit`,
:func:`limit`, :func:`then`, :func:`each_worker`, :func:`until_ok`, :func:`seq`, :func:`sleep`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Op = dict[str, Any]


@dataclass(frozen=True)
class Sleep:
    """Nothing to do before ``until`` (seconds since the test began); ask again then.

    ``shared`` is a promise the interpreter may use to ask less: any other worker asking at
    this same time would get this same answer, and asking would change no state. Then the
    other workers due at this instant are put back to sleep without being asked (under a
    shared stagger, nine of ten asks). Only a generator that knows it holds sets it, and
    combinators whose answer depends on the worker or on its random stream clear it.
    """

    until: float
    shared: bool = field(default=False, compare=False)


def _private(r: Result) -> Result:
    """``r`` without the shared promise: for combinators whose answer depends on the worker."""
    return Sleep(r.until) if isinstance(r, Sleep) and r.shared else r


@dataclass
class Context:
    """What a generator may look at: time, who is asking, their random stream, their last result."""

    time: float
    worker: int | str
    rng: random.Random
    process: int | str = 0
    node: str | None = None
    last: dict[str, Any] | None = None  # this worker's previous completion event, if any
    last_done: float | None = None  # when that completion came (seconds since the start)
    extra: dict[str, Any] = field(default_factory=dict)


Result = Op | Sleep | None


class Generator:
    """Base class: subclasses implement next()."""

    def next(self, ctx: Context) -> Result:  # pragma: no cover - abstract
        raise NotImplementedError


class _Fn(Generator):
    def __init__(self, f: Callable[[Context], Result]) -> None:
        self.f = f

    def next(self, ctx: Context) -> Result:
        return self.f(ctx)


def fn(f: Callable[[Context], Result]) -> Generator:
    """Call ``f(ctx)`` for every operation: an endless stream."""
    return _Fn(f)


def const(op: Op) -> Generator:
    """The same operation forever (copied each time)."""
    return _Fn(lambda ctx: dict(op))


class _Mix(Generator):
    def __init__(self, gens: Sequence[Generator], weights: Sequence[float] | None) -> None:
        self.gens = list(gens)
        self.weights = list(weights) if weights is not None else None

    def next(self, ctx: Context) -> Result:
        live = list(range(len(self.gens)))
        while live:
            w = [self.weights[i] for i in live] if self.weights else None
            i = ctx.rng.choices(live, weights=w)[0]
            r = self.gens[i].next(ctx)
            if r is not None:
                return _private(r)  # the draw above used this worker's random stream
            live.remove(i)
        return None


def mix(gens: Sequence[Generator], weights: Sequence[float] | None = None) -> Generator:
    """Each operation from one of ``gens``, chosen at random (optionally weighted)."""
    if not gens:
        raise ValueError("mix of no generators")
    return _Mix(gens, weights)


class _Stagger(Generator):
    """One shared schedule: operations leave at random intervals averaging ``dt``."""

    def __init__(self, dt: float, gen: Generator) -> None:
        self.dt = dt
        self.gen = gen
        self.next_time: float | None = None

    def next(self, ctx: Context) -> Result:
        if self.next_time is not None and ctx.time < self.next_time:
            return Sleep(self.next_time, shared=True)
        r = self.gen.next(ctx)
        if isinstance(r, dict):
            base = ctx.time if self.next_time is None else max(self.next_time, ctx.time - self.dt)
            self.next_time = base + ctx.rng.uniform(0, 2 * self.dt)
        return r


def stagger(dt: float, gen: Generator) -> Generator:
    """Operations from ``gen`` at a total rate of about 1/dt per second, over all workers."""
    return _Stagger(dt, gen)


def rate(ops_per_s: float | None, gen: Generator) -> Generator:
    """:func:`stagger` by a total rate; None or 0 means as fast as the workers go."""
    return stagger(1.0 / ops_per_s, gen) if ops_per_s else gen


class _TimeLimit(Generator):
    def __init__(self, seconds: float, gen: Generator) -> None:
        self.seconds = seconds
        self.gen = gen
        self.deadline: float | None = None

    def next(self, ctx: Context) -> Result:
        if self.deadline is None:
            self.deadline = ctx.time + self.seconds
        if ctx.time >= self.deadline:
            return None
        r = self.gen.next(ctx)
        if isinstance(r, Sleep) and r.until > self.deadline:
            return Sleep(self.deadline, r.shared)
        return r


def time_limit(seconds: float, gen: Generator) -> Generator:
    """``gen`` until ``seconds`` after the first time anyone asks; then done for everyone."""
    return _TimeLimit(seconds, gen)


class _Limit(Generator):
    def __init__(self, n: int, gen: Generator) -> None:
        self.left = n
        self.gen = gen

    def next(self, ctx: Context) -> Result:
        if self.left <= 0:
            return None
        r = self.gen.next(ctx)
        if isinstance(r, dict):
            self.left -= 1
        return r


def limit(n: int, gen: Generator) -> Generator:
    """At most ``n`` operations in total from ``gen``."""
    return _Limit(n, gen)


class _Then(Generator):
    def __init__(self, gens: Sequence[Generator]) -> None:
        self.gens = list(gens)
        self.pos: dict[int | str, int] = {}

    def next(self, ctx: Context) -> Result:
        i = self.pos.get(ctx.worker, 0)
        while i < len(self.gens):
            r = self.gens[i].next(ctx)
            if r is not None:
                self.pos[ctx.worker] = i
                return _private(r)  # other workers may be at another step
            i += 1
        self.pos[ctx.worker] = i
        return None


def then(*gens: Generator) -> Generator:
    """Each worker runs ``gens`` one after another, moving on when one is done for it."""
    return _Then(gens)


class _EachWorker(Generator):
    def __init__(self, factory: Callable[[int | str], Generator]) -> None:
        self.factory = factory
        self.gens: dict[int | str, Generator] = {}

    def next(self, ctx: Context) -> Result:
        g = self.gens.get(ctx.worker)
        if g is None:
            g = self.gens[ctx.worker] = self.factory(ctx.worker)
        return _private(g.next(ctx))


def each_worker(factory: Callable[[int | str], Generator]) -> Generator:
    """A separate generator per worker, made by ``factory(worker)`` when it first asks."""
    return _EachWorker(factory)


class _UntilOk(Generator):
    def __init__(self, gen: Generator, attempts: int, backoff: float) -> None:
        self.gen = gen
        self.attempts = attempts
        self.backoff = backoff
        self.tries: dict[int | str, int] = {}
        self.done: set[int | str] = set()

    def next(self, ctx: Context) -> Result:
        w = ctx.worker
        tries = self.tries.get(w, 0)
        if w in self.done or tries >= self.attempts:
            return None
        if tries and ctx.last is not None:
            if ctx.last.get("type") == "ok":
                self.done.add(w)
                return None
            wake = (ctx.time if ctx.last_done is None else ctx.last_done) + self.backoff
            if ctx.time < wake:
                return Sleep(wake)
        r = self.gen.next(ctx)
        if isinstance(r, dict):
            self.tries[w] = tries + 1
        return _private(r)


def until_ok(gen: Generator, attempts: int = 10, backoff: float = 0.5) -> Generator:
    """Per worker: repeat ``gen``'s operation until one completes ok (at most ``attempts``)."""
    return _UntilOk(gen, attempts, backoff)


class _Seq(Generator):
    def __init__(self, items: Sequence[Op | Generator]) -> None:
        self.items = list(items)
        self.i = 0

    def next(self, ctx: Context) -> Result:
        while self.i < len(self.items):
            item = self.items[self.i]
            if isinstance(item, Generator):
                r = item.next(ctx)
                if r is None:
                    self.i += 1
                    continue
                return r
            self.i += 1
            return dict(item)
        return None


def seq(items: Sequence[Op | Generator]) -> Generator:
    """The given operations (or generators, each until done) in order, shared by all workers."""
    return _Seq(items)


class _SleepFor(Generator):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.until: float | None = None

    def next(self, ctx: Context) -> Result:
        if self.until is None:
            self.until = ctx.time + self.seconds
        if ctx.time < self.until:
            return Sleep(self.until, shared=True)
        return None


def sleep(seconds: float) -> Generator:
    """Nothing for ``seconds`` after it is first asked, then done (a pause inside :func:`seq`)."""
    return _SleepFor(seconds)


def drain(gen: Generator, ctx_for: Callable[[float], Context], until: float) -> list[Op]:
    """Run a generator without an interpreter (ops complete instantly): for tests and previews."""
    t = 0.0
    ops: list[Op] = []
    while t < until:
        r = gen.next(ctx_for(t))
        if r is None:
            break
        if isinstance(r, Sleep):
            t = max(r.until, t + 1e-9)
            if t >= until:
                break
            continue
        r["_time"] = t
        ops.append(r)
    return ops
