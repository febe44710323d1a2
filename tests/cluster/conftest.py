"""Fixtures of the cluster tests: hosts with sshd for the ssh backend (docker tier)."""

from __future__ import annotations

import socket
import subprocess

import pytest

from cluster.ssh import SSHHost
from tests.support.waiting import wait_for


def _start_sshd(docker, node: str, pubkey) -> None:
    docker.put_file(node, pubkey, "/root/.ssh/authorized_keys")
    r = docker.exec(
        node,
        [
            "sh",
            "-c",
            "chmod 700 /root/.ssh && chmod 600 /root/.ssh/authorized_keys"
            " && ssh-keygen -A >/dev/null && mkdir -p /run/sshd && /usr/sbin/sshd",
        ],
    )
    assert r.ok, r.stderr


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture
def ssh_hosts(docker_cluster, tmp_path):
    """Three containers running sshd, reachable with a key made for this test only (the
    conftest factory removes the containers afterwards and checks nothing is left)."""
    key = tmp_path / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "paxlab-test", "-f", str(key)],
        check=True,
    )
    docker = docker_cluster(3)
    for node in docker.nodes:
        _start_sshd(docker, node, key.with_suffix(".pub"))
    # host keys checked for real: known_hosts from the keys sshd just generated
    known = tmp_path / "known_hosts"
    lines = []
    for n in docker.nodes:
        pub = docker.exec(n, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()
        lines.append(f"{docker.addresses[n]} {pub[0]} {pub[1]}")
    known.write_text("\n".join(lines) + "\n")
    hosts = [
        SSHHost(host=docker.addresses[n], key=str(key), known_hosts=str(known))
        for n in docker.nodes
    ]
    for h in hosts:
        wait_for(lambda h=h: _port_open(h.host, 22), 15, f"sshd on {h.host}")
    return docker, hosts
