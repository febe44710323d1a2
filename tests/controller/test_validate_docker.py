"""`paxlab validate` on real containers: a fault injected for real exposes a deliberate bug.

One bug is enough for the container tier (the full docker validation takes most of an hour
on a small machine): early-ack, which isolating the leader with iptables shows within a run
or two, and nothing of the validation's clusters is left behind.
"""

from __future__ import annotations

import pytest

from controller.catalogue import DOCKER
from controller.validate import Options, Validation


def _validate_bug(bug: str, tmp_path, **opts) -> tuple[dict, dict]:
    """Validate one deliberate bug on docker (no clean runs); it must be found."""
    s = Validation(
        Options(backend=DOCKER, bugs=[bug], nemeses=[], runs=0, results_root=tmp_path,
                reports=False, **opts)
    ).go()  # fmt: skip
    (b,) = s["bugs"]
    tried = [(a["seed"], a["valid"], a["error"]) for a in b["attempts"]]
    assert b["status"] == "found", tried
    return s, b


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_docker_finds_early_ack_by_isolating_the_leader(tmp_path, node_image, docker_client):
    s, b = _validate_bug("early-ack", tmp_path, max_runs=2, time_limit=10.0)
    assert b["nemesis"] == ["partition:isolate-leader"] and b["workload"] == "set"
    assert s["valid"] is True
    left = [
        c.name
        for c in docker_client.containers.list(all=True, filters={"label": "paxlab=1"})
        if "bug-early-ack" in c.name
    ]
    assert left == []


@pytest.mark.docker
@pytest.mark.timeout(300)
def test_docker_finds_accept_lower_ballot_with_dueling_leaders(tmp_path, node_image):
    """The one deliberate bug whose docker exposure rests on heartbeats: acceptors that
    promised a higher ballot nack a stale leader's heartbeats, and the duels that follow
    lose acknowledged adds. A store change that skipped heartbeats too eagerly once hid it
    from docker (0 of 8 runs) while the simulator still found it, so it is checked here on
    real containers: found on the first run in each of 7 tries when this test was written."""
    _, b = _validate_bug("accept-lower-ballot", tmp_path, max_runs=3)
    assert b["nemesis"] == ["partition:majorities-ring"] and b["workload"] == "set"
