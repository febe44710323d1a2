"""The simulator's check of the early-send rule: an accept that leaves before its sender's
fsync may carry a commit index only over slots a phase-2 quorum holds on disk."""

from cluster.sim.world import World
from paxos_impl.config import local_config
from paxos_impl.runtime import Batch

ACCEPT = {"type": "accept", "ballot": [1, 0], "entries": [], "commit": 5}


def early_batch() -> Batch:
    return Batch(
        writes=[([{"t": "accept"}], None)], messages=[(1, dict(ACCEPT))], replies=[], events=1
    )


def test_a_commit_resting_on_the_leaders_unwritten_vote_is_a_violation():
    w = World(local_config(3), seed=0)
    n = w.nodes[0]
    n.commit_before = 4
    w.nodes[0].durable.accepted[5] = (1, 0)  # only the leader's own disk...
    w._send_early(n, 0, early_batch())
    assert len(w.violations) == 1 and "slot 5" in w.violations[0]


def test_a_commit_over_slots_durable_at_a_quorum_is_fine():
    w = World(local_config(3), seed=0)
    n = w.nodes[0]
    n.commit_before = 4
    w.nodes[1].durable.accepted[5] = (1, 0)
    w.nodes[2].durable.accepted[5] = (1, 0)  # two followers hold it: chosen without the leader
    w._send_early(n, 0, early_batch())
    assert w.violations == []
