"""A replicated counter: the smallest useful state machine.

Commands ``{"add": n}`` (n an integer) return the new total; the query ``"value"`` returns
the total. Anything else is refused with MachineError (a definite failure, nothing changed).
"""

from __future__ import annotations

import random
from typing import Any

from paxos_impl.machine import MachineError


def parse_add(command: Any) -> int:
    """The n of ``{"add": n}`` (MachineError for anything else)."""
    if not (isinstance(command, dict) and command.keys() == {"add"}):
        raise MachineError('a counter takes {"add": n}')
    n = command["add"]
    if not isinstance(n, int) or isinstance(n, bool):
        raise MachineError("add wants an integer")
    return n


class Counter:
    """One integer, starting at 0."""

    def __init__(self) -> None:
        self.total = 0

    def apply(self, command: Any) -> int:
        self.total += parse_add(command)
        return self.total

    def query(self, query: Any) -> int:
        if query != "value":
            raise MachineError('a counter answers the query "value"')
        return self.total

    def snapshot(self) -> Any:
        return {"total": self.total}

    def restore(self, snapshot: Any) -> None:
        total = snapshot.get("total") if isinstance(snapshot, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            raise ValueError("not a counter snapshot: {total: n}")
        self.total = total

    @staticmethod
    def example_command(rng: random.Random) -> Any:
        return {"add": rng.randint(1, 5)}

    @staticmethod
    def example_query(rng: random.Random) -> Any:
        return "value"
