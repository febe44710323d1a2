"""A deterministic in-process simulation of a paxlab store cluster (virtual time, one seed).

``World`` runs N sans-IO replicas over a simulated network with crash-restart; ``SimClient``
drives them and records a history (docs/history-format.md); ``scenario.run`` ties both to a random fault
plan and checks the safety properties.
"""

from cluster.sim.clients import History, KvWorkload, SimClient
from cluster.sim.network import LinkModel, Network
from cluster.sim.scenario import FaultPlan, RunResult, run, sim_config
from cluster.sim.world import World

__all__ = [
    "FaultPlan",
    "History",
    "KvWorkload",
    "LinkModel",
    "Network",
    "RunResult",
    "SimClient",
    "World",
    "run",
    "sim_config",
]
