"""A bank of accounts "a".."e", 100 each, with transfers: the total (500) never changes.

Command ``{"transfer": [from, to, amount]}`` moves a positive integer amount between two
different accounts and returns the two accounts' new balances (``{from: x, to: y}``); when
``from`` holds less than ``amount`` it is refused (MachineError: nothing changed). Query
``"balances"`` returns every balance.

Why a transfer answers with balances and not a bare "ok": a checker that replays the history
against this machine must try each timed-out transfer both applied and not, and an answer that
shows the state it produced rules out a wrong guess at the next answer instead of hundreds of
operations later. A machine that says more about its state is cheaper to check.

Deliberate bug ``sm-nondeterministic`` (``--bug sm-nondeterministic``; the loader passes the
node's bugs and id because the constructor names them): a transfer that the funds do not
cover is refused on even-numbered replicas but on odd ones moves what there is. The apply
then depends on which replica runs it, not only on the command and the state, so replicas
diverge and clients see answers no serial order gives.
"""

from __future__ import annotations

import random
from typing import Any

from paxos_impl.machine import MachineError

ACCOUNTS = ("a", "b", "c", "d", "e")
OPENING = 100


class Bank:
    def __init__(self, bugs: frozenset[str] = frozenset(), node_id: int | None = None) -> None:
        self.balances = {a: OPENING for a in ACCOUNTS}
        self.bugs = bugs
        self.node_id = node_id or 0

    def has_bug(self, name: str) -> bool:
        return name in self.bugs

    def apply(self, command: Any) -> dict[str, int]:
        src, dst, amount = self._transfer(command)
        if self.balances[src] < amount:
            if self.has_bug("sm-nondeterministic") and self.node_id % 2:
                amount = self.balances[src]  # BUG(sm-nondeterministic): replica-dependent
            else:
                raise MachineError(f"account {src} holds {self.balances[src]} < {amount}")
        self.balances[src] -= amount
        self.balances[dst] += amount
        return {src: self.balances[src], dst: self.balances[dst]}

    @staticmethod
    def _transfer(command: Any) -> tuple[str, str, int]:
        t = command.get("transfer") if isinstance(command, dict) else None
        if not (isinstance(t, list) and len(t) == 3):
            raise MachineError('a bank takes {"transfer": [from, to, amount]}')
        src, dst, amount = t
        if src not in ACCOUNTS or dst not in ACCOUNTS or src == dst:
            raise MachineError(f"transfer between two of the accounts {', '.join(ACCOUNTS)}")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise MachineError("amount must be a positive integer")
        return src, dst, amount

    def query(self, query: Any) -> dict[str, int]:
        if query != "balances":
            raise MachineError('a bank answers the query "balances"')
        return dict(self.balances)

    def snapshot(self) -> Any:
        return dict(self.balances)

    def restore(self, snapshot: Any) -> None:
        if not (
            isinstance(snapshot, dict)
            and sorted(snapshot) == list(ACCOUNTS)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in snapshot.values())
        ):
            raise ValueError("not a bank snapshot: {account: balance}")
        self.balances = dict(snapshot)

    @staticmethod
    def example_command(rng: random.Random) -> Any:
        src, dst = rng.sample(ACCOUNTS, 2)
        return {"transfer": [src, dst, rng.randint(1, 60)]}

    @staticmethod
    def example_query(rng: random.Random) -> Any:
        return "balances"
