"""The ssh backend: mutual TLS on by default, and the disk faults on a real remote data dir.

Hosts are containers running sshd (the fixture of test_ssh_cluster_docker).
"""

from __future__ import annotations

import time
import uuid

import pytest

from cluster.base import ClusterError
from cluster.ssh import SSHCluster
from paxos_impl.client import Client

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]


def test_ssh_tls_and_a_torn_log_refused_then_restored(ssh_hosts):
    _docker, hosts = ssh_hosts
    ssh = SSHCluster(f"paxlab-test-sshdisk-{uuid.uuid4().hex[:6]}", hosts=hosts)
    try:
        ssh.setup()
        assert "disk" in ssh.capabilities()
        assert ssh.config.tls.enabled and ssh.config.tls.client_cert
        listing = ssh.exec("n2", ["ls", "tls"]).stdout.split()
        assert sorted(listing) == ["ca.pem", "node1.key", "node1.pem"], listing  # its own only
        ssh.start_all()
        with Client(ssh.config, node=0, timeout=5.0) as c:
            for i in range(5):
                c.write(f"k{i}", i)
        # A quorum of the other two acknowledges the writes; on a loaded machine n2 may not
        # have logged any yet when it stops ("the log is empty": nothing to tear). Then it
        # gets back up, more writes, and another try.
        for attempt in range(5):
            ssh.stop("n2")
            what = ssh.disk("n2", "damage", "torn", 3)
            if "skipped" not in what:
                break
            assert ssh.disk("n2", "restore") == {"restored": True}
            ssh.start("n2")
            with Client(ssh.config, node=0, timeout=5.0) as c:
                c.write(f"more{attempt}", attempt)
            time.sleep(1.0)
        assert what["kind"] == "torn" and "cut_at" in what, what
        with pytest.raises(ClusterError, match="clean shutdown"):
            ssh.start("n2")
        assert ssh.disk("n2", "restore") == {"restored": True}
        ssh.start("n2")
        with Client(ssh.config, node=1, timeout=5.0) as c:
            assert [c.read(f"k{i}") for i in range(5)] == list(range(5))
    finally:
        ssh.teardown()
    assert not ssh.certs.dir.exists()
