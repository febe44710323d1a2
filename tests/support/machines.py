"""Small deterministic state machines for the generic checker's and workload's tests
(the counter is the repository's example, examples/machines/counter.py).

They follow the state-machine contract (docs/state-machines.md) without importing the
store: the checker must judge any class with ``apply``/``query``/``snapshot``/``restore``.
``Register`` is register-like (write, cas, read) so the generic checker can be compared
with the register model on the same behaviour.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from examples.machines.counter import Counter  # the documented example, per the contract

__all__ = ["AsyncCounter", "Bank", "CommandsOnly", "Counter", "NotJson", "Register", "Refused"]


class Refused(Exception):
    """A command the machine refuses (the node's MachineError plays this part)."""


class Bank:
    """Accounts a..e start at 100; a transfer the funds do not cover is refused.

    ``restore`` keeps the snapshot it is given (no copy), as a careless machine might: the
    checker must hand it a fresh one each time."""

    ACCOUNTS = "abcde"

    def __init__(self) -> None:
        self.balances = dict.fromkeys(self.ACCOUNTS, 100)

    def apply(self, command: Any) -> Any:
        src, dst, amount = command["transfer"]
        if self.balances[src] < amount:
            raise Refused(f"{src} has {self.balances[src]}, not {amount}")
        self.balances[src] -= amount
        self.balances[dst] += amount
        return "ok"

    def query(self, query: Any) -> Any:
        return dict(self.balances)

    def snapshot(self) -> Any:
        return self.balances

    def restore(self, snapshot: Any) -> None:
        self.balances = snapshot

    @classmethod
    def example_command(cls, rng: random.Random) -> Any:
        src, dst = rng.sample(cls.ACCOUNTS, 2)
        return {"transfer": [src, dst, rng.randint(1, 60)]}

    @staticmethod
    def example_query(rng: random.Random) -> Any:
        return "balances"


class Register:
    """One value: ``{"write": v}`` -> null, ``{"cas": [old, new]}`` -> whether it swapped;
    query ``"read"``."""

    def __init__(self) -> None:
        self.value: Any = None

    def apply(self, command: Any) -> Any:
        if "write" in command:
            self.value = command["write"]
            return None
        old, new = command["cas"]
        if self.value != old:
            return False
        self.value = new
        return True

    def query(self, query: Any) -> Any:
        return self.value

    def snapshot(self) -> Any:
        return {"value": self.value}

    def restore(self, snapshot: Any) -> None:
        self.value = snapshot["value"]

    @staticmethod
    def example_command(rng: random.Random) -> Any:
        if rng.random() < 0.5:
            return {"write": rng.randrange(4)}
        return {"cas": [rng.randrange(4), rng.randrange(4)]}

    @staticmethod
    def example_query(rng: random.Random) -> Any:
        return "read"


class AsyncCounter(Counter):
    """Counter whose apply awaits (its own IO, say) before answering."""

    async def apply(self, command: Any) -> Any:  # type: ignore[override]
        await asyncio.sleep(0.01)
        return super().apply(command)


class CommandsOnly(Counter):
    """A machine without example_query: its workload sends commands only."""

    example_query = None  # type: ignore[assignment]


class NotJson(Counter):
    def snapshot(self) -> Any:
        return {1, 2}
