"""The family table and its chart: throughput, p50 and p99 per mode, per conflict and
locality setting, per cluster size, from the rows of ``paxlab bench --mode`` (loopback
processes or the simulator).

Why one module: the loopback bench and the simulated one produce the same rows, and a
reader compares them in the same shape. The table is markdown (it reads in a terminal and
pastes into docs/modes.md as it is); the chart has one column of panels per cluster size,
throughput on top and latency (bar p50, marker p99) below, one colour per mode. Both go
into ``results/bench/family-<time>/`` with the rows as JSON.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def setting_label(conflict: float, locality: float | None) -> str:
    """'conflict 0.5, locality 0.9' (locality '-': no zones, or none asked for)."""
    loc = "-" if locality is None else f"{locality:g}"
    return f"conflict {conflict:g}, locality {loc}"


def settings_of(rows: list[dict]) -> list[tuple[float, float | None]]:
    """The (conflict, locality) settings in the order the rows first show them."""
    out: list[tuple[float, float | None]] = []
    for r in rows:
        s = (r["conflict"], r.get("locality"))
        if s not in out:
            out.append(s)
    return out


def table(rows: list[dict]) -> str:
    """One markdown table: a row per (nodes, mode), three columns per setting."""
    settings = settings_of(rows)
    cells = {(r["nodes"], r["mode"], r["conflict"], r.get("locality")): r for r in rows}
    unit = "writes per simulated s" if any(r.get("simulated") for r in rows) else "writes/s"
    lines = ["| mode | nodes | " + " | ".join(
        f"{setting_label(c, lo)}: {unit} | p50 ms | p99 ms" for c, lo in settings) + " |"]  # fmt: skip
    lines.append("|---|---|" + "---|---|---|" * len(settings))
    seen: list[tuple[int, str]] = []
    for r in rows:
        if (r["nodes"], r["mode"]) not in seen:
            seen.append((r["nodes"], r["mode"]))
    for nodes, mode in seen:
        out = [mode, str(nodes)]
        for c, lo in settings:
            r = cells.get((nodes, mode, c, lo))
            out += ["", "", ""] if r is None else [_ops(r), _ms(r, "p50_ms"), _ms(r, "p99_ms")]
        lines.append("| " + " | ".join(out) + " |")
    return "\n".join(lines)


def _ops(r: dict) -> str:
    """Writes/s, and how many writes timed out when some did (a protocol that stalls shows
    as what it is, not as a quiet zero)."""
    ops = f"{r['ops_per_s']:.0f}"
    return f"{ops} ({r['info']} timed out)" if r.get("info") else ops


def _ms(r: dict, q: str) -> str:
    """A latency percentile, or '-' where no write completed (not a 0 ms that never was)."""
    return f"{r[q]:.1f}" if r.get("ok") else "-"


def chart(rows: list[dict], title: str, paths: list[Path]) -> None:
    """Draw the rows (see the module docstring) into each of ``paths`` (.png, .svg)."""
    from matplotlib.figure import Figure  # Figure directly: no pyplot global state

    settings = settings_of(rows)
    sizes = sorted({r["nodes"] for r in rows})
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    cells = {(r["nodes"], r["mode"], r["conflict"], r.get("locality")): r for r in rows}
    fig = Figure(figsize=(4.2 * len(sizes) + 1.5, 6.4), dpi=96)
    axes = fig.subplots(2, len(sizes), squeeze=False, sharey="row")
    width = 0.8 / max(1, len(modes))
    for col, n in enumerate(sizes):
        top, bottom = axes[0][col], axes[1][col]
        for k, mode in enumerate(modes):
            xs, ops, lat_xs, p50, p99 = [], [], [], [], []
            for x, (c, lo) in enumerate(settings):
                r = cells.get((n, mode, c, lo))
                if r is not None:
                    xs.append(x - 0.4 + width * (k + 0.5))
                    ops.append(r["ops_per_s"])
                    if r["ok"]:  # no write went through: no latency to draw
                        lat_xs.append(xs[-1])
                        p50.append(r["p50_ms"])
                        p99.append(r["p99_ms"])
            colour = COLOURS[k % len(COLOURS)]
            top.bar(xs, ops, width, color=colour, label=mode)
            bottom.bar(lat_xs, p50, width, color=colour)
            bottom.plot(lat_xs, p99, "_", color="black", markersize=9, mew=2)
        bottom.set_yscale("log")  # a mode that duels takes seconds, the others tens of ms
        top.set_title(f"{n} nodes", fontsize=10)
        for ax in (top, bottom):
            ax.set_xticks(range(len(settings)))
            ax.grid(axis="y", alpha=0.3)
        top.set_xticklabels([])
        bottom.set_xticklabels(
            [f"c {c:g}\nL {'-' if lo is None else f'{lo:g}'}" for c, lo in settings], fontsize=8
        )
    sim = any(r.get("simulated") for r in rows)
    axes[0][0].set_ylabel("writes per simulated s" if sim else "writes/s")
    axes[1][0].set_ylabel("ms, log scale (bar p50, mark p99)")
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.86, top=0.88, bottom=0.14, wspace=0.08)
    from matplotlib import rc_context

    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "paxlab"}):  # text stays text
        for p in paths:
            fig.savefig(
                p, bbox_inches="tight", metadata={"Date": None} if p.suffix == ".svg" else None
            )


def write(rows: list[dict], header: str, title: str,
          results_root: str | Path | None = None) -> Path:  # fmt: skip
    """results/bench/family-<time>/: table.md, rows.json, chart.png and chart.svg (the
    chart titled ``title``, a short form of ``header``)."""
    import json

    from controller.store import results_root as root_of

    folder = root_of(results_root) / "bench" / f"family-{datetime.now():%Y%m%dT%H%M%S}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "table.md").write_text(f"{header}\n\n{table(rows)}\n", encoding="utf-8")
    (folder / "rows.json").write_text(
        json.dumps({"header": header, "rows": rows}, indent=1, default=str) + "\n",
        encoding="utf-8",
    )
    chart(rows, title, [folder / "chart.png", folder / "chart.svg"])
    return folder
