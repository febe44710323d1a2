"""Build a run's report.html from its run directory alone (ARCHITECTURE.md section 7).

The report is what a person opens first after a run, so it answers in order: did it pass
(the banner), how to rerun it (the exact command line, seed included), what each checker
said, what the faults did (op counts, plots, the timeline), which operations prove a
failure (the anomaly section, linked from the banner), and where the node logs are.
Everything is read from files, never from the live controller, so `paxlab report RUN_DIR`
rebuilds the same page after an upgrade. The page is one file with no network requests:
styles, scripts, plots (PNG data URIs) and data are inlined; only the node logs are
relative links into nodes/.
"""

from __future__ import annotations

import html
import json
import os
import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from checker.stats import Digest, Operation, digest, latency_quantiles, op_counts, read_events

STAMP = re.compile(r"^\d{8}T\d{6}(-\d+)?$")
MAX_JSON_CHARS = 20_000
MAX_NODE_FILES = 200


class ReportError(Exception):
    """A run directory the report cannot be built from; the message is one line."""


# --- reading the run directory --------------------------------------------------------------


def _load_json(path: Path, problems: list[str]) -> dict | None:
    if not path.exists():
        problems.append(f"{path.name} is missing")
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        problems.append(f"{path.name} is unreadable: {e}")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name} is not a JSON object")
        return None
    return data


def rerun_command(spec: dict) -> str:
    """The command line that reruns this test, with its seed even if it was not typed."""
    argv = spec.get("argv")
    if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
        argv = list(argv)
        if os.path.basename(argv[0]) in ("paxlab", "cli.py", "__main__.py"):
            argv[0] = "paxlab"
        seeded = "--spec" in argv or "--seed" in argv  # a replayed test.json has its seed
        if not seeded and not any(a.startswith("--seed=") for a in argv):
            if spec.get("seed") is not None:
                argv += ["--seed", str(spec["seed"])]
        return shlex.join(argv)
    argv = ["paxlab", "test"]
    flags = (
        ("workload", "--workload"),
        ("nemesis", "--nemesis"),
        ("nodes", "--nodes"),
        ("concurrency", "--concurrency"),
        ("time_limit", "--time-limit"),
        ("rate", "--rate"),
        ("nemesis_interval", "--nemesis-interval"),
        ("backend", "--backend"),
        ("target", "--target"),
        ("read_mode", "--read-mode"),
        ("seed", "--seed"),
    )
    for key, flag in flags:
        v = spec.get(key)
        if v is None or v == []:
            continue
        argv += [flag, ",".join(map(str, v)) if isinstance(v, list) else str(v)]
    for bug in spec.get("bugs") or []:
        argv += ["--bug", str(bug)]
    return shlex.join(argv)


# --- anomaly section ------------------------------------------------------------------------


def _op_index(op: Any) -> int | None:
    if isinstance(op, int) and not isinstance(op, bool):
        return op
    if isinstance(op, dict) and isinstance(op.get("index"), int):
        return op["index"]
    idx = getattr(op, "index", None)
    return idx if isinstance(idx, int) else None


def _short(v: Any, n: int = 120) -> str:
    s = json.dumps(v, default=str)
    return s if len(s) <= n else s[: n - 1] + "…"


def describe_op(op: Operation) -> str:
    key = "" if op.key is None else f" {_short(op.key)}"
    val = "" if op.value is None else f" {_short(op.value)}"
    if op.type == "ok":
        out = "" if op.result is None and op.f != "read" else f" → {_short(op.result)}"
    else:
        out = f" ({op.error})" if op.error else ""
    return f"process {op.process} {op.f}{key}{val}: {op.type}{out}"


def _op_row(op: Operation, failing: int | None, extra: str | None = None) -> str:
    cls = ' class="failing"' if op.index == failing else ""
    end = "" if op.end is None else f"{op.end / 1e6:.3f}"
    more = "" if extra is None else f"<td>{html.escape(extra)}</td>"
    return (
        f'<tr{cls}><td><a href="#op-{op.index}">#{op.index}</a></td><td>{op.process}</td>'
        f"<td>{html.escape(op.f)}</td><td>{html.escape(_short(op.key))}</td>"
        f"<td>{html.escape(_short(op.value))}</td>"
        f"<td>{html.escape(_short(op.result if op.type == 'ok' else op.error))}</td>"
        f'<td class="t-{op.type}">{op.type}</td><td>{op.start / 1e6:.3f}</td><td>{end}</td>'
        f"{more}</tr>"
    )


def _op_table(ops: list[Operation], failing: int | None, extra: dict[int, str] | None) -> str:
    head = (
        OP_TABLE_HEAD.replace("</tr>", "<th>in the linearization</th></tr>")
        if extra
        else OP_TABLE_HEAD
    )
    rows = "".join(
        _op_row(o, failing, None if extra is None else extra.get(o.index, "no")) for o in ops
    )
    return head + rows + "</table>"


OP_TABLE_HEAD = (
    "<table class='ops'><tr><th>op</th><th>process</th><th>f</th><th>key</th><th>value</th>"
    "<th>result</th><th>outcome</th><th>start ms</th><th>end ms</th></tr>"
)
MAX_CONCURRENT = 60


def _minimal_linear_view(
    result: dict, d: Digest, by_index: dict[int, Operation], failing: int | None
) -> str:
    """The ops around the failing one and the end of the longest linearizable prefix.

    Built from the result's fields (op, prefix with states, window) and the history; used
    when the checker's own view (checker.report.render_anomaly) is not available.
    """
    placed: dict[int, str] = {}
    order: list[int] = []
    for x in result.get("prefix") or []:
        i = _op_index(x)
        if i is not None:
            order.append(i)
            state = (
                f", then state {_short(x['state'])}" if isinstance(x, dict) and "state" in x else ""
            )
            placed[i] = f"yes, #{len(order)}{state}"
    parts = []
    op = by_index.get(failing) if failing is not None else None
    window = set(i for i in result.get("window") or [] if isinstance(i, int))
    if op is not None:
        end = op.end if op.end is not None else d.end_time
        near = [
            o
            for o in d.ops
            if (o.index in window or (o.start <= end and (o.end or d.end_time) >= op.start))
            and (o.key == op.key)
        ]
        if near:
            parts.append(
                f"<h4>Operations concurrent with #{op.index} on the same key ({len(near)}"
                + (f", first {MAX_CONCURRENT} shown" if len(near) > MAX_CONCURRENT else "")
                + ")</h4>"
            )
            parts.append(_op_table(near[:MAX_CONCURRENT], failing, placed))
    prefix = [by_index[i] for i in order if i in by_index]
    if prefix:
        parts.append(
            f"<h4>End of the longest linearizable prefix ({len(prefix)} ops; the last 20 in "
            "linearization order)</h4>"
        )
        parts.append(_op_table(prefix[-20:], failing, placed))
    return "\n".join(parts)


CHECKER_VIEW_BEFORE = 2000  # ops before the failing one handed to the checker's view
CHECKER_VIEW_AFTER = 500


def _neighbourhood(events: list[dict], d: Digest, failing: int | None) -> list[dict]:
    """The events of the ops around the failing one (all of them on a small history).

    The checker's view draws one SVG element per op; on a 100,000-op run that alone would
    be megabytes, while a person reads the few hundred ops around the anomaly (the
    timeline above still has every op).
    """
    if failing is None or len(d.ops) <= CHECKER_VIEW_BEFORE + CHECKER_VIEW_AFTER:
        return events
    pos = next((i for i, op in enumerate(d.ops) if op.index == failing), None)
    if pos is None:
        return events
    keep: set[int] = set()
    for op in d.ops[max(0, pos - CHECKER_VIEW_BEFORE) : pos + CHECKER_VIEW_AFTER]:
        keep.add(op.index)
        if op.completion_index is not None:
            keep.add(op.completion_index)
    return [ev for ev in events if ev.get("index") in keep]


def _checker_view(
    result: dict, events: list[dict], d: Digest, failing: int | None, problems: list[str]
) -> str | None:
    """The checker's own anomaly view (checker.report.render_anomaly), if it can draw one.

    It gets the events already read (no second pass over a large history). If it fails
    on this history, the report falls back to its own tables.
    """
    from checker.report import render_anomaly

    try:
        return render_anomaly(result, _neighbourhood(events, d, failing))
    except Exception as e:  # noqa: BLE001 - never lose the whole report to one section
        problems.append(f"the checker's anomaly view failed ({type(e).__name__}: {e})")
        return None


def linear_anomaly(
    name: str, result: dict, d: Digest, events: list[dict], first: bool, problems: list[str]
) -> tuple[str, int | None, list[int]]:
    """(html, failing op index, window indices) for a failed linearizability result."""
    by_index = {op.index: op for op in d.ops}
    failing = _op_index(result.get("op"))
    window = [i for i in (result.get("window") or []) if isinstance(i, int)]
    op = by_index.get(failing) if failing is not None else None
    key = result.get("key")
    anchor = ' id="anomaly-op"' if first else ""
    if op is not None:
        what = (
            f'<p class="failing-op"{anchor}><strong>No order of the operations can place '
            f'<a href="#op-{op.index}">operation #{op.index}</a></strong>: '
            f"{html.escape(describe_op(op))}, invoked at {op.start / 1e6:.3f} ms"
            + ("" if op.end is None else f", completed at {op.end / 1e6:.3f} ms")
            + (f" (key {html.escape(_short(key))})" if key is not None else "")
            + f'. <a href="#op-{op.index}">Show it in the timeline</a>.</p>'
        )
    else:
        what = (
            f'<p class="failing-op"{anchor}><strong>{html.escape(name)} found no valid order'
            + (f" for key {html.escape(_short(key))}" if key is not None else "")
            + "</strong>"
            + (f": failing op {html.escape(_short(result.get('op')))}" if result.get("op") else "")
            + ".</p>"
        )
    view = _checker_view(result, events, d, failing, problems)
    body = view if view is not None else _minimal_linear_view(result, d, by_index, failing)
    return what + body, failing, window


PROBLEMS = ("lost", "duplicated", "unexpected")


def _elements(result: dict) -> list[tuple[str, Any, Any]]:
    """[(problem, key or None, element)]: flat lists (set) or {key: [elements]} (append)."""
    out = []
    for kind in PROBLEMS:
        found = result.get(kind)
        if found is None and kind == "duplicated":
            found = result.get("duplicates")
        if isinstance(found, dict):
            out += [(kind, k, e) for k, els in found.items() for e in (els or [])]
        elif isinstance(found, list):
            out += [(kind, None, e) for e in found]
    return out


def _ekey(v: Any) -> str:
    """Elements compare by JSON (a tuple in a checker's result is a list in the history)."""
    return json.dumps(v, sort_keys=True, default=str)


def set_anomaly(name: str, result: dict, d: Digest, first: bool) -> tuple[str, list[int]]:
    """Lost, duplicated and unexpected elements, each with the operations that added it."""
    adders: dict[str, list[Operation]] = {}
    for op in d.ops:
        if op.f == "add":
            elems = [op.value]
        elif op.f == "append":  # an append of a list extends by each of its items
            elems = op.value if isinstance(op.value, list) else [op.value]
        else:
            continue
        for v in elems:
            adders.setdefault(_ekey(v), []).append(op)
    problems = _elements(result)
    rows, marked = [], []
    for kind, key, e in problems:
        ops = [o for o in adders.get(_ekey(e), []) if key is None or str(o.key) == str(key)]
        marked += [o.index for o in ops]
        links = (
            ", ".join(
                f'<a href="#op-{o.index}">#{o.index}</a> ({html.escape(describe_op(o))})'
                for o in ops[:10]
            )
            or "no add of it in the history"
        )
        anchor = ' id="anomaly-op"' if first and not rows else ""
        rows.append(
            f'<tr class="failing"{anchor}><td>{kind}</td>'
            f"<td>{html.escape('' if key is None else _short(key))}</td>"
            f"<td>{html.escape(_short(e))}</td><td>{links}</td></tr>"
        )
    counts = ", ".join(
        f"{result.get(k + '_count', sum(1 for p in problems if p[0] == k))} {k}" for k in PROBLEMS
    )
    out = (
        f"<p><strong>{html.escape(name)}</strong>: {counts} element(s)"
        + (" (the table lists the first of each)" if len(problems) >= 50 else "")
        + ".</p><table class='ops'><tr><th>problem</th><th>key</th><th>element</th>"
        "<th>added by</th></tr>" + "".join(rows) + "</table>"
    )
    return out, marked


def _secs(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, int | float) and not isinstance(x, bool) else ""


def invariants_anomaly(name: str, result: dict, first: bool) -> str:
    """What the store broke inside (the simulator's invariants): what, where, when, replay."""
    anchor = ' id="anomaly-op"' if first else ""
    rows = []
    for v in result.get("violations") or []:
        if not isinstance(v, dict):
            v = {"what": str(v)}
        run_s, t_s = _secs(v.get("run_s")), _secs(v.get("t_s"))
        rows.append(
            f"<tr class='failing'><td class='num'>{run_s}</td><td class='num'>{t_s}</td>"
            f"<td>{html.escape(str(v.get('node') or ''))}</td>"
            f"<td>{html.escape(_short(v.get('what'), 400).strip(chr(34)))}</td></tr>"
        )
    count = result.get("count", len(rows))
    replay = result.get("replay")
    return (
        f'<p class="failing-op seen-store"{anchor}><strong>{html.escape(name)}: the store broke '
        f"{count} of its own invariants, seen inside the store by the simulator, not by "
        "clients.</strong> A black-box test of a real system cannot see these; the history "
        "checkers above say what the clients saw."
        + (
            f" Seed {html.escape(str(result.get('seed')))}."
            if result.get("seed") is not None
            else ""
        )
        + "</p>"
        + (f'<p>Replay it:</p><pre class="cmd">{html.escape(replay)}</pre>' if replay else "")
        + "<table class='ops invariants'><tr><th>run time (s)</th><th>world time (s)</th>"
        "<th>node</th><th>what</th></tr>"
        + "".join(rows)
        + "</table>"
        + (f"<p>(first {len(rows)} of {count})</p>" if count > len(rows) else "")
    )


def find_anomalies(checkers: dict) -> list[tuple[str, str, dict]]:
    """[(kind, checker name, result)] for each failed result: 'linear', 'set', 'invariants',
    'txn' (a transaction checker's cycles).

    Set/append results may nest per key under "keys"; those are reported per key.
    """
    found = []
    for name, r in checkers.items():
        if not isinstance(r, dict) or r.get("valid") is not False:
            continue
        if r.get("seen") == "store":
            found.append(("invariants", name, r))
        elif "consistency" in r and isinstance(r.get("anomalies"), list):
            found.append(("txn", name, r))
        elif any(k in r for k in (*PROBLEMS, "duplicates")):
            found.append(("set", name, r))
        elif "op" in r or "window" in r or "linear" in name.lower():
            found.append(("linear", name, r))
        elif isinstance(r.get("keys"), dict):
            for key, sub in r["keys"].items():
                if isinstance(sub, dict) and sub.get("valid") is False:
                    if any(k in sub for k in (*PROBLEMS, "duplicates")):
                        found.append(("set", f"{name} [{key}]", sub))
        else:
            found.append(("other", name, r))
    return found


# --- fault bands ------------------------------------------------------------------------------

FAULT_COLOURS = {
    "partition": "#e377c2",
    "kill": "#7f7f7f",
    "pause": "#17becf",
    "clock": "#bcbd22",
    "netem": "#9467bd",
    "membership": "#2ca02c",
}
BAND_W, BAND_H, BAND_LEFT = 900, 18, 80


def fault_bands(windows: list, end_ns: int) -> str:
    """The fault windows as an SVG, one band per nemesis stacked top to bottom, so faults
    that overlap in time (the mixed schedule) show as overlapping bars on different bands."""
    if not windows:
        return ""
    names = list(dict.fromkeys(w.name for w in windows))
    end = max([end_ns, *(w.end or 0 for w in windows), 1])
    scale = (BAND_W - BAND_LEFT - 4) / end
    h = BAND_H * len(names) + 16
    parts = [
        f'<svg class="fault-bands" xmlns="http://www.w3.org/2000/svg" width="{BAND_W}" '
        f'height="{h}" viewBox="0 0 {BAND_W} {h}" role="img" aria-label="fault bands">'
    ]
    for row, name in enumerate(names):
        y = row * BAND_H
        parts.append(
            f'<text x="2" y="{y + 13}" font-size="11">{html.escape(name)}</text>'
            f'<line x1="{BAND_LEFT}" x2="{BAND_W - 4}" y1="{y + BAND_H - 1}" '
            f'y2="{y + BAND_H - 1}" stroke="#eee"/>'
        )
        for w in (w for w in windows if w.name == name):
            x0 = BAND_LEFT + w.start * scale
            x1 = BAND_LEFT + (w.end if w.end is not None else end) * scale
            kind = w.value.get("kind") if isinstance(w.value, dict) else None
            label = f"{name}{':' + str(kind) if kind else ''} {w.start / 1e9:.2f}-" + (
                f"{w.end / 1e9:.2f} s" if w.end is not None else "end"
            )
            parts.append(
                f'<rect class="band" data-nemesis="{html.escape(name)}" x="{x0:.1f}" '
                f'y="{y + 2}" width="{max(1.0, x1 - x0):.1f}" height="{BAND_H - 5}" '
                f'fill="{FAULT_COLOURS.get(name, "#aaa")}"><title>{html.escape(label)}</title>'
                "</rect>"
            )
    secs = end / 1e9
    parts.append(
        f'<text x="{BAND_LEFT}" y="{h - 2}" font-size="10">0 s</text>'
        f'<text x="{BAND_W - 4}" y="{h - 2}" font-size="10" text-anchor="end">{secs:.1f} s</text>'
        "</svg>"
    )
    return "".join(parts)


# --- the page --------------------------------------------------------------------------------


def _verdict(results: dict | None) -> tuple[str, str]:
    if results is None:
        return "incomplete", "NO RESULT (the run did not finish)"
    v = results.get("valid")
    if v is True:
        return "valid", "VALID"
    if v is False:
        if results.get("history_valid") is True:
            return "invalid", (
                "INVALID: the store broke its invariants (seen inside the store by the "
                "simulator; the history checkers found nothing)"
            )
        return "invalid", "INVALID: an anomaly was found"
    return "unknown", "UNKNOWN: the checkers could not decide"


def _node_listing(run_dir: Path) -> list[dict]:
    nodes_dir = run_dir / "nodes"
    if not nodes_dir.is_dir():
        return []
    out = []
    for node in sorted(p for p in nodes_dir.iterdir() if p.is_dir()):
        files = []
        for f in sorted(node.rglob("*")):
            if f.is_file() and len(files) < MAX_NODE_FILES:
                rel = f.relative_to(run_dir).as_posix()
                files.append(
                    {
                        "href": quote(rel),
                        "name": f.relative_to(node).as_posix(),
                        "size": f.stat().st_size,
                    }
                )
        out.append({"name": node.name, "files": files})
    return out


def _checker_rows(checkers: dict) -> list[dict]:
    rows = []
    for name, r in checkers.items():
        if not isinstance(r, dict):
            r = {"result": r}
        valid = r.get("valid", "unknown")
        summary = {
            k: v
            for k, v in r.items()
            if k != "valid" and (v is None or isinstance(v, str | int | float | bool))
        }
        raw = json.dumps(r, indent=1, default=str)
        if len(raw) > MAX_JSON_CHARS:
            raw = raw[:MAX_JSON_CHARS] + f"\n… ({len(raw) - MAX_JSON_CHARS} more characters)"
        cls = {True: "valid", False: "invalid"}.get(valid, "unknown")
        seen = "inside the store (simulator)" if r.get("seen") == "store" else "history (clients)"
        rows.append(
            {"name": name, "valid": valid, "cls": cls, "summary": summary, "raw": raw, "seen": seen}
        )
    return rows


def _store_path(run_dir: Path) -> str:
    """results/<test>/<time> as a person would type it (through results/latest too)."""
    real = run_dir.resolve()
    return "/".join((real.parent.parent.name, real.parent.name, real.name))


def render(run_dir: Path) -> str:
    """The whole report page as a string."""
    import jinja2
    from markupsafe import Markup

    from checker.perf import render_perf
    from checker.timeline import TIMELINE_CSS, render_timeline
    from controller.explain import render_explanations
    from controller.lamport import LAMPORT_CSS, render_trace
    from controller.traces import TRACE_FILE, read_trace

    problems: list[str] = []
    spec = _load_json(run_dir / "test.json", problems) or {}
    results = _load_json(run_dir / "results.json", problems)
    history_path = run_dir / "history.jsonl"
    if history_path.exists():
        events, errs = read_events(history_path)
        problems += errs[:20]
    else:
        events = []
        problems.append("history.jsonl is missing")
    d = digest(events)
    problems += d.errors[:20]

    checkers = (results or {}).get("checkers") or {}
    anomalies = []
    highlight: list[int] = []
    failing: int | None = None
    for kind, name, r in find_anomalies(checkers if isinstance(checkers, dict) else {}):
        first = not anomalies
        if kind == "linear":
            body, f_idx, window = linear_anomaly(name, r, d, events, first, problems)
            highlight += window
            if failing is None and f_idx is not None:
                failing = f_idx
                highlight.append(f_idx)
        elif kind == "set":
            body, marked = set_anomaly(name, r, d, first)
            highlight += marked
        elif kind == "invariants":
            body = invariants_anomaly(name, r, first)
        elif kind == "txn":
            from checker.txn.draw import render_txn_anomalies

            anchor = ' id="anomaly-op"' if first else ""
            body = f"<div{anchor}>{render_txn_anomalies(r, name)}</div>"
        else:
            anchor = ' id="anomaly-op"' if first else ""
            body = f"<p{anchor}><strong>{html.escape(name)}</strong> reported the history invalid; see its result above.</p>"
        anomalies.append({"name": name, "kind": kind, "html": Markup(body)})

    trace = read_trace(run_dir / TRACE_FILE, problems)
    links, lamport = render_trace(d, trace, highlight, failing, bool(anomalies))
    if links:
        anomalies.append({"name": "log slots", "kind": "slots", "html": Markup(links)})

    cls, verdict = _verdict(results)
    test_name = (results or {}).get("test") or spec.get("name") or run_dir.parent.name
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    tpl = env.get_template("report.html.j2")
    return tpl.render(
        title=f"{test_name} {run_dir.name}",
        rebuild=shlex.join(["paxlab", "report", _store_path(run_dir)]),
        test_name=test_name,
        run_name=run_dir.name,
        verdict_cls=cls,
        verdict=verdict,
        results=results or {},
        error=(results or {}).get("error"),
        spec={k: v for k, v in spec.items() if k != "argv"},
        command=rerun_command(spec) if spec else None,
        checkers=_checker_rows(checkers if isinstance(checkers, dict) else {}),
        counts=op_counts(d.ops),
        quantiles=latency_quantiles(d.ops),
        n_ops=len(d.ops),
        n_events=len(events),
        windows=d.windows,
        bands=Markup(fault_bands(d.windows, d.end_time)),
        faults=(results or {}).get("faults") or None,
        perf=Markup(render_perf(d)),
        timeline=Markup(render_timeline(d, highlight, failing)),
        timeline_css=Markup(TIMELINE_CSS + LAMPORT_CSS),
        lamport=Markup(lamport),
        explanations=Markup(render_explanations(spec.get("bugs") or [])),
        anomalies=anomalies,
        nodes=_node_listing(run_dir),
        problems=problems,
        built=datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
    )


def build_report(run_dir: Path) -> Path:
    """Write run_dir/report.html (atomically) and refresh results/index.html; return the path."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: not a run directory")
    if not any((run_dir / n).exists() for n in ("history.jsonl", "test.json", "results.json")):
        raise ReportError(f"{run_dir}: no history.jsonl, test.json or results.json in it")
    page = render(run_dir)
    out = run_dir / "report.html"
    tmp = run_dir / ".report.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    real = run_dir.resolve()
    if STAMP.match(real.name):  # results/<test>/<stamp>: keep the store's index current
        from controller.index import write_index

        write_index(real.parent.parent)
    return out
