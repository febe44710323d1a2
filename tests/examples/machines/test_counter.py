"""The example counter and its asynchronous twin, run directly (no cluster)."""

import asyncio
import json
import random

import pytest

from examples.machines.async_counter import AsyncCounter
from examples.machines.counter import Counter
from paxos_impl.machine import MachineError, StateMachine


def test_adds_return_the_new_total_and_the_query_reads_it():
    c = Counter()
    assert isinstance(c, StateMachine)
    assert [c.apply({"add": n}) for n in (2, 3, -1)] == [2, 5, 4]
    assert c.query("value") == 4


@pytest.mark.parametrize("bad", [{"add": "1"}, {"add": True}, {"sub": 1}, {"add": 1, "x": 2}, 5])
def test_a_bad_command_is_refused_and_changes_nothing(bad):
    c = Counter()
    c.apply({"add": 7})
    with pytest.raises(MachineError):
        c.apply(bad)
    assert c.query("value") == 7
    with pytest.raises(MachineError):
        c.query("total")


def test_snapshot_round_trips_through_json_and_restore_refuses_foreign_state():
    c = Counter()
    c.apply({"add": 9})
    back = Counter()
    back.restore(json.loads(json.dumps(c.snapshot())))
    assert back.query("value") == 9
    for bad in ({"total": "9"}, {}, [9], None):
        with pytest.raises(ValueError):
            back.restore(bad)
    assert back.query("value") == 9


def test_examples_are_commands_the_machine_takes():
    rng = random.Random(1)
    c = Counter()
    for _ in range(20):
        c.apply(Counter.example_command(rng))
    assert c.query(Counter.example_query(rng)) > 0


def test_the_async_counter_gives_the_counter_s_results_when_awaited_in_order():
    rng = random.Random(4)
    cmds = [Counter.example_command(rng) for _ in range(10)]
    a, s = AsyncCounter(), Counter()
    a.delay = 0

    async def serially():
        return [await a.apply(c) for c in cmds]

    assert asyncio.run(serially()) == [s.apply(c) for c in cmds]
    assert a.snapshot() == s.snapshot()


def test_the_async_counter_refuses_before_it_waits():
    a = AsyncCounter()
    with pytest.raises(MachineError):
        asyncio.run(a.apply({"add": "x"}))
    assert a.query("value") == 0


def test_overlapping_async_applies_would_lose_an_update():
    """Why the runtime awaits one apply at a time: run two at once and one add is lost."""
    a = AsyncCounter()

    async def both():
        return await asyncio.gather(a.apply({"add": 1}), a.apply({"add": 2}))

    assert sorted(asyncio.run(both())) == [1, 2] and a.query("value") in (1, 2)
