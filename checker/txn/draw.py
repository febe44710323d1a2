"""Drawing a transaction anomaly for a person: the cycle as boxes and labelled arrows.

Each transaction of a cycle is a box (its id, process, outcome and micro-ops); each
dependency is an arrow labelled with its kind (ww, wr, rw, rt) and the reason the checker
gave for it (the key and the values that justify the edge). Boxes sit in a row in cycle
order and the closing edge runs back underneath, so a cycle of any length reads left to
right. The output is a self-contained HTML fragment with inline SVG: no network, no script.
"""

from __future__ import annotations

import html
import json
import textwrap
from typing import Any

BOX_W, GAP, LINE, PAD = 190, 250, 14, 8
LABEL_CHARS = 35  # per line of an arrow's label
MAX_MOPS = 6  # micro-ops listed in a box
MAX_DRAWN = 8  # anomalies drawn per result (the rest are listed)
COLOURS = {"ww": "#1f77b4", "wr": "#2ca02c", "rw": "#d62728", "rt": "#9467bd"}


def _mop(m: list) -> str:
    f, k, v = m
    return f"{f} {k}" if f == "r" and v is None else f"{f} {k} {json.dumps(v)}"


def _box_lines(tid: int, txns: dict) -> list[str]:
    t = txns.get(str(tid)) or {}
    head = f"T{tid}" + (f"  p{t['process']} {t['type']}" if t else "")
    mops = [_mop(m) for m in t.get("value", [])]
    if len(mops) > MAX_MOPS:
        mops = [*mops[: MAX_MOPS - 1], f"... {len(mops) - MAX_MOPS + 1} more"]
    return [head, *(m if len(m) <= 26 else m[:25] + "…" for m in mops)]


def _text(x: float, y: float, s: str, **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{v}"' for k, v in attrs.items())
    return f'<text x="{x:.0f}" y="{y:.0f}"{extra}>{html.escape(s)}</text>'


def cycle_svg(anomaly: dict, txns: dict) -> str:
    """One cycle as an SVG: ``anomaly`` is an entry of checker.txn's ``anomalies`` (with
    ``cycle``: [{from, to, type, why}]), ``txns`` the result's ``txns`` (id -> its ops)."""
    steps = anomaly["cycle"]
    order = [s["from"] for s in steps]
    boxes = [_box_lines(t, txns) for t in order]
    box_h = max(len(b) for b in boxes) * LINE + 2 * PAD
    n = len(order)
    top = 3 * LINE + 10  # room for the labels above the forward arrows
    width = n * BOX_W + (n - 1) * GAP + 40
    back_y = top + box_h + 30
    height = back_y + 3 * LINE + 20
    out = [
        f'<svg class="txn-cycle" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(anomaly["type"])} cycle" font-family="monospace" '
        'font-size="11">',
        "<defs>",
        *(
            f'<marker id="arr-{k}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
            f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
            for k, c in COLOURS.items()
        ),
        "</defs>",
    ]
    xs = [20 + i * (BOX_W + GAP) for i in range(n)]
    for x, lines in zip(xs, boxes, strict=True):
        out.append(f'<rect x="{x}" y="{top}" width="{BOX_W}" height="{box_h}" rx="4" '
                   'fill="#fff8e1" stroke="#555"/>')  # fmt: skip
        for j, s in enumerate(lines):
            weight = {"font_weight": "bold"} if j == 0 else {}
            out.append(_text(x + PAD, top + PAD + (j + 1) * LINE - 3, s, **weight))
    for i, s in enumerate(steps):
        kind = s["type"]
        colour = COLOURS.get(kind, "#333")
        label = textwrap.wrap(f"{kind}: {s['why']}", LABEL_CHARS)[:3]
        tip = f"<title>{html.escape(s['why'])}</title>"
        if i < n - 1:  # forward: box i to box i+1, label above the arrow
            x1, x2, y = xs[i] + BOX_W, xs[i + 1], top + box_h / 2
            out.append(f'<g><line x1="{x1}" y1="{y:.0f}" x2="{x2}" y2="{y:.0f}" '
                       f'stroke="{colour}" stroke-width="2" marker-end="url(#arr-{kind})"/>{tip}</g>')  # fmt: skip
            for j, s_ in enumerate(label):
                out.append(_text(x1 + 6, y - 6 - (len(label) - 1 - j) * LINE, s_, fill=colour))
        else:  # closing: from the last box back to the first, underneath
            xa, xb = xs[-1] + BOX_W / 2, xs[0] + BOX_W / 2
            y0 = top + box_h
            path = f"M{xa:.0f},{y0} L{xa:.0f},{back_y} L{xb:.0f},{back_y} L{xb:.0f},{y0}"
            if n == 1:
                path = f"M{xa + 20:.0f},{y0} L{xa + 20:.0f},{back_y} L{xb - 20:.0f},{back_y} L{xb - 20:.0f},{y0}"
            out.append(f'<g><path d="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                       f'marker-end="url(#arr-{kind})"/>{tip}</g>')  # fmt: skip
            for j, s_ in enumerate(label):
                out.append(_text(min(xa, xb) + 10, back_y + (j + 1) * LINE, s_, fill=colour))
    out.append("</svg>")
    return "".join(out)


def render_txn_anomalies(result: dict, title: str | None = None) -> str:
    """The anomaly section of a transaction result: each cycle drawn, with its edges listed
    in words under it; anomalies without a cycle (aborted reads, ...) listed with why."""
    parts = ['<div class="txn-anomalies">']
    if title:
        parts.append(f"<h3>{html.escape(title)}</h3>")
    parts.append(
        f"<p>{html.escape(str(result.get('model')))}, judged against "
        f"<strong>{html.escape(str(result.get('consistency')))}</strong>: "
        f"{html.escape(', '.join(result.get('anomaly_types') or [])) or 'no anomaly'}.</p>"
    )
    txns = result.get("txns") or {}
    # cycles first: they are what a person needs drawn; the rest read as one line each
    anomalies: list[dict[str, Any]] = sorted(
        result.get("anomalies") or [], key=lambda a: "cycle" not in a
    )
    for a in anomalies[:MAX_DRAWN]:
        parts.append(f"<h4>{html.escape(a['type'])}</h4>")
        if "cycle" in a:
            parts.append(f'<div style="overflow-x:auto">{cycle_svg(a, txns)}</div><ul>')
            for s in a["cycle"]:
                parts.append(f"<li>T{s['from']} <b>{html.escape(s['type'])}</b>&rarr; "
                             f"T{s['to']}: {html.escape(s['why'])}</li>")  # fmt: skip
            parts.append("</ul>")
        else:
            ids = ", ".join(f"T{i}" for i in a.get("txns", []))
            parts.append(f"<p>{html.escape(ids)}: {html.escape(str(a.get('why', '')))}</p>")
    if len(anomalies) > MAX_DRAWN:
        more = ", ".join(a["type"] for a in anomalies[MAX_DRAWN:])
        parts.append(f"<p>{len(anomalies) - MAX_DRAWN} more not drawn: {html.escape(more)}</p>")
    parts.append("</div>")
    return "".join(parts)
