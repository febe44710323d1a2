"""A user's state machine module, as the backends ship it to the nodes.

``state_machine = "pkg.mod:Class"`` names a module the node must import, so every backend
puts it on the node's path: the local backend adds its directory to PYTHONPATH, the docker
and ssh backends copy its files next to the store's code (whose directory is already the
node's PYTHONPATH). What to copy is the module's whole top-level package (a module may
import its siblings), found the way the node will look for it: on this process's path, else
under the current directory. Standard library only; nothing here imports the module.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

BUILTIN = ("kv", "register")  # the store's own machines: nothing to ship


class UserCodeError(ValueError):
    """The machine's module cannot be found here (one line)."""


def _find(top: str) -> importlib.machinery.ModuleSpec | None:
    spec = importlib.util.find_spec(top)
    if spec is None and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())  # the node does the same (paxos_impl.machine)
        spec = importlib.util.find_spec(top)
    return spec


def machine_files(state_machine: str) -> tuple[Path, list[Path]] | None:
    """(the directory that must be on the node's path, the .py files below it to ship) for
    a ``module:Class`` machine; None for a built-in one."""
    if state_machine in BUILTIN or ":" not in state_machine:
        return None
    top = state_machine.partition(":")[0].split(".")[0]
    try:
        spec = _find(top)
    except (ImportError, ValueError) as e:
        raise UserCodeError(f"state_machine {state_machine!r}: {e}") from None
    if spec is None:
        raise UserCodeError(f"state_machine {state_machine!r}: no module {top} here")
    if spec.submodule_search_locations:  # a package: all of it
        pkg = Path(next(iter(spec.submodule_search_locations)))
        files = sorted(p for p in pkg.rglob("*.py") if "__pycache__" not in p.parts)
        return pkg.parent, files
    if spec.origin is None or not spec.origin.endswith(".py"):
        raise UserCodeError(f"state_machine {state_machine!r}: {top} is not a Python source file")
    origin = Path(spec.origin)
    return origin.parent, [origin]


def shipped(state_machine: str) -> list[tuple[Path, str]]:
    """Each file to ship and its path relative to the code directory on the node."""
    found = machine_files(state_machine)
    if found is None:
        return []
    root, files = found
    return [(f, f.relative_to(root).as_posix()) for f in files]
