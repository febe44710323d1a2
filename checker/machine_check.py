"""Linearizability of a history against ANY deterministic state machine, run serially.

A user who replicates their own machine (``apply``, ``query``, ``snapshot``, ``restore``;
docs/state-machines.md) gets a checker for free: the machine itself is the sequential
specification. `MachineModel` adapts it to the search of `checker.linearizability` (the
same Wing-Gong-Lowe engine the register and kv models use, with its memo, step cache and
greedy placement of read-only ops), so no second search is written:

* a **state** is the machine's snapshot as canonical JSON (sorted keys, no spaces),
  interned: the memo compares states by that text, so two orders of commands that leave
  equal snapshots are one configuration (counter adds that commute collapse);
* a **step** restores the state into one machine instance (skipped when the instance is
  already there: the search mostly steps forward), applies the command to a fresh copy of
  it and compares the result, as canonical JSON, with the one acknowledged. The engine
  caches every (state, op) step, so the machine runs once per pair;
* **outcomes**: ``ok`` happened, with its result; ``info`` may or may not have happened
  (any result); ``fail`` did not happen and is dropped, except a ``fail`` with ``"error":
  "rejected"``: the machine executed it and refused it, changing nothing. Such an op is
  kept like a cas mismatch: a read-only op that is legal only in a state where the machine
  also refuses the command (so it prunes orders, as a mismatch does). A query is
  read-only; one that did not complete ``ok`` tells nothing and is dropped.
* **refusal**: any exception from the machine's ``apply`` is a refusal (the node's
  ``MachineError``; the checker imports nothing of ours, so it cannot tell that class from
  others, and a machine that raises refused the command either way). An acknowledged
  command the machine refuses in some state cannot go there.

The history's commands are ``{"f": "apply", "value": COMMAND, "result": RESULT}`` and its
queries ``{"f": "query", "value": QUERY, "result": RESULT}`` (docs/history-format.md): the
result is read from ``result``. The machine class comes from a ``"module:Class"`` string
(`load_machine`); the current directory is on the import path, as for ``python -m``.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import selectors
import sys
from collections.abc import Callable, Iterable, Iterator

from checker.history import HistoryError, Op, iter_events, iter_ops
from checker.linearizability import check
from checker.models import ANYTHING, ILLEGAL, NOCHECK, NOTHING, UNKNOWN, Model, _Marker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NAME = "machine"
FS = {"apply": "update", "query": "read"}
REJECTED = _Marker("REJECTED")  # output of a command that completed fail/"rejected"
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False).encode
_loads = json.loads


class Need:
    """The states in which an op of this (f, input, output) is legal: what the op needs.

    The search compares the state it holds with what the op about to return needs
    (``state != need``) to decide whether to rank candidates (`MachineModel.helps`) and,
    when no state-changing op can still go first, to abandon a configuration. For a machine
    that need is a set of states, so the comparison asks the machine (once per state and
    need): a state "equals" a Need when the op is legal in it. Needs compare with each
    other as (f, input, output)."""

    __slots__ = ("key", "model")

    def __init__(self, key: tuple, model: MachineModel) -> None:
        self.key = key
        self.model = model

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.model.satisfies(other, self)
        if isinstance(other, Need):
            return self.key == other.key
        return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __repr__(self) -> str:
        return f"Need{self.key!r}"


class MachineLoadError(HistoryError):
    """The machine cannot be loaded or used (one line for a person; exit 2)."""


def canonical(v: Any) -> str:
    """A JSON value as the text states and results are compared by."""
    return _dumps(v)


def load_machine(spec: str) -> type:
    """The class named by ``"module:Class"`` (MachineLoadError, one line, when it cannot be)."""
    mod, sep, name = str(spec).partition(":")
    if not sep or not mod or not name:
        raise MachineLoadError(f"--machine wants module:Class, got {spec!r}")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.append(cwd)  # after the installed packages: a user module shadows nothing
    try:
        module = importlib.import_module(mod)
    except Exception as e:  # noqa: BLE001 - a user's module may raise anything on import
        raise MachineLoadError(
            f"cannot import {mod!r} for {spec!r}: {type(e).__name__}: {e}"
        ) from None
    cls = module
    for part in name.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise MachineLoadError(f"module {mod!r} has no {name!r} (for {spec!r})")
    missing = [m for m in ("apply", "query", "snapshot", "restore") if not hasattr(cls, m)]
    if not isinstance(cls, type) or missing:
        raise MachineLoadError(f"{spec} is not a state machine class (missing: "
                           f"{', '.join(missing) or 'a class'})")  # fmt: skip
    return cls


def _snap(m: Any, where: str) -> str:
    try:
        return canonical(m.snapshot())
    except (TypeError, ValueError) as e:
        raise MachineLoadError(f"{type(m).__name__}.snapshot() {where} is not JSON: {e}") from None


class MachineModel(Model):
    """A machine class as a `checker.models.Model` (see the module docstring)."""

    name = NAME
    fs = FS

    def __init__(self, cls: type, spec: str | None = None) -> None:
        self.cls = cls
        self.spec = spec or f"{cls.__module__}:{cls.__qualname__}"
        try:
            self.m = cls()
        except Exception as e:  # noqa: BLE001 - the user's constructor
            raise MachineLoadError(f"{self.spec}() failed: {type(e).__name__}: {e}") from None
        self.empty = _snap(self.m, "of a new machine")
        self.at: str | None = self.empty  # the state the instance holds now (None: unknown)
        self.steps = 0  # machine calls made (for benchmarks)
        self._steps: dict[tuple, Any] = {}

    def init(self, initial: Any) -> Any:
        """The empty machine's state, or ``initial`` (a snapshot as JSON text: `freeze`
        would make a JSON object a tuple) to start from."""
        if initial is None:
            return self.empty
        self._restore(initial)
        return _snap(self.m, "after restoring the initial snapshot")

    def validate(self, op: Op) -> str | None:
        if op.f not in FS:
            return f"unknown f {op.f!r} for model machine (want apply or query)"
        return None

    def arg(self, op: Op) -> Any:
        return canonical(op.value)

    def output(self, op: Op) -> Any:
        if op.type == "ok":
            return canonical(op.output)
        if op.type == "fail" and op.f == "apply":
            return REJECTED
        return UNKNOWN

    def kept_fail(self, op: Op) -> bool:
        """A refused command was executed: its refusal is an observation (see above)."""
        return op.f == "apply" and op.error == "rejected"

    def pure(self, f: str, out: Any) -> bool:
        return f == "query" or out is REJECTED

    def effect(self, f: str, arg: Any, out: Any) -> tuple[Any, Any]:
        """What an op needs is a set of states (those where the machine gives its output),
        not one: a `Need`. What a command leaves depends on the state before (``ANYTHING``);
        queries and refused commands leave it as it was."""
        need = NOCHECK if out is UNKNOWN else Need((f, arg, out), self)
        if f == "query" or out is REJECTED:
            return need, NOTHING
        return need, ANYTHING

    def satisfies(self, state: str, need: Need) -> bool:
        """Is the needing op legal in ``state``? (`step`, whose answers are kept.)"""
        f, arg, out = need.key
        return self.step(state, f, arg, out) is not ILLEGAL

    def helps(self, state: Any, need: Any) -> bool:
        """Candidates after which the op about to return is legal go first. (`toward`
        stays True: any state may lead to any other, so nothing is abandoned on it.)"""
        return isinstance(need, Need) and isinstance(state, str) and self.satisfies(state, need)

    def _restore(self, state: str) -> None:
        if self.at != state:
            self.at = None
            try:
                self.m.restore(_loads(state))
            except Exception as e:  # noqa: BLE001 - the user's code
                raise MachineLoadError(
                    f"{self.spec}.restore() failed on its own snapshot: {type(e).__name__}: {e}"
                ) from None
            self.at = state

    def step(self, state: Any, f: str, arg: Any, out: Any) -> Any:
        """The state after the op (ILLEGAL: not with this output), kept per (state, op):
        the dead-end and ranking tests (`satisfies`) ask what the search then tries."""
        k = (state, f, arg, out)
        r = self._steps.get(k)
        if r is None:
            r = self._steps[k] = self._step(state, f, arg, out)
        return r

    def _step(self, state: Any, f: str, arg: Any, out: Any) -> Any:
        self.steps += 1
        self._restore(state)
        m = self.m
        if f == "query":
            try:
                got = m.query(_loads(arg))
            except Exception:  # noqa: BLE001 - a query the machine refuses saw nothing legal
                return ILLEGAL
            return state if out is UNKNOWN or canonical(got) == out else ILLEGAL
        try:
            got = m.apply(_loads(arg))
            if hasattr(got, "__await__"):
                got = _run(got)
        except Exception:  # noqa: BLE001 - refused: nothing changed (as the node answers)
            self.at = None  # it may have changed something before raising: restore next time
            return state if out is REJECTED or out is UNKNOWN else ILLEGAL
        if out is REJECTED:
            self.at = None  # it took the command: the instance no longer holds ``state``
            return ILLEGAL
        if out is not UNKNOWN:
            try:
                same = canonical(got) == out
            except (TypeError, ValueError):
                same = False
            if not same:
                self.at = None
                return ILLEGAL
        new = _snap(m, "after apply")
        self.at = new
        return new

    def describe(self, op: Op) -> str:
        what = f"{op.f} {canonical(op.value)}"
        if op.type == "ok":
            return f"{what} -> {canonical(op.output)}"
        return f"{what} ({op.type}{', ' + str(op.error) if op.error else ''})"


class _InstantSelector(selectors.SelectSelector):
    """Never waits for a timer: it moves the loop's clock to it (`_InstantLoop`)."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = 0.0

    def select(self, timeout: float | None = None) -> list:
        if timeout is None:  # waiting for real IO (a machine that does its own)
            return super().select(None)
        self.clock += timeout
        return super().select(0)


class _InstantLoop(asyncio.SelectorEventLoop):
    """An event loop in virtual time: an asynchronous machine's ``await asyncio.sleep(d)``
    (standing for its own IO) costs the checker nothing, and its results are the same."""

    def __init__(self) -> None:
        self._sel = _InstantSelector()
        super().__init__(self._sel)

    def time(self) -> float:
        return self._sel.clock


_LOOP: list[_InstantLoop] = []


def _run(coro: Any) -> Any:
    """An asynchronous machine's apply, run to its result (the checker runs it serially),
    on a private loop; in a helper thread if this thread already runs a loop."""
    if not _LOOP:
        _LOOP.append(_InstantLoop())
    loop = _LOOP[0]
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return loop.run_until_complete(coro)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(loop.run_until_complete, coro).result()


def with_results(events: Iterable[tuple[int, dict]]) -> Iterator[tuple[int, dict]]:
    """Events whose completion ``result`` becomes the op's output (`Op.output` is read from
    a completion's ``value``, which for a command repeats the command)."""
    for line, ev in events:
        if "result" in ev and ev.get("type") == "ok":
            ev = dict(ev)
            ev["value"] = ev["result"]
        yield line, ev


def machine_ops(source: Any) -> list[Op]:
    """A history's ops (a path, JSON lines, event dicts or Ops) with results as outputs."""
    if isinstance(source, list) and source and isinstance(source[0], Op):
        return source
    if isinstance(source, list):
        events: Iterable[tuple[int, dict]] = enumerate(source, 1)
    else:
        events = iter_events(source)
    ops = list(iter_ops(with_results(events)))
    ops.sort(key=lambda o: (o.call, o.line))
    return ops


def model_for(machine: str | type | MachineModel) -> MachineModel:
    if isinstance(machine, MachineModel):
        return machine
    if isinstance(machine, str):
        return MachineModel(load_machine(machine), machine)
    return MachineModel(machine)


def check_machine(
    history: Any,
    machine: str | type | MachineModel,
    initial: Any = None,
    time_limit: float | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Is ``history`` linearizable against ``machine`` run serially?

    The result is `checker.linearizability.check`'s (``valid``, and when invalid ``op``: the
    command or query no order can place, ``prefix``: the longest linearization found with
    the machine's snapshot after each, ``window``), plus ``machine`` (its ``module:Class``)
    and ``machine_steps``; states are the snapshots as JSON values, not text."""
    mdl = model_for(machine)
    ops = [o for o in machine_ops(history) if o.process != "nemesis"]
    init = None if initial is None else canonical(initial)
    r = check(ops, mdl, init, time_limit, progress=progress, jobs=1)
    r["machine"] = mdl.spec
    r["machine_steps"] = mdl.steps
    for p in r.get("prefix", []):
        p["state"] = _loads(p["state"])
    if "initial" in r:
        r["initial"] = _loads(r["initial"])
    for kr in r.get("keys", {}).values():
        kr.pop("prefix", None)
        kr.pop("initial", None)
    return r
