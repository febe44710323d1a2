"""`paxlab check HISTORY... --model register|kv|set|append|list-append|rw-register`: judge
each history file.

Exit 0 when every history is valid, 1 when any is not, else 2 when any is undecided (time
limit, no final read) or cannot be read. Every file is judged on its own: a bad file is one
line on stderr naming the file and the line, then the next file is checked; never a
traceback. Many files are checked in one process, so start-up is paid once.

Formats: JSONL (ours), Jepsen's EDN (``history.edn``, Knossos data) and old Jepsen text
logs; ``--format auto`` (the default) tells them apart by name and content. Models:
``register`` and ``kv`` ask whether the history is linearizable; ``set`` is Jepsen's set
checker; ``append`` is what the append workload's live run checks (``kv`` linearizability
plus lost, duplicated and unexpected elements). ``list-append`` and ``rw-register`` are
transaction histories, judged by the Elle-style checker in checker.txn against
``--consistency`` (serializable, strict-serializable or snapshot-isolation).
"""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False  # not `typing`'s: importing typing is start-up time of every check
if TYPE_CHECKING:
    import argparse
    from typing import Any, TextIO

PROGRESS_AFTER_S = 2.0
FORMATS = ("auto", "jsonl", "edn", "jepsen-log")
EVENT_MODELS = ("set", "append")  # judged from the events, not only by the search
TXN_MODELS = ("list-append", "rw-register")  # transactions: checker.txn
MACHINE = "machine"  # a user's state machine, replayed serially: checker.machine_check
SNIFF_BYTES = 4096
SNIFF_EVENTS = 1000


class _LazyJson:
    """json, imported on first use: json imports re and enum, a fifth of a quick check's
    CPU, and a valid history printed without --json needs none of it."""

    def __getattr__(self, name: str) -> Any:
        import json as module

        globals()["json"] = module
        return getattr(module, name)


json = _LazyJson()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("histories", nargs="+", metavar="HISTORY",
                   help="history file(s): JSONL, Jepsen EDN or a Jepsen text log")  # fmt: skip
    p.add_argument("--model", default=None,
                   help="register, kv, set, append, list-append, rw-register or machine "
                        "(default: kv when the ops have keys, else register; machine "
                        "with --machine)")  # fmt: skip
    p.add_argument("--machine", default=None, metavar="MODULE:CLASS",
                   help="for --model machine: the state machine class the history is "
                        "replayed against (docs/state-machines.md)")  # fmt: skip
    p.add_argument("--consistency", default=None,
                   choices=("serializable", "strict-serializable", "snapshot-isolation"),
                   help="for list-append and rw-register: the model to check against "
                        "(default serializable)")  # fmt: skip
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
    p.add_argument("--format", choices=FORMATS, default="auto",
                   help="input format (default auto: a .edn name or EDN content is EDN, "
                        "'jepsen.util' lines an old Jepsen text log, else JSONL)")  # fmt: skip


DEFAULTS = {"model": None, "machine": None, "consistency": None, "initial": "null", "json": False,
            "report": None, "time_limit": None, "full": False, "jobs": None, "quiet": False,
            "format": "auto"}  # fmt: skip
FLAGS = ("--json", "--full", "--quiet")
VALUED = {"--model": str, "--machine": str, "--consistency": str, "--initial": str, "--report": str,
          "--time-limit": float, "--jobs": int, "--format": str}  # fmt: skip
CHOICES = {"--consistency": ("serializable", "strict-serializable", "snapshot-isolation"),
           "--format": FORMATS}  # fmt: skip


class Args:
    """What `fast_args` parsed: the attributes argparse's namespace would have."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def fast_args(argv: list[str]) -> Args | None:
    """`paxlab check`'s arguments without argparse, for the plain command lines (long
    options spelled out, one run of files); None for anything else, which argparse then
    parses (and explains). Why: argparse imports re, enum and gettext, about a fifth of
    the CPU of checking a 2,000-op history in its own process."""
    opts = dict(DEFAULTS)
    files: list[str] = []
    run_ended = False  # argparse takes one run of files: more after an option is an error
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if not a.startswith("-"):
            if run_ended and files:
                return None
            files.append(a)
            continue
        if files:
            run_ended = True
        name, eq, value = a.partition("=")
        if name in FLAGS and not eq:
            opts[name[2:]] = True
            continue
        conv = VALUED.get(name)
        if conv is None:
            return None  # -h, --help, abbreviations, --, unknown options: argparse
        if not eq:
            if i >= len(argv) or argv[i].startswith("-"):
                return None
            value = argv[i]
            i += 1
        if value not in CHOICES.get(name, (value,)):
            return None
        try:
            opts[name[2:].replace("-", "_")] = conv(value)
        except ValueError:
            return None
    if not files:
        return None
    return Args(histories=files, command="check", _run=run, **opts)


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
    if op["f"] == "read" and op.get("type") == "ok":  # a read of nothing has no output
        what = f"read -> {json.dumps(op.get('output'))}"
    elif r.get("model") == MACHINE:
        done = op.get("output") if op.get("type") == "ok" else op.get("error") or op.get("type")
        what += f" -> {json.dumps(done)}"
    return (f"{path}: NOT linearizable{key} process {op['process']} {what} "
            f"(index {op['index']}, line {op['line']}) cannot be placed after a "
            f"{len(r['prefix'])}-op linearizable prefix {tail}")  # fmt: skip


def _json_safe(r: dict) -> dict:
    out = dict(r)
    out["keys"] = {("null" if k is None else str(k)): v for k, v in r.get("keys", {}).items()}
    return out


def _event_verdict_line(path: str, r: dict) -> str:
    """One line for the set and append models."""
    v = r["valid"]
    if r["model"] == "set":
        tail = (f"({r['acknowledged']:,} of {r['attempted']:,} adds acknowledged, "
                f"{r['reads']} final read{'s' if r['reads'] != 1 else ''}, "
                f"{r.get('recovered_count', 0)} recovered)")  # fmt: skip
        if v is True:
            return f"{path}: set valid, nothing lost {tail}"
        if v == "unknown":
            return f"{path}: unknown, {r.get('error', 'undecided')} {tail}"
        parts = [f"{r[k + '_count']} {k} {json.dumps(r[k][:10])}"
                 for k in ("lost", "unexpected", "duplicated") if r[k + "_count"]]  # fmt: skip
        return f"{path}: set INVALID: {', '.join(parts)} {tail}"
    lin, el = r["checkers"]["linearizable"], r["checkers"]["elements"]
    tail = f"({r['ops']['total']:,} ops, {lin.get('keys_total', 0):,} keys)"
    if v is True:
        return f"{path}: append valid: linearizable, no element lost {tail}"
    parts = []
    if lin["valid"] is False:
        parts.append(_verdict_line("", lin).lstrip(": "))
    elif lin["valid"] != True:  # noqa: E712 - "unknown" is truthy
        parts.append(f"linearizability unknown ({lin.get('reason', 'undecided')})")
    if el["valid"] is False:
        parts.append(", ".join(f"{el[k + '_count']} {k}" for k in
                               ("lost", "duplicated", "unexpected") if el[k + "_count"]))  # fmt: skip
    elif el["valid"] != True:  # noqa: E712
        parts.append("elements unknown (no read succeeded)")
    word = "INVALID" if v is False else "unknown"
    return f"{path}: append {word}: {'; '.join(parts)} {tail}"


def detect_format(path: str) -> str:
    """EDN for a ``.edn`` name, JSONL for ``.jsonl``/``.json``; otherwise EDN for content
    that starts like EDN operation maps, a Jepsen text log when the start shows
    ``jepsen.util`` lines, else JSONL. A file that cannot be read is
    JSONL here: its reader then reports the error."""
    name = path.lower()
    if name.endswith(".edn"):
        return "edn"
    if name.endswith((".jsonl", ".json")):
        return "jsonl"
    from checker.edn import looks_like_edn  # here: the EDN library takes a while to import

    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return "jsonl"
    if looks_like_edn(head):
        return "edn"
    first = next((ln for ln in head.splitlines() if ln.strip()), "")
    if "jepsen.util" in head and not first.lstrip().startswith("{"):
        return "jepsen-log"
    return "jsonl"


def _default_model(path: str) -> str:
    """``kv`` when the history's ops have keys, else ``register``: judging a keyed history
    as one register would report a false anomaly. Keys are looked for in the first
    SNIFF_EVENTS events (our workloads key every op from the first one)."""
    from checker.history import HistoryError, iter_events
    from checker.native import keyed

    k = keyed(path, SNIFF_EVENTS)  # from the C reader's ops, which the check then reuses
    if k is not None:
        return "kv" if k else "register"
    try:
        for n, (_, ev) in enumerate(iter_events(path)):
            if ev.get("f") in ("apply", "query") and ev.get("process") != "nemesis":
                raise HistoryError("a state machine's history (apply/query): check it with "
                                   "--machine MODULE:CLASS")  # fmt: skip
            if ev.get("key") is not None and ev.get("process") != "nemesis":
                return "kv"
            if n >= SNIFF_EVENTS:
                break
    except HistoryError as e:
        if "state machine" in str(e):
            raise
        # any other: the check itself reports it, with its line
    return "register"


def _events(path: str, fmt: str) -> tuple[list[tuple[int, dict]], bool]:
    """(line, event) pairs of a history file in any format, and whether its ops are keyed."""
    from checker.edn import read_events
    from checker.history import iter_events
    from checker.jepsen_log import read_log

    if fmt == "edn":
        return read_events(path)
    if fmt == "jepsen-log":
        evs = read_log(path)
        if not evs:
            from checker.history import HistoryError

            raise HistoryError("no Jepsen operation lines (INFO jepsen.util - ...)")
        return [(ev["time"], ev) for ev in evs], False
    return list(iter_events(path)), False


def _judge_events(evs: list[tuple[int, dict]], model: str, args: argparse.Namespace,
                  initial: Any, prog: Any) -> dict:  # fmt: skip
    """The set or append verdict; the events' structure (pairing) is checked first."""
    from checker.history import iter_ops
    from checker.linearizability import check

    ops = list(iter_ops(iter(evs)))  # refuses a completion without an invocation, etc.
    counts = {"total": len(ops), "ok": 0, "fail": 0, "info": 0}
    for o in ops:
        counts[o.type] += 1
    events = [ev for _, ev in evs]
    if model == "set":
        from checker.history import HistoryError
        from checker.set_check import check_set

        adds = [o for o in ops if o.f == "add"]
        if not adds:
            raise HistoryError("no add operations: not a set-workload history")
        # the final reads are of the key the adds went to: "set" in ours, none in Jepsen's
        return {"model": "set", "ops": counts, **check_set(events, key=adds[0].key)}
    from checker.append_check import check_elements

    t0 = time.monotonic()
    ops.sort(key=lambda o: (o.call, o.line))
    lin = check(ops, "kv", initial, args.time_limit, args.full, prog, args.jobs)
    el = check_elements(events)
    vs = (lin["valid"], el["valid"])
    valid: Any = False if False in vs else True if vs == (True, True) else "unknown"
    return {"model": "append", "valid": valid, "ops": counts,
            "time_s": round(time.monotonic() - t0, 6),
            "checkers": {"linearizable": lin, "elements": el}}  # fmt: skip


def _judge(path: str, args: argparse.Namespace, initial: Any, prog: Any) -> tuple[dict, Any]:
    """One file's result (HistoryError when it cannot be judged) and its events, if read."""
    from checker.history import HistoryError, iter_ops
    from checker.linearizability import check, check_file

    fmt = detect_format(path) if args.format == "auto" else args.format
    model = args.model
    if model == MACHINE:
        from checker.machine_check import check_machine

        if fmt != "jsonl":
            raise HistoryError(f"--model machine reads JSONL histories, not {fmt}")
        r = check_machine(path, args.machine_class, initial, args.time_limit, prog)
        if r["ops"]["total"] == 0:
            raise HistoryError("no client operations to check (an empty history)")
        return r, None
    if model in TXN_MODELS:
        from checker.txn.cli import judge

        return judge(path, fmt, model, args.consistency or "serializable"), None
    if fmt == "jsonl" and model not in EVENT_MODELS:
        model = model or _default_model(path)
        r = check_file(path, model, initial, args.time_limit, args.full, prog, args.jobs)
        evs = None
    else:
        evs, keyed = _events(path, fmt)
        if model is None:
            model = "kv" if keyed else "register"
        elif keyed and model == "register":
            raise HistoryError(f"its ops have keys (independent keys or list-append): "
                               f"use --model kv, not {model}")  # fmt: skip
        if model in EVENT_MODELS:
            r = _judge_events(evs, model, args, initial, prog)
        else:
            ops = list(iter_ops(iter(evs)))  # keeps each op's line in the file
            ops.sort(key=lambda o: (o.call, o.line))
            r = check(ops, model, initial, args.time_limit, args.full, prog, args.jobs)
    if r["ops"]["total"] == 0:
        raise HistoryError("no client operations to check (an empty history)")
    return r, evs


def _one_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return (s[0] if s else type(e).__name__)[:300]


def run(args: argparse.Namespace) -> int:
    from checker.history import HistoryError
    from checker.linearizability import key_lines
    from checker.models import get_model, model_names

    if args.machine is not None and args.model in (None, MACHINE):
        from checker.machine_check import load_machine

        args.model = MACHINE
        try:
            args.machine_class = load_machine(args.machine)
        except HistoryError as e:
            sys.stderr.write(f"paxlab check: {_one_line(e)}\n")
            return 2
    elif args.model == MACHINE or args.machine is not None:
        sys.stderr.write("paxlab check: --model machine and --machine MODULE:CLASS go together\n")
        return 2
    if args.model is not None and args.model not in (*EVENT_MODELS, *TXN_MODELS, MACHINE):
        try:
            get_model(args.model)
        except ValueError:
            names = ", ".join([*model_names(), *EVENT_MODELS, *TXN_MODELS, MACHINE])
            sys.stderr.write(f"paxlab check: unknown model {args.model!r} (want {names})\n")
            return 2
    if args.consistency is not None and args.model not in TXN_MODELS:
        sys.stderr.write("paxlab check: --consistency is for --model list-append or rw-register\n")
        return 2
    try:
        initial: Any = None if args.initial == "null" else json.loads(args.initial)
    except (ValueError, RecursionError):
        sys.stderr.write(f"paxlab check: --initial is not valid JSON: {args.initial[:80]!r}\n")
        return 2
    if args.time_limit is not None and not args.time_limit > 0:
        sys.stderr.write("paxlab check: --time-limit must be positive\n")
        return 2
    sections: list[str] = []
    worst = 0  # 0 valid, 2 unknown or unreadable, 1 invalid (1 wins)
    for path in args.histories:
        prog = _Progress(path, sys.stderr, args.quiet)
        try:
            r, evs = _judge(path, args, initial, prog)
        except Exception as e:  # noqa: BLE001 - one file only: the next is still judged
            prog.done()
            if isinstance(e, HistoryError):
                msg = _one_line(e)
            elif isinstance(e, RecursionError):
                msg = "a value nested too deep for the checker"
            elif isinstance(e, MemoryError):
                msg = "out of memory"
            else:  # a checker bug must not hide the other files' verdicts either
                msg = f"internal error, please report: {type(e).__name__}: {_one_line(e)}"
            msg = msg if str(path) in msg else f"{path}: {msg}"
            sys.stderr.write(f"paxlab check: {msg}\n")
            sys.stderr.flush()
            if args.json:
                print(json.dumps({"file": path, "valid": "unknown", "error": msg}), flush=True)
            if worst != 1:
                worst = 2
            if args.report:
                import html  # only for a report: each import is start-up time of every check

                sections.append(f"<section><h2>{html.escape(path)}</h2>"
                                f"<p>not checked: {html.escape(msg)}</p></section>")  # fmt: skip
            continue
        prog.done()
        if args.json:
            print(json.dumps({"file": path, **_json_safe(r)}, default=str), flush=True)
        elif r.get("model") in EVENT_MODELS:
            print(_event_verdict_line(path, r), flush=True)
        elif r.get("model") in TXN_MODELS:
            from checker.txn.check import summary

            print(f"{path}: {summary(r)}", flush=True)
        else:
            print(_verdict_line(path, r), flush=True)
            if args.full:  # every key's verdict, undecided ones too
                print("\n".join(key_lines(r)), flush=True)
        if r["valid"] is False:
            worst = 1
        elif r["valid"] != True and worst != 1:  # noqa: E712 - "unknown" is truthy
            worst = 2
        if args.report:
            sections.append(_section(path, r, evs, args))
    if args.report:
        from checker.report import render_page

        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                fh.write(render_page(sections, title="paxlab check"))
        except OSError as e:
            sys.stderr.write(f"paxlab check: cannot write {args.report}: {e.strerror}\n")
            return 2
    return worst


def _section(path: str, r: dict, evs: Any, args: argparse.Namespace) -> str:
    """A report section: the anomaly view for linearizability, the counts otherwise."""
    from checker.history import iter_events, iter_ops
    from checker.models import get_model

    if r.get("model") in TXN_MODELS and r.get("valid") is False:
        from checker.txn.draw import render_txn_anomalies

        return f"<section>{render_txn_anomalies(r, path)}</section>"
    if r.get("model") in (*EVENT_MODELS, *TXN_MODELS):
        import html

        body = html.escape(json.dumps(_json_safe(r), indent=1, default=str)[:20000])
        return f"<section><h2>{html.escape(path)}</h2><pre>{body}</pre></section>"
    if r.get("model") == MACHINE:
        from checker.machine_check import machine_ops, model_for

        return _report_section(path, r, machine_ops(path), model_for(args.machine_class))
    model = get_model(r["model"])
    hist = None
    if r["valid"] is False:  # stream only the failing key's ops back in
        key = r.get("key")
        src = iter_events(path) if evs is None else iter(evs)
        hist = [o for o in iter_ops(src) if model.split_key(o) == key]
    return _report_section(path, r, hist, model)


def _report_section(path: str, r: dict, history: Any, model: Any) -> str:
    from checker.report import render_anomaly

    return render_anomaly(r, history if history is not None else [], model, title=path)
