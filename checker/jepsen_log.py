"""Old Jepsen text logs -> our JSONL history events (docs/history-format.md).

Jepsen's (Clojure) runs print every operation through ``jepsen.util`` as a log line::

    INFO  jepsen.util - 3	:invoke	:cas	[1 4]
    INFO  jepsen.util - 3	:fail	:cas	[1 4]
    INFO  jepsen.util - 4	:info	:write	:timed-out

Many published histories (Porcupine's etcd corpus among them) exist only in this form, so
``paxlab check --format jepsen-log`` reads them directly. Values are EDN: ``nil``, integers,
``[a b]`` vectors, ``:keywords`` (strings), strings. Lines that are not operations (other
loggers, nemesis chatter) are skipped.

Semantics follow Porcupine's reading of these logs: a ``:fail`` cas was executed and saw
another value (``"error": "mismatch"``); any other ``:fail`` did not happen; ``:info`` is
unknown and carries the invocation's value (the log line carries only the reason, such as
``:timed-out``). Positions are the log's line numbers, the only clock such logs have.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from checker.history import HistoryError, bounded_lines, value_error

_LINE = re.compile(
    r"jepsen\.util\s+-\s+(:?[\w-]+)\s+:(invoke|ok|fail|info)\s+:([\w-]+)(?:\s+(.*?))?\s*$"
)
_TOKEN = re.compile(r'\s*(\[|\]|\(|\)|"(?:[^"\\]|\\.)*"|[^\s\[\]()",]+)\s*,?')


def parse_edn(text: str) -> Any:
    """The small EDN subset Jepsen prints for register values: nil, true/false, numbers,
    keywords (as strings without the colon), strings and vectors/lists."""
    pos = 0
    stack: list[list] = [[]]
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read value {text!r}")
        tok = m.group(1)
        pos = m.end()
        if tok in ("[", "("):
            stack.append([])
        elif tok in ("]", ")"):
            if len(stack) < 2:
                raise ValueError(f"unbalanced ] in {text!r}")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(_atom(tok))
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError(f"cannot read value {text!r}")
    return stack[0][0]


def _atom(tok: str) -> Any:
    if tok == "nil":
        return None
    if tok in ("true", "false"):
        return tok == "true"
    if tok.startswith('"'):
        return json.loads(tok)
    if tok.startswith(":"):
        return tok[1:]
    try:
        return int(tok)
    except ValueError:
        pass
    try:
        return float(tok)
    except ValueError:
        return tok  # a bare symbol: keep its name


def _process(tok: str) -> Any:
    if tok.lstrip("-").isdigit():
        return int(tok)
    return tok.lstrip(":")


def events_from_log(lines: Iterable[str]) -> Iterator[dict]:
    """History events (docs/history-format.md) for each operation line of a Jepsen log, in order."""
    pending: dict[Any, dict] = {}
    index = 0
    for lineno, line in enumerate(lines, 1):
        m = _LINE.search(line)
        if m is None:
            continue
        proc_tok, typ, f, raw = m.groups()
        proc = _process(proc_tok)
        if proc == "nemesis":
            continue
        try:
            value = parse_edn(raw) if raw else None
        except ValueError as e:
            raise HistoryError(f"line {lineno}: {str(e)[:200]}") from None
        err = value_error(value)  # inf from 1e999, integers past 64 bits, deep nesting
        if err:
            raise HistoryError(f"line {lineno}: {err}")
        ev: dict[str, Any] = {"index": index, "time": lineno, "process": proc, "type": typ,
                              "f": f, "key": None}  # fmt: skip
        if typ == "invoke":
            if proc in pending:
                raise HistoryError(f"line {lineno}: process {proc} invoked again while its "
                                   f"operation from line {pending[proc]['time']} is pending")  # fmt: skip
            ev["value"] = value
            pending[proc] = ev
        else:
            inv = pending.pop(proc, None)
            if inv is None:
                raise HistoryError(f"line {lineno}: :{typ} without an invocation (process {proc})")
            if inv["f"] != f:
                raise HistoryError(f"line {lineno}: :{typ} :{f} completes a :{inv['f']} "
                                   f"invoked on line {inv['time']}")  # fmt: skip
            if typ == "info":
                ev["value"] = inv["value"]
                if isinstance(value, str):
                    ev["error"] = value
            else:
                ev["value"] = value
                if typ == "fail" and f == "cas":
                    ev["error"] = "mismatch"
        index += 1
        yield ev


def read_log(path: str | Path) -> list[dict]:
    """All events of a Jepsen log file; a HistoryError (one line) when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return list(events_from_log(bounded_lines(fh)))
    except OSError as e:
        raise HistoryError(f"cannot read {path}: {e.strerror}") from None


def main(argv: list[str] | None = None) -> int:
    """``python -m checker.jepsen_log LOG [OUT.jsonl]``: convert one log to JSONL."""
    args = sys.argv[1:] if argv is None else argv
    if not args or len(args) > 2:
        sys.stderr.write("usage: python -m checker.jepsen_log LOG [OUT.jsonl]\n")
        return 2
    try:
        events = read_log(args[0])
    except HistoryError as e:
        sys.stderr.write(f"{args[0]}: {e}\n")
        return 2
    text = "".join(json.dumps(ev) + "\n" for ev in events)
    if len(args) == 2:
        Path(args[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
