"""The virtual-time loop: sleeps cost no wall time, ordering is reproducible, hangs are loud."""

import asyncio
import time

import pytest

from controller.virtual_loop import Deadlock, VirtualTimeLoop, run_virtual


def test_an_hour_of_sleeping_takes_no_wall_time():
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(3600):
            await asyncio.sleep(1.0)
        return loop.time() - t0

    wall = time.monotonic()
    elapsed = run_virtual(main())
    assert elapsed == pytest.approx(3600.0)
    assert time.monotonic() - wall < 5.0


def test_timeouts_fire_in_virtual_time():
    async def main():
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), timeout=2.5)
        return asyncio.get_running_loop().time()

    assert run_virtual(main(), start=100.0) == pytest.approx(102.5)


def test_interleaving_is_the_same_every_run():
    async def worker(i, out):
        for k in range(20):
            await asyncio.sleep(((i * 7 + k * 3) % 5) / 10)
            out.append((i, k, round(asyncio.get_running_loop().time(), 6)))

    async def main():
        out = []
        await asyncio.gather(*(worker(i, out) for i in range(8)))
        return out

    assert run_virtual(main()) == run_virtual(main())


def test_waiting_on_nothing_is_a_deadlock_not_a_hang():
    async def main():
        await asyncio.get_running_loop().create_future()

    loop = VirtualTimeLoop()
    try:
        with pytest.raises(Deadlock):
            loop.run_until_complete(main())
    finally:
        loop.close()


def test_an_event_source_runs_before_later_timers_and_wakes_waiters():
    """The loop asks an attached EventSource for its next event instead of a timer per event:
    the source's events due before the next timer run first, in time order, and a callback
    one of them makes ready runs at that event's time."""
    import asyncio

    from controller.virtual_loop import VirtualTimeLoop

    class Source:
        def __init__(self, loop: VirtualTimeLoop) -> None:
            self.loop, self.events, self.seen = loop, [1.0, 2.5, 4.0], []
            self.fut: asyncio.Future | None = None

        def next_time(self) -> float | None:
            return self.events[0] if self.events else None

        def run_due(self, limit: float) -> None:
            while self.events and self.events[0] < limit:
                t = self.events.pop(0)
                self.loop.advance_to(t)
                self.seen.append(("source", t))
                if t == 2.5 and self.fut is not None:
                    self.fut.set_result(t)
                    return  # a waiter is ready: let the loop run it now

    loop = VirtualTimeLoop()
    src = Source(loop)
    loop.source = src

    async def main() -> None:
        src.fut = loop.create_future()
        got = await src.fut
        src.seen.append(("woke", got, loop.time()))
        await asyncio.sleep(3.0 - loop.time())
        src.seen.append(("timer", loop.time()))
        await asyncio.sleep(2.0)
        src.seen.append(("timer", loop.time()))

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert src.seen == [
        ("source", 1.0),
        ("source", 2.5),
        ("woke", 2.5, 2.5),
        ("timer", 3.0),
        ("source", 4.0),
        ("timer", 5.0),
    ]
