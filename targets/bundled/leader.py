"""Who leads the bundled store: every node's status, read the way a person would read it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cluster.base import node_name

StatusFn = Callable[[str], Awaitable[dict[str, Any]]]


async def primaries(nodes: Sequence[str], status: StatusFn, timeout: float = 1.0) -> list[str]:
    """Nodes that say they lead, highest ballot first; when none does, the node most others
    name as their leader; empty when nobody knows."""

    async def ask(node: str) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(status(node), timeout)
        except Exception:
            return None

    answers = await asyncio.gather(*(ask(n) for n in nodes))
    leaders = [
        (_ballot_key(a.get("ballot")), node)
        for node, a in zip(nodes, answers, strict=True)
        if a and a.get("role") == "leader"
    ]
    if leaders:
        return [node for _, node in sorted(leaders, reverse=True)]
    votes: dict[int, int] = {}
    for a in answers:
        if a and isinstance(a.get("leader"), int):
            votes[a["leader"]] = votes.get(a["leader"], 0) + 1
    if votes:
        return [node_name(max(sorted(votes), key=lambda k: votes[k]))]
    return []


def _ballot_key(b: Any) -> tuple:
    if isinstance(b, list | tuple):
        return tuple(x if isinstance(x, int | float) else 0 for x in b)
    if isinstance(b, int | float):
        return (b,)
    return ()
