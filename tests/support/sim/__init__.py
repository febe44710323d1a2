"""The test-only harness around the simulator's ``World``: clients, a fault plan, the checks.

``SimClient`` drives a :class:`cluster.sim.world.World` and records a history
(docs/history-format.md); ``run`` ties clients and world to a random fault plan and checks the
safety properties straight from the history and the chosen log. The product's simulated runs
(`paxlab test --backend sim`) use the real workloads and nemeses instead; this harness keeps
its own small ``KvWorkload`` and fault plan so the core's tests need no controller.
"""

from tests.support.sim.clients import History, KvWorkload, SimClient
from tests.support.sim.scenario import FaultPlan, RunResult, run, sim_config

__all__ = ["FaultPlan", "History", "KvWorkload", "RunResult", "SimClient", "run", "sim_config"]
