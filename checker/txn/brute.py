"""A brute-force reference for small transaction histories: try every serial order.

Why: the graph checker infers a lot (version orders, which reads are external); this one
infers nothing. It asks directly whether some order of the committed transactions, plus
any subset of the indeterminate ones, replayed one at a time on an empty store, gives
every committed transaction exactly the reads it saw (and, for strict serializability,
keeps every transaction after those that completed before it began). Exponential: only
for a handful of transactions, to cross-check `check.check_txns` in tests.
"""

from __future__ import annotations

from typing import Any

from checker.txn.history import Txn

MAX_TXNS = 9


def _run(t: Txn, state: dict[Any, Any], model: str) -> dict[Any, Any] | None:
    """The state after ``t``, or None when ``t`` (if it committed, ``ok``) read otherwise."""
    s = dict(state)
    for f, k, v in t.mops:
        if f == "r":
            if t.type != "ok":
                continue
            cur = s.get(k)
            if model == "list-append":
                if list(cur or ()) != list(v or ()):
                    return None
            elif cur != v:
                return None
        elif f == "append":
            s[k] = (*s.get(k, ()), v)
        else:
            s[k] = v
    return s


def serializable(txns: list[Txn], model: str, realtime: bool = False) -> bool:
    """Is there a serial order explaining the history (respecting real time if asked)?"""
    ok = [t for t in txns if t.type == "ok"]
    info = [t for t in txns if t.type == "info"]
    if len(ok) + len(info) > MAX_TXNS:
        raise ValueError(f"brute force is for at most {MAX_TXNS} transactions")
    cand = ok + info
    before = {t.id: {u.id for u in ok if realtime and u.ret is not None and u.ret < t.call}
              for t in cand}  # fmt: skip

    def go(done: frozenset, state: dict, ok_left: int) -> bool:
        if ok_left == 0:
            return True
        for t in cand:
            if t.id in done or not before[t.id] <= done:
                continue
            s = _run(t, state, model)
            if s is not None and go(done | {t.id}, s, ok_left - (t.type == "ok")):
                return True
        return False

    return go(frozenset(), {}, len(ok))
