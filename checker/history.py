"""Reading JSONL histories (docs/history-format.md) into paired operations.

A history file is a stream of events; checkers want operations: an invocation paired with
its completion. Pairing needs only the pending invocation of each process, so `iter_ops`
streams a file of any size with memory proportional to the number of processes, which is
what lets a million-operation history be split by key without holding it whole.

Every user mistake is a `HistoryError` whose message starts with ``line N:`` so that the
CLI can print it as one line.
"""

from __future__ import annotations

import io
import math
import os

TYPE_CHECKING = False  # not `typing`'s: importing typing is start-up time of every check
if TYPE_CHECKING:  # (collections and functools too: a tenth of a quick check's CPU)
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any

TYPES = ("invoke", "ok", "fail", "info")
COMPLETIONS = ("ok", "fail", "info")


# Bounds on values, so that no history can crash the checker: deeper nesting would exhaust
# the recursion of the search and the reports; integers past 64 bits are what orjson would
# silently turn into (lossy, so possibly equal) floats, and what Jepsen cannot write.
MAX_DEPTH = 100
MAX_LINE_BYTES = 64 << 20  # far above the store's 4 MiB frames: only a broken file has more
INT_MIN, INT_MAX = -(2**63), 2**64 - 1
# Values the fast path takes as they are. orjson reads an integer past 64 bits as a (lossy)
# float, so a value holding any float, or nesting, goes through the exact slow path.
_PLAIN = frozenset((int, str, bool, type(None)))


def _plain2(v: list) -> bool:
    """A list of plain values or of lists of them (a cas of lists: ``[[1], [1, 2]]``), or
    of transaction micro-ops, whose last field may be a list of plain values
    (``[["append", "x", 1], ["r", "y", [1, 2]]]``)."""
    for x in v:
        if x.__class__ is list:
            if not _PLAIN.issuperset(map(type, x)):
                if len(x) != 3 or not _PLAIN.issuperset(map(type, x[:2])):
                    return False
                y = x[2]
                if y.__class__ is not list or not _PLAIN.issuperset(map(type, y)):
                    return False
        elif x.__class__ not in _PLAIN:
            return False
    return True


class HistoryError(ValueError):
    """Bad input: the message is one line, naming the line number when there is one."""


class _Refused(Exception):
    """A number the JSON decoder's hooks refuse (kept apart from the decoder's ValueError)."""


def _parse_int(s: str) -> int:
    if len(s.lstrip("-")) > 20:
        raise _Refused(f"integer with {len(s.lstrip('-'))} digits (at most 64 bits)")
    n = int(s)
    if not INT_MIN <= n <= INT_MAX:
        raise _Refused(f"integer {s} does not fit in 64 bits")
    return n


def _parse_float(s: str) -> float:
    x = float(s)
    if not math.isfinite(x):
        raise _Refused(f"number {s[:30]} is out of range (not finite)")
    return x


def _parse_constant(s: str) -> Any:
    raise _Refused(f"{s} is not a JSON number (non-finite values are refused)")


_decoder_cache: list = []  # [the decoder, its scanner], built on first use


def _json_decoder() -> Any:
    """The strict decoder (the hooks above). Built on first use: importing json (and with
    it re and enum) was a fifth of a `paxlab check` that the C reader
    (`checker.native.read_ops`) now reads without it."""
    if not _decoder_cache:
        import json

        d = json.JSONDecoder(
            parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
        _decoder_cache.extend((d, d.scan_once))
    return _decoder_cache[0]


def __getattr__(name: str) -> Any:
    if name == "_DECODER":  # the decoder by its old name, for tests that compare with it
        return _json_decoder()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# orjson parses a history line about 4 times faster than json, but importing it costs about
# 9 ms (it imports dataclasses, uuid, platform): more than it saves on fewer than some 5,000
# lines, and for one small file `paxlab check`'s start-up is most of its time. So files are
# parsed with the strict decoder above until this process has read this many bytes (this
# file included) with it; from then on, and for streams, with orjson.
ORJSON_MIN_BYTES = 1 << 20
_strict_bytes = 0  # bytes this process has parsed with the strict decoder
_orjson_loads: Callable[[Any], Any] | None = None


def _strict_loads(text: str | bytes) -> Any:
    """The fast path's parser for small files: the strict decoder's scanner, with its hooks, which
    the slow path uses too, so both accept the same lines; None for what only the slow path
    may explain (leading whitespace included). The scanner, not ``decode``: that one's two
    whitespace regexes were 18% of parsing a line."""
    if text.__class__ is bytes:
        text = text.decode("utf-8")
    _scan = _decoder_cache[1] if _decoder_cache else (_json_decoder(), _decoder_cache[1])[1]
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError, _Refused, RecursionError):
        return None
    if end != len(text) and text[end:].strip(" \t\n\r"):
        return None  # something after the value
    return value


def _loads_for(source: Any) -> Callable[[Any], Any]:
    """The line parser for ``source``: see `ORJSON_MIN_BYTES`."""
    global _strict_bytes, _orjson_loads
    if _orjson_loads is None and isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
        except OSError:
            size = ORJSON_MIN_BYTES  # not a regular file: its size says nothing
        if _strict_bytes + size < ORJSON_MIN_BYTES:
            _strict_bytes += size
            return _strict_loads
    if _orjson_loads is None:
        try:
            from orjson import loads
        except ImportError:  # pragma: no cover - a dependency; json is the fall-back
            return _strict_loads
        _orjson_loads = loads
    return _orjson_loads


def depth_error(value: Any, limit: int = MAX_DEPTH, start: int = 1) -> str | None:
    """A message when ``value`` nests lists/dicts deeper than ``limit``, else None (``start``
    is the depth of ``value`` itself: 0 for an event, whose fields are at depth 1).

    Iterative, so that the check itself cannot overflow the stack."""
    stack = [(value, start)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list):
            continue
        if d > limit:
            return f"value nested more than {limit} deep"
        stack.extend((x, d + 1) for x in v if isinstance(x, (list, dict)))
    return None


def value_error(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """A message for a value no history may hold (too deep, a non-finite number, an integer
    past 64 bits, a non-JSON type), else None. For events that did not come from our JSON
    reader (lists of dicts, other formats)."""
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if v is None or isinstance(v, (str, bool)):
            continue
        if isinstance(v, int):
            if not INT_MIN <= v <= INT_MAX:
                return "integer does not fit in 64 bits"
            continue
        if isinstance(v, float):
            if not math.isfinite(v):
                return f"non-finite number {v}"
            continue
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                return "object keys must be strings"
            v = list(v.values())
        elif not isinstance(v, list):
            return f"unsupported value type {type(v).__name__}"
        if d > limit:
            return f"value nested more than {limit} deep"
        stack.extend((x, d + 1) for x in v)
    return None


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
        ev = _json_decoder().decode(text)
    except _Refused as e:
        raise HistoryError(f"line {lineno}: {e}") from None
    except RecursionError:
        raise HistoryError(f"line {lineno}: value nested more than {MAX_DEPTH} deep") from None
    except ValueError as e:
        raise HistoryError(f"line {lineno}: malformed JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(ev, dict):
        raise HistoryError(f"line {lineno}: expected a JSON object, got {type(ev).__name__}")
    err = depth_error(ev, MAX_DEPTH, start=0)
    if err:
        raise HistoryError(f"line {lineno}: {err}")
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
    if ix is not None and not (_is_int(ix) and ix >= 0):
        raise HistoryError(f"line {lineno}: index must be a non-negative integer, got {ix!r}")
    k = ev.get("key")
    if k is not None and not (_is_int(k) or isinstance(k, str)):
        raise HistoryError(f"line {lineno}: key must be a string, an integer or null, got {k!r}")
    return ev


def _lines(source: str | os.PathLike | Iterable[str]) -> Iterator[str | bytes]:
    if isinstance(source, (str, os.PathLike)):
        try:
            fh = open(source, "rb")  # noqa: SIM115  (orjson validates UTF-8 itself)
        except OSError as e:
            raise HistoryError(f"cannot read {source}: {e.strerror}") from None
        with fh:
            yield from bounded_lines(fh)
    else:
        yield from source


def bounded_lines(fh: Any, limit: int = MAX_LINE_BYTES) -> Iterator[Any]:
    """The lines of a file opened for reading, refusing one longer than ``limit``: a file
    without newlines (``/dev/zero``, a corrupted file) must not be read whole into memory."""

    def read() -> Any:
        return fh.readline(limit + 1)

    for lineno, line in enumerate(iter(read, line_end(fh)), 1):
        if len(line) > limit:
            raise HistoryError(f"line {lineno}: longer than {limit >> 20} MiB")
        yield line


def line_end(fh: Any) -> Any:
    """What readline returns at the end of ``fh`` (bytes or text)."""
    return "" if isinstance(fh, io.TextIOBase) else b""


def index_error(ix: Any, n: int, lineno: int, indexed: bool) -> HistoryError:
    """The error for event number ``n`` (from 0) whose index is ``ix``: a history file's
    indices count 0, 1, 2, ... on every event, or are absent from every event."""
    if ix is None or not indexed:
        return HistoryError(f"line {lineno}: some events have an index and some do not")
    what = "a duplicate" if ix < n else "indices missing"
    return HistoryError(f"line {lineno}: index {ix} where {n} was expected ({what})")


def checked_indices(events: Iterable[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
    """Pass events through, refusing duplicate, missing or out-of-order indices."""
    indexed = None
    for n, (lineno, ev) in enumerate(events):
        ix = ev.get("index")
        if indexed is None:
            indexed = ix is not None
        if ix != (n if indexed else None):
            raise index_error(ix, n, lineno, indexed)
        yield lineno, ev


def iter_events(source: str | os.PathLike | Iterable[str]) -> Iterator[tuple[int, dict]]:
    """(line number, event) for every non-blank line; raises HistoryError on bad lines.

    The common case is one C call to parse and a few type checks; anything unusual goes
    through `parse_event` for a precise message. Indices, when present, must count 0, 1,
    2, ... (a duplicate or a gap means lines were lost, repeated or reordered)."""
    loads = _loads_for(source)
    n = 0
    indexed = None
    types = TYPES  # a tuple: "in" must not hash an unhashable type value
    int_none = (int, type(None))
    plain = _PLAIN
    key_types = (str, int, type(None))
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
            and ev.get("time").__class__ in int_none
            and ev.get("index").__class__ in int_none
            and ev.get("key").__class__ in key_types
            and (
                (v := ev.get("value")).__class__ in plain
                or (v.__class__ is list and (plain.issuperset(map(type, v)) or _plain2(v)))
            )
            # a line too short to nest deeper than allowed needs no bracket count
            and (
                len(text) <= 2 * MAX_DEPTH
                or text.count(b"[" if text.__class__ is bytes else "[")
                + text.count(b"{" if text.__class__ is bytes else "{")
                <= MAX_DEPTH
            )
        ):
            ix = ev.get("index")
            if indexed is None:
                indexed = ix is not None
            if ix != (n if indexed else None):
                raise index_error(ix, n, lineno, indexed)
            n += 1
            yield lineno, ev
            continue
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise HistoryError(f"line {lineno}: not UTF-8 text") from None
        ev = parse_event(text, lineno)
        if ev is not None:
            ix = ev.get("index")
            if indexed is None:
                indexed = ix is not None
            if ix != (n if indexed else None):
                raise index_error(ix, n, lineno, indexed)
            n += 1
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
    ops = None
    if isinstance(source, list) and isinstance(source[0], dict):
        events = ((i, check_event(ev, i)) for i, ev in enumerate(source, 1))
    else:
        if not include_nemesis and isinstance(source, (str, os.PathLike)):
            from checker.native import read_ops  # the C reader, when it takes the file

            ops = read_ops(source)
        events = iter_events(source)
    if ops is None:
        ops = list(iter_ops(events, include_nemesis=include_nemesis))
        ops.sort(key=lambda o: (o.call, o.line))
    return ops


def load(path: str | os.PathLike, include_nemesis: bool = False) -> list[Op]:
    """All client operations of a history file, in invocation order."""
    return ops_from(os.fspath(path), include_nemesis=include_nemesis)
