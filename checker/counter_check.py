"""Jepsen's counter checker: each read lies between the bounds the history allows.

Increments are ``add`` operations of a positive amount to one key; a read returns the list of
amounts applied (the store appends each increment), and its value is their sum (an integer
read is taken as it is). For a read, the lower bound is the sum of the increments acknowledged
(``ok``) before the read was invoked; the upper bound is the sum of every increment invoked
before the read completed and not known to have failed (``ok``, ``info`` or still pending).
A read below the lower bound lost an acknowledged increment; above the upper bound it counted
one that was never made (or one twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SHOW = 20


def read_total(value: Any) -> int | None:
    """A read's counter value: the sum of a list of integers, or an integer (None: neither)."""
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        return sum(value)
    return None


def check_counter(events: Iterable[dict[str, Any]], key: Any = None) -> dict[str, Any]:
    """Every ok read of ``key`` within [acknowledged before it began, attempted before it ended]."""
    lower = 0  # acknowledged increments so far
    upper = 0  # invoked increments so far, minus the failed ones
    pending: dict[Any, tuple[str, int, int]] = {}  # process -> (f, amount, lower at invoke)
    errors: list[dict[str, Any]] = []
    reads = 0
    for e in events:
        p = e.get("process")
        if not isinstance(p, int) or e.get("key") != key:
            continue
        f, t = e.get("f"), e.get("type")
        if t == "invoke":
            amount = e.get("value") if f == "add" else 0
            if not isinstance(amount, int) or isinstance(amount, bool):
                amount = 0
            upper += amount
            pending[p] = (f, amount, lower)
            continue
        f0, amount, lower_at_invoke = pending.pop(p, (f, 0, lower))
        if f0 == "add":
            if t == "ok":
                lower += amount
            elif t == "fail":
                upper -= amount
            continue
        if f0 != "read" or t != "ok":
            continue
        got = read_total(e.get("value"))
        reads += 1
        if got is None or not lower_at_invoke <= got <= upper:
            errors.append({"index": e.get("index"), "value": got, "lower": lower_at_invoke,
                           "upper": upper})  # fmt: skip
    out: dict[str, Any] = {
        "valid": not errors,
        "reads": reads,
        "acknowledged": lower,
        "errors": len(errors),
        "first_errors": errors[:SHOW],
    }
    if not reads and not errors:
        out["valid"] = "unknown"
        out["error"] = "no read succeeded"
    return out
