"""A set: adds of unique integers during the run, then a read from every node after healing.

Checked for lost (acknowledged, then missing), unexpected (never added) and duplicated
elements, with the availability of adds. Adds are appends of ``[v]`` to one key.
"""

from __future__ import annotations

from collections import Counter as Multiset
from typing import Any

from controller.generator import Generator, fn
from workloads.base import Checker, CheckInput, Counter, Workload, final_reads, stats_checker

SET_KEY = "set"
SHOW = 50  # elements listed per category; the counts are always complete


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


def _sorted(xs) -> list:
    return sorted(xs, key=lambda x: (str(type(x)), x))


def check_set(inp: CheckInput) -> dict[str, Any]:
    attempted, acked, unsure = set(), set(), set()
    reads: list[dict[str, Any]] = []
    for e in inp.events:
        if not isinstance(e.get("process"), int):
            continue
        if e["f"] == "add":
            if e["type"] == "invoke":
                attempted.add(e["value"])
            elif e["type"] == "ok":
                acked.add(e["value"])
            elif e["type"] == "info":
                unsure.add(e["value"])
        elif e["f"] == "read" and e["type"] == "ok" and e.get("key") == SET_KEY:
            reads.append(e)
    out: dict[str, Any] = {
        "attempted": len(attempted),
        "acknowledged": len(acked),
        "indeterminate": len(unsure),
        "availability": round(len(acked) / len(attempted), 4) if attempted else None,
        "reads": len(reads),
    }
    if not reads:
        out.update(valid="unknown", error="no final read succeeded")
        return out
    lost, unexpected, dup = set(), set(), set()
    per_node = {}
    for r in reads:
        got = r.get("value") or []
        if not isinstance(got, list):
            got = [got]
        counts = Multiset(x for x in got if _hashable(x))
        seen = set(counts)
        node_lost = acked - seen
        node_unexpected = seen - attempted
        node_dup = {x for x, c in counts.items() if c > 1}
        lost |= node_lost
        unexpected |= node_unexpected
        dup |= node_dup
        per_node[r.get("node", "?")] = {
            "size": len(got),
            "lost": len(node_lost),
            "unexpected": len(node_unexpected),
            "duplicated": len(node_dup),
        }
    recovered = unsure & set().union(
        *(set(r.get("value") or []) for r in reads if isinstance(r.get("value"), list))
    )
    out.update(
        valid=not (lost or unexpected or dup),
        lost_count=len(lost),
        lost=_sorted(lost)[:SHOW],
        unexpected_count=len(unexpected),
        unexpected=_sorted(unexpected)[:SHOW],
        duplicated_count=len(dup),
        duplicated=_sorted(dup)[:SHOW],
        recovered_count=len(recovered),
        per_node=per_node,
    )
    return out


def _hashable(x: Any) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False
