"""Synthetic run directories for the report, index, serve and browser tests.

The reports are built from the run-directory contract alone (ARCHITECTURE.md section 7), so
these fixtures produce one without the controller: a small random simulation of a sequential
register driven by concurrent workers (ops take effect at a random instant inside their
invocation window, so the history is linearizable by construction), nemesis start/stop
events, fail and info outcomes, and for an invalid run one read whose value is corrupted.
tests/controller/test_report_fixtures.py checks the fixtures keep the history contract.
"""

from __future__ import annotations

import json
import random
import shlex
from pathlib import Path

NEVER_WRITTEN = 424242  # a value no write produces: a read of it cannot be linearized


def simulate_register(
    n_ops: int,
    concurrency: int = 5,
    seed: int = 1,
    nemesis: tuple[str, ...] = ("partition",),
    corrupt: bool = False,
) -> tuple[list[dict], dict]:
    """A concurrent register history; returns (events, facts about the anomaly if corrupt)."""
    rng = random.Random(seed)
    ms = 1_000_000
    ops = []
    next_proc = concurrency
    t_end = 0
    per_worker = max(1, n_ops // concurrency)
    for w in range(concurrency):
        t, proc = rng.randrange(0, 5 * ms), w
        for _ in range(per_worker):
            f = rng.choice(("read", "read", "write", "cas"))
            dur = int(rng.expovariate(1 / (3 * ms))) + ms // 10
            r = rng.random()
            outcome = "info" if r < 0.03 else ("fail" if r < 0.08 else "ok")
            if outcome == "info":
                dur = 50 * ms  # a timeout
            value = (
                None
                if f == "read"
                else rng.randrange(5)
                if f == "write"
                else [rng.randrange(5), rng.randrange(5)]
            )
            lin = t + rng.randrange(max(1, dur))
            ops.append(
                {"proc": proc, "f": f, "value": value, "start": t, "end": t + dur, "lin": lin}
            )
            ops[-1]["outcome"] = outcome
            t += dur + rng.randrange(0, 2 * ms)
            if outcome == "info":
                proc, next_proc = next_proc, next_proc + 1
        t_end = max(t_end, t)
    # apply in linearization order to get each op's result
    state = None
    for op in sorted(ops, key=lambda o: o["lin"]):
        if op["outcome"] == "fail":
            op["error"] = "unavailable"
            continue
        if op["outcome"] == "info" and rng.random() < 0.5:
            continue  # timed out before taking effect
        if op["f"] == "read":
            op["result"] = state
        elif op["f"] == "write":
            state = op["value"]
        else:
            exp, new = op["value"]
            if state == exp:
                state = new
            elif op["outcome"] == "ok":
                op["outcome"], op["error"] = "fail", "mismatch"
        op["state_after"] = state
    facts: dict = {}
    if corrupt:
        reads = [o for o in ops if o["f"] == "read" and o["outcome"] == "ok"]
        victim = reads[len(reads) // 2]
        victim["result"] = NEVER_WRITTEN
        facts["victim"] = victim
    events = []
    for op in ops:
        inv = {"process": op["proc"], "type": "invoke", "f": op["f"], "key": None}
        inv["value"] = op["value"]
        done = {"process": op["proc"], "type": op["outcome"], "f": op["f"], "key": None}
        done["value"] = op.get("result") if op["f"] == "read" else op["value"]
        if "error" in op and op["outcome"] == "fail":
            done["error"] = op["error"]
        if op["outcome"] == "info":
            done["error"] = "timeout"
            done["value"] = op["value"] if op["f"] != "read" else None
        done["node"] = f"n{op['proc'] % 3 + 1}"
        events.append((op["start"], 0, inv, op))
        events.append((op["end"], 1, done, op))
    # nemesis: alternate start/stop every ~20% of the run
    step = max(1, t_end // 5)
    for i, fam in enumerate(nemesis * 2):
        t0 = step * (i + 1) - step // 2
        t1 = t0 + step // 2
        if fam == "clock":
            start_v = {"n1": 0.25 * (i + 1), "n3": -0.1 * (i + 1)}
            stop_f = "reset-clock"
        else:
            start_v, stop_f = {"isolated": ["n1"]}, f"stop-{fam}"
        start_f = f"start-{fam}" if fam != "clock" else "clock-skew"
        for t, f, v in ((t0, start_f, start_v), (t1, stop_f, None)):
            base = {"process": "nemesis", "f": f}
            events.append((t, 0, dict(base, type="invoke", value=None), None))
            events.append((t + ms, 1, dict(base, type="info", value=v), None))
    events.sort(key=lambda e: (e[0], e[1]))
    out = []
    for i, (t, _, ev, op) in enumerate(events):
        ev = {"index": i, "time": t, **ev}
        out.append(ev)
        if op is not None and ev["type"] == "invoke":
            op["index"] = i
    if corrupt:
        v = facts["victim"]
        facts["index"] = v["index"]
        facts["window"] = sorted(
            o["index"] for o in ops if o["start"] < v["end"] and o["end"] > v["start"]
        )
        before = sorted(
            (o for o in ops if o["lin"] < v["lin"] and o["outcome"] == "ok"),
            key=lambda o: o["lin"],
        )  # the checker's format: history index of the invoke and the state after it
        facts["prefix"] = [{"index": o["index"], "state": o["state_after"]} for o in before]
    return out, facts


def simulate_set(n_ops: int, seed: int = 1, lost: int = 2, dup: int = 1) -> tuple[list, dict]:
    """A set workload history: unique adds, then a final read missing/duplicating some."""
    rng = random.Random(seed)
    ms = 1_000_000
    events, t, added = [], 0, []
    for i in range(n_ops):
        p = i % 4
        events.append({"process": p, "type": "invoke", "f": "add", "key": "s", "value": i})
        events[-1]["time"] = t
        t += rng.randrange(ms, 3 * ms)
        events.append({"process": p, "type": "ok", "f": "add", "key": "s", "value": i, "time": t})
        added.append(i)
    lost_els = added[1 : 1 + lost]
    dup_els = added[-dup:] if dup else []
    final = [x for x in added if x not in lost_els] + dup_els
    events.append({"process": 0, "type": "invoke", "f": "read", "key": "s", "value": None})
    events[-1]["time"] = t + ms
    events.append({"process": 0, "type": "ok", "f": "read", "key": "s", "value": final})
    events[-1]["time"] = t + 2 * ms
    for i, ev in enumerate(events):
        ev["index"] = i
    return events, {"lost": lost_els, "duplicated": dup_els}


def make_run(
    root: Path,
    *,
    test_name: str = "register-partition",
    stamp: str = "20260101T120000",
    n_ops: int = 300,
    concurrency: int = 5,
    seed: int = 1,
    invalid: bool = False,
    workload: str = "register",
    nemesis: tuple[str, ...] = ("partition",),
    with_results: bool = True,
) -> Path:
    """Write results/<test_name>/<stamp>/ with history, test.json, results.json and nodes/."""
    run = root / test_name / stamp
    run.mkdir(parents=True)
    if workload == "set":
        events, facts = simulate_set(n_ops, seed=seed, lost=2 if invalid else 0, dup=invalid)
    else:
        events, facts = simulate_register(n_ops, concurrency, seed, nemesis, corrupt=invalid)
    with open(run / "history.jsonl", "w") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
    argv = ["paxlab", "test", "--workload", workload, "--nemesis", ",".join(nemesis)]
    argv += ["--nodes", "3", "--concurrency", str(concurrency), "--time-limit", "10"]
    argv += ["--backend", "sim", "--seed", str(seed)]
    if invalid:
        argv += ["--bug", "skip-phase1-adopt"]
    spec = {
        "name": test_name,
        "workload": workload,
        "nemesis": list(nemesis),
        "nodes": 3,
        "concurrency": concurrency,
        "time_limit": 10,
        "seed": seed,
        "backend": "sim",
        "bugs": ["skip-phase1-adopt"] if invalid else [],
        "argv": argv,
    }
    (run / "test.json").write_text(json.dumps(spec, indent=2))
    counts = {"ok": 0, "fail": 0, "info": 0}
    for ev in events:
        if ev["process"] != "nemesis" and ev["type"] in counts:
            counts[ev["type"]] += 1
    if workload == "set":
        checker = {"set": {"valid": not invalid, **facts}}
    elif invalid:
        victim = next(e for e in events if e["index"] == facts["index"])
        checker = {
            "linearizability": {
                "valid": False,
                "model": "register",
                "ops": n_ops,
                "time_s": 0.01,
                "key": None,
                "op": victim,
                "prefix": facts["prefix"],
                "window": facts["window"],
            }
        }
    else:
        checker = {"linearizability": {"valid": True, "model": "register", "ops": n_ops}}
    checker["stats"] = {"valid": True, "ops": counts}
    results = {
        "valid": not invalid,
        "test": test_name,
        "start": "2026-01-01T12:00:00Z",
        "end": "2026-01-01T12:00:10Z",
        "duration_s": events[-1]["time"] / 1e9,
        "ops": counts,
        "checkers": checker,
        "error": None,
        "phase": "check",
    }
    if with_results:
        (run / "results.json").write_text(json.dumps(results, indent=2))
    for n in ("n1", "n2", "n3"):
        d = run / "nodes" / n
        d.mkdir(parents=True)
        (d / "paxos.log").write_text(f"2026-01-01T12:00:00Z {n} started\n")
        (d / "data-listing.txt").write_text("total 8\n-rw-r--r-- 1 root root 4096 wal.log\n")
    return run


def command_line(run: Path) -> str:
    return shlex.join(json.loads((run / "test.json").read_text())["argv"])
