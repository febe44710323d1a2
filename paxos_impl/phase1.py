"""The rule of phase 1 that keeps a chosen value chosen, shared by both proposer kinds.

A proposer that gathered promises from a phase-1 quorum must, for every slot, propose the
value accepted with the highest ballot among those promises: if any value was (or may yet
be) chosen at a lower ballot, a phase-2 quorum accepted it, that quorum meets ours, and the
highest ballot reported is that value or a later re-proposal of it. Only a slot nobody
reported is free for a new value (or a no-op).
"""

from __future__ import annotations

from collections.abc import Iterable

from paxos_impl.config import Config
from paxos_impl.messages import Ballot


def adopt(promises: Iterable[dict], after: int, cfg: Config) -> dict[int, list]:
    """slot -> the batch to re-propose, for every slot > ``after`` the promises reported."""
    best: dict[int, tuple[Ballot, list]] = {}
    for p in promises:
        for s, b, v in p["entries"]:
            bt = (b[0], b[1])
            if s > after and (s not in best or bt > best[s][0]):
                best[s] = (bt, v)
    if cfg.has_bug("skip-phase1-adopt"):
        return {}  # BUG(skip-phase1-adopt): must re-propose the highest-ballot value reported
    return {s: v for s, (_, v) in best.items()}
