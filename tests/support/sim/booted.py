"""A sim backend cluster, started and given time to elect a leader, driven without a loop."""

from __future__ import annotations

from cluster import make_cluster
from cluster.sim.backend import SimCluster


def booted(n: int = 3, seed: int = 5, **kw) -> SimCluster:
    """``n`` simulated nodes, all started, two simulated seconds later (a leader by then)."""
    c = make_cluster("sim", "t", n, seed=seed, **kw)
    assert isinstance(c, SimCluster)
    c.setup()
    c.start_all()
    c.run_for(2.0)
    return c
