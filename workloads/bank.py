"""Bank: transfers between a few accounts, as transactions, and reads of every balance.

A transfer is one transaction appending ``-amount`` to one account and ``+amount`` to
another; a read is one transaction reading every account (balance = initial + the sum of
its list). The store's atomicity and consistent reads make every read total the same:
``checker.bank_check``.
"""

from __future__ import annotations

from typing import Any

from checker import bank_check
from generator import Context, Generator, fn
from workloads.base import Checker, CheckInput, Workload, stats_checker

ACCOUNTS = [f"acct{i}" for i in range(5)]
INITIAL = 100
MAX_TRANSFER = 5


class BankWorkload(Workload):
    name = "bank"
    default_rate = 30.0

    def op(self, ctx: Context) -> dict[str, Any]:
        """Half reads of all accounts, half transfers between two distinct accounts."""
        if ctx.rng.random() < 0.5:
            return {"f": "txn", "key": None, "value": [["r", a, None] for a in ACCOUNTS]}
        src, dst = ctx.rng.sample(ACCOUNTS, 2)
        amount = ctx.rng.randint(1, MAX_TRANSFER)
        return {"f": "txn", "key": None, "value": [["append", src, -amount],
                                                   ["append", dst, amount]]}  # fmt: skip

    def generator(self) -> Generator:
        return fn(self.op)

    def checkers(self) -> dict[str, Checker]:
        return {"bank": check_bank, "stats": stats_checker}


def check_bank(inp: CheckInput) -> dict[str, Any]:
    """Every read totals len(ACCOUNTS) * INITIAL: checker.bank_check."""
    return bank_check.check_bank(inp.events, ACCOUNTS, INITIAL)
