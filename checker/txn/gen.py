"""Random transaction histories from a serial executor: valid by construction.

Why: the checker must accept every history a correct store can produce, and a benchmark
needs histories of any size that are the same on every machine (a seed). Clients invoke
Elle-shaped transactions (a few micro-ops over a small, rotating key set); each committed
transaction takes effect atomically at a random moment between its invocation and its
completion, so the history is strict serializable. Some transactions fail (no effect) and
some end ``info`` (their effect may or may not have happened; the client never returns).

``python -m checker.txn.gen --model list-append --txns 100000 --seed 1 --out H.jsonl``
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any


def generate(n: int, model: str = "list-append", seed: int = 1, clients: int = 10,
             keys: int = 8, max_mops: int = 4, p_fail: float = 0.05,
             p_info: float = 0.02, writes_per_key: int = 32) -> list[dict]:  # fmt: skip
    """``n`` transactions as history events (JSONL-shaped dicts, in time order)."""
    rng = random.Random(seed)
    state: dict[Any, Any] = {}
    counter: dict[Any, int] = {}
    events: list[dict] = []
    pending: dict[int, dict] = {}  # client -> {proc, inv, applied, out, fate}
    procs = list(range(clients))
    next_proc = clients
    key_base = 0
    started = 0
    t = 0

    def emit(proc: int, type_: str, value: Any) -> None:
        nonlocal t
        t += rng.randint(1, 1000)
        events.append({"index": len(events), "time": t, "process": proc, "type": type_,
                       "f": "txn", "value": value})  # fmt: skip

    active = list(range(keys))

    def new_txn() -> list[list]:
        nonlocal key_base
        mops = []
        for _ in range(rng.randint(1, max_mops)):
            slot = rng.randrange(keys)
            k = active[slot]
            if rng.random() < 0.5:
                mops.append(["r", k, None])
            else:
                counter[k] = counter.get(k, 0) + 1
                mops.append(["append" if model == "list-append" else "w", k, counter[k]])
                if counter[k] >= writes_per_key:  # as Elle's generator: keys rotate, so
                    key_base += 1  # each key's version order stays short
                    active[slot] = keys + key_base - 1
        return mops

    def apply(mops: list[list]) -> list[list]:
        out = []
        for f, k, v in mops:
            if f == "r":
                cur = state.get(k)
                out.append([f, k, list(cur) if model == "list-append" and cur else
                            ([] if model == "list-append" else cur)])  # fmt: skip
            elif f == "append":
                state.setdefault(k, []).append(v)
                out.append([f, k, v])
            else:
                state[k] = v
                out.append([f, k, v])
        return out

    while started < n or pending:
        c = rng.randrange(clients)
        p = pending.get(c)
        if p is None:
            if started >= n:
                continue
            started += 1
            r = rng.random()
            fate = "fail" if r < p_fail else "info" if r < p_fail + p_info else "ok"
            mops = new_txn()
            pending[c] = {"proc": procs[c], "inv": mops, "applied": False, "out": None,
                          "fate": fate}  # fmt: skip
            emit(procs[c], "invoke", mops)
        elif (
            not p["applied"]
            and p["fate"] != "fail"
            and not (p["fate"] == "info" and rng.random() < 0.5)
        ):
            p["applied"] = True
            p["out"] = apply(p["inv"])
        else:
            del pending[c]
            if p["fate"] == "ok" and p["applied"]:
                emit(p["proc"], "ok", p["out"])
            elif p["fate"] == "fail":
                emit(p["proc"], "fail", p["inv"])
            elif p["fate"] == "info":
                emit(p["proc"], "info", p["inv"])
                procs[c] = next_proc  # a process whose op ended info never invokes again
                next_proc += 1
            else:
                pending[c] = p  # an ok transaction completes only after it took effect
    return events


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m checker.txn.gen",
                                 description=__doc__.split("\n")[0])  # fmt: skip
    ap.add_argument("--model", choices=("list-append", "rw-register"), default="list-append")
    ap.add_argument("--txns", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--out", required=True, help="the JSONL file to write")
    ap.add_argument("--bench", action="store_true",
                    help="also check it and print the time taken")  # fmt: skip
    a = ap.parse_args(argv)
    events = generate(a.txns, a.model, a.seed, a.clients)
    with open(a.out, "w", encoding="utf-8") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
    if a.bench:
        from checker.txn.check import check_txns
        from checker.txn.history import read_txns

        t0 = time.monotonic()
        txns = read_txns(a.out, a.model)
        t1 = time.monotonic()
        r = check_txns(txns, a.model, "strict-serializable")
        t2 = time.monotonic()
        r2 = check_txns(txns, a.model, "serializable")
        t3 = time.monotonic()
        print(f"{a.txns:,} txns: read {t1 - t0:.2f} s, strict-serializable {t2 - t1:.2f} s "
              f"(valid {r['valid']}, {r['edges']:,} edges), serializable {t3 - t2:.2f} s "
              f"(valid {r2['valid']})")  # fmt: skip
        return 0 if r["valid"] and r2["valid"] else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
