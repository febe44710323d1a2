"""Safety properties of a simulated run, checked directly from the history and the chosen log.

These are deliberately simpler than a linearizability checker and need no search, because
the workload makes them direct: every written or appended value is unique, so a read names
the one write it saw, and the chosen log gives every command its position.

- one value per slot and applied logs that agree: recorded by the world as it runs;
- every acknowledged write / append is in the chosen log;
- a read never misses a write acknowledged before the read began;
- a command takes effect once (no appended value appears twice).
"""

from __future__ import annotations

import bisect
from collections import defaultdict

from cluster.sim.world import World


def positions(log: list[list]) -> dict[tuple[str, int], int]:
    """(client_id, seq) -> position of its first copy in the chosen log (the one that counts)."""
    pos: dict[tuple[str, int], int] = {}
    i = 0
    for batch in log:
        for cmd in batch:
            key = (cmd.get("client_id"), cmd.get("seq"))
            pos.setdefault(key, i)  # type: ignore[arg-type]
            i += 1
    return pos


def _pairs(history: list[dict]) -> list[tuple[dict, dict]]:
    """(invoke, completion) per operation (incomplete operations are left out)."""
    open_: dict[object, dict] = {}
    out = []
    for ev in history:
        if ev.get("process") == "nemesis":
            continue
        if ev["type"] == "invoke":
            open_[ev["process"]] = ev
        else:
            inv = open_.pop(ev["process"], None)
            if inv is not None:
                out.append((inv, ev))
    return out


def check_acked_survive(history: list[dict], log: list[list]) -> list[str]:
    pos = positions(log)
    bad = []
    for inv, done in _pairs(history):
        if done["type"] == "ok" and inv["f"] in ("write", "append", "cas"):
            if (inv["client_id"], inv["seq"]) not in pos:
                bad.append(
                    f"acknowledged {inv['f']} {inv['key']}={inv['value']!r} is not in the log"
                )
    return bad


def check_reads(history: list[dict], log: list[list]) -> list[str]:
    """A read must see every write/append to its key acknowledged before it was invoked."""
    pos = positions(log)
    pairs = _pairs(history)
    writer: dict[tuple[str, object], tuple[str, int]] = {}
    acked: dict[str, list[tuple[int, int, dict]]] = defaultdict(list)  # key -> (t_done, pos)
    appended: dict[str, list[tuple[int, object]]] = defaultdict(list)
    for inv, done in pairs:
        if inv["f"] == "write":
            writer[(inv["key"], _h(inv["value"]))] = (inv["client_id"], inv["seq"])
            if done["type"] == "ok":
                p = pos.get((inv["client_id"], inv["seq"]))
                if p is not None:
                    acked[inv["key"]].append((done["time"], p, inv))
        elif inv["f"] == "append" and done["type"] == "ok":
            appended[inv["key"]].append((done["time"], inv["value"]))
    for k in acked:
        acked[k].sort(key=lambda e: e[0])
    for k in appended:
        appended[k].sort(key=lambda e: e[0])
    bad = []
    for inv, done in pairs:
        if inv["f"] != "read" or done["type"] != "ok":
            continue
        key, v, t0 = inv["key"], done["value"], inv["time"]
        if isinstance(v, list):
            seen = set(map(_h, v))
            for t, val in appended[key]:
                if t >= t0:
                    break
                if any(_h(x) not in seen for x in (val if isinstance(val, list) else [val])):
                    bad.append(f"read of {key} at index {inv['index']} misses append {val!r}")
                    break
            continue
        if v is None:
            pv = -1
        else:
            w = writer.get((key, _h(v)))
            pv = pos.get(w, None) if w else None
            if pv is None:
                bad.append(f"read of {key} at index {inv['index']} saw {v!r}, never chosen")
                continue
        writes = acked.get(key, [])
        i = bisect.bisect_left([w[0] for w in writes], t0)
        for _, p, w in writes[:i]:
            if p > pv:
                bad.append(
                    f"read of {key} at index {inv['index']} saw {v!r} but write of "
                    f"{w['value']!r} was acknowledged before the read began"
                )
                break
    return bad


def check_once(world: World, append_keys: tuple[str, ...]) -> list[str]:
    """No appended (unique) value may appear twice in any replica's state."""
    bad = []
    for i, n in world.nodes.items():
        if n.replica is None:
            continue
        for k in append_keys:
            val = n.replica.sm.read(k) or []
            seen = set()
            for x in val:
                if _h(x) in seen:
                    bad.append(f"node {i}: value {x!r} appended to {k} twice")
                    break
                seen.add(_h(x))
    return bad


def _h(v: object) -> object:
    return repr(v) if isinstance(v, list | dict) else v


def check_all(
    world: World, history: list[dict], append_keys: tuple[str, ...] = ("l",)
) -> list[str]:
    log = world.reference_log()
    return (
        list(world.violations)
        + check_acked_survive(history, log)
        + check_reads(history, log)
        + check_once(world, append_keys)
    )
