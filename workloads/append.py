"""Appends of unique values to a few keys with reads in between.

Each key's history is checked for linearizability (kv model: lists extend), and every read
for lost elements (acknowledged before the read began, yet missing) and duplicates.
"""

from __future__ import annotations

from typing import Any

from checker import append_check
from generator import Generator, fn
from workloads.base import (
    Checker,
    CheckInput,
    Counter,
    KeyPool,
    Workload,
    final_reads,
    linearizability_checker,
    stats_checker,
)


class AppendWorkload(Workload):
    name = "append"
    model = "kv"
    default_rate = 30.0

    def __init__(self, concurrency: int = 10, ops_per_key: int = 80) -> None:
        super().__init__(concurrency)
        self.pool = KeyPool(active=3, ops_per_key=ops_per_key, prefix="a")
        self.values = Counter()

    def generator(self) -> Generator:
        def op(ctx):
            key = self.pool.pick(ctx.rng)
            if ctx.rng.random() < 0.5:
                return {"f": "read", "key": key, "value": None}
            return {"f": "append", "key": key, "value": [self.values.take()]}

        return fn(op)

    def final_generator(self, nodes: list[str]) -> Generator:
        return final_reads(list(self.pool.used), len(nodes))

    def checkers(self) -> dict[str, Checker]:
        return {
            "linearizable": linearizability_checker("kv"),
            "elements": check_elements,
            "stats": stats_checker,
        }


def check_elements(inp: CheckInput) -> dict[str, Any]:
    """Lost, duplicated and unexpected elements of every read: checker.append_check."""
    return append_check.check_elements(inp.events)
