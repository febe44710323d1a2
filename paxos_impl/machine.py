"""The state-machine interface: what the replicated log drives, and how a user's is loaded.

The core replicates a log of commands; what a command *does* is the state machine's
business. The core, the log, snapshots, client de-duplication and catch-up only ever see a
machine through :class:`Hosted` (client requests in, client replies out, a JSON snapshot),
so the bundled key-value map (:mod:`paxos_impl.statemachine`) and a user's machine loaded
from ``"module:Class"`` (wrapped in :class:`UserMachine`) are interchangeable.

A user machine is deterministic: the same commands in the same order give the same results
and the same snapshot on every replica (no clock, no randomness, no replica identity). Its
``apply`` may be a coroutine (:class:`AsyncStateMachine`): the core stays sans-IO and hands
such commands to the runtime (:class:`paxos_impl.runtime.AsyncApplier`), which awaits them
one at a time in log order and gives the results back.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

# built-in machines by name (the rest are "module:Class" specs)
BUILTIN = ("kv", "register")
Reply = dict[str, Any]


class MachineError(Exception):
    """Raised by a machine's ``apply`` for a command it refuses: a definite failure that
    changed nothing. The client gets ``{"ok": false, "error": "rejected", "detail": ...}``."""


class MachineSpecError(ValueError):
    """A ``state_machine`` setting that cannot be used (one line, for a person)."""


@runtime_checkable
class StateMachine(Protocol):
    """Deterministic: the same commands in the same order give the same results and
    snapshots. Constructed with no arguments (the empty state)."""

    def apply(self, command: Any) -> Any:
        """A chosen command (JSON value) -> its result (JSON value)."""

    def query(self, query: Any) -> Any:
        """A read-only question; must not change the state."""

    def snapshot(self) -> Any:
        """A JSON value capturing the whole state."""

    def restore(self, snapshot: Any) -> None:
        """Replace the state with a snapshot's."""


class AsyncStateMachine(Protocol):
    """As :class:`StateMachine`, but ``apply`` is awaited (a machine doing IO of its own)."""

    async def apply(self, command: Any) -> Any: ...
    def query(self, query: Any) -> Any: ...
    def snapshot(self) -> Any: ...
    def restore(self, snapshot: Any) -> None: ...


class Hosted(Protocol):
    """What the core holds: a machine speaking the client protocol. ``ops`` are the logged
    client ops it takes (any other is bad_request); ``is_async``: its apply must be awaited
    by the runtime (``apply_async``) instead of called in the core."""

    ops: frozenset[str]
    is_async: bool

    def apply(self, cmd: dict) -> Reply: ...
    def query(self, cmd: dict) -> Reply: ...
    def snapshot(self) -> Any: ...
    def restore(self, snapshot: Any) -> None: ...


def ok(value: Any = None) -> Reply:
    return {"ok": True, "value": value}


def error(code: str, leader: int | None = None) -> Reply:
    return {"ok": False, "error": code, "leader": leader}


def rejected(e: Exception) -> Reply:
    return {"ok": False, "error": "rejected", "detail": str(e)[:200]}


class UserMachine:
    """A user's machine behind the client protocol: ``apply`` commands go to its apply,
    ``query`` requests to its query. ``MachineError`` is a definite refusal; any other
    exception from the machine is answered ``bad_request`` (the same on every replica, as
    the machine is deterministic; the machine must not have changed its state first)."""

    ops = frozenset({"apply", "query"})

    def __init__(self, machine: Any) -> None:
        self.machine = machine
        self.is_async = inspect.iscoroutinefunction(type(machine).apply)

    def apply(self, cmd: dict) -> Reply:
        if cmd.get("op") == "query":  # a query through the log (read_mode = "log")
            return self.query(cmd)
        try:
            return ok(self.machine.apply(cmd.get("value")))
        except MachineError as e:
            return rejected(e)
        except Exception as e:  # a user's bug or bad input: answered, never fatal
            return dict(error("bad_request"), reason=f"{type(e).__name__}: {str(e)[:120]}")

    async def apply_async(self, cmd: dict) -> Reply:
        if cmd.get("op") == "query":
            return self.query(cmd)
        try:
            return ok(await self.machine.apply(cmd.get("value")))
        except MachineError as e:
            return rejected(e)
        except Exception as e:
            return dict(error("bad_request"), reason=f"{type(e).__name__}: {str(e)[:120]}")

    def query(self, cmd: dict) -> Reply:
        try:
            return ok(self.machine.query(cmd.get("value")))
        except MachineError as e:
            return rejected(e)
        except Exception as e:
            return dict(error("bad_request"), reason=f"{type(e).__name__}: {str(e)[:120]}")

    def snapshot(self) -> Any:
        return self.machine.snapshot()

    def restore(self, snapshot: Any) -> None:
        self.machine.restore(snapshot)


def check_spec(spec: Any) -> str | None:
    """Why ``spec`` is not a machine setting (None: it looks like one; not imported)."""
    if not isinstance(spec, str):
        return f"state_machine must be a string, got {type(spec).__name__}"
    if spec in BUILTIN:
        return None
    module, sep, name = spec.partition(":")
    if not sep or not module or not name.isidentifier():
        return f"state_machine must be {' or '.join(BUILTIN)} or module:Class, got {spec!r}"
    return None


def load_class(spec: str) -> type:
    """The class named by ``"module:Class"`` (MachineSpecError, one line, if it cannot be)."""
    why = check_spec(spec)
    if why is not None:
        raise MachineSpecError(why)
    module, _, name = spec.partition(":")
    try:
        mod = _import(module)
    except Exception as e:  # ImportError, or the module failed while importing
        raise MachineSpecError(f"state_machine {spec!r}: cannot import {module}: {e}") from None
    cls = getattr(mod, name, None)
    if not isinstance(cls, type):
        raise MachineSpecError(f"state_machine {spec!r}: {module} has no class {name}")
    missing = [
        m for m in ("apply", "query", "snapshot", "restore") if not callable(getattr(cls, m, None))
    ]
    if missing:
        raise MachineSpecError(f"state_machine {spec!r}: the class lacks {', '.join(missing)}")
    return cls


def _import(module: str) -> Any:
    """Import ``module``; if it is not found, once more with the current directory on the
    path (a console script's path does not have it, ``python -m`` does: the same spec should
    work either way when run from the directory that holds the user's module)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        cwd = os.getcwd()
        if cwd in sys.path:
            raise
        sys.path.append(cwd)
        return importlib.import_module(module)


def construct(cls: type, bugs: Iterable[str] = (), node_id: int | None = None) -> Any:
    """``cls()``, passing ``bugs`` (the node's deliberate bugs) and ``node_id`` only if its
    constructor names them: an example machine's deliberate bug is switched on by the same
    ``--bug`` as the core's, and a correct machine never needs either."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        params = {}
    kw: dict[str, Any] = {}
    if "bugs" in params:
        kw["bugs"] = frozenset(bugs)
    if "node_id" in params:
        kw["node_id"] = node_id
    return cls(**kw)


def build_user(spec: str, bugs: Iterable[str] = (), node_id: int | None = None) -> UserMachine:
    """A fresh (empty) user machine from its spec, wrapped for the core."""
    try:
        return UserMachine(construct(load_class(spec), bugs, node_id))
    except MachineSpecError:
        raise
    except Exception as e:
        raise MachineSpecError(f"state_machine {spec!r}: cannot construct it: {e}") from None
