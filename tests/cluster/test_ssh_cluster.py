"""The ssh backend's nodes file: the format its docstring documents, and one-line errors."""

from __future__ import annotations

import json

import pytest

from cluster.base import ClusterError
from cluster.ssh import SSHCluster, load_nodes_file, parse_nodes

TOML = """
user = "paxlab"
key = "~/.ssh/id_test"
peer_port = 7300

[[nodes]]
host = "10.0.0.11"

[[nodes]]
host = "10.0.0.12"
port = 2222
address = "192.168.1.12"
peer_port = 7400
"""


def test_toml_nodes_file_defaults_and_overrides(tmp_path):
    f = tmp_path / "nodes.toml"
    f.write_text(TOML)
    a, b = load_nodes_file(f)
    assert (a.host, a.port, a.user, a.key, a.peer_port, a.client_port) == (
        "10.0.0.11",
        22,
        "paxlab",
        "~/.ssh/id_test",
        7300,
        7200,
    )
    assert a.store_address == "10.0.0.11"
    assert (b.port, b.store_address, b.peer_port) == (2222, "192.168.1.12", 7400)


def test_json_nodes_file_gives_the_same_hosts(tmp_path):
    f = tmp_path / "nodes.json"
    f.write_text(
        json.dumps({"user": "root", "nodes": [{"host": "h1"}, {"host": "h2", "port": 23}]})
    )
    hosts = load_nodes_file(f)
    assert [(h.host, h.port, h.user) for h in hosts] == [("h1", 22, "root"), ("h2", 23, "root")]


def test_cluster_config_uses_the_peer_address_and_ports(tmp_path):
    f = tmp_path / "nodes.toml"
    f.write_text(TOML)
    c = SSHCluster("paxlab-test-sshcfg", nodes_file=f, read_mode="quorum")
    assert c.nodes == ["n1", "n2"]
    assert [(a.id, a.host, a.peer_port) for a in c.config.nodes] == [
        (0, "10.0.0.11", 7300),
        (1, "192.168.1.12", 7400),
    ]
    assert c.config.read_mode == "quorum"
    assert c.workdir("n2") == "/tmp/paxlab/paxlab-test-sshcfg"
    one = SSHCluster("paxlab-test-sshcfg", 1, nodes_file=f)
    assert one.nodes == ["n1"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("user = 'x'", "no nodes"),
        ("[[nodes]]\nport = 22", "node 1 has no host"),
        ("[[nodes]]\nhost = 'h'\nport = 99999", "port must be a port number"),
        ("[[nodes]]\nhost = 'h'\ncolour = 'red'", "unknown keys colour"),
        ("colour = 'red'\n[[nodes]]\nhost = 'h'", "unknown keys colour"),
        ("[[nodes]\nhost = 'h'", "not valid TOML"),
    ],
)
def test_bad_nodes_files_give_one_line_errors(tmp_path, text, message):
    f = tmp_path / "nodes.toml"
    f.write_text(text)
    with pytest.raises(ClusterError, match=message) as e:
        load_nodes_file(f)
    assert "\n" not in str(e.value)


def test_missing_nodes_file(tmp_path, monkeypatch):
    monkeypatch.delenv("PAXLAB_NODES_FILE", raising=False)
    with pytest.raises(ClusterError, match="cannot read the nodes file"):
        load_nodes_file(tmp_path / "absent.toml")
    with pytest.raises(ClusterError, match="needs a nodes file"):
        SSHCluster("paxlab-test-x")


def test_nodes_file_from_the_environment(tmp_path, monkeypatch):
    f = tmp_path / "nodes.toml"
    f.write_text(TOML)
    monkeypatch.setenv("PAXLAB_NODES_FILE", str(f))
    assert SSHCluster("paxlab-test-env").nodes == ["n1", "n2"]


def test_too_many_nodes(tmp_path):
    with pytest.raises(ClusterError, match="3 nodes asked for, but the nodes file names 1"):
        SSHCluster("paxlab-test-x", 3, hosts=parse_nodes({"nodes": [{"host": "h"}]}))
