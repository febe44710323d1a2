"""A run's message trace on disk: ``messages.jsonl`` beside the history (docs/results.md).

One JSON object a line, in the order recorded: ``dir`` ``send`` / ``recv`` (with ``from``,
``to``, ``type``, ``ballot``, ``slots``, ``cmds``, ``size`` and the send's ``id``, which its
deliveries repeat) or ``chosen`` / ``apply`` (``node`` learned / applied ``slot``); ``t`` is
ns on the history's clock, ``clock`` the recording node's own clock in seconds. The report
reads it back with :func:`read_trace`, which skips what it cannot parse (a trace explains a
verdict, it never makes one).
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import orjson

TRACE_FILE = "messages.jsonl"


def write_trace(path: Path, records: list[dict]) -> int:
    """Write ``records`` (atomically); how many."""
    tmp = path.with_name(f".{path.name}.tmp")
    dumps = orjson.dumps  # (a long run's trace is 100,000s of lines: json's speed tells)
    with open(tmp, "wb") as f:
        f.writelines(dumps(r) + b"\n" for r in records)
    os.replace(tmp, path)
    return len(records)


def read_trace(path: Path, problems: list[str] | None = None) -> list[dict]:
    """The records of ``path`` (none if it is missing); a bad line is skipped and noted."""
    if not path.exists():
        return []
    out: list[dict] = []
    bad = 0
    loads = orjson.loads
    with open(path, "rb") as f:
        for line in f:
            try:
                r = loads(line)
            except ValueError:
                bad += 1
                continue
            r = _clean(r)
            if r is not None:
                out.append(r)
            else:
                bad += 1
    if bad and problems is not None:
        problems.append(f"{path.name}: {bad} unreadable line(s) skipped")
    return out


def _int(v: object) -> bool:
    return type(v) is int


def _clean(r: object) -> dict | None:
    """The record with every field of the type its readers expect, or None. A trace comes
    from disk: a hand-edited or truncated one must cost its own bad lines, never the report."""
    if not isinstance(r, dict) or not _int(r.get("t")):
        return None
    d = r.get("dir")
    if d in ("chosen", "apply"):
        ok = isinstance(r.get("node"), str) and _int(r.get("slot"))
        return r if ok else None
    if d not in ("send", "recv"):
        return None
    if not all(_int(r.get(k)) or isinstance(r.get(k), str) for k in ("from", "to")):
        return None  # (a name, or a node id in a real node's own log)
    if not _int(r.get("id")):  # (a real node's own log has none: the merge numbers them)
        r["id"] = None
    b = r.get("ballot")
    r["ballot"] = b if isinstance(b, list) and len(b) == 2 and all(map(_int, b)) else None
    r["type"] = str(r.get("type"))
    slots, cmds = r.get("slots"), r.get("cmds")
    r["slots"] = [x for x in slots if _int(x)] if isinstance(slots, list) else []
    r["cmds"] = [x for x in cmds if isinstance(x, str)] if isinstance(cmds, list) else []
    if not _int(r.get("size")):
        r["size"] = None
    return r


def _key(r: dict) -> tuple:
    return (r.get("type"), str(r.get("ballot")), str(r.get("slots")))


def merge_node_traces(nodes_dir: Path, wall_t0_ns: int) -> list[dict]:
    """Real nodes' traces (``nodes/<n>/messages.jsonl`` and its rotated ``.1``, written by
    ``paxos_impl.trace.MessageLog``) as one trace: node ids as names, ``t`` since the run
    began, and each delivery paired with its send. Peers talk over TCP, so what one node
    sent another receives in order: a delivery is paired with the oldest unpaired send on
    that link with the same type, ballot and slots (a send that found none never arrived)."""
    recs: list[dict] = []
    for f in sorted(nodes_dir.glob("*/messages.jsonl*")):
        for r in read_trace(f):
            for k in ("from", "to"):
                if isinstance(r.get(k), int):
                    r[k] = f"n{r[k] + 1}"
            r["t"] -= wall_t0_ns
            recs.append(r)
    recs.sort(key=lambda r: r["t"])
    waiting: dict[tuple, collections.deque] = collections.defaultdict(collections.deque)
    out = []
    for mid, r in enumerate(recs, 1):
        link = (r.get("from"), r.get("to"), _key(r))
        if r["dir"] == "send":
            r["id"] = mid
            waiting[link].append(r)
        elif r["dir"] == "recv" and r.get("type") == "request":  # only the node's side
            r["id"] = mid  # is recorded: the arrow starts and ends as the node took it
            out.append({**r, "dir": "send"})
        elif r["dir"] == "recv":
            if not waiting[link]:
                continue  # its send fell out of the sender's cap (or clocks disagree)
            s = waiting[link].popleft()
            r["id"], r["size"] = s["id"], s.get("size")
        out.append(r)
    return out
