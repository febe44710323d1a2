"""The compiled search (`checker/_native.c`): which sub-histories it takes, and the bridge.

Why a compiled core: on a calm 2,000-op kv history the interpreted search loop was most of
a `paxlab check`'s CPU once start-up was cut. The C search is the Python one
(`linearizability.search_steps`) step for step: same candidate order, greedy steps,
dead-end test, memo, unread-state abstraction and yield points, so it explores the same
configurations and returns the same verdict, failing op and prefix. The Python search
stays the reference and the fallback: ``PAXLAB_PURE=1`` selects it everywhere, and it
takes every sub-history `native_steps` declines (an indeterminate op, a model other than
register / kv, appends with values other than strings, a window of concurrency wider than
the C search keeps, or a build without a compiler).
"""

from __future__ import annotations

import os
from stat import S_ISREG

from checker.models import KV, UNREAD_STR, Register

TYPE_CHECKING = False  # not `typing`'s: importing typing is start-up time of every check
if TYPE_CHECKING:
    from collections.abc import Generator
    from typing import Any

try:
    from checker import _native
except ImportError:  # no compiler at install time: the pure-Python search does it all
    _native = None

READ_MAX_BYTES = 64 << 20  # larger files are streamed by the Python reader (memory)
F_READ, F_WRITE, F_CAS_OK, F_CAS_MISMATCH, F_APPEND = 0, 1, 2, 3, 4
_MODELS = (Register, KV)


def available() -> bool:
    """True when the compiled search is built and not switched off (``PAXLAB_PURE=1``)."""
    return _native is not None and not os.environ.get("PAXLAB_PURE")


def read_ops(path: str | os.PathLike) -> list | None:
    """A history file's ops as `history.iter_ops(history.iter_events(path))` yields them,
    sorted as `history.ops_from` sorts them (by call, then line), read in C, or None: the file is not in the shape the C reader takes (escapes in strings,
    floats, objects as values, ...), it would be refused (the Python reader says why), or
    it is large (the Python reader streams it). Why: on a 2,000-op history, reading was
    half of the check once the search was compiled."""
    if not available():
        return None
    try:
        st = os.stat(path)
        stamp = (os.fspath(path), st.st_size, st.st_mtime_ns, st.st_ino)
        if _last and _last[0] == stamp:
            return list(_last[1])
        if st.st_size > READ_MAX_BYTES or not S_ISREG(st.st_mode):
            return None  # large (streamed), or /dev/zero, a pipe: the Python reader's bounds
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    from checker.history import Op

    ops = _native.read_ops(data, Op)
    _last[:] = [stamp, ops] if ops is not None else []
    return None if ops is None else list(ops)


_last: list = []  # [(path, size, mtime, inode), ops]: the CLI's model sniff, then its check


def keyed(path: str | os.PathLike, first_events: int) -> bool | None:
    """Has an op among the file's first ``first_events`` + 1 events a key (the CLI's
    default model: `cli._default_model`)? None when the C reader does not take the file.
    A completion's key is its invocation's (the reader declines a file where they differ),
    and an invocation comes before its completion, so looking at invocations suffices."""
    ops = read_ops(path)
    if ops is None or any(o.index is None for o in ops):
        return None
    return any(o.key is not None and o.index <= first_events for o in ops)


def _encode(fs: list[str], args: list, outs: list, init: Any) -> tuple | None:
    """(f codes, A, B, O, init, strmode) for `_native.new`, or None when not covered.

    A is a write's or append's value or a cas's expected one, B a cas's new value, O a
    read's output. Without appends every value becomes an id, equal ids for equal values
    (Python's equality, as the search's state interning has it); with appends every value
    must be a string or null and goes as it is (the C search concatenates)."""
    m = len(fs)
    codes = bytearray(m)
    a: list = [0] * m
    b: list = [0] * m
    o: list = [0] * m
    for n, (f, arg, out) in enumerate(zip(fs, args, outs, strict=True)):
        if f == "read":
            codes[n] = F_READ
            o[n] = out
        elif f == "write":
            codes[n] = F_WRITE
            a[n] = arg
        elif f == "cas":
            codes[n] = F_CAS_OK if out else F_CAS_MISMATCH
            a[n], b[n] = arg
        elif f == "append":
            codes[n] = F_APPEND
            a[n] = arg
        else:
            return None
    if F_APPEND in codes:
        text = (str, type(None))
        used = [init]
        for n, c in enumerate(codes):
            if c == F_READ:
                a[n] = b[n] = None
                used.append(o[n])
            else:
                o[n] = None
                if c in (F_CAS_OK, F_CAS_MISMATCH):
                    used.append(b[n])
                else:
                    b[n] = None
                used.append(a[n])
        if any(type(v) not in text for v in used) or any(
            c == F_APPEND and type(a[n]) is not str for n, c in enumerate(codes)
        ):
            return None  # (appending null to a string is illegal: not what C does)
        return codes, a, b, o, init, True
    ids: dict = {}
    values: list = []

    def vid(v: Any) -> int:
        r = ids.get(v)
        if r is None:
            r = ids[v] = len(values)
            values.append(v)
        return r

    init_id = vid(init)
    for n, c in enumerate(codes):
        if c == F_READ:
            o[n] = vid(o[n])
        elif c == F_WRITE:
            a[n] = vid(a[n])
        else:
            a[n], b[n] = vid(a[n]), vid(b[n])
    return codes, a, b, o, (init_id, values), False


def string_steps(ops: list, model: Any, init: Any) -> Generator[int, None, dict] | None:
    """`native_steps` for ops of string appends, encoded in C from the Ops themselves
    (`_native.encode_str`), before the Python search builds its per-op lists: those
    lists, for every key, cost more than the compiled search itself. None when the ops
    are not of that kind, or not already in the search's order (by call, then line)."""
    if _native is None or type(model) not in _MODELS or type(init) not in (str, type(None)):
        return None
    from checker.history import Op

    enc = _native.encode_str(ops, Op)
    if enc is None:
        return None
    codes, calls, rets, a, b, o = enc
    try:
        cap = _native.new(codes, calls, rets, a, b, o, init, True)
    except (UnicodeError, OverflowError, ValueError):
        return None
    return _steps(cap, list(ops), None, init)


def native_steps(ops: list, model: Any, fs: list[str], args: list, outs: list, rets: list,
                 init: Any) -> Generator[int, None, dict] | None:  # fmt: skip
    """The compiled search of ``ops`` (sorted as the search sorts them, filtered), as a
    generator like `search_steps`; None when it does not cover them (the caller runs the
    Python search). ``init`` is the model's initial state, before any abstraction."""
    if _native is None or type(model) not in _MODELS or None in rets:
        return None
    enc = _encode(fs, args, outs, init)
    if enc is None:
        return None
    codes, a, b, o, start, strmode = enc
    values = None
    if not strmode:
        start, values = start
    try:
        cap = _native.new(bytes(codes), [op.call for op in ops], rets, a, b, o, start, strmode)
    except (UnicodeError, OverflowError, ValueError):  # lone surrogates, huge positions
        return None
    return _steps(cap, ops, values, init)


def _steps(cap: Any, ops: list, values: list | None, init: Any) -> Generator[int, None, dict]:
    run = _native.run
    while True:
        r = run(cap)
        if r.__class__ is int:
            yield r
            continue
        if r == "wide":
            raise Wide
        if r[0]:
            return {"valid": True, "explored": r[1]}
        _, explored, fail_at, prefix, states = r
        if values is not None:
            states = [values[s] for s in states]
        else:
            states = [UNREAD_STR if s == -1 else s for s in states]
        return {"valid": False, "explored": explored, "ops": ops, "fail_at": fail_at,
                "prefix": prefix, "states": states, "initial": init}  # fmt: skip


class Wide(Exception):
    """The compiled search's window of concurrency outgrew it: run the Python search."""
