"""results/index.html: every run in the store, newest first, sortable and filterable.

A store gathers thousands of runs, so the page carries one small JSON row per run and sorts
and filters in the browser (no server, no network: it opens from disk too). Rows are
cached in results/.index-cache.json keyed by each run's file mtimes, so rebuilding the
index after a run reads only that run's files, not every results.json in the store.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

STAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(-\d+)?$")
CACHE = ".index-cache.json"
CACHE_VERSION = 3


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _mtime(path: Path) -> list[int]:
    """What says a file changed: its mtime and size (mtime alone can be too coarse)."""
    try:
        st = path.stat()
    except OSError:
        return [0, -1]
    return [st.st_mtime_ns, st.st_size]


def run_row(root: Path, run: Path) -> dict[str, Any]:
    """The index row of one run: what a person sorts and filters by."""
    spec = _read(run / "test.json")
    res = _read(run / "results.json")
    m = STAMP.match(run.name)
    date = f"{m[1]}-{m[2]}-{m[3]} {m[4]}:{m[5]}:{m[6]}" if m else run.name
    valid = res.get("valid") if res else None
    verdict = {True: "valid", False: "invalid"}.get(valid, "unknown" if res else "incomplete")
    nemesis = spec.get("nemesis") or []
    if isinstance(nemesis, str):
        nemesis = [nemesis]
    ops = res.get("ops") if isinstance(res.get("ops"), dict) else {}
    checkers = res.get("checkers") if isinstance(res.get("checkers"), dict) else {}
    has_report = (run / "report.html").exists()
    rel = run.relative_to(root).as_posix()
    return {
        "test": run.parent.name,
        "run": run.name,
        "date": date,
        "verdict": verdict,
        "seen": found_by(checkers),
        "workload": str(spec.get("workload") or ""),
        "nemesis": ",".join(str(n) for n in nemesis) or "none",
        "backend": str(spec.get("backend") or ""),
        "bugs": ",".join(str(b) for b in spec.get("bugs") or []),
        "seed": spec.get("seed"),
        "ops": sum(v for v in ops.values() if isinstance(v, int)),
        "duration": res.get("duration_s"),
        "error": (str(res.get("error"))[:200] if res.get("error") else ""),
        "href": f"{rel}/report.html" if has_report else f"{rel}/",
    }


def found_by(checkers: dict[str, Any]) -> str:
    """Who saw the run invalid: "clients" (the history checkers), "store" (the simulator's
    invariants, inside the store), both, or "" when nobody did."""
    seen = []
    bad = [r for r in checkers.values() if isinstance(r, dict) and r.get("valid") is False]
    if any(r.get("seen") != "store" for r in bad):
        seen.append("clients")
    if any(r.get("seen") == "store" for r in bad):
        seen.append("store")
    return "+".join(seen)


def find_runs(root: Path) -> list[Path]:
    """results/<test>/<stamp>/ folders (results/latest and hidden entries skipped)."""
    runs = []
    if not root.is_dir():
        return runs
    for test in root.iterdir():
        if test.name.startswith(".") or test.is_symlink() or not test.is_dir():
            continue
        for run in test.iterdir():
            if STAMP.match(run.name) and run.is_dir() and not run.is_symlink():
                runs.append(run)
    return runs


def collect_rows(root: Path) -> list[dict[str, Any]]:
    """Rows for every run, newest first, reusing cached rows whose files did not change."""
    cache_path = root / CACHE
    cache = _read(cache_path)
    if cache.get("version") != CACHE_VERSION:
        cache = {"version": CACHE_VERSION, "runs": {}}
    old = cache.get("runs", {})
    fresh: dict[str, Any] = {}
    for run in find_runs(root):
        rel = run.relative_to(root).as_posix()
        stamp = [_mtime(run / n) for n in ("test.json", "results.json", "report.html")]
        hit = old.get(rel)
        if hit and hit.get("stamp") == stamp:
            fresh[rel] = hit
        else:
            fresh[rel] = {"stamp": stamp, "row": run_row(root, run)}
    try:
        tmp = root / f".{CACHE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "runs": fresh}))
        os.replace(tmp, cache_path)
    except OSError:
        pass  # a read-only store still gets its page
    rows = [v["row"] for v in fresh.values()]
    rows.sort(key=lambda r: (r["run"][:15], r["test"], r["run"]), reverse=True)
    return rows


def render_index(rows: list[dict[str, Any]]) -> str:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
    )
    data = json.dumps(rows, separators=(",", ":"), default=str).replace("</", "<\\/")
    return env.get_template("index.html.j2").render(rows_json=Markup(data), n=len(rows))


def write_index(root: Path) -> Path:
    """Rebuild results/index.html from the runs under root; return its path."""
    root = Path(root)
    page = render_index(collect_rows(root))
    out = root / "index.html"
    tmp = root / f".index.html.{os.getpid()}.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out
