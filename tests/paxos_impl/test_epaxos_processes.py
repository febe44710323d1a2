"""EPaxos mode on three real paxos-server processes (loopback, fsync on): every node commits
its own clients' commands, and what was acknowledged survives kill -9 of every node."""

from __future__ import annotations

import pytest

from controller.bench_cli import LocalServers
from paxos_impl.client import Client


@pytest.mark.timeout(120)
def test_every_node_commits_and_acknowledged_appends_survive_kill_9(tmp_path):
    with LocalServers(tmp_path, 3, mode="epaxos", snapshot_every=4) as servers:
        servers.start_all()
        servers.wait_for_leader()
        for i in range(3):  # a client per node, all on one key: they conflict
            with Client(servers.config, node=i, timeout=10) as c:
                assert c.status(i)["mode"] == "epaxos"
                for v in range(3):
                    c.append("k", [10 * i + v])
        for i in range(3):
            servers.kill(i)
        servers.start_all()
        seen = []
        for i in range(3):
            with Client(servers.config, node=i, timeout=10) as c:
                seen.append(c.read("k"))
        assert sorted(seen[0]) == [0, 1, 2, 10, 11, 12, 20, 21, 22]
        assert seen == [seen[0]] * 3  # one order of the conflicting appends everywhere
        for i in range(3):
            assert " CRITICAL " not in servers.log_path(i).read_text(), servers.tail(i)
