"""`paxlab check HISTORY... --model register|kv`: is each history linearizable?

Exit 0 when every history is linearizable, 1 when any is not, else 2 when any is undecided
(time limit) or unreadable. Many files are checked in one process, so start-up is paid
once. Bad input is one line on stderr naming the file and line; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, TextIO

PROGRESS_AFTER_S = 2.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("histories", nargs="+", metavar="HISTORY", help="JSONL history file(s)")
    p.add_argument("--model", default="register", help="register (default) or kv")
    p.add_argument("--initial", default="null", metavar="JSON",
                   help="initial value of the register / of every key (default null)")  # fmt: skip
    p.add_argument("--json", action="store_true",
                   help="one JSON object per history on stdout")  # fmt: skip
    p.add_argument("--report", metavar="OUT.html",
                   help="write a self-contained HTML page showing each anomaly")  # fmt: skip
    p.add_argument("--time-limit", type=float, default=None, metavar="S",
                   help="give up on a history after S seconds: unknown, exit 2")  # fmt: skip
    p.add_argument("--full", action="store_true",
                   help="check every key even after an invalid one")  # fmt: skip
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes for histories with many keys (default: CPUs)")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--format", choices=("jsonl", "jepsen-log"), default="jsonl",
                   help="input format: JSONL history (default) or an old Jepsen text log "
                        "(INFO jepsen.util - 3 :invoke :read nil)")  # fmt: skip


class _Progress:
    """Progress on stderr, only once a check has run for a couple of seconds."""

    def __init__(self, name: str, out: TextIO, quiet: bool) -> None:
        self.name = name
        self.out = out
        self.quiet = quiet
        self.t0 = time.monotonic()
        self.last = 0.0
        self.shown = False
        self.tty = out.isatty()

    def __call__(self, p: dict) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.t0 < PROGRESS_AFTER_S or now - self.last < (0.5 if self.tty else 5):
            return
        self.last = now
        self.shown = True
        msg = (f"checking {self.name}: keys {p['keys_done']}/{p['keys']}, "
               f"{p['explored']:,} configurations explored, {now - self.t0:.0f} s")  # fmt: skip
        self.out.write(("\r" + msg + "\033[K") if self.tty else msg + "\n")
        self.out.flush()

    def done(self) -> None:
        if self.shown and self.tty:
            self.out.write("\r\033[K")
            self.out.flush()


def _verdict_line(path: str, r: dict) -> str:
    v = r["valid"]
    n = r["ops"]["total"]
    keys = r["keys_total"]
    tail = f"({n:,} ops, {keys:,} key{'s' if keys != 1 else ''}, {r['time_s']:.3f} s)"
    if v is True:
        return f"{path}: linearizable {tail}"
    if v == "unknown":
        return f"{path}: unknown, {r.get('reason', 'undecided')} {tail}"
    op = r["op"]
    key = "" if r.get("key") is None else f" key {r['key']!r}:"
    what = f"{op['f']} {json.dumps(op['value'])}"
    if op["f"] == "read" and "output" in op:
        what = f"read -> {json.dumps(op['output'])}"
    return (f"{path}: NOT linearizable{key} process {op['process']} {what} "
            f"(index {op['index']}, line {op['line']}) cannot be placed after a "
            f"{len(r['prefix'])}-op linearizable prefix {tail}")  # fmt: skip


def _json_safe(r: dict) -> dict:
    out = dict(r)
    out["keys"] = {("null" if k is None else str(k)): v for k, v in r.get("keys", {}).items()}
    return out


def run(args: argparse.Namespace) -> int:
    from checker.history import HistoryError, iter_events, iter_ops
    from checker.jepsen_log import read_log
    from checker.linearizability import check, check_file, key_lines
    from checker.models import get_model

    try:
        model = get_model(args.model)
    except ValueError as e:
        sys.stderr.write(f"paxlab check: {e}\n")
        return 2
    try:
        initial: Any = json.loads(args.initial)
    except ValueError:
        sys.stderr.write(f"paxlab check: --initial is not valid JSON: {args.initial!r}\n")
        return 2
    if args.time_limit is not None and args.time_limit <= 0:
        sys.stderr.write("paxlab check: --time-limit must be positive\n")
        return 2
    sections: list[str] = []
    worst = 0  # 0 valid, 2 unknown, 1 invalid (1 wins)
    for path in args.histories:
        prog = _Progress(path, sys.stderr, args.quiet)
        events = None
        try:
            if args.format == "jepsen-log":
                events = read_log(path)
                if not events:
                    raise HistoryError("no Jepsen operation lines (INFO jepsen.util - ...)")
                r = check(events, model, initial, args.time_limit, args.full, prog, args.jobs)
            else:
                r = check_file(path, model, initial, args.time_limit, args.full, prog,
                               args.jobs)  # fmt: skip
        except HistoryError as e:
            prog.done()
            msg = str(e) if str(path) in str(e) else f"{path}: {e}"
            sys.stderr.write(f"paxlab check: {msg}\n")
            r = {"valid": "unknown", "error": str(e)}
            if args.json:
                print(json.dumps({"file": path, **r}), flush=True)
            if worst != 1:
                worst = 2
            if args.report:
                sections.append(_report_section(path, r, None, model))
            continue
        prog.done()
        if args.json:
            print(json.dumps({"file": path, **_json_safe(r)}, default=str), flush=True)
        else:
            print(_verdict_line(path, r), flush=True)
            if args.full:  # every key's verdict, undecided ones too
                print("\n".join(key_lines(r)), flush=True)
        if r["valid"] is False:
            worst = 1
        elif r["valid"] == "unknown" and worst != 1:
            worst = 2
        if args.report:
            hist = None
            if r["valid"] is False:  # stream only the failing key's ops back in
                key = r.get("key")
                evs = iter_events(path) if events is None else enumerate(events, 1)
                hist = [o for o in iter_ops(evs) if model.split_key(o) == key]
            sections.append(_report_section(path, r, hist, model))
    if args.report:
        from checker.report import render_page

        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                fh.write(render_page(sections, title="paxlab check: linearizability"))
        except OSError as e:
            sys.stderr.write(f"paxlab check: cannot write {args.report}: {e.strerror}\n")
            return 2
    return worst


def _report_section(path: str, r: dict, history: Any, model: Any) -> str:
    from checker.report import render_anomaly

    return render_anomaly(r, history if history is not None else [], model, title=path)
