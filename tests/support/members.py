"""Membership helpers for the core's tests: grow a Bus by a node, ask for a change."""

from __future__ import annotations

from typing import Any

from paxos_impl.core import Replica
from tests.support.bus import Bus


def add_replica(bus: Bus, i: int) -> None:
    """Start replica ``i`` (not in the bus's config file) as a node that waits to be added."""
    bus.r[i] = Replica(i, bus.cfg, bus.rng(i))
    bus.disk[i], bus.snap[i] = [], None
    bus.start(i)


def addr(i: int) -> list:
    return ["127.0.0.1", 7100 + i, 7200 + i]


def change(bus: Bus, at: int, seq: int, action: str, node: int, **more: Any) -> dict:
    """Ask node ``at`` for a membership change; run until it is answered; the answer."""
    value = {"action": action, "node": node, **more}
    if action == "add":
        value.setdefault("addr", addr(node))
    return _reconfig(bus, at, seq, value)


def set_quorums(bus: Bus, at: int, seq: int, q1: int, q2: int) -> dict:
    """Ask node ``at`` for new quorum sizes (``reconfig quorum``); the answer."""
    return _reconfig(bus, at, seq, {"action": "quorum", "q1": q1, "q2": q2})


def _reconfig(bus: Bus, at: int, seq: int, value: dict) -> dict:
    h = ("reconfig", seq)
    bus.request(at, h, "reconfig", key=None, value=value, cid="admin", seq=seq)
    for _ in range(200):
        if bus.answers(h):
            break
        bus.run(0.05)
    (ans,) = bus.answers(h)
    return ans


def restart_all(bus: Bus, up: int) -> None:
    """kill -9 every replica, then start replicas 0..up-1 again from their disks."""
    for i in list(bus.r):
        bus.crash(i)
    for i in range(up):
        bus.restart(i)
    bus.run(2.0)


def members(bus: Bus, i: int) -> dict:
    h = ("members", i, bus.now)
    bus.request(i, h, "members", key=None)
    return bus.answers(h)[-1]["value"]
