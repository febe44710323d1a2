"""A deterministic in-process simulation of a paxlab store cluster (virtual time, one seed).

``World`` runs N sans-IO replicas over a simulated network with crash-restart; the sim
backend (``cluster.sim.backend``) builds on it for `paxlab test --backend sim`. The tests'
own clients and fault plan for the bare world live in tests/support/sim/.
"""

from cluster.sim.network import LinkModel, Network
from cluster.sim.world import World

__all__ = ["LinkModel", "Network", "World"]
