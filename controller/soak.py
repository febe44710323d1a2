"""A bounded soak of the store: mixed load, crashes and pauses, and hostile clients at once.

``python -m controller.soak --seconds 600`` runs a 3-node loopback cluster (ports from
``--base-port``) for that long: writer threads each own a few keys and write unique values
and append unique tokens; a fault thread kills (-9) or pauses (SIGSTOP) a random node or the
leader and brings it back; an attack thread sends the frames and connection floods of
issue 13 (``1e999``, 980-deep values, a write just under the frame limit, 4 MiB partial
frames, idle floods, garbage). At the end every node is brought back and the soak checks
that nothing acknowledged was lost: each key holds its last acknowledged write or a later
unacknowledged one, every acknowledged append is in its list exactly once. It also reports
the nodes' peak RSS and any node that stopped without being killed. Exit 0 when all held.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from controller.attacks import (
    NEAR_LIMIT_MARGIN,
    fixed_ports,
    hold_connections,
    memory_mb,
    send_frame_body,
)
from controller.bench_cli import LocalServers
from paxos_impl.client import Client, DefiniteFailure, PaxosError

KEYS_PER_WRITER = 4


class Ledger:
    """What one writer knows about its own keys: acknowledged and unknown outcomes."""

    def __init__(self) -> None:
        self.last_ok: dict[str, Any] = {}  # key -> last acknowledged written value
        self.later: dict[str, list] = {}  # key -> values written after it, outcome unknown
        self.appended: dict[str, list] = {}  # key -> acknowledged append tokens, in order
        self.ops = {"ok": 0, "fail": 0, "info": 0}
        self.writes_ok = 0


def writer(servers: LocalServers, w: int, stop: threading.Event, led: Ledger) -> None:
    rng = random.Random(w)
    with Client(servers.config, timeout=3.0, client_id=f"soak-{w}") as c:
        i = 0
        while not stop.is_set():
            i += 1
            key = f"w{w}-{rng.randrange(KEYS_PER_WRITER)}"
            op = rng.choice(("write", "write", "append", "read"))
            try:
                if op == "write":
                    value = f"{w}-{i}"
                    led.later.setdefault(key, []).append(value)
                    c.write(key, value)
                    led.last_ok[key], led.later[key] = value, []
                    led.writes_ok += 1
                elif op == "append":
                    c.append("L" + key, [i])
                    led.appended.setdefault("L" + key, []).append(i)
                else:
                    c.read(key)
                led.ops["ok"] += 1
            except DefiniteFailure:
                if op == "write":
                    led.later[key].pop()  # certainly not written
                led.ops["fail"] += 1
            except PaxosError:
                led.ops["info"] += 1  # a write stays in `later`: it may have happened


def faults(servers: LocalServers, stop: threading.Event, log: list, rng: random.Random) -> None:
    while not stop.wait(rng.uniform(4, 8)):
        n = servers.config.n
        victim = rng.randrange(n)
        kind = rng.choice(("kill", "kill-leader", "pause"))
        if kind == "kill-leader":
            with Client(servers.config, timeout=2.0) as c:
                for i in range(n):
                    try:
                        if c.status(i)["role"] == "leader":
                            victim = i
                    except PaxosError:
                        pass
        proc = servers.procs.get(victim)
        if proc is None:
            continue
        log.append([round(time.monotonic(), 1), kind, victim])
        if kind == "pause":
            os.kill(proc.pid, signal.SIGSTOP)
            stop.wait(2)
            os.kill(proc.pid, signal.SIGCONT)
        else:
            servers.kill(victim)
            stop.wait(2)
            servers.start(victim)


def attacks(servers: LocalServers, stop: threading.Event, log: list, rng: random.Random) -> None:
    deep = b"[" * 980 + b"]" * 980
    frames = {
        "inf": b'{"op":"write","key":"k","value":1e999,"client_id":"x","seq":1}',
        "deep": b'{"op":"write","key":"k","value":' + deep + b',"client_id":"y","seq":1}',
        "garbage": b"\xff\x00not json at all",
    }
    while not stop.wait(rng.uniform(1, 3)):
        node = rng.randrange(servers.config.n)
        port = servers.config.node(node).client_port
        kind = rng.choice(("inf", "deep", "garbage", "near-limit", "partial", "idle"))
        log.append([round(time.monotonic(), 1), kind, node])
        if kind in frames:
            send_frame_body(port, frames[kind], timeout=5)
        elif kind == "near-limit":
            try:
                with Client(servers.config, node=node, timeout=5.0) as c:
                    c.write("near", "v" * (servers.config.max_frame_bytes - NEAR_LIMIT_MARGIN))
            except PaxosError:
                pass
        else:
            socks = hold_connections(port, 20 if kind == "partial" else 300,
                                     (4 << 20) - 1 if kind == "partial" else 0)  # fmt: skip
            stop.wait(2)
            for s in socks:
                s.close()


def verify(servers: LocalServers, ledgers: list[Ledger]) -> list[str]:
    """Every acknowledged write and append still there (read through the leader)."""
    lost = []
    with Client(servers.config, timeout=10.0) as c:
        for led in ledgers:
            for key, value in led.last_ok.items():
                got = c.read(key)
                if got != value and got not in led.later.get(key, []):
                    lost.append(f"{key}: acknowledged {value!r}, read {got!r}")
            for key, tokens in led.appended.items():
                got = c.read(key) or []
                missing = [t for t in tokens if t not in got]
                dupes = len(got) - len(set(got))
                if missing or dupes:
                    lost.append(f"{key}: {len(missing)} acknowledged appends missing, {dupes} dup")
    return lost


def soak(seconds: float, base_port: int | None, writers: int, workdir: Path, seed: int) -> dict:
    """Run the soak; ``base_port`` None: any free ports."""
    rng = random.Random(seed)
    with LocalServers(workdir, 3, snapshot_every=200) as servers:
        if base_port is not None:
            fixed_ports(servers, base_port)
        servers.start_all()
        servers.wait_for_leader()
        stop, done = threading.Event(), threading.Event()
        ledgers = [Ledger() for _ in range(writers)]
        fault_log: list = []
        attack_log: list = []
        peak: dict[int, float] = {}
        unexpected: list[str] = []
        killed_by_us: set[int] = set()

        def watch() -> None:
            while not done.wait(0.2):
                for i, p in list(servers.procs.items()):
                    peak[i] = max(peak.get(i, 0.0), memory_mb(p.pid)[1])
                    if p.poll() is not None and p.returncode != -signal.SIGKILL:
                        if p.pid not in killed_by_us:
                            killed_by_us.add(p.pid)
                            unexpected.append(f"node {i} exited {p.returncode}: {servers.tail(i)}")

        threads = [threading.Thread(target=writer, args=(servers, w, stop, ledgers[w]))
                   for w in range(writers)]  # fmt: skip
        threads += [
            threading.Thread(target=faults, args=(servers, stop, fault_log, random.Random(seed))),
            threading.Thread(target=attacks, args=(servers, stop, attack_log, rng)),
        ]
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(60)
        for i in range(servers.config.n):  # everyone back for the final reads
            if i not in servers.procs or servers.procs[i].poll() is not None:
                servers.procs.pop(i, None)
                servers.start(i)
        servers.wait_for_leader(timeout=30)
        lost = verify(servers, ledgers)
        done.set()
        watcher.join(5)
        ops = {k: sum(led.ops[k] for led in ledgers) for k in ("ok", "fail", "info")}
        return {
            "seconds": round(time.monotonic() - t0, 1),
            "ops": ops,
            "acknowledged_writes": sum(led.writes_ok for led in ledgers),
            "keys_checked": sum(len(led.last_ok) + len(led.appended) for led in ledgers),
            "acknowledged_appends": sum(len(v) for led in ledgers for v in led.appended.values()),
            "faults": len(fault_log),
            "attacks": len(attack_log),
            "attack_kinds": sorted({a[1] for a in attack_log}),
            "lost": lost,
            "unexpected_exits": unexpected,
            "peak_rss_mb": {i: round(v, 1) for i, v in sorted(peak.items())},
            "ok": not lost and not unexpected,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m controller.soak", description=__doc__)
    p.add_argument("--seconds", type=float, default=600.0, help="how long (default 600)")
    p.add_argument("--base-port", type=int, default=23300)
    p.add_argument("--writers", type=int, default=8)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if not 1 <= args.seconds <= 24 * 3600:
        sys.stderr.write("soak: --seconds must be within 1..86400\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="paxlab-soak-") as d:
        result = soak(args.seconds, args.base_port, args.writers, Path(d), args.seed)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
