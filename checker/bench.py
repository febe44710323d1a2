"""History generators that resemble Jepsen runs, and the checker benchmark.

`generate` runs a sequential model under random concurrency: each client invokes an
operation, the operation takes effect atomically at some later moment, and the client
sees the completion later still. Some operations time out (``info``): the process is
retired (a fresh process id takes over, as Jepsen does) and the operation takes effect
later or never. Some fail definitely (not applied), and a cas that finds another value
completes ``fail`` with ``"error": "mismatch"``. Every generated history is linearizable
by construction; `corrupt_read` and `reorder` make ones that are not.

`main` (``paxlab bench --checker``, ``make bench-checker``) times the checker on the
quick cases by default (about half a minute on 2 cores; ``--all`` adds the 100k- and
1M-op ones) and prints one line per case (``--json`` for machine-readable lines), with a
line on stderr as each case starts and progress every few seconds during a long one. The
kv set (`checker.kvgen`: 50 clients, 10 keys, get/put/append, seeded, verdicts known by
construction) gets one line per history.
``python -m checker.bench --corpus DIR`` checks every history in DIR instead (``*.jsonl``,
and Jepsen text logs ``*.log``), one line each with its verdict and time, and compares the
verdicts with ``DIR/expected.json`` (``{"name": true|false}``) when there is one: that is
how the checker is held to public corpora with known verdicts (Porcupine's etcd logs)
without shipping them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from typing import Any


def _effect(state: Any, f: str, value: Any) -> tuple[bool, Any, Any]:
    """(executed ok, output, new state) of f on a register value."""
    if f == "read":
        return True, state, state
    if f == "write":
        return True, value, value
    if f == "cas":
        if state == value[0]:
            return True, value, value[1]
        return False, value, state
    if f == "append":
        if state is None:
            return True, value, value
        return True, value, state + value
    raise ValueError(f)


def generate(*args: Any, **kwargs: Any) -> list[dict]:
    """`iter_generate` as a list."""
    return list(iter_generate(*args, **kwargs))


def iter_generate(
    n_ops: int,
    clients: int = 10,
    keys: int | None = None,
    info_rate: float = 0.1,
    fail_rate: float = 0.02,
    values: int = 5,
    mix: tuple[str, ...] = ("read", "write", "cas"),
    seed: int = 0,
    initial: Any = None,
) -> Iterator[dict]:
    """A linearizable history of ``n_ops`` ops as event dicts, streamed.

    ``keys=None`` gives a single register (key null); else keys ``k0..``. ``info_rate`` is
    the share of update operations (write, cas, append) that time out.
    """
    rng = random.Random(seed)
    state: dict[Any, Any] = {}
    n_events = 0
    now = 0
    next_proc = clients
    # client slot -> [process, phase, op]; phase 0 idle, 1 invoked, 2 applied
    slots: list[list[Any]] = [[p, 0, None] for p in range(clients)]
    zombies: list[dict] = []  # timed-out ops that may still take effect
    invoked = 0
    lists = "append" in mix  # appends extend lists, so every value is a list

    def val() -> Any:
        v = rng.randrange(values)
        return [v] if lists else v

    def emit(process: Any, type_: str, op: dict, value: Any, **extra: Any) -> dict:
        nonlocal now, n_events
        now += rng.randint(1, 1000)
        ev = {"index": n_events, "time": now, "process": process, "type": type_,
              "f": op["f"], "key": op["key"], "value": value}  # fmt: skip
        ev.update(extra)
        n_events += 1
        return ev

    def apply(op: dict) -> None:
        k = op["key"]
        ok, out, new = _effect(state.get(k, initial), op["f"], op["value"])
        op["result"] = (ok, out)
        state[k] = new

    while invoked < n_ops or any(s[1] for s in slots):
        if zombies and rng.random() < 0.05:
            z = zombies.pop(rng.randrange(len(zombies)))
            if rng.random() < 0.6:
                apply(z)
        s = rng.choice(slots)
        proc, phase, op = s
        if phase == 0:
            if invoked >= n_ops:
                continue
            f = rng.choice(mix)
            k = None if keys is None else f"k{rng.randrange(keys)}"
            v: Any = None
            if f == "write":
                v = val()
            elif f == "cas":
                v = [val(), val()]
            elif f == "append":
                v = [rng.randrange(values)]
            op = {"f": f, "key": k, "value": v, "result": None}
            op["doom"] = rng.random()
            s[1], s[2] = 1, op
            invoked += 1
            yield emit(proc, "invoke", op, v)
        elif phase == 1:
            update = op["f"] != "read"
            if update and op["doom"] < info_rate:
                if rng.random() < 0.5:
                    apply(op)
                else:
                    zombies.append(op)
                yield emit(proc, "info", op, op["value"], error="timeout")
                s[0], s[1], s[2] = next_proc, 0, None
                next_proc += 1
            elif op["doom"] > 1 - fail_rate:
                yield emit(proc, "fail", op, op["value"], error="unavailable")
                s[1], s[2] = 0, None
            else:
                apply(op)
                s[1] = 2
        else:
            ok, out = op["result"]
            if ok:
                yield emit(proc, "ok", op, out)
            else:
                yield emit(proc, "fail", op, out, error="mismatch")
            s[1], s[2] = 0, None


def corrupt_read(events: list[dict], seed: int = 0) -> list[dict]:
    """Make one ok read return a value no op ever wrote: certainly not linearizable."""
    rng = random.Random(seed)
    reads = [i for i, e in enumerate(events) if e["f"] == "read" and e["type"] == "ok"]
    if not reads:
        raise ValueError("no ok read to corrupt")
    out = [dict(e) for e in events]
    out[rng.choice(reads)]["value"] = "never-written"
    return out


def reorder(events: list[dict], seed: int = 0) -> list[dict]:
    """Append a write of a fresh value and a read of it, the read strictly first.

    The two ops do not overlap, no other op writes that value, and every earlier op has
    completed (the pair is placed after all of them), so the read precedes any write of
    its value in every order.
    """
    rng = random.Random(seed)
    out = [dict(e) for e in events]
    key = rng.choice([e["key"] for e in events]) if events else None
    t = out[-1]["time"] if out else 0
    fresh = "fresh-value"
    pid = 10**6
    for type_, f, value in (
        ("invoke", "read", None),
        ("ok", "read", fresh),
        ("invoke", "write", fresh),
        ("ok", "write", fresh),
    ):
        t += 10
        out.append({"index": len(out), "time": t, "process": pid, "type": type_, "f": f,
                    "key": key, "value": value})  # fmt: skip
    return out


def stale_read(events: list[dict], seed: int = 0) -> list[dict]:
    """Append, after every other op, write A, write B, then a read of A (A and B fresh):
    the read sees an overwritten value. Certainly not linearizable, yet every value read
    was written before, so only a search can tell."""
    rng = random.Random(seed)
    out = [dict(e) for e in events]
    key = rng.choice([e["key"] for e in events]) if events else None
    t = out[-1]["time"] if out else 0
    pid = 10**6 + 1
    for type_, f, value in (
        ("invoke", "write", "stale-A"),
        ("ok", "write", "stale-A"),
        ("invoke", "write", "stale-B"),
        ("ok", "write", "stale-B"),
        ("invoke", "read", None),
        ("ok", "read", "stale-A"),
    ):
        t += 10
        out.append({"index": len(out), "time": t, "process": pid, "type": type_, "f": f,
                    "key": key, "value": value})  # fmt: skip
    return out


def write_jsonl(events: Iterable[dict], path: str) -> None:
    with open(path, "w") as fh:
        for e in events:
            fh.write(json.dumps(e, separators=(",", ":")))
            fh.write("\n")


CASES = {
    "register-10c": dict(n_ops=5000, clients=10, keys=None, info_rate=0.1),
    "register-50c": dict(n_ops=5000, clients=50, keys=None, info_rate=0.1),
    # like Porcupine's etcd multi-client logs: read/write only, values 0..99, no timeouts
    "register-rw-20c": dict(
        n_ops=20_000, clients=20, keys=None, info_rate=0.0, values=100, mix=("read", "write")
    ),  # fmt: skip
    "kv-100k": dict(
        n_ops=100_000, clients=50, keys=1000, info_rate=0.1, mix=("read", "write", "cas", "append")
    ),  # fmt: skip
    "kv-1m": dict(
        n_ops=1_000_000,
        clients=100,
        keys=5000,
        info_rate=0.05,
        mix=("read", "write", "cas", "append"),
    ),  # fmt: skip
}


# the default; history sets (`checker.kvgen.SETS`) are checked in-process, a line each
QUICK = ("register-10c", "register-50c", "register-rw-20c", "kv-c50-set", "kv-c50-calm-set")
SETS = ("kv-c50-set", "kv-c50-calm-set")
PROGRESS_EVERY_S = 5.0


class _Ticker:
    """Progress on stderr for a long check: at most one line every `PROGRESS_EVERY_S`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.t0 = self.last = time.monotonic()

    def __call__(self, p: dict) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        sys.stderr.write(f"  ... {self.name}: keys {p['keys_done']:,}/{p['keys']:,}, "
                         f"{p['explored']:,} configurations, {now - self.t0:.0f} s\n")  # fmt: skip
        sys.stderr.flush()


def _timed_check(path: str, model: str, jobs: int | None, conn: Any, name: str = "") -> None:
    """In a fresh child: check, then report the result with CPU time and peak RSS."""
    from checker.linearizability import check_file

    t0, c0 = time.monotonic(), time.process_time()
    res = check_file(path, model=model, jobs=jobs, progress=_Ticker(name))
    rss = max(resource.getrusage(w).ru_maxrss for w in
              (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))  # fmt: skip
    res.pop("keys", None)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # worker processes, if any
    cpu = time.process_time() - c0 + kids.ru_utime + kids.ru_stime
    conn.send((res, time.monotonic() - t0, cpu, rss / 1024))


def run_case(name: str, seed: int = 1, jobs: int | None = None) -> dict:
    """Generate a case to a temporary file, then time `check_file` on it (parse included)
    in a child process started afresh, so its peak RSS is the checker's alone."""
    import multiprocessing

    params = dict(CASES[name])
    model = "register" if params.get("keys") is None else "kv"
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="paxlab-bench-") as tmp:
        path = os.path.join(tmp, "history.jsonl")
        write_jsonl(iter_generate(seed=seed, **params), path)
        gen_s = time.monotonic() - t0
        size = os.path.getsize(path)
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_timed_check, args=(path, model, jobs, child, name))
        proc.start()
        res, check_s, cpu_s, rss_mb = parent.recv()
        proc.join()
    return {
        "case": name,
        "model": model,
        "ops": res["ops"]["total"],
        "info": res["ops"]["info"],
        "keys": res["keys_total"],
        "bytes": size,
        "valid": res["valid"],
        "explored": res["explored"],
        "check_s": round(check_s, 3),
        "cpu_s": round(cpu_s, 3),
        "generate_s": round(gen_s, 3),
        "peak_rss_mb": round(rss_mb, 1),
    }


def run_set(name: str, seed: int = 1, time_limit: float = 60.0, repeat: int = 3) -> list[dict]:
    """Check every history of a generated set with a known verdict: one row each (best
    time of ``repeat``, the check alone, parsing excluded, as for the Go checker)."""
    from checker.history import ops_from
    from checker.kvgen import named_set
    from checker.linearizability import check

    rows = []
    for hname, (events, want) in named_set(name, seed).items():
        ops = ops_from(events)
        best, r = float("inf"), None
        for _ in range(repeat):
            t0 = time.perf_counter()
            r = check(ops, "kv", None, time_limit)
            best = min(best, time.perf_counter() - t0)
            if r["valid"] == "unknown":
                break
        assert r is not None
        rows.append({"set": name, "name": hname, "ops": r["ops"]["total"],
                     "keys": r["keys_total"], "expected": want, "valid": r["valid"],
                     "explored": r["explored"], "time_s": round(best, 6)})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="paxlab bench --checker", description=__doc__.split("\n")[0])
    add_arguments(ap)
    return run(ap.parse_args(argv))


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--case", action="append", choices=sorted([*CASES, *SETS]),
                    help="case to run (repeatable; default: the quick ones, "
                         f"{', '.join(QUICK)})")  # fmt: skip
    ap.add_argument("--all", action="store_true", help="every case, the 1M-op one included")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=None, help="worker processes for many keys")
    ap.add_argument("--json", action="store_true", help="one JSON object per case")
    ap.add_argument("--corpus", metavar="DIR",
                    help="check every *.jsonl / *.log (Jepsen text log) history in DIR")  # fmt: skip
    ap.add_argument("--time-limit", type=float, default=30.0, metavar="S",
                    help="per history, with --corpus (default 30)")  # fmt: skip


def corpus_row(path: str, time_limit: float, repeat: int = 3) -> dict:
    """Check one corpus history (best time of ``repeat``: the histories are small)."""
    from checker.jepsen_log import read_log
    from checker.linearizability import check

    if path.endswith(".log"):
        events: Any = read_log(path)
    else:
        from checker.history import load

        events = load(path)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = check(events, "register", None, time_limit)
        best = min(best, time.perf_counter() - t0)
    name = os.path.splitext(os.path.basename(path))[0]
    return {"name": name, "ops": r["ops"]["total"], "info": r["ops"]["info"],
            "valid": r["valid"], "explored": r["explored"], "time_s": round(best, 6)}  # fmt: skip


def run_corpus(directory: str, time_limit: float, as_json: bool) -> int:
    """Exit 1 when a verdict differs from ``expected.json``, 2 when one is unknown."""
    from checker.history import HistoryError

    try:
        files = sorted(f for f in os.listdir(directory) if f.endswith((".jsonl", ".log")))
    except OSError as e:
        sys.stderr.write(f"paxlab bench: cannot read {directory}: {e.strerror}\n")
        return 2
    expected: dict = {}
    exp_path = os.path.join(directory, "expected.json")
    if os.path.exists(exp_path):
        try:
            with open(exp_path) as fh:
                expected = json.load(fh)
        except (OSError, ValueError) as e:
            sys.stderr.write(f"paxlab bench: cannot read {exp_path}: {e}\n")
            return 2
    rc = 0
    for f in files:
        try:
            r = corpus_row(os.path.join(directory, f), time_limit)
        except HistoryError as e:
            sys.stderr.write(f"paxlab bench: {f}: {e}\n")
            rc = max(rc, 2)
            continue
        want = expected.get(r["name"])
        r["expected"] = want
        if r["valid"] == "unknown":
            rc = max(rc, 2)
        elif want is not None and r["valid"] is not want:
            rc = 1
        if as_json:
            print(json.dumps(r), flush=True)
        else:
            mark = "" if want is None else ("  ok" if r["valid"] is want else "  MISMATCH")
            print(f"{r['name']:20s} {r['ops']:>7,d} ops {r['info']:>5,d} info  "
                  f"expected={want!s:5s} got={r['valid']!s:7s} {r['time_s'] * 1000:9.2f} ms"
                  f"{mark}", flush=True)  # fmt: skip
    return 1 if rc == 1 else rc


def run(args: argparse.Namespace) -> int:
    if args.corpus:
        return run_corpus(args.corpus, args.time_limit, args.json)
    names = args.case or ([*CASES, *SETS] if getattr(args, "all", False) else list(QUICK))
    rc = 0
    for name in names:
        sys.stderr.write(f"checker bench: {name} ...\n")
        sys.stderr.flush()
        if name in SETS:
            rc = max(rc, _print_set(name, args))
            continue
        r = run_case(name, seed=args.seed, jobs=args.jobs)
        if r["valid"] is not True:
            rc = 1
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            print(f"{r['case']:14s} {r['ops']:>9,d} ops {r['keys']:>6,d} keys "
                  f"{r['info']:>7,d} info  valid={r['valid']!s:5s} check {r['check_s']:8.3f} s (cpu {r['cpu_s']:.3f} s)"
                  f"  explored {r['explored']:>10,d}  peak RSS {r['peak_rss_mb']:.0f} MB",
                  flush=True)  # fmt: skip
    return rc


def _print_set(name: str, args: argparse.Namespace) -> int:
    """Run a history set, one line per history then a total; 1 when a verdict is wrong."""
    rc = 0
    total = 0.0
    for r in run_set(name, seed=args.seed, time_limit=args.time_limit):
        total += r["time_s"]
        if r["valid"] is not r["expected"]:
            rc = 1
        if args.json:
            print(json.dumps(r), flush=True)
        else:
            mark = "ok" if r["valid"] is r["expected"] else "MISMATCH"
            print(f"  {r['name']:22s} {r['ops']:>6,d} ops {r['keys']:>3d} keys  "
                  f"expected={r['expected']!s:5s} got={r['valid']!s:7s} "
                  f"{r['time_s'] * 1000:9.1f} ms  explored {r['explored']:>9,d}  {mark}",
                  flush=True)  # fmt: skip
    if not args.json:
        print(f"{name:14s} total {total:.3f} s", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
