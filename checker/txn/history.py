"""Transactions from a history: JSONL (``f: "txn"``) or Jepsen's EDN list-append files.

Values written, and the elements of lists read, must be plain (numbers, strings, booleans,
null): the checker looks writes up by value.

A transaction's ``value`` is a list of micro-ops ``[f, key, value]``: ``append`` and ``r``
for list-append, ``w`` and ``r`` for rw-register. The completion's value carries what the
reads returned; a transaction that ended ``info`` (or never ended) keeps its invocation's
value: it may or may not have committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checker.history import HistoryError, iter_ops

MOP_FS = {"list-append": ("append", "r"), "rw-register": ("w", "r")}
_PLAIN = frozenset((int, float, str, bool, type(None)))


@dataclass(slots=True)
class Txn:
    """One transaction: ``id`` is its position in the history (its invocation order)."""

    id: int
    process: Any
    type: str  # ok, fail or info
    mops: list[tuple[str, Any, Any]]
    call: int
    ret: int | None  # None when the outcome is unknown
    index: int
    line: int

    def as_dict(self) -> dict:
        return {"id": self.id, "process": self.process, "type": self.type, "index": self.index,
                "line": self.line, "value": [list(m) for m in self.mops]}  # fmt: skip


def _mops(value: Any, model: str, line: int) -> list[tuple[str, Any, Any]]:
    if not isinstance(value, list):
        raise HistoryError(f"line {line}: txn value must be a list of [f key value] micro-ops")
    fs = MOP_FS[model]
    out = []
    for m in value:
        if not isinstance(m, list) or len(m) != 3:
            raise HistoryError(f"line {line}: micro-op {m!r} is not [f key value]")
        f, k, v = m
        f = "r" if f == "read" else f
        if f not in fs:
            raise HistoryError(f"line {line}: micro-op {f!r} is not one of {model}'s {fs}")
        if isinstance(k, (list, dict)):
            raise HistoryError(f"line {line}: micro-op key {k!r} must be a string or number")
        if f == "r" and model == "list-append" and v is not None and not isinstance(v, list):
            raise HistoryError(f"line {line}: a list-append read must return a list, got {v!r}")
        if f == "r" and model == "list-append" and v and not _PLAIN.issuperset(map(type, v)):
            raise HistoryError(f"line {line}: read {v!r}: elements must be plain values")
        if (f != "r" or model == "rw-register") and isinstance(v, (list, dict)):
            raise HistoryError(f"line {line}: value {v!r} must be a plain value")
        out.append((f, k, v))
    return out


def _same_shape(inv: Any, mops: list[tuple[str, Any, Any]]) -> bool:
    """Does the invocation list the completion's micro-ops (same f and key, in order)?"""
    return (
        inv.__class__ is list
        and len(inv) == len(mops)
        and all(
            m.__class__ is list
            and len(m) == 3
            and m[1] == k
            and (m[0] == f or (f == "r" and m[0] == "read"))
            for m, (f, k, _) in zip(inv, mops, strict=True)
        )  # fmt: skip
    )


def txns_from_events(events: list[tuple[int, dict]], model: str) -> list[Txn]:
    """Pair the events into transactions (nemesis events and other ``f`` are refused)."""
    txns: list[Txn] = []
    for op in iter_ops(iter(events)):
        if op.f != "txn":
            raise HistoryError(f"line {op.line}: f {op.f!r}: a {model} history holds txn ops")
        # an ok completion without a value (a write-only transaction) is its invocation's
        value = op.output if op.type == "ok" and op.output is not None else op.value
        mops = _mops(value, model, op.ret_line if op.type == "ok" else op.line)
        if op.type == "ok" and not _same_shape(op.value, mops):
            raise HistoryError(f"line {op.ret_line}: completion's micro-ops differ from "
                               f"the invocation's on line {op.line}")  # fmt: skip
        txns.append(Txn(0, op.process, op.type, mops, op.call, op.ret, op.index, op.line))
    txns.sort(key=lambda t: (t.call, t.line))
    for i, t in enumerate(txns):
        t.id = i
    return txns


def read_txns(path: str, model: str, fmt: str = "jsonl") -> list[Txn]:
    """The transactions of a history file (``fmt`` ``jsonl`` or ``edn``)."""
    if fmt == "edn":
        from checker.edn import read_events

        events, _ = read_events(path, keep_txn=True)
    elif fmt == "jsonl":
        from checker.history import iter_events

        events = list(iter_events(path))
    else:
        raise HistoryError(f"format {fmt}: transaction histories are JSONL or EDN")
    txns = txns_from_events(events, model)
    if not txns:
        raise HistoryError("no transactions to check (an empty history)")
    return txns
