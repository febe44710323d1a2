"""The report's Lamport diagram and slot stories, from a run's message trace.

A verdict says *that* a history is wrong; the diagram shows *why*: one line per node and
per client process, an arrow per message (a send that never arrived ends in a cross: the
partition swallowed it), the client operations and the nemesis' faults on the same time
axis. It opens around the anomaly, can be panned and zoomed across the run, filtered by
slot, ballot, message type or node, and clicking an operation lights up the messages that
served it: the client's requests during the operation, the commands ``client_id:seq`` they
carried, and every message about the slots those commands went into. A slot's story (the
ballots that touched it, who promised and accepted what, when each node learned it was
chosen and by which quorum, who applied it) is computed in the page for any slot, and the
anomaly section links to the stories of its operations' slots.

The messages travel as compact columns and the canvas draws only what is in view, as the
timeline does (``checker.timeline``), so a long run stays responsive; at most
``MAX_MESSAGES`` messages go into the page (the ones nearest the anomaly), and the page says
when some were left out. Everything is inline: no network.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from pathlib import Path

from checker.stats import Digest, Operation
from checker.timeline import assign_lanes

MAX_MESSAGES = 60_000
CLIENT = re.compile(r"-p(-?\d+)$")  # the controller's client ids: s<seed>-p<process>
CLIENT_TYPES = ("request", "reply")
MARGIN_NS = 300_000_000  # the default view: the anomaly's operations and this much around
JS = (Path(__file__).parent / "templates" / "lamport.js").read_text(encoding="utf-8")


def process_of(client: str) -> int | None:
    """The history process behind a client id (None: not one of the controller's)."""
    m = CLIENT.search(client) if isinstance(client, str) else None
    return int(m.group(1)) if m else None


def pair_messages(trace: list[dict]) -> list[dict]:
    """One entry per delivery (a duplicated message twice) and one per send never
    delivered (``recv`` None), sorted by send time."""
    sends: dict[int, dict] = {}
    out: list[dict] = []
    delivered: set[int] = set()
    for r in trace:
        d = r.get("dir")
        if d == "send" and isinstance(r.get("id"), int):
            sends[r["id"]] = r
        elif d == "recv":
            s = sends.get(r.get("id"))  # type: ignore[arg-type]
            if s is not None:
                delivered.add(s["id"])
                out.append({**s, "recv": r["t"]})
    for mid, s in sends.items():
        if mid not in delivered:
            out.append({**s, "recv": None})
    out.sort(key=lambda m: (m["t"], m["id"]))
    return out


def op_slots(ops: Iterable[Operation], messages: list[dict]) -> dict[int, list[int]]:
    """For each operation (by its invoke index): the log slots that carried its commands.

    A command is ``client_id:seq``; the operation's are those its process's client sent
    while the operation was open, and its slots are the ones accept messages put them in."""
    by_client: dict[int, list[dict]] = {}
    slots_of_cmd: dict[str, set[int]] = {}
    for m in messages:
        if m.get("type") == "request":
            p = process_of(m.get("from", ""))
            if p is not None:
                by_client.setdefault(p, []).append(m)
        else:
            for c in m.get("cmds") or ():  # client_id:seq@slot (paxos_impl.trace)
                cmd, _, slot = c.partition("@")
                if slot.isdigit():
                    slots_of_cmd.setdefault(cmd, set()).add(int(slot))
    out: dict[int, list[int]] = {}
    for op in ops:
        end = op.end if op.end is not None else float("inf")
        slots: set[int] = set()
        for m in by_client.get(op.process, ()):
            if op.start <= m["t"] <= end:
                for c in m.get("cmds") or ():
                    slots |= slots_of_cmd.get(c, set())
        if slots:
            out[op.index] = sorted(slots)
    return out


def _focus(d: Digest, marked: list[int], messages: list[dict]) -> tuple[int, int]:
    """The default view (ns): the first operation in question (the failing one if any)
    and a margin around it, else the run's start."""
    ops = {o.index: o for o in d.ops}
    for i in marked:
        if i in ops:
            o = ops[i]
            end = o.end if o.end is not None else o.start + MARGIN_NS
            return o.start - MARGIN_NS, end + MARGIN_NS
    t0 = messages[0]["t"] if messages else 0
    return t0, t0 + 2 * MARGIN_NS


def _nearest(messages: list[dict], lo: int, hi: int, cap: int) -> tuple[list[dict], int]:
    """At most ``cap`` messages, the ones nearest the window [lo, hi]; how many were cut."""
    if len(messages) <= cap:
        return messages, 0
    mid = (lo + hi) / 2
    keep = sorted(range(len(messages)), key=lambda k: abs(messages[k]["t"] - mid))[:cap]
    keep.sort()
    return [messages[k] for k in keep], len(messages) - cap


def render_trace(
    d: Digest, trace: list[dict], highlight: list[int], failing: int | None, anomaly: bool
) -> tuple[str, str]:
    """For the report: the anomaly's links to its slots' stories ('' without an anomaly)
    and the diagram ('' without a trace)."""
    if not trace:
        return "", ""
    messages = pair_messages(trace)
    links = ""
    if anomaly:
        in_question = sorted(set(highlight) | set(writers_of(d, failing)))
        wanted = set(in_question)
        by_op = op_slots([o for o in d.ops if o.index in wanted], messages)
        links = slot_links(by_op, in_question, d)
    return links, render_lamport(d, trace, sorted(set(highlight)), failing, messages)


def lamport_data(
    d: Digest,
    trace: list[dict],
    marked: list[int],
    failing: int | None,
    messages: list[dict] | None = None,
) -> dict | None:
    """The diagram's columns (µs), or None when the run has no trace (``messages``: the
    trace already paired, when the caller has it)."""
    messages = pair_messages(trace) if messages is None else messages
    if not messages:
        return None
    lo, hi = _focus(d, ([failing] if failing is not None else []) + marked, messages)
    messages, cut = _nearest(messages, lo, hi, MAX_MESSAGES)
    lane_of, proc_lanes = assign_lanes(d)
    peer = [m for m in messages if m.get("type") not in CLIENT_TYPES]  # between nodes only
    nodes = sorted(
        {m["from"] for m in peer}
        | {m["to"] for m in peer}
        | {r["node"] for r in trace if "node" in r},
        key=lambda n: (len(n), n),
    )
    lanes = nodes + proc_lanes + ["other clients"]
    other = len(lanes) - 1
    lane = {n: k for k, n in enumerate(nodes)}

    def lane_for(who: str) -> int:
        if who in lane:
            return lane[who]
        p = process_of(who)
        if p is not None and p in lane_of:
            return len(nodes) + lane_of[p]
        return other

    types: dict[str, int] = {}
    ballots: dict[str, int] = {}
    us = 1000
    cols: dict[str, list] = {k: [] for k in ("s", "r", "a", "b", "y", "g", "z", "slots", "cmds")}
    for m in messages:
        cols["s"].append(m["t"] // us)
        cols["r"].append(None if m["recv"] is None else m["recv"] // us)
        cols["a"].append(lane_for(m["from"]))
        cols["b"].append(lane_for(m["to"]))
        cols["y"].append(types.setdefault(str(m.get("type")), len(types)))
        b = m.get("ballot")
        cols["g"].append(-1 if b is None else ballots.setdefault(f"{b[0]}.{b[1]}", len(ballots)))
        cols["z"].append(m.get("size") or 0)
        cols["slots"].append(m.get("slots") or [])
        cols["cmds"].append(m.get("cmds") or [])
    learned = [
        [r["t"] // us, lane.get(r["node"], other), r["slot"], 0 if r["dir"] == "chosen" else 1]
        for r in trace
        if r.get("dir") in ("chosen", "apply") and isinstance(r.get("slot"), int)
    ]
    ops = [
        [
            len(nodes) + lane_of[o.process],
            o.start // us,
            (o.end if o.end is not None else d.end_time) // us,
            o.type,
            f"{o.f} {json.dumps(o.value, default=str)[:40]}"
            + (f" → {json.dumps(o.result, default=str)[:40]}" if o.type == "ok" else ""),
            o.index,
            o.process,
        ]
        for o in d.ops
        if o.process in lane_of
    ]
    faults = [
        [w.start // us, (w.end or d.end_time) // us, w.name, str(getattr(w, "label", w.name))]
        for w in d.windows
    ]
    return {
        "lanes": lanes,
        "nodes": len(nodes),
        "types": list(types),
        "ballots": list(ballots),
        "msgs": cols,
        "learned": learned,
        "ops": ops,
        "faults": faults,
        "view": [lo // us, hi // us],
        "failing": failing,
        "marked": sorted(set(marked)),
        "cut": cut,
        "quorum": len(nodes) // 2 + 1,
    }


def render_lamport(
    d: Digest,
    trace: list[dict],
    marked: list[int],
    failing: int | None,
    messages: list[dict] | None = None,
) -> str:
    """The diagram and slot-story panel as an HTML fragment ('' when there is no trace)."""
    data = lamport_data(d, trace, marked, failing, messages)
    if data is None:
        return ""
    blob = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    n = len(data["msgs"]["s"])
    cut = (
        f' <span class="problem">({data["cut"]:,} messages furthest from the anomaly are '
        "left out of this page; messages.jsonl has them all)</span>"
        if data["cut"]
        else ""
    )
    return (
        '<div id="lamport-root">'
        '<div class="lp-controls">'
        '<button type="button" data-lp="in">zoom in</button>'
        '<button type="button" data-lp="out">zoom out</button>'
        '<button type="button" data-lp="left">◀</button>'
        '<button type="button" data-lp="right">▶</button>'
        '<button type="button" data-lp="anomaly">around the anomaly</button>'
        '<button type="button" data-lp="all">whole run</button>'
        '<label>type <select id="lp-type"><option value="">all</option></select></label>'
        '<label>node <select id="lp-node"><option value="">all</option></select></label>'
        '<label>slot <input id="lp-slot" size="5" inputmode="numeric"></label>'
        '<label>ballot <select id="lp-ballot"><option value="">all</option></select></label>'
        '<label><input type="checkbox" id="lp-beats"> heartbeats</label>'
        f'<span class="tl-hint">{n:,} messages{cut} · wheel to zoom, drag to pan, '
        "click an operation for the messages that served it</span></div>"
        '<div class="lp-legend" id="lamport-legend"></div>'
        '<div class="lp-scroll"><canvas id="lamport-canvas"></canvas></div>'
        '<div class="tl-tip" id="lamport-tip" hidden></div>'
        '<div class="tl-selected" id="lamport-selected"></div>'
        '<div id="slot-story" class="slot-story"></div>'
        f'<script type="application/json" id="lamport-data">{blob}</script>'
        f"<script>{JS}</script></div>"
    )


def writers_of(d: Digest, index: int | None) -> list[int]:
    """The operations that wrote (or appended, or cas'ed in) the value a read returned: a
    stale read's story is in the slots of those writes (empty unless ``index`` is a read)."""
    by_index = {o.index: o for o in d.ops}
    r = by_index.get(index) if index is not None else None
    if r is None or r.f != "read" or r.type != "ok":
        return []
    out = []
    for o in d.ops:
        if o.key != r.key or o.index == r.index or o.type == "fail":
            continue
        wrote = (
            o.value[1]
            if o.f == "cas" and isinstance(o.value, list) and len(o.value) == 2
            else o.value
        )
        if o.f in ("write", "cas") and wrote == r.result:
            out.append(o.index)
    return out


def slot_links(slots_by_op: dict[int, list[int]], ops: list[int], d: Digest) -> str:
    """The anomaly's operations and links to the stories of the slots that served them."""
    by_index = {o.index: o for o in d.ops}
    rows = []
    for i in ops:
        slots = slots_by_op.get(i)
        o = by_index.get(i)
        if o is None:
            continue
        what = html.escape(f"op {i} (process {o.process}, {o.f} {_val(o.value)}")
        what += html.escape(f" → {_val(o.result)})" if o.type == "ok" and o.f == "read" else ")")
        if not slots:
            if o.f == "read" and o.type == "ok":  # a read answered without the log
                rows.append(f"<li>{what}: served by no log slot</li>")
            continue
        links = ", ".join(f'<a href="#slot-{s}" class="slot-link">slot {s}</a>' for s in slots)
        rows.append(f"<li>{what}: {links}</li>")
    if not rows:
        return ""
    return (
        '<div id="anomaly-slots"><p>The log slots that carried these operations (each link '
        "opens the slot's story under the message diagram):</p><ul>" + "".join(rows) + "</ul></div>"
    )


def _val(v: object) -> str:
    return json.dumps(v, default=str)[:40]


LAMPORT_CSS = """
.lp-controls{margin:.3em 0;display:flex;gap:.4em;align-items:center;flex-wrap:wrap}
.lp-scroll{max-height:80vh;overflow-y:auto;border:1px solid #ccc;background:#fff}
#lamport-canvas{display:block;width:100%;cursor:crosshair}
.slot-story table{border-collapse:collapse;font:12px/1.35 monospace}
.slot-story td,.slot-story th{border:1px solid #ddd;padding:.15em .4em;text-align:left}
"""
