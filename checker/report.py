"""Showing a linearizability anomaly to a person: a self-contained HTML fragment.

One lane per process, each operation a bar from invocation to completion (timed-out ops
run to the right edge, dashed), the longest linearization the search found drawn as
points joined in order with the model state after each, the operation no order can place
in red, and the concurrent operations that could have been placed instead outlined. The x
axis is event order rather than wall time, so bursts and lulls take the same room. The
view opens on the failing window; buttons zoom out to the whole key's history.

No network: CSS, SVG and the few lines of JavaScript are inline. `render_anomaly` gives a
fragment the per-run report can embed (ids are unique per call); `render_page` wraps one or
more fragments into a page for ``paxlab check --report``.
"""

from __future__ import annotations

import html
import itertools
import json
from typing import Any

from checker.history import Op, ops_from
from checker.models import get_model

MAX_OPS_DRAWN = 20_000  # beyond this, only the neighbourhood of the anomaly is drawn
PX = 14  # pixels per event at zoom 1
LANE = 22

_ids = itertools.count()

CSS = """
.pxl-lin{font:13px/1.4 system-ui,sans-serif;color:#222;margin:1em 0}
.pxl-lin h3{margin:.2em 0}
.pxl-lin .verdict-bad{color:#b00020}.pxl-lin .verdict-ok{color:#137333}
.pxl-lin .verdict-unknown{color:#a15c00}
.pxl-lin .scroll{overflow-x:auto;border:1px solid #ddd;background:#fcfcfc;max-height:70vh}
.pxl-lin .bar{fill:#cfe2ff;stroke:#6c8ebf;stroke-width:1}
.pxl-lin .bar.info{fill:#fff3cd;stroke:#c9a227;stroke-dasharray:4 3}
.pxl-lin .bar.fail{fill:#eee;stroke:#bbb}
.pxl-lin .bar.lin{fill:#d4edda;stroke:#3c8d50}
.pxl-lin .bar.window{stroke:#e8710a;stroke-width:2.5}
.pxl-lin .bar.bad{fill:#f8d7da;stroke:#b00020;stroke-width:3}
.pxl-lin .lp{fill:#137333}.pxl-lin .lpline{stroke:#137333;fill:none;stroke-width:1.5}
.pxl-lin .st{font-size:10px;fill:#137333}
.pxl-lin .lbl{font-size:10px;fill:#222;pointer-events:none}
.pxl-lin .lane{font-size:11px;fill:#555}
.pxl-lin table{border-collapse:collapse;margin:.5em 0}
.pxl-lin td,.pxl-lin th{border:1px solid #ddd;padding:2px 6px;text-align:left;font-size:12px}
.pxl-lin tr.bad td{background:#f8d7da}.pxl-lin tr.window td{background:#fde7d2}
.pxl-lin button{margin-right:4px}
.pxl-lin code{background:#f3f3f3;padding:0 3px}
"""

JS = """
function pxlZoom(id,f){var s=document.getElementById(id+'-svg'),w=+s.dataset.w;
var z=f==='fit'?s.parentNode.clientWidth/w:(+s.dataset.z||1)*f;z=Math.max(0.02,Math.min(z,8));
s.dataset.z=z;s.setAttribute('width',w*z);return z}
function pxlWindow(id){var s=document.getElementById(id+'-svg'),z=pxlZoom(id,1/(+s.dataset.z||1));
s.parentNode.scrollLeft=Math.max(0,(+s.dataset.wx)*z-s.parentNode.clientWidth*0.6)}
"""


def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _js(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"))


def _lane_order(procs: set) -> list:
    return sorted(procs, key=lambda p: (isinstance(p, str), p if not isinstance(p, str) else 0,
                                        str(p)))  # fmt: skip


def _describe(op: Op, model: Any) -> str:
    return model.describe(op)


def render_anomaly(result: dict, history: Any, model: Any = None, title: str | None = None) -> str:
    """An HTML fragment explaining ``result`` (from `linearizability.check`) on ``history``.

    ``history`` is what was checked (a path, a list of Ops or of event dicts). For a valid or
    undecided result the fragment is a one-line verdict.
    """
    if model is None and result.get("model") == "machine":  # a user's machine: load it
        from checker.machine_check import machine_ops, model_for

        model = model_for(result["machine"])
        history = machine_ops(history)  # outputs from the events' "result"
    mdl = get_model(model or result.get("model") or "register")
    uid = f"pxl{next(_ids)}"
    head = f"<style>{CSS}</style><h3>{_esc(title)}</h3>" if title else f"<style>{CSS}</style>"
    valid = result.get("valid")
    n = result.get("ops", {}).get("total", "?") if isinstance(result.get("ops"), dict) else "?"
    if valid is True:
        return (
            f'<div class="pxl-lin">{head}<p class="verdict-ok">Linearizable: {n} operations, '
            f"{result.get('keys_total', 1)} key(s), {result.get('time_s', 0):.3f} s.</p></div>"
        )
    if valid != "unknown" and valid is not False:
        valid = "unknown"
    if valid == "unknown":
        why = result.get("reason") or result.get("error") or "undecided"
        return (
            f'<div class="pxl-lin">{head}<p class="verdict-unknown">Unknown: {_esc(why)} '
            f"({n} operations).</p></div>"
        )
    ops = [o for o in ops_from(history) if o.process != "nemesis"]
    ops = mdl.split(ops).get(result.get("key"), ops)
    return _render_invalid(uid, head, result, ops, mdl)


def _render_invalid(uid: str, head: str, result: dict, ops: list[Op], mdl: Any) -> str:
    bad_index = result["op"]["index"]
    window = set(result.get("window", []))
    prefix = result.get("prefix", [])
    lin_at = {p["index"]: k for k, p in enumerate(prefix)}
    by_index = {o.index: o for o in ops}
    bad = by_index.get(bad_index)
    ops = sorted(ops, key=lambda o: (o.call, o.line))
    note = ""
    if len(ops) > MAX_OPS_DRAWN and bad is not None:
        pos = ops.index(bad)
        lo, hi = max(0, pos - MAX_OPS_DRAWN // 2), pos + MAX_OPS_DRAWN // 2
        note = (f"<p>Showing operations {lo}..{min(hi, len(ops))} of {len(ops)} on this key, "
                f"around the anomaly.</p>")  # fmt: skip
        ops = ops[lo:hi]
    # x axis: ranks of calls and returns (calls first at equal positions: closed intervals)
    pts = sorted({(o.call, 0) for o in ops} | {(o.ret, 1) for o in ops if o.ret is not None})
    rank = {p: i for i, p in enumerate(pts)}
    end = len(pts) + 1
    lanes = {p: i for i, p in enumerate(_lane_order({o.process for o in ops}))}
    x0, y0 = 10, 30
    width = x0 + (end + 2) * PX
    height = y0 + len(lanes) * LANE + 20
    parts = []
    labels = "".join(
        f'<text class="lane" x="4" y="{y0 + i * LANE + 15}">p{_esc(p)}</text>'
        for p, i in lanes.items()
    )
    drawn: dict[int, tuple[float, float, float]] = {}
    for o in ops:
        a = rank[(o.call, 0)]
        b = rank[(o.ret, 1)] if o.ret is not None else end
        x, w = x0 + a * PX, max(PX * 0.6, (b - a) * PX)
        y = y0 + lanes[o.process] * LANE
        drawn[o.index] = (x, w, y)
        cls = ["bar"]
        if o.type == "info":
            cls.append("info")
        elif o.type == "fail" and not (o.f == "cas" and o.error == "mismatch"):
            cls.append("fail")
        if o.index in lin_at:
            cls.append("lin")
        if o.index in window:
            cls.append("window")
        if o.index == bad_index:
            cls.append("bad")
        desc = _describe(o, mdl)
        tip = (f"{desc}\nprocess {o.process}, index {o.index}, line {o.line}\n"
               f"time {o.call} .. {o.ret if o.ret is not None else '?'}")  # fmt: skip
        if o.index in lin_at:
            tip += f"\nlinearized #{lin_at[o.index] + 1}, state after: " + _js(
                prefix[lin_at[o.index]]["state"]
            )
        parts.append(
            f'<rect class="{" ".join(cls)}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" '
            f'height="{LANE - 6}" rx="3"><title>{_esc(tip)}</title></rect>'
        )
        if w > 40:
            short = desc if len(desc) * 6 < w - 4 else desc[: max(1, int((w - 4) / 6)) - 1] + "…"
            parts.append(f'<text class="lbl" x="{x + 3:.1f}" y="{y + 15}">{_esc(short)}</text>')
    # the longest linearization: earliest feasible points, in order
    line, lx = [], -1.0
    for k, p in enumerate(prefix):
        d = drawn.get(p["index"])
        if d is None:
            continue
        x, w, y = d
        lx = max(x + 2, lx + 1.5)
        lx = min(lx, x + w - 1) if w > 3 else x + 1
        line.append(f"{lx:.1f},{y + LANE / 2:.1f}")
        state = _js(p["state"])
        parts.append(f'<circle class="lp" cx="{lx:.1f}" cy="{y + LANE / 2:.1f}" r="3">'
                     f"<title>#{k + 1} state {_esc(state)}</title></circle>")  # fmt: skip
        if k >= len(prefix) - 12:
            short = state if len(state) < 24 else state[:22] + "…"
            parts.append(f'<text class="st" x="{lx + 3:.1f}" y="{y + 1:.1f}">{_esc(short)}</text>')
    if line:
        parts.insert(0, f'<polyline class="lpline" points="{" ".join(line)}"/>')
    wx = drawn[bad_index][0] if bad_index in drawn else 0  # the view opens on the failing op
    svg = (f'<svg id="{uid}-svg" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" data-w="{width}" data-z="1" '
           f'data-wx="{wx:.0f}" preserveAspectRatio="none">{"".join(parts)}</svg>')  # fmt: skip
    return (
        f'<div class="pxl-lin" id="{uid}">{head}{_summary(result, bad, mdl)}{note}'
        f"<p><button onclick=\"pxlZoom('{uid}',1.5)\">zoom in</button>"
        f"<button onclick=\"pxlZoom('{uid}',1/1.5)\">zoom out</button>"
        f"<button onclick=\"pxlZoom('{uid}','fit')\">whole history</button>"
        f"<button onclick=\"pxlWindow('{uid}')\">failing window</button> "
        f"<small>green points: the longest linearization found, with the state after each; "
        f"red: the operation no order can place; orange: operations concurrent with it; "
        f"dashed: outcome unknown (info).</small></p>"
        f'<div style="display:flex"><svg width="60" height="{height}">{labels}</svg>'
        f'<div class="scroll" style="flex:1">{svg}</div></div>{_tables(result, by_index, mdl)}'
        f"<script>{JS}pxlWindow('{uid}')</script></div>"
    )


def _summary(result: dict, bad: Op | None, mdl: Any) -> str:
    prefix = result.get("prefix", [])
    state = prefix[-1]["state"] if prefix else result.get("initial")
    key = result.get("key")
    where = "" if key is None else f" on key <code>{_esc(key)}</code>"
    what = _esc(_describe(bad, mdl)) if bad is not None else _esc(_js(result["op"]))
    proc = f" by process {_esc(bad.process)} (index {bad.index}, line {bad.line})" if bad else ""
    if result.get("reason") and not prefix:
        return (
            f'<p class="verdict-bad"><b>Not linearizable</b>{where}.</p>'
            f"<p><b>{what}</b>{proc} can never be linearized: "
            f"{_esc(result['reason'])} (<code>{_esc(_js(result['op'].get('output')))}</code>, "
            f"initial state <code>{_esc(_js(state))}</code>)"
            + (
                f"; overwritten by <b>{_esc(_js(result['overwritten_by']['value']))}</b> "
                f"(index {_esc(result['overwritten_by']['index'])}, process "
                f"{_esc(result['overwritten_by']['process'])})"
                if result.get("overwritten_by")
                else ""
            )
            + ". The search for the longest prefix ran out of time.</p>"
        )
    return (
        f'<p class="verdict-bad"><b>Not linearizable</b>{where}.</p>'
        f"<p>The longest linearizable prefix has {len(prefix)} operations and leaves the state "
        f"<code>{_esc(_js(state))}</code>. Then <b>{what}</b>{proc} must take effect before it "
        f"returns, and no order of it and the operations concurrent with it is legal.</p>"
    )


def _tables(result: dict, by_index: dict[int, Op], mdl: Any) -> str:
    prefix = result.get("prefix", [])
    window = [i for i in result.get("window", []) if i in by_index]
    bad_index = result["op"]["index"]
    rows = []
    for k, p in list(enumerate(prefix))[-15:]:
        o = by_index.get(p["index"])
        desc = _describe(o, mdl) if o else p["index"]
        proc = o.process if o else ""
        rows.append(
            f"<tr><td>{k + 1}</td><td>{_esc(p['index'])}</td><td>p{_esc(proc)}</td>"
            f"<td>{_esc(desc)}</td><td><code>{_esc(_js(p['state']))}</code></td></tr>"
        )
    first = f"<p>Last {len(rows)} of {len(prefix)} linearized operations:</p>" if rows else ""
    t1 = (f"{first}<table><tr><th>#</th><th>index</th><th>process</th><th>operation</th>"
          f"<th>state after</th></tr>{''.join(rows)}</table>") if rows else ""  # fmt: skip
    wrows = []
    for i in window:
        o = by_index[i]
        cls = ' class="bad"' if i == bad_index else ' class="window"'
        wrows.append(f"<tr{cls}><td>{i}</td><td>p{_esc(o.process)}</td><td>{_esc(_describe(o, mdl))}"
                     f"</td><td>{_esc(o.call)} .. {_esc(o.ret if o.ret is not None else '?')}"
                     f"</td></tr>")  # fmt: skip
    t2 = (f"<p>The failing window: operations not in the prefix that overlap the failing one "
          f"(the failing one in red):</p><table><tr><th>index</th><th>process</th>"
          f"<th>operation</th><th>interval</th></tr>{''.join(wrows)}</table>") if wrows else ""  # fmt: skip
    return t1 + t2


def render_page(sections: list[str], title: str = "paxlab check") -> str:
    """A complete HTML page around fragments from `render_anomaly`."""
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{_esc(title)}</title>"
            f"<style>body{{margin:1em 2em}}</style></head><body><h2>{_esc(title)}</h2>"
            f"{''.join(sections)}</body></html>")  # fmt: skip


def fragment_css() -> str:
    """The CSS the fragments need, for pages that embed them without `render_page`."""
    return CSS
