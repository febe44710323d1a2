"""The kv benchmark set: histories shaped like a key-value store's test (get, put, append).

Why a generator and not files: the set is defined by this code and a seed, so it is small
in the repository, the same on every machine, and its verdicts are known by construction.
Shape (the one that made our search explode): 50 clients, 10 keys, about 2,000 ops, gets,
puts of short strings and appends of short strings, no timed-out ops. Every op takes
effect atomically at a random moment between its invocation and its completion, so the
history as generated is linearizable.

Appended strings are unique tokens (``"x C S y"``: client, sequence) and put values are
unique too (``"vC.S"``), so a key's state is its last put's value followed by the tokens
appended since, in their linearization order, and it reads back unambiguously. The
corruptions below use that to be invalid in *every* order, not only the generated one:

* ``swap``: a get sees two appended tokens in the wrong order, where the first token's
  append returned before the second's began: no order appends them the other way.
* ``drop``: a get misses a token whose append returned before the append of a later
  token in the same value began, and began after the put the value starts with returned
  (or the value has no put): the later one cannot follow a state without it.
* ``stale``: a get sees an earlier state although an op that changed it returned before
  the get began, and the op that produced that state returned before that change began.

None of these is refuted by the static tests alone for ``swap`` / ``drop`` (the value
seen is not one any single op writes), so the search must do the work.

``python -m checker.kvgen --set kv-c50-set --seed 1 --out DIR`` writes a set as JSONL files plus
``DIR/expected.json`` (``{"name": true|false}``), the layout ``paxlab bench --corpus``
reads.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import random
import sys
from typing import Any

KEYS = 10
CLIENTS = 50
OPS = 2000
MIX = (("get", 0.4), ("append", 0.45), ("put", 0.15))


def generate_kv(
    seed: int,
    n_ops: int = OPS,
    clients: int = CLIENTS,
    keys: int = KEYS,
    max_lat: int = 100,
    think: int | None = None,
) -> list[dict]:
    """A linearizable get/put/append history as event dicts (f: read, write, append).

    An op takes up to 2 x ``max_lat`` ticks; a client waits up to ``think`` (default
    ``max_lat // 4``) before its next op: the larger ``think``, the fewer ops overlap."""
    think = max_lat // 4 if think is None else think
    rng = random.Random(seed)
    state: dict[str, str | None] = {}
    events: list[dict] = []
    heap: list[tuple[int, int, int, int]] = []  # (time, tie, client, phase)
    pending: dict[int, dict] = {}
    seq = [0] * clients
    tie = 0
    issued = 0
    for c in range(clients):
        heapq.heappush(heap, (rng.randint(0, max_lat), tie, c, 0))
        tie += 1
    fs = [f for f, _ in MIX]
    weights = [w for _, w in MIX]

    def emit(t: int, c: int, type_: str, f: str, key: str, value: Any) -> None:
        events.append({"index": len(events), "time": t, "process": c, "type": type_,
                       "f": f, "key": key, "value": value})  # fmt: skip

    while heap:
        t, _, c, phase = heapq.heappop(heap)
        if phase == 0:  # invoke
            if issued >= n_ops:
                continue
            issued += 1
            seq[c] += 1
            kind = rng.choices(fs, weights)[0]
            key = str(rng.randrange(keys))
            if kind == "get":
                op = {"f": "read", "key": key, "value": None}
            elif kind == "put":
                op = {"f": "write", "key": key, "value": f"v{c}.{seq[c]}"}
            else:
                op = {"f": "append", "key": key, "value": f"x {c} {seq[c]} y"}
            pending[c] = op
            emit(t, c, "invoke", op["f"], key, op["value"])
            nxt = (t + rng.randint(1, max_lat), 1)
        elif phase == 1:  # takes effect
            op = pending[c]
            k = op["key"]
            if op["f"] == "read":
                op["out"] = state.get(k)
            elif op["f"] == "write":
                state[k] = op["value"]
                op["out"] = op["value"]
            else:
                old = state.get(k)
                state[k] = op["value"] if old is None else old + op["value"]
                op["out"] = op["value"]
            nxt = (t + rng.randint(1, max_lat), 2)
        else:  # completes
            op = pending.pop(c)
            emit(t, c, "ok", op["f"], op["key"], op["out"])
            nxt = (t + rng.randint(0, think), 0)
        heapq.heappush(heap, (nxt[0], tie, c, nxt[1]))
        tie += 1
    return events


def _tokens(value: str | None) -> tuple[str, list[str]]:
    """(put prefix, appended tokens) of a state string."""
    if not value:
        return "", []
    head, sep, rest = value.partition("x ")
    if not sep:
        return value, []
    return head, ["x " + t for t in (sep + rest).split("x ") if t]


def _ops(events: list[dict]) -> dict[str, dict]:
    """written string -> {"call", "ret"} for every append and put."""
    open_: dict[Any, dict] = {}
    out: dict[str, dict] = {}
    for e in events:
        if e["type"] == "invoke":
            open_[e["process"]] = e
        elif e["type"] == "ok":
            inv = open_.pop(e["process"])
            if e["f"] in ("append", "write"):
                out[e["value"]] = {"call": inv["time"], "ret": e["time"]}
    return out


def _reads(events: list[dict]) -> list[tuple[dict, int]]:
    """(ok event, invocation time) of every get."""
    open_: dict[Any, dict] = {}
    out = []
    for e in events:
        if e["type"] == "invoke":
            open_[e["process"]] = e
        elif e["type"] == "ok":
            inv = open_.pop(e["process"])
            if e["f"] == "read":
                out.append((e, inv["time"]))
    return out


def corrupt(events: list[dict], kind: str, seed: int) -> list[dict]:
    """A copy of ``events`` with one get changed so no order explains it (see module doc)."""
    rng = random.Random(seed)
    apps = _ops(events)
    cands = []
    for e, _call in _reads(events):
        head, toks = _tokens(e["value"])
        for i in range(len(toks) - 1):
            for j in range(i + 1, len(toks)):
                a, b = apps[toks[i]], apps[toks[j]]
                if a["ret"] >= b["call"]:
                    continue  # a not certainly before b in every order
                # dropping a is only certainly wrong when a also follows the put
                after_put = not head or apps[head]["ret"] < a["call"]
                cands.append((e["index"], head, toks, i, j, after_put))
    if kind == "stale":
        return _stale(events, rng)
    if not cands:
        raise ValueError("no get to corrupt")
    if kind == "drop":
        cands = [c for c in cands if c[5]]
    if not cands:
        raise ValueError("no get to corrupt")
    idx, head, toks, i, j, _ = rng.choice(cands)
    toks = list(toks)
    if kind == "swap":
        toks[i], toks[j] = toks[j], toks[i]
    elif kind == "drop":
        del toks[i]
    else:
        raise ValueError(f"unknown corruption {kind!r}")
    out = [dict(x) for x in events]
    out[idx]["value"] = head + "".join(toks)
    return out


def _stale(events: list[dict], rng: random.Random) -> list[dict]:
    """A get sees the state just before the last append in its value, where that append
    returned before the get began and the append before it returned before it began."""
    apps = _ops(events)
    cands = []
    for e, call in _reads(events):
        head, toks = _tokens(e["value"])
        if len(toks) < 2:
            continue
        last, prev = apps[toks[-1]], apps[toks[-2]]
        if last["ret"] < call and prev["ret"] < last["call"]:
            cands.append((e["index"], head + "".join(toks[:-1])))
    if not cands:
        raise ValueError("no get to make stale")
    idx, value = rng.choice(cands)
    out = [dict(x) for x in events]
    out[idx]["value"] = value
    return out


KINDS = ("swap", "drop", "stale")


# The sets `paxlab bench --checker` runs: name -> generate_kv parameters. "busy": clients
# go straight on to their next op (about 5 ops in flight per key); "calm": they pause up to
# 200 ticks in between (about 2), which is where the Go checker decides in ~0.2 s.
SETS = {"kv-c50-set": {}, "kv-c50-calm-set": {"think": 200}}


def benchmark_set(
    seed: int = 1, n_valid: int = 4, n_invalid: int = 6, prefix: str = "kv-c50", **gen_kw: Any
) -> dict[str, tuple]:
    """name -> (events, expected verdict): ``n_valid`` valid histories and ``n_invalid``
    corrupted ones, cycling through the corruption kinds."""
    out: dict[str, tuple] = {}
    for n in range(n_valid):
        out[f"{prefix}-ok-{n}"] = (generate_kv(seed * 1000 + n, **gen_kw), True)
    for n in range(n_invalid):
        kind = KINDS[n % len(KINDS)]
        ev = generate_kv(seed * 1000 + 500 + n, **gen_kw)
        out[f"{prefix}-bad-{kind}-{n}"] = (corrupt(ev, kind, seed * 1000 + n), False)
    return out


def named_set(name: str, seed: int = 1) -> dict[str, tuple]:
    """One of `SETS` by name."""
    return benchmark_set(seed, prefix=name.removesuffix("-set"), **SETS[name])


def write_set(directory: str, name: str = "kv-c50-set", seed: int = 1) -> list[str]:
    """Write a set as ``NAME.jsonl`` plus ``expected.json``; the names."""
    os.makedirs(directory, exist_ok=True)
    expected = {}
    for hname, (events, verdict) in named_set(name, seed).items():
        with open(os.path.join(directory, hname + ".jsonl"), "w") as fh:
            for e in events:
                fh.write(json.dumps(e, separators=(",", ":")) + "\n")
        expected[hname] = verdict
    with open(os.path.join(directory, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1)
    return list(expected)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m checker.kvgen", description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", choices=sorted(SETS), default="kv-c50-set")
    ap.add_argument("--out", required=True, metavar="DIR")
    a = ap.parse_args(argv)
    names = write_set(a.out, a.set, a.seed)
    print(f"wrote {len(names)} histories and expected.json to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
