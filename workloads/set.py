"""A set: adds of unique integers during the run, then a read from every node after healing.

Checked for lost (acknowledged, then missing), unexpected (never added) and duplicated
elements, with the availability of adds. Adds are appends of ``[v]`` to one key.
"""

from __future__ import annotations

from typing import Any

from checker import set_check
from generator import Generator, fn
from workloads.base import Checker, CheckInput, Counter, Workload, final_reads, stats_checker

SET_KEY = set_check.SET_KEY


class SetWorkload(Workload):
    name = "set"
    default_rate = 40.0

    def __init__(self, concurrency: int = 10) -> None:
        super().__init__(concurrency)
        self.values = Counter()

    def generator(self) -> Generator:
        return fn(lambda ctx: {"f": "add", "key": SET_KEY, "value": self.values.take()})

    def final_generator(self, nodes: list[str]) -> Generator:
        return final_reads([SET_KEY] * len(nodes), len(nodes))

    def checkers(self) -> dict[str, Checker]:
        return {"set": check_set, "stats": stats_checker}


def check_set(inp: CheckInput) -> dict[str, Any]:
    """Jepsen's set checker (lost, unexpected, recovered, duplicated): checker.set_check."""
    return set_check.check_set(inp.events, key=SET_KEY)
