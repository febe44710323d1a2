"""Asynchronous state machines in the simulator: deterministic per seed, in virtual time.

A simulated node runs a user's async machine like the real node does (what the node's
paxos_impl.runtime.AsyncApplier launches, in log order), but the coroutines run on an event
loop whose clock is virtual (``await asyncio.sleep(0.01)`` inside a machine costs no wall
time) and each reply reaches the node a delay drawn from the world's seeded RNG later.
Applies launched at the same instant run together on that loop, interleaved at their awaits
as on a real node's loop (which only a runtime that launches several at once, i.e. bug
``sm-async-early-answer``, ever does). The loop lives in a thread of its own because the
simulator is itself driven from a running asyncio loop (the store client), which cannot host
a nested one; the simulator waits for the applies to finish, so the run stays
single-threaded in effect and reproducible."""

from __future__ import annotations

import asyncio
import selectors
import threading
from collections.abc import Callable, Coroutine
from typing import Any

APPLY_TIMEOUT_S = 10.0  # wall seconds: a machine awaiting something that never comes
STUCK = {"ok": False, "error": "bad_request", "leader": None, "reason": "the apply never finished"}


class _VirtualSelector(selectors.SelectSelector):
    """Waiting for a timer advances the loop's clock instead of the wall clock; waiting for
    nothing in particular (idle, no timers) really blocks, until the simulator sends work."""

    clock = 0.0

    def select(self, timeout: float | None = None) -> list:
        if timeout is None:
            return super().select(None)
        self.clock += max(0.0, timeout)
        return super().select(0)


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._vsel = _VirtualSelector()
        super().__init__(self._vsel)

    def time(self) -> float:
        return self._vsel.clock


_loop: _VirtualLoop | None = None
_lock = threading.Lock()


def _virtual_loop() -> _VirtualLoop:
    global _loop
    with _lock:
        if _loop is None:
            loop = _VirtualLoop()
            threading.Thread(target=loop.run_forever, name="sim-machines", daemon=True).start()
            _loop = loop
        return _loop


def run_all(coros: list[Coroutine[Any, Any, dict]]) -> list[dict]:
    """Run apply coroutines together (interleaved at their awaits, as on a real node's loop)
    to completion in virtual time; their replies, in order."""

    async def together() -> list[dict]:
        return list(await asyncio.gather(*coros))

    future = asyncio.run_coroutine_threadsafe(together(), _virtual_loop())
    try:
        return future.result(APPLY_TIMEOUT_S)
    except TimeoutError:
        future.cancel()
        return [dict(STUCK) for _ in coros]


def launcher(after: Callable[[float], Callable[..., None]], delay: Callable[[], float]) -> Any:
    """A ``launch`` for paxos_impl.runtime.AsyncApplier (``after(dt)(fn, arg)`` schedules
    ``fn(arg)`` on the world, for this node). The applies launched at one instant run
    together in one go (the correct runtime launches one at a time; one that does not, as
    with bug ``sm-async-early-answer``, gets its applies overlapped, as a real loop would),
    and each reply is delivered ``delay()`` virtual seconds later."""
    batch: list[tuple[tuple, Callable[[dict], None]]] = []

    def flush(_: object) -> None:
        items = list(batch)
        batch.clear()
        replies = run_all([item[1].apply_async(item[2]) for item, _ in items])
        for (_, done), reply in zip(items, replies, strict=True):
            after(delay())(_deliver, (done, reply))

    def launch(item: tuple, done: Callable[[dict], None]) -> None:
        batch.append((item, done))
        if len(batch) == 1:
            after(0.0)(flush, None)

    return launch


def _deliver(arg: tuple[Callable[[dict], None], dict]) -> None:
    done, reply = arg
    done(reply)
