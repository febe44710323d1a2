"""Reading JSONL histories (docs/history-format.md) into paired operations.

A history file is a stream of events; checkers want operations: an invocation paired with
its completion. Pairing needs only the pending invocation of each process, so `iter_ops`
streams a file of any size with memory proportional to the number of processes, which is
what lets a million-operation history be split by key without holding it whole.

Every user mistake is a `HistoryError` whose message starts with ``line N:`` so that the
CLI can print it as one line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

try:  # several times faster than json on big histories; json is the fall-back
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads
from pathlib import Path
from typing import Any

TYPES = ("invoke", "ok", "fail", "info")
_TYPE_SET = frozenset(TYPES)
COMPLETIONS = ("ok", "fail", "info")


class HistoryError(ValueError):
    """Bad input: the message is one line, naming the line number when there is one."""


class Op:
    """One operation: an invocation and its completion.

    ``call`` / ``ret`` are positions on one time axis (the ``time`` field when every event
    has one, else the line number); ``ret`` is None when the outcome is unknown (``info``
    or no completion at all). ``type`` is the completion type, ``"info"`` when missing.
    ``value`` is the invocation's value, ``output`` the completion's (a read's result).
    """

    __slots__ = (
        "process",
        "f",
        "key",
        "value",
        "type",
        "output",
        "error",
        "call",
        "ret",
        "index",
        "ret_index",
        "line",
        "ret_line",
    )

    def __init__(
        self,
        process: Any,
        f: str,
        key: Any,
        value: Any,
        type: str,
        output: Any,
        error: Any,
        call: int,
        ret: int | None,
        index: int,
        ret_index: int | None,
        line: int,
        ret_line: int | None,
    ) -> None:
        self.process = process
        self.f = f
        self.key = key
        self.value = value
        self.type = type
        self.output = output
        self.error = error
        self.call = call
        self.ret = ret
        self.index = index
        self.ret_index = ret_index
        self.line = line
        self.ret_line = ret_line

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self) -> str:
        key = "" if self.key is None else f" {self.key!r}"
        out = "" if self.type != "ok" or self.f != "read" else f" -> {self.output!r}"
        return f"<{self.type} p{self.process} {self.f}{key} {self.value!r}{out} @{self.index}>"

    def __reduce__(self):  # compact pickling for worker processes and spill buckets
        return (Op, (self.process, self.f, self.key, self.value, self.type, self.output,
                     self.error, self.call, self.ret, self.index, self.ret_index, self.line,
                     self.ret_line))  # fmt: skip


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def parse_event(text: str, lineno: int) -> dict | None:
    """One JSON line -> event dict (None for a blank line), with the basic fields checked."""
    if not text.strip():
        return None
    try:
        ev = json.loads(text)
    except ValueError as e:
        raise HistoryError(f"line {lineno}: malformed JSON ({e.msg})") from None
    if not isinstance(ev, dict):
        raise HistoryError(f"line {lineno}: expected a JSON object, got {type(ev).__name__}")
    return check_event(ev, lineno)


def check_event(ev: dict, lineno: int) -> dict:
    t = ev.get("type")
    if t not in TYPES:
        raise HistoryError(f"line {lineno}: unknown type {t!r} (want invoke, ok, fail or info)")
    p = ev.get("process")
    if not (_is_int(p) or isinstance(p, str)):
        raise HistoryError(f"line {lineno}: process must be an integer or a string, got {p!r}")
    f = ev.get("f")
    if not isinstance(f, str):
        raise HistoryError(f"line {lineno}: f must be a string, got {f!r}")
    tm = ev.get("time")
    if tm is not None and not _is_int(tm):
        raise HistoryError(f"line {lineno}: time must be an integer, got {tm!r}")
    ix = ev.get("index")
    if ix is not None and not _is_int(ix):
        raise HistoryError(f"line {lineno}: index must be an integer, got {ix!r}")
    return ev


def _lines(source: str | Path | Iterable[str]) -> Iterator[str | bytes]:
    if isinstance(source, (str, Path)):
        try:
            fh = open(source, "rb")  # noqa: SIM115  (orjson validates UTF-8 itself)
        except OSError as e:
            raise HistoryError(f"cannot read {source}: {e.strerror}") from None
        with fh:
            yield from fh
    else:
        yield from source


def iter_events(source: str | Path | Iterable[str]) -> Iterator[tuple[int, dict]]:
    """(line number, event) for every non-blank line; raises HistoryError on bad lines.

    The common case is one C call to parse and a few type checks; anything unusual goes
    through `parse_event` for a precise message."""
    loads = _loads
    types = _TYPE_SET
    for lineno, text in enumerate(_lines(source), 1):
        try:
            ev = loads(text)
        except ValueError:
            ev = None
        if (
            ev.__class__ is dict
            and ev.get("type") in types
            and ev.get("f").__class__ is str
            and ev.get("process").__class__ in (int, str)
            and ev.get("time").__class__ in (int, type(None))
            and ev.get("index").__class__ in (int, type(None))
        ):
            yield lineno, ev
            continue
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise HistoryError(f"line {lineno}: not UTF-8 text") from None
        ev = parse_event(text, lineno)
        if ev is not None:
            yield lineno, ev


def iter_ops(
    events: Iterable[tuple[int, dict]], include_nemesis: bool = False, use_time: bool = True
) -> Iterator[Op]:
    """Pair invocations with completions, yielding each op when it completes.

    Ops still pending at the end are yielded last with type ``info`` (a missing completion
    is an unknown outcome). Positions come from ``time`` while every event has one; if an
    event lacks it, positions fall back to line numbers for the whole stream, which is only
    consistent if the fall-back happens before any op was yielded -- so a history that mixes
    timed and untimed events is rejected.
    """
    pending: dict[Any, Op] = {}
    timed: bool | None = None
    last_pos = None
    n = 0
    for lineno, ev in events:
        has_time = use_time and ev.get("time") is not None
        if timed is None:
            timed = has_time
        elif timed != has_time:
            raise HistoryError(f"line {lineno}: some events have a time field and some do not")
        pos = ev["time"] if timed else lineno
        if last_pos is not None and pos < last_pos and timed:
            pos = last_pos  # a clock that stepped back: keep the recorded order
        last_pos = pos
        p = ev["process"]
        t = ev["type"]
        index = ev.get("index", n)
        n += 1
        if p == "nemesis":
            if include_nemesis:
                yield Op(p, ev["f"], None, ev.get("value"), "info", None, None, pos, pos,
                         index, index, lineno, lineno)  # fmt: skip
            continue
        if t == "invoke":
            prev = pending.get(p)
            if prev is not None:
                raise HistoryError(
                    f"line {lineno}: process {p} invoked again while its operation "
                    f"from line {prev.line} is still pending"
                )
            pending[p] = Op(p, ev["f"], ev.get("key"), ev.get("value"), "info", None, None,
                            pos, None, index, None, lineno, None)  # fmt: skip
            continue
        op = pending.pop(p, None)
        if op is None:
            raise HistoryError(f"line {lineno}: {t} without an invocation (process {p})")
        if ev["f"] != op.f:
            raise HistoryError(
                f"line {lineno}: completion f {ev['f']!r} does not match "
                f"the invocation's {op.f!r} on line {op.line}"
            )
        if "key" in ev and ev["key"] != op.key:
            raise HistoryError(
                f"line {lineno}: completion key {ev['key']!r} does not match "
                f"the invocation's {op.key!r} on line {op.line}"
            )
        op.type = t
        op.output = ev.get("value")
        op.error = ev.get("error")
        op.ret_index = index
        op.ret_line = lineno
        op.ret = None if t == "info" else pos
        yield op
    for op in pending.values():
        yield op


def ops_from(source: Any, include_nemesis: bool = False) -> list[Op]:
    """Ops from a path, an iterable of JSON lines, a list of event dicts or a list of Ops."""
    if isinstance(source, list) and (not source or isinstance(source[0], Op)):
        return source
    if isinstance(source, list) and isinstance(source[0], dict):
        events = ((i, check_event(ev, i)) for i, ev in enumerate(source, 1))
    else:
        events = iter_events(source)
    ops = list(iter_ops(events, include_nemesis=include_nemesis))
    ops.sort(key=lambda o: (o.call, o.line))
    return ops


def load(path: str | Path, include_nemesis: bool = False) -> list[Op]:
    """All client operations of a history file, in invocation order."""
    return ops_from(Path(path), include_nemesis=include_nemesis)
