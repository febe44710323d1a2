"""Small random histories for the checkers' agreement tests (brute force, C and Python
searches): shared by several test modules, so they live here, not in one of them."""

from __future__ import annotations

import random


def random_history(rng: random.Random, n_ops: int, procs: int, kv: bool) -> list[dict]:
    values = [0, 1, 2]
    keys = ["a", "b"] if kv else [None]
    fs = ["read", "write", "cas"] + (["append"] if kv else [])
    events: list[dict] = []
    pending: dict[int, dict] = {}
    live = list(range(procs))
    next_p = procs
    started = 0
    while started < n_ops or pending:
        p = rng.choice(live)
        if p in pending:
            op = pending.pop(p)
            r = rng.random()
            if r < 0.65:
                out = op["value"]
                if op["f"] == "read":
                    out = rng.choice([None, *values, [0], [0, 1], [1]]) if kv else rng.choice(
                        [None, *values])  # fmt: skip
                events.append(dict(op, type="ok", value=out))
            elif r < 0.8:
                events.append(dict(op, type="info"))
                live[live.index(p)] = next_p
                next_p += 1
            elif rng.random() < 0.1 and started >= n_ops:
                continue  # leave it pending to the end: also info
            else:
                err = "mismatch" if op["f"] == "cas" and rng.random() < 0.7 else "unavailable"
                events.append(dict(op, type="fail", error=err))
        elif started < n_ops:
            f = rng.choice(fs)
            v = None
            if f == "write":
                v = rng.choice(values)
            elif f == "cas":
                v = [rng.choice([None, *values]), rng.choice(values)]
            elif f == "append":
                v = [rng.choice(values)]
            op = {"process": p, "f": f, "key": rng.choice(keys), "value": v}
            pending[p] = op
            events.append(dict(op, type="invoke"))
            started += 1
        else:
            live.remove(p) if len(live) > 1 else None
    for i, e in enumerate(events):
        e["index"] = i
        e["time"] = i * 10 + rng.choice([0, 0, 5])  # occasional ties... of equal-time events
    for i in range(1, len(events)):
        events[i]["time"] = max(events[i]["time"], events[i - 1]["time"])
        if rng.random() < 0.15:
            events[i]["time"] = events[i - 1]["time"]  # touching intervals
    return events


def string_history(rng: random.Random, n_ops: int, procs: int) -> list[dict]:
    """Small random histories of string appends, writes, reads and cas on two keys, with
    reads that often see a concatenation (so some states are read and others are not)."""
    tokens = ["a", "b", "ab", "c"]
    events: list[dict] = []
    pending: dict[int, dict] = {}
    started = 0
    while started < n_ops or pending:
        p = rng.randrange(procs)
        if p in pending:
            op = pending.pop(p)
            r = rng.random()
            if r < 0.8:
                out = op["value"]
                if op["f"] == "read":
                    out = rng.choice([None, "a", "b", "ab", "ba", "abc", "w", "wa", "wab", "c"])
                events.append(dict(op, type="ok", value=out))
            elif r < 0.9:
                events.append(dict(op, type="info"))
            else:
                err = "mismatch" if op["f"] == "cas" else "unavailable"
                events.append(dict(op, type="fail", error=err))
        elif started < n_ops:
            f = rng.choice(["read", "append", "append", "write", "cas"])
            v = None
            if f == "append":
                v = rng.choice(tokens)
            elif f == "write":
                v = rng.choice(["w", "a"])
            elif f == "cas":
                v = [rng.choice(["w", "a", "ab"]), rng.choice(["w", "c"])]
            op = {"process": p, "f": f, "key": rng.choice(["x", "y"]), "value": v}
            pending[p] = op
            events.append(dict(op, type="invoke"))
            started += 1
    for i, e in enumerate(events):
        e["index"] = i
        e["time"] = i * 10
    return events
