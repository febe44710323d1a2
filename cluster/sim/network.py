"""A simulated network between simulated nodes: per-link delay, loss, duplication, partitions.

It decides only *whether* and *when* each copy of a message arrives; the world delivers it.
Reordering needs no switch of its own: independent random delays reorder messages on a link.
Partitions are one-way by construction (``block(src, dst)`` drops src -> dst only), so a
symmetric partition is two blocks and Jepsen-style "grudges" map onto it directly.

Wide area (``set_zones``): nodes grouped into zones, a one-way delay per pair of zones (a
matrix) with a jitter, and client connections placed in a zone (``place``). It is made of
per-link models, the same lookup every message already does, so a wide-area run costs
nothing per message over a local one and stays one schedule per seed.
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
        # wide area: node -> zone, one-way delays (seconds) zone -> zone, jitter (a fraction)
        self.zone_of: dict[object, int] = {}
        self.matrix: list[list[float]] = []
        self.jitter = 0.0
        self.placed: dict[object, int] = {}  # client connections and their zones

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
        """Back to the default link model, except for the zones' distances (geography is
        not a fault)."""
        self.links.clear()
        self._zone_links()

    # -- wide area ------------------------------------------------------------------------------
    def set_zones(self, zone_of: dict[object, int], matrix_ms: list[list[float]],
                  jitter: float = 0.1) -> None:  # fmt: skip
        """Nodes in zones, ``matrix_ms[a][b]`` the one-way delay from zone a to zone b (the
        diagonal: between two nodes of one zone); each message takes that delay times
        1 + U(0, jitter). Nodes not in ``zone_of`` keep the default model."""
        if zone_of and max(zone_of.values()) >= len(matrix_ms):
            raise ValueError(
                f"{max(zone_of.values()) + 1} zones but a {len(matrix_ms)}-zone latency matrix"
            )
        self.zone_of = dict(zone_of)
        self.matrix = [[d / 1000 for d in row] for row in matrix_ms]
        self.jitter = jitter
        self._zone_links()

    def place(self, endpoint: object, zone: int | None) -> None:
        """A client connection in ``zone``: its links to and from every zoned node follow the
        matrix (None: it stays on the default model)."""
        if zone is None or not self.matrix:
            return
        self.placed[endpoint] = zone
        for node, z in self.zone_of.items():
            self.links[(endpoint, node)] = self.zone_link(zone, z)
            self.links[(node, endpoint)] = self.zone_link(z, zone)

    def unplace(self, endpoint: object) -> None:
        """A closed client connection: forget its links."""
        if self.placed.pop(endpoint, None) is not None:
            for node in self.zone_of:
                self.links.pop((endpoint, node), None)
                self.links.pop((node, endpoint), None)

    def zone_link(self, a: int, b: int) -> LinkModel:
        """One direction from zone a to zone b (loss and duplication: the default's)."""
        d = self.matrix[a][b]
        return LinkModel(d, d * (1 + self.jitter), self.default.drop, self.default.dup)

    def _zone_links(self) -> None:
        for src, a in self.zone_of.items():
            for dst, b in self.zone_of.items():
                if src != dst:
                    self.links[(src, dst)] = self.zone_link(a, b)
        for c, z in list(self.placed.items()):
            self.place(c, z)

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
