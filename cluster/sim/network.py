"""A simulated network between simulated nodes: per-link delay, loss, duplication, partitions.

It decides only *whether* and *when* each copy of a message arrives; the world delivers it.
Reordering needs no switch of its own: independent random delays reorder messages on a link.
Partitions are one-way by construction (``block(src, dst)`` drops src -> dst only), so a
symmetric partition is two blocks and Jepsen-style "grudges" map onto it directly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class LinkModel:
    """How one direction of one link behaves (seconds, probabilities)."""

    delay_min: float = 0.001
    delay_max: float = 0.005
    drop: float = 0.0
    dup: float = 0.0


class Network:
    def __init__(self, rng: random.Random, default: LinkModel | None = None) -> None:
        self.rng = rng
        self.default = default or LinkModel()
        self.links: dict[tuple[object, object], LinkModel] = {}
        self.blocked: set[tuple[object, object]] = set()
        self.sent = 0
        self.dropped = 0

    # -- faults ----------------------------------------------------------------------------
    def set_link(self, src: object, dst: object, model: LinkModel) -> None:
        self.links[(src, dst)] = model

    def block(self, src: object, dst: object) -> None:
        """Drop everything src sends to dst (one way)."""
        self.blocked.add((src, dst))

    def partition(self, groups: list[list[object]]) -> None:
        """Symmetric partition: members of different groups cannot talk."""
        for i, g in enumerate(groups):
            for h in groups[i + 1 :]:
                for a in g:
                    for b in h:
                        self.block(a, b)
                        self.block(b, a)

    def isolate(self, node: object, others: list[object]) -> None:
        self.partition([[node], [o for o in others if o != node]])

    def heal(self) -> None:
        self.blocked.clear()

    def heal_links(self) -> None:
        self.links.clear()

    # -- the decision ---------------------------------------------------------------------------
    def model(self, src: object, dst: object) -> LinkModel:
        return self.links.get((src, dst), self.default)

    def delays(self, src: object, dst: object) -> list[float]:
        """Delays of the copies of one message that will arrive (empty: it is lost)."""
        self.sent += 1
        if (src, dst) in self.blocked:
            self.dropped += 1
            return []
        m = self.model(src, dst)
        if m.drop and self.rng.random() < m.drop:
            self.dropped += 1
            return []
        out = [self.rng.uniform(m.delay_min, m.delay_max)]
        if m.dup and self.rng.random() < m.dup:
            out.append(self.rng.uniform(m.delay_min, m.delay_max * 3))
        return out
