"""The interpreter: turns generators into operations against a cluster, in asyncio.

Every worker is a coroutine calling an async workload client; the nemesis is a coroutine.
Time comes only from the running event loop (``loop.time()``) and waiting is only
``asyncio.sleep``, loop timers and timeouts, so the same code runs in real time against
containers and in virtual time on the simulator (controller.virtual_loop). Blocking cluster
operations (docker calls) go through :meth:`Env.call`, which uses the loop's executor in real
time and calls directly in virtual time, where an executor thread would break determinism.
"""

from __future__ import annotations

import asyncio
import heapq
import inspect
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from controller.history import HistoryWriter
from generator import Context, Generator, Sleep


class Env:
    """The clock, the waiting and the blocking-call helper every coroutine of a run shares."""

    def __init__(self, direct_calls: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.direct_calls = direct_calls
        self.t0 = self.loop.time()

    def restart_clock(self) -> None:
        """Time zero of the history: the start of the test proper."""
        self.t0 = self.loop.time()

    def now(self) -> float:
        """Seconds since the test began, from the event loop's clock."""
        return self.loop.time() - self.t0

    def now_ns(self) -> int:
        return int(round((self.loop.time() - self.t0) * 1e9))

    async def sleep_until(self, t: float) -> None:
        # +1 ns: (t0 + x) - t0 can round below x, and a worker woken a hair early would be
        # told to sleep again for nothing, forever on a virtual clock
        await asyncio.sleep(max(0.0, t - self.now()) + 1e-9)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking call (a docker request) without stalling the other coroutines."""
        if self.direct_calls:
            return fn(*args, **kwargs)
        return await self.loop.run_in_executor(None, lambda: fn(*args, **kwargs))


class WorkloadClient(Protocol):
    """What a worker drives: one connection to the store, bound to one node. A client whose
    ``invoke`` cannot hang (an optional ``bounded = True``) is not guarded by a timer."""

    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        """Do ``op``; return ``{"type": "ok"|"fail"|"info", "value": ..., "error": ...}``."""
        ...

    async def close(self) -> None: ...


ClientFactory = Callable[[str, int], "WorkloadClient | Awaitable[WorkloadClient]"]


class ProcessIds:
    """Fresh process ids for the whole run: a process that ended ``info`` is never reused."""

    def __init__(self) -> None:
        self.next_id = 0

    def take(self) -> int:
        p = self.next_id
        self.next_id += 1
        return p


@dataclass
class Live:
    """What the progress display reads while the run goes on."""

    faults: dict[str, Any] = field(default_factory=dict)  # fault name -> what it is doing
    phase: str = ""
    workers_busy: int = 0


async def _maybe_await(x: Any) -> Any:
    return await x if inspect.isawaitable(x) else x


@dataclass
class _Asker:
    """One worker's part of the generator context, kept between asks."""

    worker: int
    rng: random.Random
    process: int
    node: str
    last: dict[str, Any] | None = None
    last_done: float | None = None
    wake: asyncio.Future[Any] | None = None  # set while the worker waits in the idle room

    def ask(self, gen: Generator, now: float) -> Any:
        return gen.next(
            Context(
                time=now,
                worker=self.worker,
                rng=self.rng,
                process=self.process,
                node=self.node,
                last=self.last,
                last_done=self.last_done,
            )
        )


class _IdleRoom:
    """Workers told to Sleep wait here on one shared timer, not one timer each.

    WHY: under a shared stagger every idle worker is told to sleep until the same due
    time; with a timer per worker all of them woke there, one got the operation and the
    rest went back to sleep: ~17 loop turns per operation. Here a single timer fires at the
    earliest due time and asks the due workers right in that callback, in the order they
    went to sleep; only a worker that gets an operation (or is done) is resumed. A worker
    is asked at the same times as before (when its Sleep ends), so rates, stagger and time
    limits mean the same; the order is fixed by the seed, so runs stay deterministic.
    """

    def __init__(self, gen: Generator, env: Env) -> None:
        self.gen = gen
        self.env = env
        self.heap: list[tuple[float, int, _Asker]] = []
        self.seq = 0
        self.timer: asyncio.TimerHandle | None = None
        self.timer_until = 0.0

    async def next_op(self, a: _Asker) -> Any:
        """The worker's next operation, or None when the generator is done for it."""
        r = a.ask(self.gen, self.env.now())
        if not isinstance(r, Sleep):
            return r
        a.wake = self.env.loop.create_future()
        self._push(r.until, a)
        self._arm()
        try:
            return await a.wake
        finally:
            a.wake = None

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _push(self, until: float, a: _Asker) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (until, self.seq, a))

    def _arm(self) -> None:
        if not self.heap:
            return
        until = self.heap[0][0]
        if self.timer is not None:
            if self.timer_until <= until:
                return
            self.timer.cancel()
        # +1 ns as in Env.sleep_until: (t0 + x) - t0 can round below x
        delay = max(0.0, until - self.env.now()) + 1e-9
        self.timer_until = until
        self.timer = self.env.loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self.timer = None
        now = self.env.now()
        due_by = max(now, self.timer_until)  # what a worker woken by its own timer would ask
        due: list[_Asker] = []
        while self.heap and self.heap[0][0] <= due_by:
            due.append(heapq.heappop(self.heap)[2])
        shared: Sleep | None = None  # once given, every later due worker would get it too
        for a in due:
            fut = a.wake
            if fut is None or fut.done():  # cancelled while waiting
                continue
            if shared is not None:
                self._push(shared.until, a)
                continue
            try:
                r = a.ask(self.gen, now)
            except Exception as e:  # the worker raises it, as if it had asked itself
                fut.set_exception(e)
                continue
            if isinstance(r, Sleep):
                self._push(r.until, a)
                if r.shared:
                    shared = r
            else:
                fut.set_result(r)
        self._arm()


async def run_workers(
    gen: Generator,
    *,
    env: Env,
    history: HistoryWriter,
    nodes: list[str],
    concurrency: int,
    open_client: ClientFactory,
    seed: int | str,
    phase: str,
    processes: ProcessIds,
    op_timeout: float,
    live: Live | None = None,
) -> None:
    """Run ``concurrency`` workers until ``gen`` is done for each of them."""
    live = live or Live()
    room = _IdleRoom(gen, env)
    askers = [
        _Asker(w, random.Random(f"{seed}:{phase}:{w}"), processes.take(), nodes[w % len(nodes)])
        for w in range(concurrency)
    ]
    tasks = [
        asyncio.ensure_future(
            _worker(
                a,
                room,
                env=env,
                history=history,
                open_client=open_client,
                processes=processes,
                op_timeout=op_timeout,
                live=live,
            )
        )
        for a in askers
    ]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        room.close()


async def _worker(
    a: _Asker,
    room: _IdleRoom,
    *,
    env: Env,
    history: HistoryWriter,
    open_client: ClientFactory,
    processes: ProcessIds,
    op_timeout: float,
    live: Live,
) -> None:
    client: WorkloadClient | None = None
    try:
        while True:
            op = await room.next_op(a)
            if op is None:
                return
            if client is None:
                client = await _maybe_await(open_client(a.node, a.process))
            a.last = await _invoke(client, op, a.process, a.node, env, history, op_timeout, live)
            a.last_done = env.now()
            if a.last["type"] == "info":  # outcome unknown: this process never invokes again
                await _close(client)
                client = None
                a.process = processes.take()
    finally:
        if client is not None:
            await _close(client)


async def _invoke(
    client: WorkloadClient,
    op: dict[str, Any],
    process: int,
    node: str,
    env: Env,
    history: HistoryWriter,
    op_timeout: float,
    live: Live,
) -> dict[str, Any]:
    f, key, value = op["f"], op.get("key"), op.get("value")
    t0 = env.now_ns()
    history.append(
        {
            "time": t0,
            "process": process,
            "type": "invoke",
            "f": f,
            "key": key,
            "value": value,
            "node": node,
        },
        ordered=True,
    )
    live.workers_busy += 1
    try:
        if getattr(client, "bounded", False):  # its every wait has a deadline of its own
            res = await client.invoke(dict(op))
        else:
            # the client has its own timeout; this only guards against a client that hangs
            async with asyncio.timeout(op_timeout * 1.5 + 1.0):  # no extra task, unlike wait_for
                res = await client.invoke(dict(op))
    except asyncio.CancelledError:
        _complete(
            history, env, t0, process, f, key, value, node, {"type": "info", "error": "interrupted"}
        )
        raise
    except TimeoutError:
        res = {"type": "info", "error": "timeout"}
    except Exception as e:  # an unexpected client error: we cannot know whether it happened
        res = {"type": "info", "error": f"{type(e).__name__}: {e}"[:200]}
    finally:
        live.workers_busy -= 1
    return _complete(history, env, t0, process, f, key, value, node, res)


def _complete(
    history: HistoryWriter,
    env: Env,
    t0: int,
    process: int,
    f: str,
    key: Any,
    value: Any,
    node: str,
    res: dict[str, Any],
) -> dict[str, Any]:
    t = env.now_ns()
    typ = res.get("type", "info")
    if typ not in ("ok", "fail", "info"):
        typ = "info"
    ev: dict[str, Any] = {
        "time": t,
        "process": process,
        "type": typ,
        "f": f,
        "key": key,
        "value": res["value"] if "value" in res else value,
        "node": node,
        "latency": t - t0,
    }
    if "result" in res:  # a state machine's answer (the value stays the command)
        ev["result"] = res["result"]
    if res.get("error") is not None:
        ev["error"] = res["error"]
    return history.append(ev, ordered=True)


async def _close(client: WorkloadClient) -> None:
    try:
        await _maybe_await(client.close())
    except Exception:
        pass


async def run_nemesis(
    gen: Generator,
    combined: Any,  # nemesis.Combined
    fx: Any,  # nemesis.FaultContext
    *,
    env: Env,
    history: HistoryWriter,
    live: Live | None = None,
) -> None:
    """Start and stop faults as the schedule says; each step an invoke/info pair in the history.

    A fault that errors is recorded with its error and the run goes on: the final heal
    undoes whatever half-happened.
    """
    live = live or Live()
    while True:
        op = gen.next(Context(time=env.now(), worker="nemesis", rng=fx.rng, process="nemesis"))
        if op is None:
            return
        if isinstance(op, Sleep):
            await env.sleep_until(op.until)
            continue
        name = op["nemesis"]
        nem = combined.nemeses[name]
        if op["f"] == "start":
            f, asked = f"start-{name}", {"kind": op["kind"]}
            action = nem.start(op["kind"], fx)
        else:
            f, asked = f"stop-{name}", None
            action = nem.stop(fx)
        done = await nemesis_step(f, asked, action, env=env, history=history)
        if op["f"] == "start":
            live.faults[name] = done
        else:
            live.faults.pop(name, None)


async def nemesis_step(
    f: str, asked: Any, action: Awaitable[Any], *, env: Env, history: HistoryWriter
) -> Any:
    """Record ``invoke``, await the fault action, record ``info`` with what it did (or its error)."""
    history.append(
        {"time": env.now_ns(), "process": "nemesis", "type": "invoke", "f": f, "value": asked}
    )
    try:
        value = await action
        error = None
    except asyncio.CancelledError:
        history.append(
            {
                "time": env.now_ns(),
                "process": "nemesis",
                "type": "info",
                "f": f,
                "value": asked,
                "error": "interrupted",
            }
        )
        raise
    except Exception as e:
        value, error = asked, f"{type(e).__name__}: {e}"[:300]
    ev: dict[str, Any] = {
        "time": env.now_ns(),
        "process": "nemesis",
        "type": "info",
        "f": f,
        "value": value,
    }
    if error:
        ev["error"] = error
    history.append(ev)
    return value
