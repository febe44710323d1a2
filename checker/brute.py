"""A brute-force linearizability reference for tests: every order, no cleverness.

It shares no code with the search (not even the models' step functions), so agreeing
with it on thousands of random small histories means something. Exponential: keep
histories under about eight operations.
"""

from __future__ import annotations

import json
from typing import Any

from checker.history import Op

_MISSING = object()


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True)


def _apply(state: Any, op: Op, mismatch: bool) -> Any:
    """New state, or _MISSING when the op cannot happen in ``state``."""
    if op.f == "read":
        if op.type != "ok" or _canon(op.output) == _canon(state):
            return state
        return _MISSING
    if op.f == "write":
        return op.value
    if op.f == "cas":
        expected, new = op.value
        equal = _canon(state) == _canon(expected)
        if mismatch:
            return state if not equal else _MISSING
        return new if equal else _MISSING
    if op.f == "append":
        if state is None:
            return op.value
        if isinstance(state, str) and isinstance(op.value, str):
            return state + op.value
        if isinstance(state, list) and isinstance(op.value, list):
            return state + op.value
        return _MISSING
    raise ValueError(f"brute: unknown f {op.f}")


def linearizable(ops: list[Op], initial: Any = None, model: str = "register") -> bool:
    """True when some order of the ops is legal (``kv``: every key on its own)."""
    if model == "kv":
        keys: dict[Any, list[Op]] = {}
        for o in ops:
            keys.setdefault(o.key, []).append(o)
        return all(_one(k_ops, initial) for k_ops in keys.values())
    return _one(ops, initial)


def _one(ops: list[Op], initial: Any) -> bool:
    items = []  # (op, must happen, completed position or None, is a cas mismatch)
    for o in ops:
        mismatch = o.type == "fail" and o.f == "cas" and o.error == "mismatch"
        if o.type == "fail" and not mismatch:
            continue
        must = o.type == "ok" or mismatch
        items.append((o, must, o.ret if must else None, mismatch))
    n = len(items)
    # before[i]: the items that must come before item i (they completed before i began).
    before = [
        {j for j in range(n) if items[j][2] is not None and items[j][2] < items[i][0].call}
        for i in range(n)
    ]
    musts = {i for i in range(n) if items[i][1]}

    def go(done: frozenset, state: Any) -> bool:
        if musts <= done:
            return True
        for i in range(n):
            if i in done or not before[i] <= done:
                continue
            # an op skipped now can still come later, so trying every next op covers
            # every order of every subset of the info ops
            new = _apply(state, items[i][0], items[i][3])
            if new is not _MISSING and go(done | {i}, new):
                return True
        return False

    return go(frozenset(), initial)


def machine_linearizable(ops: list[Op], factory: Any) -> bool:
    """True when some order of the ops is legal for the machine ``factory()`` run serially.

    The machine is copied whole (``copy.deepcopy``) at every branch, never through its
    snapshot: this shares nothing with `checker.machine_check` but the machine itself.
    Outcomes: ``ok`` happened with its ``output``; ``info`` may have happened; a ``fail``
    with error "rejected" was refused by the machine (it raised, nothing changed); other
    ``fail`` ops and queries that did not complete ``ok`` are dropped."""
    import copy

    items = []  # (op, must happen)
    for o in ops:
        if o.type == "fail" and not (o.f == "apply" and o.error == "rejected"):
            continue
        if o.f == "query" and o.type != "ok":
            continue
        items.append((o, o.type != "info"))
    n = len(items)
    before = [
        {j for j in range(n) if items[j][1] and items[j][0].ret < items[i][0].call}
        for i in range(n)
    ]
    musts = {i for i in range(n) if items[i][1]}

    def run(machine: Any, op: Op) -> Any:
        """The machine after ``op`` (a copy), or _MISSING when the op cannot happen there."""
        m = copy.deepcopy(machine)
        try:
            if op.f == "query":
                got = m.query(copy.deepcopy(op.value))
            else:
                got = m.apply(copy.deepcopy(op.value))
                if hasattr(got, "__await__"):
                    import asyncio

                    got = asyncio.run(got)
        except Exception:  # noqa: BLE001 - refused
            return machine if op.type != "ok" else _MISSING
        if op.type == "fail":
            return _MISSING  # it was refused, but here it is taken
        if op.type == "ok" and _canon(got) != _canon(op.output):
            return _MISSING
        return m

    def go(done: frozenset, machine: Any) -> bool:
        if musts <= done:
            return True
        for i in range(n):
            if i in done or not before[i] <= done:
                continue
            new = run(machine, items[i][0])
            if new is not _MISSING and go(done | {i}, new):
                return True
        return False

    return go(frozenset(), factory())
