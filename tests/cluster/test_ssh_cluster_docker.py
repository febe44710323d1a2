"""The ssh backend for real: sshd in the node containers, SSHCluster pointed at them.

The Docker backend only provides the hosts here (containers with sshd and a throwaway key);
everything the test does to the store goes over SSH: upload, start under the node agent,
client traffic, kill -9, restart, pause, resume, an iptables partition, a clock offset,
collect, and a teardown that must leave no store process, no rule and no container behind.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from cluster.base import ClusterError, ExecResult, Unsupported
from cluster.ssh import SSHCluster, SSHHost
from paxos_impl.client import Client, PaxosError
from tests.support.waiting import wait_for, write_acked

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]


def _store_processes(docker, node: str) -> str:
    return docker.exec(node, ["pgrep", "-af", "[p]axos_impl.server"]).stdout.strip()


def test_ssh_backend_start_write_kill_pause_partition_clock(ssh_hosts, tmp_path):
    docker, hosts = ssh_hosts
    ssh = SSHCluster(f"paxlab-test-ssh-{uuid.uuid4().hex[:6]}", hosts=hosts)
    try:
        t0 = time.monotonic()
        ssh.setup()
        caps = ssh.capabilities()
        assert {"kill", "pause", "partition", "clock", "exec", "files"} <= caps, caps
        ssh.start_all()
        print(f"ssh: setup + start of 3 nodes took {time.monotonic() - t0:.1f} s")
        assert all(ssh.is_running(n) for n in ssh.nodes)
        assert ssh.exec("n1", ["hostname"]).stdout.strip() == "n1"

        acked: dict[str, object] = {}
        with Client(ssh.config, node=0, timeout=3.0) as c:
            for i in range(5):
                write_acked(c, f"k{i}", i, acked)

        # kill -9 and restart over SSH
        pid = ssh.status("n1")["pid"]
        ssh.kill("n1")
        assert not ssh.is_running("n1")
        with Client(ssh.config, node=1, timeout=3.0) as c:
            for i in range(5, 8):
                write_acked(c, f"k{i}", i, acked)
        ssh.start("n1")
        assert ssh.status("n1")["pid"] != pid

        # pause / resume: the process is stopped, the majority goes on
        ssh.pause("n2")
        assert ssh.status("n2")["state"] == "paused"
        with Client(ssh.config, node=2, timeout=3.0) as c:
            for i in range(8, 11):
                write_acked(c, f"k{i}", i, acked)
        ssh.resume("n2")
        assert ssh.status("n2")["state"] == "running"

        # partition n3 away: rules in the PAXLAB chain of every container, majority serves
        ssh.partition({"n3": {"n1", "n2"}, "n1": {"n3"}, "n2": {"n3"}})
        rules = docker.exec("n3", ["iptables", "-S", "PAXLAB"]).stdout
        assert f"-s {docker.addresses['n1']}/32" in rules and "-j DROP" in rules
        with Client(ssh.config, node=0, timeout=3.0) as c:
            for i in range(11, 14):
                write_acked(c, f"k{i}", i, acked)
            time.sleep(0.5)  # connected, n3 would learn these commits within a heartbeat
            assert c.status(2)["commit_index"] < c.status(0)["commit_index"]
        ssh.heal_network()
        assert "-j DROP" not in docker.exec("n3", ["iptables", "-S", "PAXLAB"]).stdout

        # total packet loss on n3, except its SSH port: we still control it, it hears nothing
        ssh.netem("n3", loss=1.0)
        assert ssh.status("n3")["running"]  # over SSH, through the loss
        with Client(ssh.config, node=0, timeout=3.0) as c:
            for i in range(14, 17):
                write_acked(c, f"k{i}", i, acked)
        with Client(ssh.config, node=2, timeout=1.0, follow_redirects=False) as c:
            with pytest.raises(PaxosError):  # even the host's client gets no answer from n3
                c.status(2)
        ssh.heal_netem()
        assert "--probability" not in docker.exec("n3", ["iptables", "-S", "PAXLAB-LOSS"]).stdout
        if "netem-delay" in caps:
            ssh.netem("n3", delay_ms=50)
            ssh.heal_netem()
        else:
            with pytest.raises(Unsupported, match="netem"):
                ssh.netem("n3", delay_ms=50)

        # every acknowledged write readable through every node
        for node in range(3):
            with Client(ssh.config, node=node, timeout=3.0) as c:
                for key, value in acked.items():
                    got = wait_for(lambda k=key: [c.read(k)], what=f"read {key} via {node}")
                    assert got == [value], (node, key)

        # clock: the offset file the store runs under, and what a process on that clock sees
        ssh.set_clock_offset("n2", 3600)
        assert ssh.status("n2")["clock_offset"] == 3600
        with Client(ssh.config, node=1, timeout=3.0) as c:  # the store's own time.time()
            wait_for(lambda: abs(c.status(1)["time"] - time.time() - 3600) < 60, 10, "skew")
        r = ssh._agent("n2", "run", "--", "python3", "-c", "import time; print(time.time())")
        assert abs(float(r.stdout) - time.time() - 3600) < 60
        ssh.reset_clocks()
        assert ssh.status("n2")["clock_offset"] == 0
        with Client(ssh.config, node=1, timeout=3.0) as c:
            wait_for(lambda: abs(c.status(1)["time"] - time.time()) < 60, 10, "clock reset")

        out = tmp_path / "collected"
        ssh.collect("n1", out / "n1")
        assert "--- start" in (out / "n1" / "store.log").read_text()
        assert "kill -9" in (out / "n1" / "agent.log").read_text()
        assert (out / "n1" / "data-listing.txt").read_text().count("\n") >= 2

        # files over SFTP
        src = tmp_path / "hello.txt"
        src.write_text("over sftp")
        ssh.put_file("n3", src, "sub/hello.txt")
        ssh.get_file("n3", "sub/hello.txt", tmp_path / "back.txt")
        assert (tmp_path / "back.txt").read_text() == "over sftp"
    finally:
        ssh.teardown()
    for node in docker.nodes:
        assert _store_processes(docker, node) == "", node
        assert docker.exec(node, ["iptables", "-S", "PAXLAB"]).exit_code != 0  # chain gone
        assert docker.exec(node, ["test", "-e", ssh.workdir(node)]).exit_code != 0


def test_ssh_errors_are_one_line(ssh_hosts, tmp_path):
    docker, hosts = ssh_hosts
    wrong_key = tmp_path / "other"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True
    )
    bad = SSHCluster(
        "paxlab-test-sshbad",
        hosts=[SSHHost(host=hosts[0].host, key=str(wrong_key), known_hosts=hosts[0].known_hosts)],
    )
    with pytest.raises(ClusterError, match=r"cannot SSH to root@") as e:
        bad.setup()
    assert "\n" not in str(e.value)
    ok = SSHCluster("paxlab-test-sshbad", hosts=hosts[:1])
    try:
        # asked before setup, the probes install what they need and still find everything
        assert {"clock", "partition", "kill", "pause"} <= ok.capabilities()
        r = ok.exec("n1", ["sh", "-c", "echo out; echo err >&2; exit 4"])
        assert r == ExecResult(4, "out\n", "err\n")
        assert ok.exec("n1", ["sleep", "10"], timeout=0.5).exit_code == 124
        with pytest.raises(ClusterError, match="n1: node_agent pause: the store is not running"):
            ok.pause("n1")
    finally:
        ok.teardown()
