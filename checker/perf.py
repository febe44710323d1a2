"""Performance plots of a history: latency and throughput over time, clock offsets per node.

What the faults did to the system shows as shapes in time: latency climbing during a
partition, throughput dropping to zero while a leader is paused, fails turning into infos.
So every plot shades the nemesis windows (and labels them), and plots each outcome in its
own colour. pandas does the bucketing, matplotlib draws; each plot is returned as an
HTML <figure> with an inlined PNG, so a report stays one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable

from checker.stats import Digest, FaultWindow, classify_fault, nemesis_ops

OUTCOME_COLOURS = {"ok": "#2a9d3a", "fail": "#d62728", "info": "#f08c00", "pending": "#888888"}
FAULT_COLOURS = {
    "partition": "#e377c2",
    "kill": "#7f7f7f",
    "pause": "#17becf",
    "clock": "#bcbd22",
    "netem": "#9467bd",
}
QUANTILE_LINES = ((0.5, "p50", "-"), (0.95, "p95", "--"), (0.99, "p99", ":"))


def _figure(height: float = 3.4):
    from matplotlib.figure import Figure  # Figure directly: no pyplot global state

    fig = Figure(figsize=(11, height), dpi=96)
    # fixed margins (room for the legend on the right): constrained layout costs ~0.2 s a plot
    fig.subplots_adjust(left=0.065, right=0.80, bottom=0.42 / height, top=1 - 0.25 / height)
    return fig, fig.add_subplot()


def _embed(fig, title: str, alt: str, anchor: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<figure class="plot" id="{anchor}"><figcaption>{html.escape(title)}</figcaption>'
        f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'
    )


def bucket_seconds(duration_s: float, target_buckets: int = 80) -> float:
    """A round bucket width giving about target_buckets buckets over the run."""
    raw = max(duration_s, 1e-3) / target_buckets
    exp = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * exp >= raw:
            return m * exp
    return 10 * exp


def shade_faults(ax, windows: Iterable[FaultWindow], end_s: float) -> None:
    """Shade each fault window and label it along the top of the axes."""
    seen: set[str] = set()
    for w in windows:
        colour = FAULT_COLOURS.get(w.name, "#aaaaaa")
        x0 = w.start / 1e9
        x1 = (w.end / 1e9) if w.end is not None else end_s
        label = None if w.name in seen else f"{w.name} (nemesis)"
        seen.add(w.name)
        ax.axvspan(x0, max(x1, x0 + end_s / 500), color=colour, alpha=0.18, lw=0, label=label)
        ax.text(
            x0,
            1.0,
            f" {fault_label(w)}",
            transform=ax.get_xaxis_transform(),
            va="top",
            ha="left",
            fontsize=7,
            color=colour,
            clip_on=True,
        )


def ops_frame(d: Digest):
    """One pandas row per completed operation: start_s, latency_ms, type, f."""
    import pandas as pd

    done = [op for op in d.ops if op.end is not None]
    return pd.DataFrame(
        {
            "start_s": [op.start / 1e9 for op in done],
            "end_s": [op.end / 1e9 for op in done],
            "latency_ms": [max(op.end - op.start, 1) / 1e6 for op in done],
            "type": [op.type for op in done],
            "f": [op.f for op in done],
        }
    )


def latency_plot(d: Digest, df) -> str:
    """Every op's latency at its invocation time, by outcome, with rolling quantile lines."""
    end_s = d.end_time / 1e9
    fig, ax = _figure()
    shade_faults(ax, d.windows, end_s)
    for typ in ("ok", "fail", "info"):
        sub = df[df["type"] == typ]
        if len(sub):
            ax.plot(
                sub["start_s"].to_numpy(),
                sub["latency_ms"].to_numpy(),
                "." if len(df) < 20_000 else ",",  # pixel markers: 5x faster on big runs
                ms=2.5,
                alpha=0.6,
                color=OUTCOME_COLOURS[typ],
                label=f"{typ} ({len(sub)})",
                rasterized=True,
            )
    ok = df[df["type"] == "ok"]
    if len(ok) >= 10:
        width = bucket_seconds(end_s)
        buckets = (ok["start_s"] // width) * width + width / 2
        grouped = ok.groupby(buckets)["latency_ms"]
        for q, name, style in QUANTILE_LINES:
            line = grouped.quantile(q)
            ax.plot(line.index, line.to_numpy(), style, color="#1f3b73", lw=1, label=f"{name} ok")
    ax.set_yscale("log")
    ax.set_xlim(0, max(end_s, 1e-3))
    ax.set_xlabel("time since test start (s)")
    ax.set_ylabel("latency (ms, log)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _embed(
        fig, "Latency over time", "latency of every operation over time by outcome", "latency"
    )


def throughput_plot(d: Digest, df) -> str:
    """Completions per second in each time bucket, one line per outcome."""
    import pandas as pd

    end_s = d.end_time / 1e9
    width = bucket_seconds(end_s)
    fig, ax = _figure()
    shade_faults(ax, d.windows, end_s)
    if len(df):
        bucket = (df["end_s"] // width) * width
        counts = df.groupby([bucket, df["type"]]).size().unstack(fill_value=0)
        full = pd.Index([i * width for i in range(int(end_s // width) + 1)])
        counts = counts.reindex(full, fill_value=0)
        for typ in ("ok", "fail", "info"):
            if typ in counts:
                ax.step(
                    counts.index + width / 2,
                    counts[typ].to_numpy() / width,
                    where="mid",
                    color=OUTCOME_COLOURS[typ],
                    label=typ,
                    lw=1.3,
                )
    ax.set_xlim(0, max(end_s, 1e-3))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("time since test start (s)")
    ax.set_ylabel(f"ops/s ({width:g} s buckets)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _embed(
        fig, "Throughput over time", "completed operations per second by outcome", "throughput"
    )


def fault_label(w: FaultWindow) -> str:
    """'partition' or 'partition: isolate-leader' when the nemesis said which kind."""
    kind = w.value.get("kind") if isinstance(w.value, dict) else None
    return f"{w.name}: {kind}" if isinstance(kind, str) and kind != w.name else w.name


def _offsets(value) -> dict[str, float]:
    """Node -> offset seconds from a clock nemesis value.

    Accepts {node: s}, {"offsets": {node: s}}, [[node, s], ...], and a strobe
    ({"nodes": [...], "delta_s": s}), drawn at its amplitude since it flips too fast to plot.
    """
    if isinstance(value, dict) and isinstance(value.get("delta_s"), int | float):
        return {str(n): float(value["delta_s"]) for n in value.get("nodes") or []}
    if isinstance(value, dict):
        inner = value.get("offsets", value)
        if isinstance(inner, dict):
            return {str(k): float(v) for k, v in inner.items() if isinstance(v, int | float)}
    if isinstance(value, list):
        out = {}
        for item in value:
            if isinstance(item, list | tuple) and len(item) == 2:
                if isinstance(item[1], int | float):
                    out[str(item[0])] = float(item[1])
        return out
    return {}


def clock_offsets(d: Digest) -> dict[str, list[tuple[float, float]]]:
    """Per node, the step series (time s, offset s) the clock nemesis set; reset -> 0."""
    series: dict[str, list[tuple[float, float]]] = {}
    current: dict[str, float] = {}
    for op in nemesis_ops(d.nemesis):
        kind, fam = classify_fault(op["f"])
        if fam != "clock":
            continue
        t = (op["end"] if op["end"] is not None else op["start"]) / 1e9
        if kind == "stop":
            changes = dict.fromkeys(current, 0.0)
        else:
            changes = _offsets(op["value"])
        for node, off in changes.items():
            s = series.setdefault(node, [(0.0, 0.0)])
            s.append((t, current.get(node, 0.0)))
            s.append((t, off))
            current[node] = off
    end_s = d.end_time / 1e9
    for node, s in series.items():
        s.append((end_s, current[node]))
    return series


def clock_plot(d: Digest) -> str | None:
    series = clock_offsets(d)
    if not series:
        return None
    fig, ax = _figure(2.8)
    shade_faults(ax, [w for w in d.windows if w.name == "clock"], d.end_time / 1e9)
    for node in sorted(series):
        xs, ys = zip(*series[node], strict=True)
        ax.plot(xs, [y * 1000 for y in ys], lw=1.4, label=node)
    ax.set_xlim(0, max(d.end_time / 1e9, 1e-3))
    ax.set_xlabel("time since test start (s)")
    ax.set_ylabel("clock offset (ms)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    return _embed(fig, "Clock offset per node", "clock offset of each node over time", "clock")


def render_perf(d: Digest) -> str:
    """All perf plots as one HTML fragment."""
    if not d.ops:
        return '<p class="empty">No client operations in this history.</p>'
    df = ops_frame(d)
    parts = [latency_plot(d, df), throughput_plot(d, df)]
    clock = clock_plot(d)
    if clock:
        parts.append(clock)
    return "\n".join(parts)
