"""The bank checker: every read of all accounts sees the same total.

The bank workload moves money between accounts with transactions that append ``-amount`` to
one account and ``+amount`` to another; an account's balance is its initial balance plus the
sum of its list. A read is one transaction reading every account, so a store that applies
transactions atomically and reads from one consistent state shows the same total in every
read. A read whose total differs saw half a transfer (or a lost or doubled one). Negative
balances are counted, not judged: transfers are unconditional (micro-ops cannot branch on
what they read), so a balance may go below zero in a correct store.

Histories are the run's events (``f`` ``txn``, micro-ops ``["r", account, list|null]`` and
``["append", account, delta]``); only ``ok`` reads are judged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SHOW = 20


def balance(initial: int, deltas: Any) -> int | None:
    """An account's balance from what a read returned (None: not a list of integers)."""
    if deltas is None:
        return initial
    if not isinstance(deltas, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) for d in deltas
    ):
        return None
    return initial + sum(deltas)


def check_bank(events: Iterable[dict[str, Any]], accounts: list[str], initial: int) -> dict:
    """Valid when every complete read of all ``accounts`` totals ``len(accounts) * initial``."""
    expected = len(accounts) * initial
    bad: list[dict[str, Any]] = []
    malformed: list[dict[str, Any]] = []
    reads = negative = 0
    for e in events:
        if e.get("type") != "ok" or e.get("f") != "txn" or not isinstance(e.get("process"), int):
            continue
        mops = e.get("value")
        if (
            not isinstance(mops, list)
            or not mops
            or any(not isinstance(m, list) or len(m) != 3 or m[0] != "r" for m in mops)
        ):
            continue  # a transfer (or not a read of the accounts)
        seen = {m[1]: balance(initial, m[2]) for m in mops}
        if set(seen) != set(accounts) or None in seen.values():
            malformed.append({"index": e.get("index"), "value": mops})
            continue
        reads += 1
        negative += sum(1 for b in seen.values() if b is not None and b < 0)
        total = sum(b for b in seen.values() if b is not None)
        if total != expected:
            bad.append({"index": e.get("index"), "total": total, "balances": seen})
    out: dict[str, Any] = {
        "valid": not bad and not malformed,
        "reads": reads,
        "expected_total": expected,
        "wrong_totals": len(bad),
        "first_wrong": bad[:SHOW],
        "negative_balances": negative,
    }
    if malformed:
        out["malformed_reads"] = malformed[:SHOW]
    if not reads and out["valid"]:
        out["valid"] = "unknown"
        out["error"] = "no read of the accounts succeeded"
    return out
