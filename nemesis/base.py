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
from typing import Any

from cluster.base import Cluster, node_name

StatusFn = Callable[[str], Awaitable[dict[str, Any]]]


class NemesisError(ValueError):
    """A nemesis asked for something that does not exist; one line for a person."""


@dataclass
class FaultContext:
    """What a nemesis may use: the cluster, the blocking-call helper, a seeded random stream."""

    cluster: Cluster
    call: Callable[..., Awaitable[Any]]  # await call(fn, *args): a blocking cluster operation
    rng: random.Random
    status: StatusFn | None = None  # await status(node) -> the store's status dict
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
    """Ask every node for its status; the leader with the highest ballot, else the one named most."""
    if fx.status is None:
        return None
    nodes = list(fx.cluster.nodes)

    async def ask(node: str) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(fx.status(node), timeout)
        except Exception:
            return None

    answers = await asyncio.gather(*(ask(n) for n in nodes))
    leaders = [
        (_ballot_key(a.get("ballot")), node)
        for node, a in zip(nodes, answers, strict=True)
        if a and a.get("role") == "leader"
    ]
    if leaders:
        return max(leaders)[1]
    votes: dict[int, int] = {}
    for a in answers:
        if a and isinstance(a.get("leader"), int):
            votes[a["leader"]] = votes.get(a["leader"], 0) + 1
    if votes:
        best = max(sorted(votes), key=lambda k: votes[k])
        return node_name(best)
    return None


def _ballot_key(b: Any) -> tuple:
    if isinstance(b, list | tuple):
        return tuple(x if isinstance(x, int | float) else 0 for x in b)
    if isinstance(b, int | float):
        return (b,)
    return ()


async def leader_or_random(fx: FaultContext) -> tuple[str, bool]:
    """The current leader, or a random node when nobody knows one (the bool says which)."""
    leader = await find_leader(fx)
    if leader is not None and leader in fx.cluster.nodes:
        return leader, True
    return fx.rng.choice(list(fx.cluster.nodes)), False
