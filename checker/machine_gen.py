"""Histories of a state machine whose verdicts are known by construction.

Why: the generic checker (checker.machine_check) must be validated on histories whose
answer is known without trusting it. `generate` runs the machine serially and gives each
operation a linearization point between its invocation and its completion, so the history
is linearizable; timed-out ops (``info``) either took effect at their point or never did,
and refused commands complete ``fail`` with ``"error": "rejected"``. The corruptions make
it invalid, each for a reason that holds in every order, not only the generated one:

* ``corrupt``: an acknowledged result no state of the machine can give (``{"corrupt": n}``);
* ``swap`` (counters: results only grow): two acknowledged commands that do not overlap
  swap their results, so the later one reports a smaller total than the earlier one;
* ``lose``: one acknowledged command is answered but never applied (``lost=True``), with
  no timed-out ops and a final query after every op returned: the final state misses its
  effect in every order (counter and bank: the final state does not depend on the order).

``python -m checker.machine_gen MODULE:CLASS --ops 10000 --concurrency 10 --out H.jsonl``
writes one (the benchmark of docs/state-machines.md).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any

from checker.machine_check import load_machine


def _call(machine: Any, f: str, arg: Any) -> tuple[bool, Any]:
    """(ok, result) of one op run on the machine now; ok False: refused."""
    try:
        got = machine.query(arg) if f == "query" else machine.apply(arg)
        if hasattr(got, "__await__"):
            from checker.machine_check import _run

            got = _run(got)
    except Exception:  # noqa: BLE001 - the machine refused the command
        return False, None
    return True, json.loads(json.dumps(got))


def generate(
    cls: type,
    n_ops: int,
    concurrency: int = 10,
    seed: int = 0,
    info_rate: float = 0.0,
    query_rate: float = 0.3,
    lost: bool = False,
    final_query: bool = False,
) -> list[dict]:
    """A linearizable history of ``n_ops`` ops of ``cls`` by ``concurrency`` processes.

    Each step does one of: invoke an op on an idle process, take a pending op's effect
    (run it on the machine: its linearization point), complete an op whose effect was
    taken. ``info_rate``: share of ops that end ``info`` (half of them took effect).
    ``lost``: one acknowledged command is answered as if applied and then undone."""
    rng = random.Random(seed)
    m = cls()
    events: list[dict] = []
    t = 0
    next_pid = concurrency
    idle = list(range(concurrency))
    pending: dict[int, dict] = {}  # pid -> op not yet taken effect
    taken: dict[int, dict] = {}  # pid -> op whose effect is taken, not yet completed
    started = 0
    lose_at = rng.randrange(n_ops // 4, max(n_ops // 4 + 1, 3 * n_ops // 4)) if lost else -1
    eq = getattr(cls, "example_query", None)

    def emit(pid: int, typ: str, op: dict, **extra: Any) -> None:
        nonlocal t
        t += rng.randint(1, 5)
        ev = {"index": len(events), "time": t, "process": pid, "type": typ, "f": op["f"],
              "key": None, "value": op["value"], **extra}  # fmt: skip
        events.append(ev)

    while started < n_ops or pending or taken:
        r = rng.random()
        if idle and started < n_ops and (r < 0.4 or not (pending or taken)):
            pid = idle.pop(rng.randrange(len(idle)))
            q = callable(eq) and rng.random() < query_rate
            op = {"f": "query", "value": eq(rng)} if q else {
                "f": "apply", "value": cls.example_command(rng)}  # fmt: skip
            op["n"] = started
            started += 1
            pending[pid] = op
            emit(pid, "invoke", op)
        elif pending and (r < 0.7 or not taken):
            pid = rng.choice(list(pending))
            op = pending.pop(pid)
            if info_rate and rng.random() < info_rate / 2:  # never takes effect
                emit(pid, "info", op, error="timeout")
                idle.append(next_pid)
                next_pid += 1
                continue
            if 0 <= lose_at <= op["n"] and op["f"] == "apply":
                before = json.loads(json.dumps(m.snapshot()))
                op["ok"], op["result"] = _call(m, "apply", op["value"])
                m.restore(before)
                if op["ok"]:
                    lose_at = -1  # lost: acknowledged, never applied
            else:
                op["ok"], op["result"] = _call(m, op["f"], op["value"])
            taken[pid] = op
        elif taken:
            pid = rng.choice(list(taken))
            op = taken.pop(pid)
            if info_rate and rng.random() < info_rate / 2:  # took effect, answer lost
                emit(pid, "info", op, error="timeout")
                idle.append(next_pid)
                next_pid += 1
            elif op["ok"]:
                emit(pid, "ok", op, result=op["result"])
                idle.append(pid)
            else:
                emit(pid, "fail", op, error="rejected" if op["f"] == "apply" else "bad_request")
                idle.append(pid)
    if final_query and callable(eq):
        op = {"f": "query", "value": eq(random.Random(0))}
        pid = idle[0] if idle else next_pid
        emit(pid, "invoke", op)
        emit(pid, "ok", op, result=_call(m, "query", op["value"])[1])
    return events


def corrupt(events: list[dict], rng: random.Random) -> list[dict]:
    """One acknowledged result replaced by one no state can give: invalid in every order."""
    out = [dict(e) for e in events]
    oks = [e for e in out if e["type"] == "ok"]
    victim = rng.choice(oks)
    victim["result"] = {"corrupt": victim["index"]}
    return out


def swap_counter(events: list[dict], rng: random.Random) -> list[dict] | None:
    """Two non-overlapping acknowledged counter adds swap their totals (None: no such pair).

    A counter's total only grows and each add adds at least 1, so the later add's total
    exceeds the earlier's in every order: swapped, no order explains them."""
    out = [dict(e) for e in events]
    calls: dict[Any, dict] = {}
    adds = []  # (call time, completion event)
    for e in out:
        if e["type"] == "invoke":
            calls[e["process"]] = e
        elif e["type"] == "ok" and e["f"] == "apply":
            adds.append((calls[e["process"]]["time"], e))
    for _ in range(100):
        (c1, a), (c2, b) = sorted(rng.sample(adds, 2), key=lambda x: x[0])
        if a["time"] < c2 and a["result"] != b["result"]:
            a["result"], b["result"] = b["result"], a["result"]
            return out
    return None


def write(events: list[dict], path: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m checker.machine_gen", description=__doc__)
    p.add_argument("machine", help="module:Class")
    p.add_argument("--ops", type=int, default=10_000)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--info-rate", type=float, default=0.0)
    p.add_argument("--corrupt", action="store_true", help="corrupt one acknowledged result")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    try:
        cls = load_machine(a.machine)
    except ValueError as e:
        print(f"machine_gen: {e}", file=sys.stderr)
        return 2
    evs = generate(cls, a.ops, a.concurrency, a.seed, a.info_rate)
    if a.corrupt:
        evs = corrupt(evs, random.Random(a.seed))
    write(evs, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
