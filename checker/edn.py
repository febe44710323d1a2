"""Jepsen's EDN histories (``history.edn``, Knossos test data) -> our history events.

Jepsen writes a history as EDN operation maps, one per line::

    {:type :invoke, :f :cas, :value [1 2], :process 3, :time 1200345, :index 10}

and Knossos's test data wraps such maps in one vector or list (``[{...} {...}]``). Both
shapes are read here. The fields map one to one onto the JSONL history format:
``:process`` (an integer, or ``:nemesis``), ``:type`` (``:invoke``/``:ok``/``:fail``/
``:info``), ``:f``, ``:value``, ``:time``, ``:index``, ``:error``; keywords become strings.
Shapes understood:

- register (``:read``/``:write``) and cas-register (``:cas`` with ``[expected new]``);
- independent keys (``jepsen.independent``): when the first read, write or cas carries a
  ``[key value]`` tuple (a read invocation ``[k nil]``), every client op is split into our
  ``key`` and ``value``, and the history is checked per key (model ``kv``);
- list-append (Elle's ``:txn`` of ``[:append k v]`` / ``[:r k list]`` micro-ops): a
  transaction of one micro-op becomes an ``append`` or ``read`` of key ``k`` (model
  ``kv``); a transaction of several is refused with one line pointing to the transactional
  checker (``--model list-append``, checker.txn, which reads transactions whole:
  ``read_events(path, keep_txn=True)``).

A ``:fail`` means the op did not happen (Knossos's reading), unless it says
``:error :mismatch``, which our models take as an executed cas that saw another value.

Parsing is ``edn_format``'s. A small splitter cuts the text into top-level forms first,
which gives every error a line number, bounds nesting before the parser sees it, and lets
forms be parsed in batches (the parser has a large fixed cost per call).
"""

from __future__ import annotations

import datetime
import fractions
import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import edn_format
from edn_format import Char, Keyword, Symbol
from edn_format.edn_lex import EDNDecodeError

from checker.history import (
    INT_MAX,
    INT_MIN,
    MAX_DEPTH,
    HistoryError,
    check_event,
    checked_indices,
)

BATCH = 256  # forms per parser call
MAX_EDN_BYTES = 2 << 30  # an EDN history is read whole; /dev/zero must not be

# Jepsen's op records print as tagged maps in some versions: read them as the map.
for _tag in ("jepsen.history.Op", "knossos.op.Op", "jepsen.history.Op."):
    edn_format.add_tag(_tag, lambda m: m)

_TOKEN = re.compile(
    r"""(?P<ws>[\s,]+)
      | (?P<comment>;[^\n]*)
      | (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<badstr>")
      | (?P<char>\\(?:newline|space|tab|return|formfeed|backspace|u[0-9a-fA-F]{4}|.))
      | (?P<discard>\#_)
      | (?P<open>\#\{|[\[({])
      | (?P<close>[\])}])
      | (?P<tag>\#[A-Za-z][^\s,\[\](){}";]*)
      | (?P<atom>[^\s,\[\](){}";\\]+)
    """,
    re.VERBOSE | re.DOTALL,
)


_EDN_START = re.compile(r"[\[(]?\s*(\{\s*:|#jepsen|#knossos)")


def looks_like_edn(head: str) -> bool:
    """Does the start of a file look like EDN operation maps (``{:type ...``), bare or in
    a vector or list? Comment lines (``;``) are skipped."""
    text = "\n".join(ln for ln in head.splitlines() if not ln.lstrip().startswith(";"))
    return _EDN_START.match(text.lstrip()) is not None


_CLOSER = {"[": "]", "(": ")", "{": "}", "#{": "}"}


def forms(text: str) -> Iterator[tuple[int, str]]:
    """(line, text) of every operation form: the top-level forms, or the elements of a
    top-level vector or list that wraps them all. Raises HistoryError on unbalanced or
    mismatched brackets, an unterminated string or nesting deeper than MAX_DEPTH."""
    line = 1
    pos = 0
    stack: list[str] = []  # the closing brackets expected, innermost last
    base: int | None = None  # nesting at which operation forms start (1 inside a wrapper)
    start = start_line = -1
    wrapped_done = False
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the atom alternative matches anything else
            raise HistoryError(f"line {line}: cannot read EDN here")
        kind = m.lastgroup
        tok = m.group()
        pos = m.end()
        if kind == "badstr":
            raise HistoryError(f"line {line}: unterminated string")
        if kind in ("ws", "comment"):
            line += tok.count("\n")
            continue
        if wrapped_done:
            raise HistoryError(f"line {line}: more data after the history's closing bracket")
        if base is None:
            base = 1 if tok in ("[", "(") else 0
            if base == 1:
                stack.append(_CLOSER[tok])
                continue
        if len(stack) == base and start < 0:  # a new form begins
            if kind == "close":
                if base == 1 and tok == stack[0]:
                    stack.pop()
                    wrapped_done = True
                    continue
                raise HistoryError(f"line {line}: unbalanced {tok}")
            start, start_line = m.start(), line
        if kind == "open":
            stack.append(_CLOSER[tok])
            if len(stack) - base > MAX_DEPTH + 1:  # the op map itself is one level
                raise HistoryError(f"line {start_line}: value nested more than {MAX_DEPTH} deep")
        elif kind == "close":
            if len(stack) <= base or stack[-1] != tok:
                want = f"{stack[-1]} expected" if len(stack) > base else "nothing open"
                raise HistoryError(f"line {line}: unbalanced {tok} ({want})")
            stack.pop()
        line += tok.count("\n")
        if kind in ("tag", "discard"):
            continue  # the form goes on: the tag applies to the next one
        if len(stack) == base:
            form = text[start:pos]
            start = -1
            if not form.startswith("#_"):
                yield start_line, form
    if base == 1 and not wrapped_done:
        raise HistoryError(f"line {line}: the history's opening bracket is never closed")
    if stack or start >= 0:
        raise HistoryError(f"line {start_line if start >= 0 else line}: unbalanced brackets")


# The plain subset of EDN that Jepsen's op maps are almost always made of: maps, vectors,
# lists, nil, booleans, decimal integers, keywords and strings without escapes. Such a form
# is read here directly (two orders of magnitude faster than edn_format's parser, whose
# fixed cost per value dominates); anything else (floats, sets, tags, symbols, escapes,
# big or suffixed numbers, duplicate keys) goes to edn_format, the reference. A test
# checks that both readings agree.
# A whole form made only of brackets, escape-free strings and atoms without ``#``, ``;`` or
# ``\`` (atomic groups: no backtracking on a long line that fails).
_PLAIN_FORM = re.compile(r'[\s,]*+(?:(?>[{}\[\]()]|"[^"\\]*"|[^\s,{}\[\]()"\\;#]++)[\s,]*+)*+')
_PLAIN_TOKEN = re.compile(r'[{}\[\]()]|"[^"\\]*"|[^\s,{}\[\]()"\\;#]+')
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")  # at most 18 digits: inside 64 bits
_PLAIN_KEYWORD = re.compile(r":[A-Za-z*!_?<>=.+-][\w*!_?<>=.+/:-]*")
_NOT_PLAIN = object()
_WORDS = {"nil": None, "true": True, "false": False}


def read_plain(form: str) -> Any:
    """The value of a form in the plain subset (keywords as their names, maps as dicts),
    or ``_NOT_PLAIN`` when the form needs the full EDN reader."""
    if _PLAIN_FORM.fullmatch(form) is None:
        return _NOT_PLAIN
    stack: list[list] = [[]]
    kinds: list[str] = []
    for t in _PLAIN_TOKEN.findall(form):
        c = t[0]
        if c in "{[(":
            stack.append([])
            kinds.append(c)
            if len(kinds) > MAX_DEPTH + 1:
                return _NOT_PLAIN
            continue
        if c in "}])":
            if not kinds or _CLOSER[kinds[-1]] != t:
                return _NOT_PLAIN
            items = stack.pop()
            if kinds.pop() == "{":
                keys = items[0::2]
                if len(items) % 2 or len(set(keys)) != len(keys):
                    return _NOT_PLAIN
                if not all(k.__class__ is str for k in keys):
                    return _NOT_PLAIN
                v: Any = dict(zip(keys, items[1::2], strict=True))
            else:
                v = items
        elif c == '"':
            v = t[1:-1]
        elif c == ":":
            if _PLAIN_KEYWORD.fullmatch(t) is None:
                return _NOT_PLAIN
            v = t[1:]
        elif t in _WORDS:
            v = _WORDS[t]
        elif _PLAIN_INT.fullmatch(t) is not None:
            v = int(t)
        else:
            return _NOT_PLAIN
        stack[-1].append(v)
    if kinds or len(stack[0]) != 1:
        return _NOT_PLAIN
    return stack[0][0]


def _plain_lines(text: str) -> list[tuple[int, dict]] | None:
    """Every op of a file with one plain op map per line (Jepsen's history.edn), or None
    when any line is something else (a wrapper, a comment, a tag...)."""
    out = []
    for ln, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s:
            continue
        if s[0] != "{":
            return None
        v = read_plain(s)
        if v is _NOT_PLAIN:
            return None
        out.append((ln, v))
    return out


def _parse_batch(batch: list[tuple[int, str]]) -> list[tuple[int, Any]]:
    """The plain forms directly; the others through edn_format (see `_parse_full`)."""
    out: list[tuple[int, Any]] = []
    rest: list[tuple[int, str]] = []
    for ln, f in batch:
        v = read_plain(f)
        if v is _NOT_PLAIN:
            rest.append((ln, f))
            out.append((ln, _NOT_PLAIN))
        else:
            out.append((ln, v))
    if not rest:
        return out
    full = iter(_parse_full(rest))
    return [(ln, next(full)[1] if v is _NOT_PLAIN else v) for ln, v in out]


def _parse_full(batch: list[tuple[int, str]]) -> list[tuple[int, Any]]:
    """Parse forms in one parser call; on any trouble, form by form for the line."""
    try:
        vals = edn_format.loads_all("\n".join(f for _, f in batch))
        if len(vals) == len(batch):
            return [(ln, v) for (ln, _), v in zip(batch, vals, strict=True)]
    except Exception:  # noqa: BLE001 - the loop below names the bad form
        pass
    out = []
    for ln, f in batch:
        try:
            out.append((ln, edn_format.loads(f)))
        except EDNDecodeError as e:
            raise HistoryError(f"line {ln}: malformed EDN ({_short(e)})") from None
        except NotImplementedError as e:  # an unknown #tag
            raise HistoryError(f"line {ln}: unsupported EDN ({_short(e)})") from None
        except Exception as e:  # noqa: BLE001 - the parser's own errors vary (#uuid true)
            raise HistoryError(f"line {ln}: malformed EDN ({_short(e)})") from None
    return out


def _short(e: BaseException) -> str:
    s = str(e).splitlines()[0] if str(e) else type(e).__name__
    return s[:120]


def to_json(v: Any, ln: int) -> Any:
    """An EDN value as the JSON-like value our checkers compare (keywords become strings,
    sets sorted lists); refuses what a history may not hold."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        if not INT_MIN <= v <= INT_MAX:
            raise HistoryError(f"line {ln}: integer does not fit in 64 bits")
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise HistoryError(f"line {ln}: non-finite number {v} (refused)")
        return v
    if isinstance(v, Keyword | Symbol):
        return v.name
    if isinstance(v, Char):
        return str(v)
    if isinstance(v, Sequence):  # vectors and lists (strings were handled above)
        return [to_json(x, ln) for x in v]
    if isinstance(v, frozenset):
        items = [to_json(x, ln) for x in v]
        return sorted(items, key=lambda x: (str(type(x)), repr(x)))
    if isinstance(v, Mapping):
        return {_key_name(k): to_json(x, ln) for k, x in v.items()}
    if isinstance(v, (datetime.datetime, datetime.date, uuid.UUID)):
        return str(v)
    if isinstance(v, fractions.Fraction):
        raise HistoryError(f"line {ln}: ratio {v} (refused: not a JSON number)")
    raise HistoryError(f"line {ln}: unsupported EDN value of type {type(v).__name__}")


def _key_name(k: Any) -> str:
    if isinstance(k, Keyword | Symbol):
        return k.name
    return str(k)


_TUPLE_FS = ("read", "write", "cas")


def _is_tuple(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2


def _looks_independent(ev: dict) -> bool:
    """Is this read/write/cas invocation's value a jepsen.independent ``[key value]``?"""
    v = ev.get("value")
    if not _is_tuple(v) or not isinstance(v[0], (int, str)) or isinstance(v[0], bool):
        return False
    if ev["f"] == "read":
        return v[1] is None
    if ev["f"] == "cas":
        return _is_tuple(v[1])
    return True  # a write of a [k v] pair: plain writes of pairs are rare in Jepsen tests


def _txn(ev: dict, ln: int) -> None:
    """A list-append transaction of one micro-op becomes that op; more are refused."""
    mops = ev.get("value")
    if not isinstance(mops, list) or not all(isinstance(m, list) and len(m) == 3 for m in mops):
        raise HistoryError(f"line {ln}: txn value must be a list of [f key value] micro-ops")
    if len(mops) != 1:
        raise HistoryError(
            f"line {ln}: a transaction of {len(mops)} micro-ops: list-append transactions need "
            "the transactional checker (Elle-style): use --model list-append"
        )
    f, k, v = mops[0]
    if f in ("r", "read"):
        ev["f"], ev["key"], ev["value"] = "read", k, v
    elif f == "append":
        ev["f"], ev["key"], ev["value"] = "append", k, [v]
    else:
        raise HistoryError(f"line {ln}: unsupported micro-op {f!r} (want append or r)")


def _event(m: Any, ln: int, plain: bool = False, keep_txn: bool = False) -> dict:
    """An op map as a history event (``plain``: already JSON-like, from `read_plain`);
    ``keep_txn`` leaves transactions whole, for the transactional checker."""
    if not isinstance(m, Mapping):
        raise HistoryError(f"line {ln}: expected an operation map {{:type ...}}, got {_what(m)}")
    ev = m if plain else to_json(m, ln)
    if (
        ev.get("f") is None
        and isinstance(ev.get("value"), list)
        and ev["value"]
        and all(isinstance(x, list) for x in ev["value"])
    ):
        ev["f"] = "txn"  # Elle's test histories leave :f out of list-append transactions
    if ev.get("f") == "txn" and ev.get("process") != "nemesis" and not keep_txn:
        _txn(ev, ln)
    if "process" not in ev:
        raise HistoryError(f"line {ln}: op has no :process")
    if "type" not in ev:
        raise HistoryError(f"line {ln}: op has no :type")
    return ev


def _what(v: Any) -> str:
    if isinstance(v, (Keyword, Symbol)):
        return f"the symbol {v.name}"
    if isinstance(v, Sequence) and not isinstance(v, str):
        return "a vector or list"
    return f"a {type(v).__name__}"


def read_events(path: str | Path, keep_txn: bool = False) -> tuple[list[tuple[int, dict]], bool]:
    """(line, event) pairs of an EDN history file, and whether its ops have keys
    (independent keys or list-append micro-ops: check it with model ``kv``).

    Every event passes the same checks as a JSONL line (types, indices); a HistoryError
    names the line of the first problem. A history without ``:time`` is ordered by its
    events' positions (``time`` 0, 1, 2, ...), which stays exact when several ops share a
    line. ``keep_txn``: transactions stay ``f: "txn"`` with their micro-ops (for
    checker.txn) instead of becoming single reads and appends."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 20)
            if b"\x00" not in raw:  # a binary file (or /dev/zero) is refused below, early
                raw += fh.read(MAX_EDN_BYTES + 1 - len(raw))
    except OSError as e:
        raise HistoryError(f"cannot read {path}: {e.strerror}") from None
    if len(raw) > MAX_EDN_BYTES:
        raise HistoryError(f"larger than {MAX_EDN_BYTES >> 30} GiB: convert it to JSONL first")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        ln = raw.count(b"\n", 0, e.start) + 1
        raise HistoryError(f"line {ln}: not UTF-8 text") from None
    if "\x00" in text:
        ln = text.count("\n", 0, text.index("\x00")) + 1
        raise HistoryError(f"line {ln}: a NUL byte: not an EDN text file")
    events: list[tuple[int, dict]] = []
    plain = _plain_lines(text)
    if plain is not None:  # the common case, read directly
        events = [(ln, _event(v, ln, True, keep_txn)) for ln, v in plain]
    else:
        batch: list[tuple[int, str]] = []
        for item in forms(text):
            batch.append(item)
            if len(batch) >= BATCH:
                events.extend((ln, _event(v, ln, False, keep_txn)) for ln, v in _parse_batch(batch))
                batch = []
        if batch:
            events.extend((ln, _event(v, ln, False, keep_txn)) for ln, v in _parse_batch(batch))
    independent = False
    keyed = False
    for _, ev in events:
        if isinstance(ev.get("process"), int) and ev.get("type") == "invoke":
            if ev.get("key") is not None:
                keyed = True  # a list-append micro-op
                break
            if ev.get("f") in _TUPLE_FS:
                independent = keyed = _looks_independent(ev)
                break
    untimed = all(ev.get("time") is None for _, ev in events)
    out = []
    for n, (ln, ev) in enumerate(events):
        if untimed:
            ev["time"] = n
        if independent and isinstance(ev.get("process"), int):
            v = ev.get("value")
            if _is_tuple(v):
                ev["key"], ev["value"] = v[0], v[1]
            elif ev.get("type") == "invoke":
                raise HistoryError(
                    f"line {ln}: expected a [key value] tuple (jepsen.independent), got {v!r}"
                )
        out.append((ln, check_event(ev, ln)))
    return list(checked_indices(out)), keyed
