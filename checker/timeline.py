"""An interactive timeline of a history: one lane per process, one bar per operation.

Porcupine's and Jepsen's timelines are the reference, but those draw one DOM element per
operation and grind on large runs. Here the operations travel as compact column arrays
(delta-encoded integers) and a canvas draws only what is in view, merging bars that fall on
the same pixel, so 100,000 operations stay responsive. Hover shows an op's value and
outcome; ``#op-INDEX`` in the URL (the history index of the invoke) zooms to that op, so a
link can address any single operation. The fragment is self-contained: no network.
"""

from __future__ import annotations

import heapq
import html
import json
from collections.abc import Iterable

from checker.perf import fault_label
from checker.stats import Digest, nemesis_ops

TYPES = ("ok", "fail", "info", "pending")
MAX_VALUE_CHARS = 80


def _short(value) -> str:
    if value is None:
        return ""
    if type(value) is int:  # the common case, 100,000 times: skip json.dumps
        return str(value)
    s = json.dumps(value, separators=(",", ":"), default=str)
    return s if len(s) <= MAX_VALUE_CHARS else s[: MAX_VALUE_CHARS - 1] + "…"


def assign_lanes(d: Digest) -> tuple[dict, list[str]]:
    """Map process -> lane so that a lane holds processes whose lifetimes never overlap.

    A worker whose op ended info continues as a fresh process; giving every process its own
    lane would grow the timeline without bound, so the fresh process takes over a free lane.
    Each lane therefore holds non-overlapping ops sorted by time, which lets the browser
    binary-search a lane for what is in view.
    """
    first: dict = {}
    last: dict = {}
    for op in d.ops:
        first.setdefault(op.process, op.start)
        last[op.process] = op.end if op.end is not None else d.end_time
    free: list[tuple[int, int]] = []  # (end time of lane's last process, lane)
    lane_of: dict = {}
    labels: list[list[str]] = []
    for proc in sorted(first, key=lambda p: (first[p], str(p))):
        if free and free[0][0] < first[proc]:
            _, lane = heapq.heappop(free)
        else:
            lane = len(labels)
            labels.append([])
        lane_of[proc] = lane
        labels[lane].append(str(proc))
        heapq.heappush(free, (last[proc], lane))
    names = [f"p{procs[0]}" + (f" +{len(procs) - 1}" if len(procs) > 1 else "") for procs in labels]
    return lane_of, names


def _deltas(xs: Iterable[int]) -> list[int]:
    out, prev = [], 0
    for x in xs:
        out.append(x - prev)
        prev = x
    return out


def timeline_data(d: Digest, highlight: Iterable[int] = (), failing: int | None = None) -> dict:
    """The compact, columnar description of the timeline the browser draws."""
    lane_of, lanes = assign_lanes(d)
    ops = sorted(d.ops, key=lambda o: o.index)
    fs: dict[str, int] = {}
    keys: dict[str, int] = {}
    us = 1000
    end_us = d.end_time // us
    cols = {
        "i": _deltas(op.index for op in ops),
        "s": _deltas(op.start // us for op in ops),
        "d": [((op.end if op.end is not None else d.end_time) - op.start) // us for op in ops],
        "l": [lane_of[op.process] for op in ops],
        "p": [op.process for op in ops],
        "f": [fs.setdefault(op.f, len(fs)) for op in ops],
        "k": [keys.setdefault(_short(op.key), len(keys)) for op in ops],
        "o": [TYPES.index(op.type) for op in ops],
        "v": [_short(op.value) for op in ops],
        "r": [_short(op.result) if op.type == "ok" else _short(op.error) for op in ops],
    }
    nem = [
        {
            "f": o["f"],
            "s": o["start"] // us,
            "e": (o["end"] if o["end"] is not None else d.end_time) // us,
            "i": o["index"],
            "v": _short(o["value"]),
        }
        for o in nemesis_ops(d.nemesis)
    ]
    windows = [
        {
            "name": w.name,
            "label": fault_label(w),
            "s": w.start // us,
            "e": (w.end or d.end_time) // us,
        }
        for w in d.windows
    ]
    return {
        "end": max(end_us, 1),
        "lanes": lanes,
        "fs": list(fs),
        "keys": list(keys),
        "types": list(TYPES),
        "ops": cols,
        "nemesis": nem,
        "windows": windows,
        "highlight": sorted(set(highlight)),
        "failing": failing,
    }


def render_timeline(d: Digest, highlight: Iterable[int] = (), failing: int | None = None) -> str:
    """The timeline as an HTML fragment (markup, data, script)."""
    data = json.dumps(timeline_data(d, highlight, failing), separators=(",", ":"))
    data = data.replace("</", "<\\/")  # the JSON sits inside <script>
    n = len(d.ops)
    return (
        f'<div class="timeline" id="timeline-root">'
        f'<div class="tl-controls"><button type="button" data-zoom="in">zoom in</button>'
        f'<button type="button" data-zoom="out">zoom out</button>'
        f'<button type="button" data-zoom="reset">whole run</button>'
        f'<span class="tl-hint">{html.escape(f"{n:,} operations")} · wheel to zoom, drag to '
        f"pan, click an op to link to it</span>{LEGEND}</div>"
        f'<div class="tl-scroll"><canvas id="timeline-canvas"></canvas></div>'
        f'<div class="tl-tip" id="timeline-tip" hidden></div>'
        f'<div class="tl-selected" id="timeline-selected"></div>'
        f'<script type="application/json" id="timeline-data">{data}</script>'
        f"<script>{TIMELINE_JS}</script></div>"
    )


LEGEND = "".join(
    f'<span class="tl-key"><i style="background:{c}"></i>{t}</span>'
    for t, c in (("ok", "#2a9d3a"), ("fail", "#d62728"), ("info", "#f08c00"), ("pending", "#999"))
)

TIMELINE_CSS = """
.timeline{position:relative}
.tl-controls{margin:.3em 0;display:flex;gap:.4em;align-items:center;flex-wrap:wrap}
.tl-hint{color:#666;font-size:.85em}
.tl-key{font-size:.85em;margin-left:.6em}.tl-key i{display:inline-block;width:.9em;height:.9em;
 margin-right:.25em;vertical-align:-.1em;border-radius:2px}
.tl-scroll{max-height:70vh;overflow-y:auto;border:1px solid #ccc;background:#fff}
#timeline-canvas{display:block;width:100%;cursor:crosshair}
.tl-tip{position:fixed;pointer-events:none;background:#222;color:#fff;padding:.35em .5em;
 border-radius:4px;font:12px/1.35 monospace;white-space:pre;z-index:10;max-width:60ch}
.tl-selected{font:13px/1.4 monospace;margin:.3em 0;min-height:1.4em}
"""

TIMELINE_JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("timeline-data").textContent);
  var C = D.ops, n = C.i.length;
  var idx = new Float64Array(n), st = new Float64Array(n), en = new Float64Array(n);
  var a = 0, b = 0;
  for (var j = 0; j < n; j++) {
    a += C.i[j]; b += C.s[j]; idx[j] = a; st[j] = b; en[j] = b + C.d[j];
  }
  var nl = D.lanes.length, lanes = [];
  for (var l = 0; l < nl; l++) lanes.push([]);
  for (j = 0; j < n; j++) lanes[C.l[j]].push(j);
  var COL = {ok: "#2a9d3a", fail: "#d62728", info: "#f08c00", pending: "#999999"};
  var FAULT = {partition: "#e377c2", kill: "#7f7f7f", pause: "#17becf", clock: "#bcbd22",
               netem: "#9467bd"};
  var canvas = document.getElementById("timeline-canvas");
  var tip = document.getElementById("timeline-tip");
  var selBox = document.getElementById("timeline-selected");
  var ctx = canvas.getContext("2d", {willReadFrequently: true});  // dense lanes read pixels
  var LEFT = 90, TOP = 24, AXIS = 22, NEM = 16;
  var laneH = Math.max(5, Math.min(18, Math.floor(560 / Math.max(nl, 1))));
  var v0 = 0, v1 = D.end, selected = -1;
  var STACK = [1, 2, 3, 0];  // fail, info, pending, ok (indices into D.types)
  var RGB = [[42, 157, 58], [214, 39, 40], [240, 140, 0], [153, 153, 153]];
  var marks = [];  // positions (not history indices) of the ops to outline

  function width() { return canvas.clientWidth || 800; }
  function height() { return TOP + NEM + nl * laneH + AXIS; }
  function xOf(t, w) { return LEFT + (t - v0) * (w - LEFT - 8) / (v1 - v0); }
  function tOf(x, w) { return v0 + (x - LEFT) * (v1 - v0) / (w - LEFT - 8); }
  function fmt(us) {
    if (Math.abs(us) >= 1e6) return (us / 1e6).toFixed(3) + " s";
    if (Math.abs(us) >= 1e3) return (us / 1e3).toFixed(2) + " ms";
    return us.toFixed(0) + " µs";
  }
  // first position in lane whose op ends at or after t (lane ops never overlap: ends sorted)
  function lowerEnd(lane, t) {
    var lo = 0, hi = lane.length;
    while (lo < hi) { var m = (lo + hi) >> 1; if (en[lane[m]] < t) lo = m + 1; else hi = m; }
    return lo;
  }
  function niceStep(span, px) {
    var raw = span / Math.max(1, px / 110), e = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = [1, 2, 5, 10].find(function (k) { return k * e >= raw; });
    return m * e;
  }
  function draw() {
    var w = width(), h = height(), dpr = window.devicePixelRatio || 1;
    canvas.style.height = h + "px";
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = "11px sans-serif"; ctx.textBaseline = "middle";
    var bodyTop = TOP + NEM, bodyBot = bodyTop + nl * laneH;
    ctx.save(); ctx.beginPath(); ctx.rect(LEFT, 0, w - LEFT, h); ctx.clip();
    // nemesis ops sit on their own lane; fault windows shade every lane (after the bars)
    D.nemesis.forEach(function (o) {
      if (o.e < v0 || o.s > v1) return;
      var x0 = xOf(o.s, w), x1 = xOf(o.e, w);
      ctx.fillStyle = "#444"; ctx.fillRect(x0, TOP + 3, Math.max(2, x1 - x0), NEM - 6);
    });
    for (var l = 0; l < nl; l++) {
      var y = bodyTop + l * laneH, lane = lanes[l];
      if (l % 2) { ctx.fillStyle = "#f6f6f6"; ctx.fillRect(LEFT, y, w - LEFT, laneH); }
      var first = lowerEnd(lane, v0), last = first;
      while (last < lane.length && st[lane[last]] <= v1) last++;
      if (last - first > (w - LEFT) / 3) {
        // dense: each device-pixel column becomes a tiny stacked bar of the outcomes of the
        // ops under it (fail on top, then info, pending, ok), written straight into pixels
        var dpr = window.devicePixelRatio || 1, cx0 = Math.ceil(LEFT * dpr);
        var cw = Math.max(1, canvas.width - cx0), cnt = new Uint32Array(cw * 4), p, k;
        for (p = first; p < last; p++) {
          k = lane[p];
          var c0 = Math.max(0, Math.floor(xOf(st[k], w) * dpr) - cx0);
          var c1 = Math.min(cw - 1, Math.floor(xOf(en[k], w) * dpr) - cx0), o = C.o[k];
          for (var c = c0; c <= c1; c++) cnt[c * 4 + o]++;
        }
        var ry = Math.round((y + 1) * dpr), rh = Math.max(1, Math.round((laneH - 2) * dpr));
        var img = ctx.getImageData(cx0, ry, cw, rh), px = img.data;
        for (var c = 0; c < cw; c++) {
          var n4 = cnt[c * 4] + cnt[c * 4 + 1] + cnt[c * 4 + 2] + cnt[c * 4 + 3];
          if (!n4) continue;
          var row = 0;
          for (var q = 0; q < 4; q++) {
            var t = STACK[q], m = cnt[c * 4 + t];
            if (!m) continue;
            var rows = q === 3 ? rh - row : Math.max(1, Math.round(rh * m / n4));
            var rgb = RGB[t];
            for (var yy = row; yy < Math.min(rh, row + rows); yy++) {
              var at = (yy * cw + c) * 4;
              px[at] = rgb[0]; px[at + 1] = rgb[1]; px[at + 2] = rgb[2]; px[at + 3] = 255;
            }
            row += rows;
            if (row >= rh) break;
          }
        }
        ctx.putImageData(img, cx0, ry);
      } else {
        for (p = first; p < last; p++) {
          k = lane[p];
          var x0 = xOf(st[k], w), x1 = xOf(en[k], w);
          ctx.fillStyle = COL[D.types[C.o[k]]];
          ctx.fillRect(x0, y + 1, Math.max(1, x1 - x0 - (x1 - x0 > 3 ? 1 : 0)), laneH - 2);
        }
      }
    }
    D.windows.forEach(function (win) {
      if (win.e < v0 || win.s > v1) return;
      var x0 = Math.max(LEFT, xOf(win.s, w)), x1 = Math.min(w - 8, xOf(win.e, w));
      ctx.fillStyle = FAULT[win.name] || "#aaaaaa"; ctx.globalAlpha = 0.15;
      ctx.fillRect(x0, TOP, Math.max(1, x1 - x0), bodyBot - TOP);
      ctx.globalAlpha = 1; ctx.fillText(win.label, x0 + 2, TOP - 8);
    });
    // outlines for the anomaly's ops and the selected op (few: drawn one by one)
    marks.forEach(function (k) {
      if (st[k] > v1 || en[k] < v0) return;
      var y = bodyTop + C.l[k] * laneH, x0 = xOf(st[k], w), x1 = xOf(en[k], w);
      var strong = idx[k] === D.failing || k === selected;
      ctx.strokeStyle = strong ? "#000" : "#1f3b73"; ctx.lineWidth = strong ? 2.5 : 1.2;
      ctx.strokeRect(x0, y + 0.5, Math.max(3, x1 - x0), laneH - 1);
    });
    if (selected >= 0 && marks.indexOf(selected) < 0) {
      var ys = bodyTop + C.l[selected] * laneH;
      ctx.strokeStyle = "#000"; ctx.lineWidth = 2.5;
      ctx.strokeRect(xOf(st[selected], w), ys + 0.5,
        Math.max(3, xOf(en[selected], w) - xOf(st[selected], w)), laneH - 1);
    }
    ctx.restore();
    // labels left of the lanes (drawn after the clipped bars, so bars never cover them)
    ctx.fillStyle = "#333"; ctx.fillText("nemesis", 4, TOP + NEM / 2);
    if (laneH >= 9) {
      for (l = 0; l < nl; l++) ctx.fillText(D.lanes[l], 4, bodyTop + l * laneH + laneH / 2);
    }
    // axis
    ctx.fillStyle = "#333"; ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    var step = niceStep(v1 - v0, w - LEFT), t = Math.ceil(v0 / step) * step;
    for (; t <= v1; t += step) {
      var x = xOf(t, w);
      ctx.beginPath(); ctx.moveTo(x, bodyBot); ctx.lineTo(x, bodyBot + 4); ctx.stroke();
      ctx.fillText(fmt(t), x - 14, bodyBot + 13);
    }
  }
  function clampView() {
    var span = Math.max(v1 - v0, 5);
    if (span > D.end * 1.05) span = D.end * 1.05;
    if (v0 < 0) v0 = 0;
    v1 = v0 + span;
    if (v1 > D.end * 1.02) { v1 = D.end * 1.02; v0 = Math.max(0, v1 - span); }
  }
  function zoom(factor, centre) {
    var c = centre === undefined ? (v0 + v1) / 2 : centre;
    v0 = c - (c - v0) * factor; v1 = c + (v1 - c) * factor; clampView(); draw();
  }
  function hit(ev) {
    var r = canvas.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
    var w = width(), t = tOf(x, w), slack = (v1 - v0) * 3 / (w - LEFT);
    if (y >= TOP && y < TOP + NEM) {
      for (var q = 0; q < D.nemesis.length; q++) {
        var o = D.nemesis[q];
        if (o.s - slack <= t && t <= o.e + slack) return {nem: o};
      }
      return null;
    }
    var l = Math.floor((y - TOP - NEM) / laneH);
    if (l < 0 || l >= nl || x < LEFT) return null;
    var lane = lanes[l], p = lowerEnd(lane, t - slack);
    if (p < lane.length && st[lane[p]] <= t + slack) return {op: lane[p]};
    return null;
  }
  function describe(k) {
    var f = D.fs[C.f[k]], key = D.keys[C.k[k]], typ = D.types[C.o[k]];
    return "#" + idx[k] + "  process " + C.p[k] + "  " + f + (key ? " " + key : "") +
      (C.v[k] ? " " + C.v[k] : "") + "\n→ " + typ + (C.r[k] ? " " + C.r[k] : "") +
      "\nstart " + fmt(st[k]) + "  latency " + fmt(en[k] - st[k]);
  }
  canvas.addEventListener("mousemove", function (ev) {
    if (drag) return;
    var h = hit(ev);
    if (!h) { tip.hidden = true; return; }
    tip.textContent = h.op !== undefined ? describe(h.op)
      : "nemesis #" + h.nem.i + " " + h.nem.f + (h.nem.v ? " " + h.nem.v : "") +
        "\n" + fmt(h.nem.s) + " – " + fmt(h.nem.e);
    tip.hidden = false;
    tip.style.left = Math.min(ev.clientX + 12, window.innerWidth - 320) + "px";
    tip.style.top = (ev.clientY + 14) + "px";
  });
  canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoom(ev.deltaY > 0 ? 1.25 : 0.8, tOf(ev.clientX - r.left, width()));
  }, {passive: false});
  var drag = null;
  canvas.addEventListener("mousedown", function (ev) {
    drag = {x: ev.clientX, v0: v0, v1: v1, moved: false};
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) return;
    var dx = ev.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    var dt = dx * (drag.v1 - drag.v0) / (width() - LEFT - 8);
    v0 = drag.v0 - dt; v1 = drag.v1 - dt; clampView(); draw();
  });
  window.addEventListener("mouseup", function (ev) {
    var d = drag; drag = null;
    if (d && !d.moved) {
      var h = hit(ev);
      if (h && h.op !== undefined) location.hash = "op-" + idx[h.op];
    }
  });
  document.querySelectorAll("#timeline-root [data-zoom]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var z = btn.getAttribute("data-zoom");
      if (z === "reset") { v0 = 0; v1 = D.end; draw(); } else zoom(z === "in" ? 0.5 : 2);
    });
  });
  function findIndex(want) {
    var lo = 0, hi = n - 1;
    while (lo <= hi) {
      var m = (lo + hi) >> 1;
      if (idx[m] === want) return m;
      if (idx[m] < want) lo = m + 1; else hi = m - 1;
    }
    return -1;
  }
  function focus(want, scroll) {
    var k = findIndex(want);
    if (k < 0) { selBox.textContent = "no operation with index " + want; return false; }
    selected = k;
    var span = Math.max((en[k] - st[k]) * 40, D.end / 50, 2000);  // the op and its context
    v0 = st[k] - span / 2; v1 = en[k] + span / 2; clampView(); draw();
    selBox.textContent = "selected: " + describe(k).replace(/\n/g, "  ");
    var y = TOP + NEM + C.l[k] * laneH, sc = canvas.parentNode;
    if (y < sc.scrollTop || y > sc.scrollTop + sc.clientHeight - laneH) sc.scrollTop = y - 40;
    if (scroll) document.getElementById("timeline-root").scrollIntoView({block: "start"});
    return true;
  }
  function fromHash(scroll) {
    var m = /^#op-(\d+)$/.exec(location.hash);
    if (m) focus(parseInt(m[1], 10), scroll);
  }
  window.addEventListener("hashchange", function () { fromHash(true); });
  window.addEventListener("resize", draw);
  window.paxlabTimeline = {focus: focus, view: function () { return [v0, v1]; }, draw: draw,
                           setView: function (a, b) { v0 = a; v1 = b; clampView(); draw(); },
                           end: D.end,
                           // where an op is drawn, in canvas CSS pixels (tests hover it)
                           at: function (want) {
                             var k = findIndex(want), w = width();
                             return k < 0 ? null : {x: (xOf(st[k], w) + xOf(en[k], w)) / 2,
                                                    y: TOP + NEM + C.l[k] * laneH + laneH / 2};
                           },
                           selected: function () { return selected < 0 ? null : idx[selected]; }};
  D.highlight.forEach(function (x) { var k = findIndex(x); if (k >= 0) marks.push(k); });
  draw();
  fromHash(true);
})();
"""
