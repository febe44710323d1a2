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
