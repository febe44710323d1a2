"""Jepsen's set checker: were acknowledged adds lost, or elements read that were never added?

The set workload adds unique elements during the run (``f`` ``add``) and, after healing,
reads the whole set from every node (``f`` ``read``, the value a list). Over those final
reads, as in Jepsen's ``checker/set``:

- lost: acknowledged (add ``ok``), yet missing from a final read;
- unexpected: in a final read, yet never attempted;
- recovered: an add of unknown outcome (``info``) that a final read shows;
- duplicated: twice in one read (a set never holds an element twice).

The history is valid when nothing is lost, unexpected or duplicated; unknown when no final
read succeeded. This is the one implementation: the live run's checker calls it, and so does
``paxlab check --model set``, so both give the same verdict on the same history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

SET_KEY = "set"
SHOW = 50  # elements listed per category; the counts are always complete


def check_set(events: Iterable[dict[str, Any]], key: Any = SET_KEY) -> dict[str, Any]:
    """The set verdict over history events (dicts in the JSONL history format).

    Only client events count (integer ``process``); reads count when their ``key`` is
    ``key``, which is what the workload's final reads use."""
    attempted, acked, unsure = set(), set(), set()
    reads: list[dict[str, Any]] = []
    for e in events:
        if not isinstance(e.get("process"), int):
            continue
        if e["f"] == "add":
            v = e.get("value")
            if not _hashable(v):
                continue
            if e["type"] == "invoke":
                attempted.add(v)
            elif e["type"] == "ok":
                acked.add(v)
            elif e["type"] == "info":
                unsure.add(v)
        elif e["f"] == "read" and e["type"] == "ok" and e.get("key") == key:
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
    lost, unexpected, dup, seen_any = set(), set(), set(), set()
    per_node = {}
    for r in reads:
        got = r.get("value") or []
        if not isinstance(got, list):
            got = [got]
        counts = Counter(x for x in got if _hashable(x))
        seen = set(counts)
        seen_any |= seen
        node_lost = acked - seen
        node_unexpected = seen - attempted
        node_dup = {x for x, c in counts.items() if c > 1}
        lost |= node_lost
        unexpected |= node_unexpected
        dup |= node_dup
        per_node[str(r.get("node", "?"))] = {
            "size": len(got),
            "lost": len(node_lost),
            "unexpected": len(node_unexpected),
            "duplicated": len(node_dup),
        }
    recovered = unsure & seen_any
    out.update(
        valid=not (lost or unexpected or dup),
        lost_count=len(lost),
        lost=_sorted(lost)[:SHOW],
        unexpected_count=len(unexpected),
        unexpected=_sorted(unexpected)[:SHOW],
        duplicated_count=len(dup),
        duplicated=_sorted(dup)[:SHOW],
        recovered_count=len(recovered),
        recovered=_sorted(recovered)[:SHOW],
        per_node=per_node,
    )
    return out


def _sorted(xs: Iterable[Any]) -> list:
    return sorted(xs, key=lambda x: (str(type(x)), x))


def _hashable(x: Any) -> bool:
    try:
        hash(x)
        return True
    except TypeError:
        return False
