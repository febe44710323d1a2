"""A replicated counter: the smallest useful state machine (docs/state-machines.md).

Commands ``{"add": n}`` return the new total; the query ``"value"`` returns the total.
"""

from __future__ import annotations

import random
from typing import Any


class Counter:
    def __init__(self) -> None:
        self.total = 0

    def apply(self, command: Any) -> Any:
        self.total += command["add"]
        return self.total

    def query(self, query: Any) -> Any:
        return self.total

    def snapshot(self) -> Any:
        return self.total

    def restore(self, snapshot: Any) -> None:
        self.total = snapshot

    @staticmethod
    def example_command(rng: random.Random) -> Any:
        return {"add": rng.randint(1, 3)}

    @staticmethod
    def example_query(rng: random.Random) -> Any:
        return "value"
