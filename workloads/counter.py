"""Counter: increments of one key and reads of it, checked against the acknowledged bounds.

An increment is ``add`` of 1-3 (the store appends ``[amount]``); a read returns the list of
increments, whose sum is the counter: ``checker.counter_check``.
"""

from __future__ import annotations

from typing import Any

from checker import counter_check
from generator import Context, Generator, fn
from workloads.base import Checker, CheckInput, Workload, final_reads, stats_checker

COUNTER_KEY = "counter"


class CounterWorkload(Workload):
    name = "counter"
    default_rate = 30.0

    def op(self, ctx: Context) -> dict[str, Any]:
        if ctx.rng.random() < 0.5:
            return {"f": "read", "key": COUNTER_KEY, "value": None}
        return {"f": "add", "key": COUNTER_KEY, "value": ctx.rng.randint(1, 3)}

    def generator(self) -> Generator:
        return fn(self.op)

    def final_generator(self, nodes: list[str]) -> Generator:
        return final_reads([COUNTER_KEY] * len(nodes), len(nodes))

    def checkers(self) -> dict[str, Checker]:
        return {"counter": check_counter, "stats": stats_checker}


def check_counter(inp: CheckInput) -> dict[str, Any]:
    """Each read between its bounds: checker.counter_check."""
    return counter_check.check_counter(inp.events, key=COUNTER_KEY)
