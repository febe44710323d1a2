"""Asynchronous state machines in the simulator: deterministic per seed, in virtual time.

A simulated node runs a user's async machine like the real node does (one command at a
time, in log order: paxos_impl.runtime.AsyncApplier), but the time an apply takes is a delay
drawn from the world's seeded RNG, and the coroutine itself runs on an event loop whose
clock is virtual: ``await asyncio.sleep(0.01)`` inside a machine costs no wall time. The
loop lives in a thread of its own because the simulator is itself driven from a running
asyncio loop (the store client), which cannot host a nested one; the simulator waits for
each apply to finish, so the run stays single-threaded in effect and reproducible.
"""

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


def run(coro: Coroutine[Any, Any, dict]) -> dict:
    """Run an apply coroutine to completion in virtual time; its reply."""
    future = asyncio.run_coroutine_threadsafe(coro, _virtual_loop())
    try:
        return future.result(APPLY_TIMEOUT_S)
    except TimeoutError:
        future.cancel()
        return dict(STUCK)


def launcher(after: Callable[[float], Callable[..., None]], delay: Callable[[], float]) -> Any:
    """A ``launch`` for paxos_impl.runtime.AsyncApplier: the apply finishes ``delay()``
    virtual seconds from now (``after(dt)(fn, arg)`` schedules ``fn(arg)`` on the world)."""

    def launch(item: tuple, done: Callable[[dict], None]) -> None:
        def finish(_: object) -> None:
            done(run(item[1].apply_async(item[2])))

        after(delay())(finish, None)

    return launch
