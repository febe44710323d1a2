"""Digest a history into operations, fault windows, op counts and latency quantiles.

A history (docs/history-format.md) is a stream of events; people and plots want *operations*: one row per
invocation with its completion, outcome and latency. This module does that pairing once, so
the report's tables, the perf plots and the timeline all agree on what an operation is.
It reads plain event dicts (one parsed JSON line each) and depends on nothing of ours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTCOMES = ("ok", "fail", "info", "pending")  # pending: invoked, never completed (crashed run)
NEMESIS = "nemesis"


@dataclass(slots=True)
class Operation:
    """One client operation: an invoke paired with its completion (if any)."""

    index: int  # history index of the invoke: the operation's stable address (#op-INDEX)
    process: int
    f: str
    key: Any
    value: Any  # value on invoke
    type: str  # ok | fail | info | pending
    start: int  # ns
    end: int | None  # ns; None while pending
    result: Any = None  # value on completion
    error: Any = None
    node: Any = None
    completion_index: int | None = None

    @property
    def latency(self) -> int | None:
        return None if self.end is None else self.end - self.start


@dataclass
class FaultWindow:
    """A fault in effect from ``start`` to ``end`` (ns; None: never healed in this history)."""

    name: str
    start: int
    end: int | None
    start_index: int
    end_index: int | None = None
    value: Any = None


@dataclass
class Digest:
    ops: list[Operation]
    nemesis: list[dict]  # raw nemesis events, in order
    windows: list[FaultWindow]
    end_time: int  # ns of the last event
    errors: list[str] = field(default_factory=list)  # unreadable lines, unmatched events


def read_events(path: Path) -> tuple[list[dict], list[str]]:
    """Parse a history.jsonl leniently: a report must render even a crashed run's history.

    A bad line is skipped and described in the returned errors (the checker, not the report,
    is where a malformed history is rejected).
    """
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines()
    try:  # one C-speed parse of the whole file: 3-4x faster than a loads() per line
        events = json.loads("[" + ",".join(ln for ln in lines if ln.strip()) + "]")
        if all(isinstance(ev, dict) for ev in events):
            return events, []
    except ValueError:
        pass
    events = []
    errors: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError as e:
            errors.append(f"line {n}: not JSON ({e.msg})")
            continue
        if not isinstance(ev, dict):
            errors.append(f"line {n}: not a JSON object")
            continue
        events.append(ev)
    return events, errors


def digest(events: Iterable[Mapping]) -> Digest:
    """Pair invokes with completions per process; collect nemesis events and fault windows.

    The loop is written for speed (locals, positional construction): it runs once per
    event, 200,000 times for a 100,000-operation history.
    """
    ops: list[Operation] = []
    open_by_process: dict[Any, Operation] = {}
    nemesis: list[dict] = []
    errors: list[str] = []
    end_time = 0
    new_op, add_op, pop_open = Operation, ops.append, open_by_process.pop
    for pos, ev in enumerate(events):
        get = ev.get
        t = get("time")
        if type(t) is not int:
            errors.append(f"event {pos}: no integer time")
            continue
        if t > end_time:
            end_time = t
        proc = get("process")
        idx = get("index", pos)
        if proc == NEMESIS:
            nemesis.append(dict(ev, index=idx))
            continue
        typ = get("type")
        if typ == "invoke":
            if proc in open_by_process:
                errors.append(f"index {idx}: process {proc} invoked while an op was open")
            f = get("f")
            op = new_op(
                idx, proc, f if type(f) is str else str(f), get("key"), get("value"),
                "pending", t, None,
            )  # fmt: skip
            open_by_process[proc] = op
            add_op(op)
        elif typ == "ok" or typ == "fail" or typ == "info":
            op = pop_open(proc, None)
            if op is None:
                errors.append(f"index {idx}: {typ} for process {proc} with no open invoke")
                continue
            op.type = typ
            op.end = t
            op.result = get("result", get("value"))  # a state machine's answer, else value
            op.error = get("error")
            op.node = get("node")
            op.completion_index = idx
        else:
            errors.append(f"index {idx}: unknown type {typ!r}")
    return Digest(ops, nemesis, fault_windows(nemesis), end_time, errors)


# --- nemesis events -> fault windows -------------------------------------------------------
# Nemeses name their events freely ("start-partition", "partition-stop", "heal", "kill" /
# "restart", ...). We recognise the usual start/stop spellings; anything else is a point event.
_STOP_WORDS = {
    "heal": "*",  # the controller's final heal-all: ends every fault still open
    "heal-all": "*",
    "heal-partition": "partition",
    "heal-network": "partition",
    "resume": "pause",
    "unpause": "pause",
    "restart": "kill",
    "revive": "kill",
    "recover": "kill",
    "reset-clock": "clock",
    "reset-clocks": "clock",
    "clock-reset": "clock",
    "heal-netem": "netem",
    "netem-heal": "netem",
}
_START_WORDS = {
    "partition": "partition",
    "pause": "pause",
    "kill": "kill",
    "crash": "kill",
    "clock": "clock",
    "bump-clock": "clock",
    "skew-clock": "clock",
    "clock-skew": "clock",
    "strobe-clock": "clock",
    "netem": "netem",
    "slow": "netem",
}
_AFFIX = re.compile(r"^(start|stop)[-_:](.+)$|^(.+)[-_:](start|stop)$")


def classify_fault(f: str) -> tuple[str, str | None]:
    """('start'|'stop'|'point', family) for a nemesis event's f."""
    f = f.lower()
    m = _AFFIX.match(f)
    if m:
        kind = m.group(1) or m.group(4)
        fam = m.group(2) or m.group(3)
        return kind, _START_WORDS.get(fam, fam)
    if f in _STOP_WORDS:
        return "stop", _STOP_WORDS[f]
    if f in _START_WORDS:
        return "start", _START_WORDS[f]
    return "point", None


def nemesis_ops(nemesis_events: list[dict]) -> list[dict]:
    """Pair the nemesis's invoke/completion events into ops {f, start, end, index, value}.

    The nemesis is one sequential process, so a completion closes the open invoke; a lone
    event (no invoke) is an op of zero duration.
    """
    ops: list[dict] = []
    pending: dict | None = None
    for ev in nemesis_events:
        f, t, idx = str(ev.get("f", "")), ev["time"], ev["index"]
        if ev.get("type") == "invoke":
            pending = {"f": f, "start": t, "end": None, "index": idx, "value": ev.get("value")}
            ops.append(pending)
        elif pending is not None:
            pending["end"] = t
            if ev.get("value") is not None:
                pending["value"] = ev.get("value")  # the completion says what was actually done
            pending = None
        else:
            ops.append({"f": f, "start": t, "end": t, "index": idx, "value": ev.get("value")})
    return ops


def fault_windows(nemesis_events: list[dict]) -> list[FaultWindow]:
    """Turn nemesis ops into intervals: a start opens its family, a stop closes it.

    The window runs from the start op's invocation to the stop op's completion, as Jepsen
    shades it; a fault never healed runs to the end of the history (end None).
    """
    windows: list[FaultWindow] = []
    open_: dict[str, FaultWindow] = {}
    for op in nemesis_ops(nemesis_events):
        kind, fam = classify_fault(op["f"])
        if kind == "start" and fam is not None and fam not in open_:
            w = FaultWindow(fam, op["start"], None, op["index"], value=op["value"])
            open_[fam] = w
            windows.append(w)
        elif kind == "stop" and fam == "*":
            for w in open_.values():
                w.end = op["end"] if op["end"] is not None else op["start"]
                w.end_index = op["index"]
            open_.clear()
        elif kind == "stop" and fam in open_:
            w = open_.pop(fam)
            w.end = op["end"] if op["end"] is not None else op["start"]
            w.end_index = op["index"]
    return windows


# --- tables ---------------------------------------------------------------------------------


def op_counts(ops: list[Operation]) -> dict[str, dict[str, int]]:
    """{f: {outcome: count}} including a 'total' per f and an '*' row for all functions."""
    table: dict[str, dict[str, int]] = {}
    for op in ops:
        row = table.setdefault(op.f, dict.fromkeys((*OUTCOMES, "total"), 0))
        row[op.type] += 1
        row["total"] += 1
    total = dict.fromkeys((*OUTCOMES, "total"), 0)
    for row in table.values():
        for k, v in row.items():
            total[k] += v
    out = dict(sorted(table.items()))
    out["*"] = total
    return out


QUANTILES = (0.5, 0.9, 0.95, 0.99, 1.0)


def latency_quantiles(
    ops: list[Operation], quantiles: tuple[float, ...] = QUANTILES
) -> dict[str, dict[str, float]]:
    """{f: {"n", "p50", ..., "max"}} in milliseconds, over ops that completed ok.

    Only ok ops: a fail is often an instant refusal and an info a timeout, both of which
    would distort what the store's latency looks like (the plots show them separately).
    """
    by_f: dict[str, list[int]] = {}
    for op in ops:
        if op.type == "ok" and op.end is not None:
            by_f.setdefault(op.f, []).append(op.end - op.start)
    by_f["*"] = [x for f, xs in by_f.items() for x in xs]
    out: dict[str, dict[str, float]] = {}
    for f, xs in by_f.items():
        if not xs:
            continue
        xs.sort()
        row: dict[str, float] = {"n": len(xs)}
        for q in quantiles:
            i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
            row["max" if q == 1.0 else f"p{q * 100:g}"] = xs[i] / 1e6
        out[f] = row
    return out
