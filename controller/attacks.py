"""Hostile-client attacks on a store node, and the node's peak memory under each.

``python -m controller.attacks [--base-port P] [--only NAME]`` starts a fresh 3-node
loopback cluster per attack (ports P..P+205), runs the attack against the leader while one
client that connected beforehand keeps writing, and prints one JSON line per attack: whether
every node survived, how many of the legitimate writes went through during the attack, and
the leader's resident memory before and at its peak (VmHWM). These are the figures of
issue 13 items 2-5 (run it against an older checkout to get the "before" column).

The attacks: ``partial`` (100 connections each holding a 4 MiB frame short of its last
bytes), ``idle`` (1,100 connections that send nothing), ``inf`` and ``deep`` (one frame with
``1e999`` / a value nested 980 deep, to every node), ``near-limit`` (a write 120 bytes under
the frame limit), ``big-writes`` (100 writes of 3 MB from 10 clients at once, then of 1 MB).
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from controller.bench_cli import LocalServers
from paxos_impl.client import Client, PaxosError

MIB = 1 << 20
# a value this far under the frame limit still fits in a client's request frame, but not in
# the accept that would carry it (the finding of issue 13 item 3: ~53 bytes bigger)
NEAR_LIMIT_MARGIN = 120


def fixed_ports(servers: LocalServers, base: int) -> None:
    """Put the cluster on base+i (peers) and base+100+i (clients), then rewrite its config."""
    for i, a in enumerate(servers.config.nodes):
        a.peer_port, a.client_port = base + i, base + 100 + i
    servers.config_path.write_text(servers.config.to_toml())


def memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of a process in MB, from /proc (0, 0 once it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0, 0.0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    kb = lambda name: float(fields.get(name, "0 kB").split()[0])  # noqa: E731
    return kb("VmRSS") / 1024, kb("VmHWM") / 1024


class Writer:
    """A legitimate client, connected before the attack, writing in a loop until stopped."""

    def __init__(self, servers: LocalServers) -> None:
        self.client = Client(servers.config, timeout=5.0)
        self.client.write("legit", -1)  # connected (to the leader) before anything else
        self.ok = self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                self.client.write("legit", i)
                self.ok += 1
            except PaxosError:
                self.failed += 1
            time.sleep(0.05)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)
        self.client.close()


def send_frame_body(port: int, body: bytes, timeout: float = 10.0) -> str:
    """One raw frame on a new connection; what came back, briefly."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(struct.pack(">I", len(body)) + body)
            data = s.recv(4096)
            return data[4:200].decode(errors="replace") if data else "closed"
    except OSError as e:
        return f"error: {e}"


def hold_connections(port: int, n: int, partial: int = 0) -> list[socket.socket]:
    """n connections; with ``partial``, each sends a frame header of that length and all of
    the body but its last 100 bytes, then waits."""
    socks = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            continue
        socks.append(s)
        if partial:
            try:
                s.sendall(struct.pack(">I", partial) + b"x" * (partial - 100))
            except OSError:
                pass
    return socks


def attack_partial(servers: LocalServers, leader: int) -> dict:
    socks = hold_connections(servers.config.node(leader).client_port, 100, 4 * MIB - 1)
    time.sleep(3)
    for s in socks:
        s.close()
    return {"connections": len(socks)}


def attack_idle(servers: LocalServers, leader: int) -> dict:
    socks = hold_connections(servers.config.node(leader).client_port, 1100)
    time.sleep(3)
    try:  # a newcomer while they are held: refused cleanly, or served
        with Client(servers.config, node=leader, timeout=3.0) as c:
            c.write("newcomer", 1)
        newcomer = "served"
    except PaxosError as e:
        newcomer = f"refused: {e}"[:120]
    for s in socks:
        s.close()
    return {"connections": len(socks), "newcomer": newcomer}


def _to_every_node(servers: LocalServers, body: bytes) -> dict:
    answers = {}
    for _ in range(2):
        for i in range(servers.config.n):
            answers[i] = send_frame_body(servers.config.node(i).client_port, body)
        time.sleep(1)
    return {"answers": answers}


def attack_inf(servers: LocalServers, leader: int) -> dict:
    return _to_every_node(
        servers, b'{"op":"write","key":"k","value":1e999,"client_id":"x","seq":1}'
    )


def attack_deep(servers: LocalServers, leader: int) -> dict:
    deep = b"[" * 980 + b"]" * 980
    return _to_every_node(
        servers, b'{"op":"write","key":"k","value":' + deep + b',"client_id":"y","seq":1}'
    )


def attack_near_limit(servers: LocalServers, leader: int) -> dict:
    value = "v" * (servers.config.max_frame_bytes - NEAR_LIMIT_MARGIN)
    try:
        with Client(servers.config, timeout=15.0) as c:
            c.write("near", value)
        outcome = "ok"
    except PaxosError as e:
        outcome = f"{type(e).__name__}: {e.error}"
    time.sleep(5)
    return {"outcome": outcome}


def attack_big_writes(servers: LocalServers, leader: int) -> dict:
    out: dict[str, Any] = {}
    for size in (3_000_000, 1_000_000):
        counts = {"ok": 0, "fail": 0, "info": 0}
        t0 = time.monotonic()

        def client(k: int, size: int = size, counts: dict = counts, t0: float = t0) -> None:
            with Client(servers.config, timeout=10.0) as c:
                for _ in range(10):
                    try:
                        c.write(f"big{k}", "b" * size)
                        counts["ok"] += 1
                    except PaxosError as e:
                        definite = e.error in ("bad_request", "unavailable", "not_leader")
                        counts["fail" if definite else "info"] += 1
                    if time.monotonic() - t0 > 120:
                        return

        threads = [threading.Thread(target=client, args=(k,)) for k in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[f"{size // 1_000_000}MB"] = {**counts, "s": round(time.monotonic() - t0, 1)}
    return out


ATTACKS: dict[str, Callable[[LocalServers, int], dict]] = {
    "partial": attack_partial,
    "idle": attack_idle,
    "inf": attack_inf,
    "deep": attack_deep,
    "near-limit": attack_near_limit,
    "big-writes": attack_big_writes,
}


def start_with_nofile(servers: LocalServers, nofile: int | None) -> None:
    """Start every node with this soft open-file limit (as in the finding: 1,024)."""
    import resource

    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    if nofile:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, saved[1]))
    try:
        servers.start_all()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def run_attack(name: str, base_port: int, workdir: Path, nofile: int | None = 1024) -> dict:
    with LocalServers(workdir, 3) as servers:
        fixed_ports(servers, base_port)
        start_with_nofile(servers, nofile)
        leader = servers.wait_for_leader()
        pids = {i: p.pid for i, p in servers.procs.items()}
        before = memory_mb(pids[leader])[0]
        peak = {i: 0.0 for i in pids}
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.is_set():
                for i, pid in pids.items():
                    peak[i] = max(peak[i], memory_mb(pid)[1])
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        with Writer(servers) as w:
            detail = ATTACKS[name](servers, leader)
            time.sleep(1)
        sampling.set()
        sampler.join(5)
        dead = {i: p.poll() for i, p in servers.procs.items() if p.poll() is not None}
        try:
            with Client(servers.config, timeout=10.0) as c:
                c.write("after", 1)
            after = "ok"
        except PaxosError as e:
            after = f"failed: {e}"[:120]
        return {
            "attack": name,
            "seconds": round(time.monotonic() - t0, 1),
            "nodes_dead": dead,
            "legit_writes": {"ok": w.ok, "failed": w.failed},
            "write_after": after,
            "leader_rss_mb": {"before": round(before, 1), "peak": round(peak[leader], 1)},
            "peak_rss_mb": {i: round(v, 1) for i, v in peak.items()},
            **detail,
        }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m controller.attacks", description=__doc__)
    p.add_argument("--base-port", type=int, default=23000)
    p.add_argument("--only", action="append", choices=sorted(ATTACKS), default=None)
    p.add_argument(
        "--node-nofile", type=int, default=1024, help="nodes start with this open-file limit"
    )
    args = p.parse_args(argv)
    for k, name in enumerate(args.only or list(ATTACKS)):
        with tempfile.TemporaryDirectory(prefix="paxlab-attack-") as d:
            result = run_attack(name, args.base_port + 10 * k, Path(d), args.node_nofile)
        print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
