"""What every nemesis is: named kinds of fault, each a start/stop pair, and a heal.

A nemesis does not sleep or keep time itself: the schedule (nemesis.schedule) says when to
start and stop, and the interpreter records each step in the history. Cluster calls are
blocking (docker), so they go through ``FaultContext.call`` which the interpreter provides.
"""

from __future__ import annotations

import asyncio
import random
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cluster.base import Cluster
from cluster.capabilities import need
from targets.base import Primaries, Target

T = TypeVar("T")


class NemesisError(ValueError):
    """A nemesis asked for something that does not exist; one line for a person."""


@dataclass
class FaultContext:
    """What a nemesis may use: the cluster, the blocking-call helper, a seeded random stream,
    and the target (who leads, when it can say)."""

    cluster: Cluster
    call: Callable[..., Awaitable[Any]]  # await call(fn, *args): a blocking cluster operation
    rng: random.Random
    target: Target | None = None  # the system under test; may have primaries()

    def can(self, capability: type[T]) -> T:
        """The cluster as that capability (cluster.capabilities), or Unsupported in one line."""
        return need(self.cluster, capability)

    bugs: list[str] = field(default_factory=list)  # restarted nodes keep the run's bugs
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class Nemesis(ABC):
    """One family of faults (``name``) with several ``KINDS``; at most one active at a time."""

    name: str = ""
    KINDS: tuple[str, ...] = ()
    EXTRA_KINDS: tuple[str, ...] = ()  # run only when named (``clock:slow-leader``)
    CAPABILITY: str = ""

    def __init__(self, kinds: list[str] | None = None) -> None:
        if kinds:
            known = self.KINDS + self.EXTRA_KINDS
            bad = [k for k in kinds if k not in known]
            if bad:
                raise NemesisError(f"{self.name} has no kind {bad[0]!r}; known: {', '.join(known)}")
        self.kinds: list[str] = list(kinds or self.KINDS)
        self.explicit = bool(kinds)

    def requires(self, capabilities: set[str], final: bool = True) -> set[str]:
        """The cluster capabilities this nemesis needs (it may narrow its kinds to fit).

        ``final`` is False for the check before set-up, when a backend may not yet have
        probed what it can do (netem needs a live node); the check is repeated after set-up.
        """
        return {self.CAPABILITY}

    @abstractmethod
    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        """Begin a fault; return what it did to whom (recorded in the history)."""

    @abstractmethod
    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        """End the fault started last."""

    @abstractmethod
    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Undo everything this nemesis may have done, whatever state it is in. Idempotent."""


async def on_each(fx: FaultContext, fn, nodes: list[str], *args: Any, **kw: Any) -> list[Any]:
    """``fn(node, *args)`` for every node at once: a majority killed "at once" must be."""
    return list(await asyncio.gather(*(fx.call(fn, n, *args, **kw) for n in nodes)))


def majority(n: int) -> int:
    return n // 2 + 1


def minority(n: int) -> int:
    """The largest group that is not a majority (at least one node)."""
    return max(1, (n - 1) // 2)


async def find_leader(fx: FaultContext, timeout: float = 1.0) -> str | None:
    """The node the target says leads (its ``primaries()``), or None: a target without that
    capability, or one that does not answer in time, names nobody."""
    if not isinstance(fx.target, Primaries):
        return None
    try:
        found = await fx.target.primaries(fx.cluster, timeout)
    except Exception:
        return None
    return found[0] if found else None


async def leader_or_random(fx: FaultContext) -> tuple[str, bool]:
    """The current leader, or a random node when nobody knows one (the bool says which)."""
    leader = await find_leader(fx)
    if leader is not None and leader in fx.cluster.nodes:
        return leader, True
    return fx.rng.choice(list(fx.cluster.nodes)), False
