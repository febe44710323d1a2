"""Systems under test as the suite sees them: the bundled store, etcd, yours.

A target registers its name here: ``TARGETS[name] = (module, class)``. The module is
imported only when that target is asked for, so choosing one never needs another's client
library. The class is built as ``cls(opts, nodes=N, read_mode=MODE)`` and must satisfy
:class:`targets.base.Target` (see docs/targets.md).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from targets.base import Primaries, Target, TargetClient, TargetError
from targets.options import parse_key_values as parse_opts

TARGETS: dict[str, tuple[str, str]] = {
    "bundled": ("targets.bundled", "BundledTarget"),
    "etcd": ("targets.etcd", "EtcdTarget"),
}
DEFAULT = "bundled"


def names() -> tuple[str, ...]:
    return tuple(TARGETS)


def target_class(name: str) -> type:
    """The class registered as ``name`` (TargetError, one line, for an unknown name)."""
    if name not in TARGETS:
        raise TargetError(f"unknown target {name!r}; known: {', '.join(TARGETS)}")
    modname, clsname = TARGETS[name]
    return getattr(importlib.import_module(modname), clsname)


def make_target(
    name: str, opts: Mapping[str, Any] | None = None, *, nodes: int = 3, read_mode: str = "log"
) -> Target:
    """The target ``name`` with its options checked for a cluster of ``nodes`` nodes."""
    target = target_class(name)(dict(opts or {}), nodes=nodes, read_mode=read_mode)
    if not isinstance(target, Target):
        raise TargetError(f"target {name!r} does not implement targets.base.Target")
    return target


__all__ = [
    "DEFAULT",
    "TARGETS",
    "Primaries",
    "Target",
    "TargetClient",
    "TargetError",
    "make_target",
    "names",
    "parse_opts",
    "target_class",
]
