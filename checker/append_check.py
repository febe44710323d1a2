"""Element checks for the append workload: lost, duplicated and unexpected list elements.

The append workload appends unique values to a few keys (``f`` ``append``, the value a list
of elements) and reads whole lists in between. Besides the linearizability of each key
(model ``kv``), every successful read is checked on its own:

- lost: an element whose append was acknowledged before the read was invoked, missing from
  the read;
- duplicated: an element twice in one read;
- unexpected: an element no append ever attempted on that key.

This is the one implementation: the live run's ``elements`` checker calls it, and so does
``paxlab check --model append``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SHOW = 50


def check_elements(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Lost: acked before a read was invoked and absent from it. Duplicated: twice in one read.

    Positions are the events' ``time`` when they have one, else their order."""
    invoked_at: dict[Any, int] = {}
    acked: dict[Any, dict[Any, int]] = {}  # key -> element -> completion position
    attempted: dict[Any, set] = {}
    reads: list[tuple[Any, int, list]] = []  # key, invocation position, value
    for n, e in enumerate(events):
        p = e.get("process")
        if not isinstance(p, int):
            continue
        t = e.get("time")
        if t is None:
            t = n
        if e["type"] == "invoke":
            invoked_at[p] = t
            if e["f"] == "append":
                for x in _elements(e.get("value")):
                    attempted.setdefault(e.get("key"), set()).add(_h(x))
            continue
        if e["type"] != "ok":
            continue
        if e["f"] == "append":
            for x in _elements(e.get("value")):
                acked.setdefault(e.get("key"), {})[_h(x)] = t
        elif e["f"] == "read":
            val = e.get("value")
            reads.append((e.get("key"), invoked_at.get(p, t), val if isinstance(val, list) else []))
    lost: dict[Any, set] = {}
    dup: dict[Any, set] = {}
    unexpected: dict[Any, set] = {}
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
        "lost": {str(k): sorted(v, key=str)[:SHOW] for k, v in lost.items()},
        "duplicated_count": n_dup,
        "duplicated": {str(k): sorted(v, key=str)[:SHOW] for k, v in dup.items()},
        "unexpected_count": n_unexp,
        "unexpected": {str(k): sorted(v, key=str)[:SHOW] for k, v in unexpected.items()},
    }


def _elements(value: Any) -> list:
    """An append's elements: the list it appends (a string appends itself as one element)."""
    if isinstance(value, list):
        return value
    return [] if value is None else [value]


def _h(x: Any) -> Any:
    """Elements as hashable values (lists become tuples, objects sorted item tuples)."""
    if isinstance(x, list):
        return tuple(_h(y) for y in x)
    if isinstance(x, dict):
        return tuple(sorted((str(k), _h(v)) for k, v in x.items()))
    return x
