"""Elle's transactional workloads: list-append and rw-register.

Each operation is one transaction (``f`` ``txn``) of 1-4 micro-ops over a small set of keys
that rotates (a key retires after ``writes_per_key`` writes, so version orders stay short and
the checker's graphs small, as Elle's generator does). Appended and written values are unique,
so a read names the write it saw. The history is judged by ``checker.txn`` (strict
serializability by default: transactions go through the log, one slot each).
"""

from __future__ import annotations

from typing import Any

from checker.history import HistoryError
from checker.txn.check import check_txns, summary
from checker.txn.history import read_txns
from generator import Context, Generator, const, each_worker, fn, then, until_ok
from workloads.base import Checker, CheckInput, Counter, KeyPool, Workload, stats_checker

MAX_MOPS = 4
FINAL_READS_PER_TXN = 4


class TxnWorkload(Workload):
    """The shared shape; subclasses name the write micro-op (``append`` or ``w``)."""

    write_f = ""
    default_rate = 30.0
    consistency = "strict-serializable"

    def __init__(self, concurrency: int = 10, writes_per_key: int = 32, active: int = 5) -> None:
        super().__init__(concurrency)
        self.pool = KeyPool(active=active, ops_per_key=writes_per_key, prefix="t")
        self.values = Counter()

    def txn(self, ctx: Context) -> dict[str, Any]:
        """1-4 micro-ops, each a read (half the time) or a write of a fresh value."""
        mops = []
        for _ in range(ctx.rng.randint(1, MAX_MOPS)):
            if ctx.rng.random() < 0.5:
                mops.append(["r", ctx.rng.choice(self.pool.keys), None])
            else:
                mops.append([self.write_f, self.pool.pick(ctx.rng), self.values.take()])
        return {"f": "txn", "key": None, "value": mops}

    def generator(self) -> Generator:
        return fn(self.txn)

    def final_generator(self, nodes: list[str]) -> Generator:
        """After healing, every key ever used is read again from every node (a few keys per
        transaction), so writes that landed late are seen by some read."""
        keys = list(self.pool.used)
        step = FINAL_READS_PER_TXN
        chunks = [keys[i : i + step] for i in range(0, len(keys), step)]
        ops = [{"f": "txn", "key": None, "value": [["r", k, None] for k in c]} for c in chunks]

        def for_worker(w: int | str) -> Generator:
            if not isinstance(w, int):
                return then()
            return then(*[until_ok(const(op), 10) for op in ops])

        return each_worker(for_worker)

    def checkers(self) -> dict[str, Checker]:
        return {"txn": txn_checker(self.name, self.consistency), "stats": stats_checker}


class ListAppendWorkload(TxnWorkload):
    name = "list-append"
    write_f = "append"


class RwRegisterWorkload(TxnWorkload):
    name = "rw-register"
    write_f = "w"


def txn_checker(model: str, consistency: str) -> Checker:
    """checker.txn on the stored history; an unreadable history is "unknown", with why."""

    def check(inp: CheckInput) -> dict[str, Any]:
        try:
            txns = read_txns(str(inp.history_path), model)
        except HistoryError as e:
            return {"valid": "unknown", "error": str(e)}
        if not any(t.type == "ok" for t in txns):
            return {"valid": "unknown", "error": "no transaction succeeded", "model": model}
        r = check_txns(txns, model, consistency)
        r["verdict"] = summary(r)  # one line for the report's checker table
        return r

    return check
