"""Appends of unique values to a few keys with reads in between.

Each key's history is checked for linearizability (kv model: lists extend), and every read
for lost elements (acknowledged before the read began, yet missing) and duplicates.
"""

from __future__ import annotations

from typing import Any

from controller.generator import Generator, fn
from workloads.base import (
    Checker,
    CheckInput,
    Counter,
    KeyPool,
    Workload,
    final_reads,
    linearizability_checker,
    stats_checker,
)

SHOW = 50


class AppendWorkload(Workload):
    name = "append"
    model = "kv"
    default_rate = 30.0

    def __init__(self, concurrency: int = 10, ops_per_key: int = 80) -> None:
        super().__init__(concurrency)
        self.pool = KeyPool(active=3, ops_per_key=ops_per_key, prefix="a")
        self.values = Counter()

    def generator(self) -> Generator:
        def op(ctx):
            key = self.pool.pick(ctx.rng)
            if ctx.rng.random() < 0.5:
                return {"f": "read", "key": key, "value": None}
            return {"f": "append", "key": key, "value": [self.values.take()]}

        return fn(op)

    def final_generator(self, nodes: list[str]) -> Generator:
        return final_reads(list(self.pool.used), len(nodes))

    def checkers(self) -> dict[str, Checker]:
        return {
            "linearizable": linearizability_checker("kv"),
            "elements": check_elements,
            "stats": stats_checker,
        }


def check_elements(inp: CheckInput) -> dict[str, Any]:
    """Lost: acked before a read was invoked and absent from it. Duplicated: twice in one read."""
    invoked_at: dict[Any, int] = {}
    acked: dict[str, dict[Any, int]] = {}  # key -> element -> completion time
    attempted: dict[str, set] = {}
    reads: list[tuple[str, int, list]] = []  # key, invoke time, value
    for e in inp.events:
        p = e.get("process")
        if not isinstance(p, int):
            continue
        if e["type"] == "invoke":
            invoked_at[p] = e["time"]
            if e["f"] == "append":
                for x in e.get("value") or []:
                    attempted.setdefault(e["key"], set()).add(_h(x))
            continue
        if e["type"] != "ok":
            continue
        if e["f"] == "append":
            for x in e.get("value") or []:
                acked.setdefault(e["key"], {})[_h(x)] = e["time"]
        elif e["f"] == "read":
            val = e.get("value")
            reads.append(
                (e["key"], invoked_at.get(p, e["time"]), val if isinstance(val, list) else [])
            )
    lost: dict[str, set] = {}
    dup: dict[str, set] = {}
    unexpected: dict[str, set] = {}
    for key, t_inv, val in reads:
        got = [_h(x) for x in val]
        seen = set(got)
        for x, t_ack in acked.get(key, {}).items():
            if t_ack < t_inv and x not in seen:
                lost.setdefault(key, set()).add(x)
        if len(seen) != len(got):
            dup.setdefault(key, set()).update(x for x in seen if got.count(x) > 1)
        extra = seen - attempted.get(key, set())
        if extra:
            unexpected.setdefault(key, set()).update(extra)
    n_lost = sum(len(v) for v in lost.values())
    n_dup = sum(len(v) for v in dup.values())
    n_unexp = sum(len(v) for v in unexpected.values())
    return {
        "valid": (n_lost + n_dup + n_unexp == 0) if reads else "unknown",
        "reads": len(reads),
        "lost_count": n_lost,
        "lost": {k: sorted(v, key=str)[:SHOW] for k, v in lost.items()},
        "duplicated_count": n_dup,
        "duplicated": {k: sorted(v, key=str)[:SHOW] for k, v in dup.items()},
        "unexpected_count": n_unexp,
        "unexpected": {k: sorted(v, key=str)[:SHOW] for k, v in unexpected.items()},
    }


def _h(x: Any) -> Any:
    """Elements as hashable values (lists become tuples)."""
    return tuple(_h(y) for y in x) if isinstance(x, list) else x
