"""Sequential specifications the linearizability checker tests histories against.

Adding a model (a queue, a counter) is one class in one file::

    from checker.models import Model, ILLEGAL, register_model

    class Counter(Model):
        name = "counter"
        fs = {"add": "update", "read": "read"}     # f -> "read" (no effect) | "update"

        def step(self, state, f, arg, out):
            if f == "add":
                return state + arg
            return state if out is UNKNOWN or out == state else ILLEGAL

    register_model(Counter())

States must be hashable (the search memoises (linearized ops, state)); values arrive
frozen (`freeze`: lists are tuples, objects are `FrozenDict`, booleans are distinct from
1 and 0). ``step`` returns the new state, or `ILLEGAL` when the op cannot happen in
``state`` with the output it was seen to return. ``out`` is `UNKNOWN` for an operation
whose outcome is unknown (``info``): such an op either happened with whatever output
the model gives, or never. An f marked ``"read"`` in ``fs`` never changes the state, so an
``info`` op of that f is simply dropped.

Everything else is optional: ``pure`` (an op that never changes the state, by default
the ``"read"`` fs), ``split`` (P-compositionality: independent sub-histories,
e.g. per key), ``validate`` (a type check per op, giving a one-line error), ``prune``
(ops that provably never need to be linearized) and ``show`` (a state for people).
"""

from __future__ import annotations

from bisect import bisect_left

from checker.history import Op

TYPE_CHECKING = False  # not `typing`'s: importing typing is start-up time of every check
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any


def _dumps(v: Any, **kw: Any) -> str:
    """json.dumps, imported when first needed (messages, reports): importing json (re,
    enum) at start-up was a fifth of a quick `paxlab check`."""
    import json

    return json.dumps(v, **kw)


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


ILLEGAL = _Marker("ILLEGAL")
UNKNOWN = _Marker("UNKNOWN")
NOCHECK = _Marker("NOCHECK")  # effect(): the op needs no particular state
ANYTHING = _Marker("ANYTHING")  # effect(): the op may produce any state
NOTHING = _Marker("NOTHING")  # effect(): the op never changes the state


class Unread(_Marker):
    """The abstract state standing for every string (or list) state that no operation of
    the sub-history can ever read, directly or after appends (see `Register.abstraction`)."""

    __slots__ = ("kind",)

    def __init__(self, kind: type) -> None:
        super().__init__(f"UNREAD-{kind.__name__}")
        self.kind = kind


UNREAD_STR, UNREAD_LIST = Unread(str), Unread(tuple)


class JsonBool:
    """A JSON boolean that is not equal to 1 or 0 (Python's True == 1 would be wrong here)."""

    __slots__ = ("v",)

    def __init__(self, v: bool) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JsonBool) and other.v == self.v

    def __hash__(self) -> int:
        return hash(("JsonBool", self.v))

    def __repr__(self) -> str:
        return "true" if self.v else "false"


TRUE, FALSE = JsonBool(True), JsonBool(False)


class FrozenDict(tuple):
    """A JSON object as a hashable sorted tuple of items, never equal to a list."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FrozenDict) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("FrozenDict", tuple(self)))


_SCALARS = frozenset({int, str, float, type(None)})


def freeze(v: Any) -> Any:
    """JSON value -> hashable value with JSON equality."""
    c = v.__class__
    if c in _SCALARS:
        return v
    if c is bool:
        return TRUE if v else FALSE
    if c is list:
        return tuple(map(freeze, v))
    if isinstance(v, dict):
        return FrozenDict(sorted((k, freeze(x)) for k, x in v.items()))
    return v


def thaw(v: Any) -> Any:
    """Frozen value -> plain JSON-serialisable value."""
    if isinstance(v, Unread):
        return "(a value no operation reads)"
    if isinstance(v, JsonBool):
        return v.v
    if isinstance(v, FrozenDict):
        return {k: thaw(x) for k, x in v}
    if isinstance(v, tuple):
        return [thaw(x) for x in v]
    return v


def show(v: Any) -> str:
    """A frozen value as compact JSON, for reports and messages."""
    if v is UNKNOWN:
        return "?"
    return _dumps(thaw(v), separators=(",", ":"), default=str)


class Model:
    """Base class: see the module docstring for the contract."""

    name: str = "model"
    fs: dict[str, str] = {}
    # True when an update's effect depends only on its f and input, not on the output seen:
    # then an info op is never tried where a determinate op with the same f and input can go.
    update_ignores_output: bool = False
    # fs whose ops `validate` accepts whatever their value, when their key is a string, an
    # integer or null: the check skips the call for them (one per op of every history)
    always_valid: frozenset = frozenset()

    def init(self, initial: Any) -> Any:
        return freeze(initial)

    def step(self, state: Any, f: str, arg: Any, out: Any) -> Any:
        raise NotImplementedError

    def split(self, ops: list[Op]) -> dict[Any, list[Op]]:
        """Independent sub-histories (P-compositionality); default: one."""
        return {None: ops}

    def split_key(self, op: Op) -> Any:
        return None

    def validate(self, op: Op) -> str | None:
        """An error message for an ill-typed op, or None."""
        return None

    def arg(self, op: Op) -> Any:
        """The op's input as `step` sees it."""
        v = op.value
        return v if v.__class__ in _SCALARS else freeze(v)  # freeze's own test, without a call

    def output(self, op: Op) -> Any:
        """The op's output as `step` sees it (`UNKNOWN` when the outcome is unknown)."""
        if op.type != "ok":
            return UNKNOWN
        return freeze(op.output)

    def kept_fail(self, op: Op) -> bool:
        """A ``fail`` op that was executed and changed nothing, whose outcome the search
        must still explain (a cas mismatch); every other ``fail`` is dropped."""
        return op.f == "cas" and op.error == "mismatch"

    def pure(self, f: str, out: Any) -> bool:
        """True when an op of this f and output never changes any state (a read).

        The search places such an op as soon as it is legal, without backtracking over it.
        Answer False when unsure: it only costs speed."""
        return self.fs.get(f) == "read"

    def effect(self, f: str, arg: Any, out: Any) -> tuple[Any, Any]:
        """(the one state the op needs to be legal, the state it leaves), for dead-end tests.

        ``NOCHECK`` when the op does not need one particular state; ``ANYTHING`` when the
        state it leaves depends on the state before; ``NOTHING`` when it never changes the
        state. The default never prunes. Exact answers make refuting fast; wrong ones make
        the checker wrong."""
        return NOCHECK, ANYTHING

    def toward(self, state: Any, need: Any) -> bool:
        """Could ops whose effect depends on the state (`effect` says ``ANYTHING``) lead from
        ``state`` to ``need``? Such ops that do are tried first, and when no op with a known
        effect is left, False abandons the configuration: answer True when unsure."""
        return True

    def helps(self, state: Any, need: Any) -> bool:
        """Is ``state`` (after a state-dependent op) worth trying first for an op that needs
        ``need``? Only orders candidates, never prunes: by default `toward`; a model whose
        `toward` must answer True when unsure (any state may lead anywhere) can still rank
        here, e.g. by whether the needing op would be legal in ``state`` right now."""
        return self.toward(state, need)

    def prune(self, ops: list[Op]) -> list[Op]:
        """Drop ops that provably never need to be linearized (info ops only)."""
        return ops

    def abstraction(
        self, fs: list[str], args: list[Any], outs: list[Any]
    ) -> Callable[[Any], Any] | None:
        """Given every op of a sub-history, a function mapping a state to a representative
        of the states no remaining op can tell apart from it, or None (no abstraction).

        The search memoises (ops placed, state): states that differ in ways nobody can
        observe multiply its configurations for nothing. Mapping them to one representative
        is sound when every op behaves the same from each of them, now and after any
        sequence of further steps."""
        return None

    def describe(self, op: Op) -> str:
        """One line for an op, for reports."""
        key = "" if op.key is None else f"[{op.key}] "
        if op.f == "read":
            out = show(freeze(op.output)) if op.type == "ok" else "?"
            return f"{key}read -> {out}"
        return f"{key}{op.f} {show(freeze(op.value))}" + (
            "" if op.type == "ok" else f" ({op.type}{', ' + str(op.error) if op.error else ''})"
        )


class Register(Model):
    """One value: read, write, compare-and-set.

    A cas that completed ``fail`` with ``"error": "mismatch"`` was executed: its output is
    False and it is legal only in a state other than the expected value (Porcupine's
    reading). Every other ``fail`` is dropped before the model sees it.
    """

    name = "register"
    fs = {"read": "read", "write": "update", "cas": "update"}
    always_valid = frozenset(("read", "write"))
    update_ignores_output = True  # a cas's output only says whether it swapped

    def validate(self, op: Op) -> str | None:
        if op.f not in self.fs:
            return f"unknown f {op.f!r} for model {self.name} (want {', '.join(self.fs)})"
        if op.f == "cas" and not (isinstance(op.value, list) and len(op.value) == 2):
            return f"cas value must be [expected, new], got {_dumps(op.value)}"
        return None

    def output(self, op: Op) -> Any:
        if op.f == "cas":
            return op.type != "fail"  # True: swapped (ok, or may have: info); False: mismatch
        if op.type != "ok":
            return UNKNOWN
        v = op.output  # Model.output inlined: this runs for every op of every search
        return v if v.__class__ in _SCALARS else freeze(v)

    def pure(self, f: str, out: Any) -> bool:
        return f == "read" or (f == "cas" and out is False)

    def effect(self, f: str, arg: Any, out: Any) -> tuple[Any, Any]:
        if f == "read":
            return (NOCHECK if out is UNKNOWN else out), NOTHING
        if f == "write":
            return NOCHECK, arg
        if f == "cas":
            return (arg[0], arg[1]) if out else (NOCHECK, NOTHING)
        return NOCHECK, ANYTHING

    def toward(self, state: Any, need: Any) -> bool:
        """Appends only extend: a string or list state leads to ``need`` if it prefixes it;
        null leads to any string or list; anything else stays as it is."""
        if state is None:
            return need is None or type(need) in (str, tuple)
        if type(state) is type(need) and type(state) in (str, tuple):
            return need[: len(state)] == state
        return state == need

    def abstraction(
        self, fs: list[str], args: list[Any], outs: list[Any]
    ) -> Callable[[Any], Any] | None:
        """A string (or list) state that is no prefix of any value an op reads or a cas
        expects becomes `UNREAD_STR` (`UNREAD_LIST`).

        Why this is sound: appends only extend, so from such a state no read or cas can
        ever see what it holds until a write replaces it; a read or a swapping cas is
        illegal from all of them, a mismatching cas legal from all of them, an append
        keeps them unreadable and a write leaves the same state from all of them. Why it
        matters: a run of appends that a write later overwrites, unread, leaves one state
        per order of the appends; without this the search tries each (histories of
        50 clients appending to 10 keys exploded on exactly that)."""
        if "append" not in fs:
            return None
        strs: set = set()
        lists: set = set()
        for f, a, o in zip(fs, args, outs, strict=True):
            if f == "read":
                v = o
            elif f == "cas":
                v = a[0]
            else:
                continue
            if type(v) is str:
                strs.add(v)
            elif type(v) is tuple:
                lists.add(v)
        sstrs = sorted(strs)
        try:
            slists: list | None = sorted(lists)
        except TypeError:  # lists of mixed types do not sort: abstract strings only
            slists = None

        def read_somewhere(v: Any, sorted_values: list) -> bool:
            try:
                i = bisect_left(sorted_values, v)
            except TypeError:  # a state whose elements do not order with the reads' (None)
                return any(r[: len(v)] == v for r in sorted_values)
            return i < len(sorted_values) and sorted_values[i][: len(v)] == v

        def canon(state: Any) -> Any:
            t = type(state)
            if t is str:
                return state if read_somewhere(state, sstrs) else UNREAD_STR
            if t is tuple and slists is not None:
                return state if read_somewhere(state, slists) else UNREAD_LIST
            return state

        return canon

    def step(self, state: Any, f: str, arg: Any, out: Any) -> Any:
        if type(state) is Unread:
            if f == "append":
                return state if type(arg) is state.kind else ILLEGAL
            if f == "write":
                return arg
            if f == "cas":
                return ILLEGAL if out else state  # it never equals an expected value
            return ILLEGAL if out is not UNKNOWN else state
        if f == "read":
            return state if out is UNKNOWN or out == state else ILLEGAL
        if f == "write":
            return arg
        if f == "cas":
            if out:
                return arg[1] if state == arg[0] else ILLEGAL
            return state if state != arg[0] else ILLEGAL
        if f == "append":
            if state is None:
                return arg
            if type(state) is type(arg) and isinstance(arg, (str, tuple)):
                return state + arg
            return ILLEGAL
        return ILLEGAL

    def prune(self, ops: list[Op]) -> list[Op]:
        """Drop info writes / cas whose written value no op ever observes.

        Such an op, if linearized, is followed (before any observation of its value) only by
        an overwrite or nothing, so removing it from a linearization leaves one. This needs
        no append (which builds on the value) and no cas mismatch (which observes "not x")
        in the sub-history; it is what keeps timed-out writes from swelling the search.
        """
        if any(o.f == "append" or (o.f == "cas" and o.type == "fail") for o in ops):
            return ops
        seen: set = set()
        for o in ops:
            if o.f == "read" and o.type == "ok":
                seen.add(freeze(o.output))
            elif o.f == "cas":
                seen.add(freeze(o.value[0]))
        out = []
        for o in ops:
            if o.type == "info":
                written = o.value if o.f == "write" else o.value[1] if o.f == "cas" else None
                if o.f in ("write", "cas") and freeze(written) not in seen:
                    continue
            out.append(o)
        return out


class KV(Register):
    """Independent keys, each a register that also supports append (strings concatenate,
    lists extend; append to null gives the appended value)."""

    name = "kv"
    fs = {"read": "read", "write": "update", "cas": "update", "append": "update"}

    def validate(self, op: Op) -> str | None:
        err = super().validate(op)
        if err:
            return err
        if op.key is not None and not isinstance(op.key, (str, int)):
            return f"key must be a string, got {_dumps(op.key)}"
        if op.f == "append" and not isinstance(op.value, (str, list)):
            return f"append value must be a string or a list, got {_dumps(op.value)}"
        return None

    def split_key(self, op: Op) -> Any:
        return op.key

    def split(self, ops: list[Op]) -> dict[Any, list[Op]]:
        parts: dict[Any, list[Op]] = {}
        for o in ops:
            parts.setdefault(o.key, []).append(o)
        return parts


MODELS: dict[str, Model] = {}


def register_model(model: Model) -> Model:
    MODELS[model.name] = model
    return model


register_model(Register())
register_model(KV())


def get_model(name: str | Model) -> Model:
    if isinstance(name, Model):
        return name
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r} (want {', '.join(MODELS)})") from None


def model_names() -> Iterable[str]:
    return MODELS.keys()
