"""Building transaction histories by hand for the checker.txn tests.

A transaction is ``(type, mops)`` where ``mops`` are the completed micro-ops (reads with
what they returned); the invocation carries the same micro-ops with reads of null. With
``sequential`` each transaction completes before the next is invoked (real-time order);
otherwise all are invoked before any completes (no real-time edges at all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from checker.txn.history import Txn, txns_from_events

Spec = tuple[str, list[list[Any]]]


def events(spec: list[Spec], sequential: bool = False) -> list[dict]:
    evs: list[dict] = []

    def emit(i: int, type_: str, value: Any) -> None:
        evs.append({"index": len(evs), "time": len(evs) * 10, "process": i, "type": type_,
                    "f": "txn", "value": value})  # fmt: skip

    def invocation(mops: list[list[Any]]) -> list[list[Any]]:
        return [[f, k, None if f == "r" else v] for f, k, v in mops]

    def completion(i: int, type_: str, mops: list[list[Any]]) -> None:
        emit(i, type_, mops if type_ == "ok" else invocation(mops))

    if sequential:
        for i, (type_, mops) in enumerate(spec):
            emit(i, "invoke", invocation(mops))
            completion(i, type_, mops)
    else:
        for i, (_, mops) in enumerate(spec):
            emit(i, "invoke", invocation(mops))
        for i, (type_, mops) in enumerate(spec):
            completion(i, type_, mops)
    return evs


def txns(spec: list[Spec], model: str = "list-append", sequential: bool = False) -> list[Txn]:
    return txns_from_events([(n + 1, ev) for n, ev in enumerate(events(spec, sequential))], model)


def write_jsonl(path: Path, evs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(ev) + "\n" for ev in evs))
    return path
