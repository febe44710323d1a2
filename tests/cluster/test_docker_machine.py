"""A user's state machine on the docker backend: the backend copies its module into the
containers beside the store's code, and the nodes serve its apply/query (issue 23)."""

from __future__ import annotations

import pytest

from paxos_impl.client import Client, DefiniteFailure, PaxosError, Rejected
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]


def _query(c, node: int = 0):
    with Client(c.config, node=node, timeout=3.0) as cl:
        try:
            return cl.query("value")
        except PaxosError:
            return None


def test_the_counter_machine_runs_in_containers(docker_cluster):
    c = docker_cluster(3, state_machine="examples.machines.counter:Counter")
    c.start_all()
    wait_for(lambda: _query(c) is not None, 30)
    with Client(c.config, timeout=5.0) as cl:
        assert [cl.apply({"add": n}) for n in (1, 2, 3)] == [1, 3, 6]
        with pytest.raises(Rejected):
            cl.apply({"add": "x"})
        with pytest.raises(DefiniteFailure):
            cl.write("k", 1)
    c.kill(c.nodes[2])
    c.start(c.nodes[2])
    wait_for(lambda: _query(c, 2) == 6, 30)
