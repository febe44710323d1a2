"""etcd as a target (targets/etcd): options, refusals, and the member command lines."""

from __future__ import annotations

import pytest

import targets
from cluster import image
from cluster.base import Launch
from paxos_impl.config import Config, NodeAddress
from targets.base import Primaries, Target, TargetError
from targets.etcd import EtcdTarget


def _layout(n: int = 3) -> Config:
    return Config(
        nodes=[
            NodeAddress(id=i, host=f"10.0.0.{i + 1}", peer_port=7100, client_port=7200)
            for i in range(n)
        ]
    ).validate()


def test_etcd_is_registered_and_implements_the_seam():
    t = targets.make_target("etcd", {}, nodes=3)
    assert isinstance(t, Target) and isinstance(t, Primaries)
    assert t.bugs == () and "clock" in t.refused and "libfaketime" in t.refused["clock"]


@pytest.mark.parametrize(
    "opts, read_mode, says",
    [
        ({"read": "stale"}, "log", "read must be one of linearizable, serializable"),
        ({"quorum": 2}, "log", "only the target option read="),
        ({}, "lease", "--read-mode is the bundled store's"),
    ],
)
def test_options_etcd_does_not_have_are_one_line_errors(opts, read_mode, says):
    with pytest.raises(TargetError, match=says):
        EtcdTarget(opts, nodes=3, read_mode=read_mode)


def test_a_member_command_names_its_urls_the_cluster_and_its_data_dir():
    cfg = _layout()
    launch = Launch(
        node="n2",
        nodes=("n1", "n2", "n3"),
        node_dir="/var/lib/paxlab",
        config_path="/etc/paxlab/config.toml",
        python="python3",
        extra={"config": cfg, "remote": True},
    )
    cmd = EtcdTarget().command(launch)
    assert cmd[0] == "etcd"
    assert "--name=n2" in cmd
    assert "--listen-client-urls=http://10.0.0.2:7200" in cmd
    assert "--listen-peer-urls=http://10.0.0.2:7100" in cmd
    assert "--data-dir=/var/lib/paxlab/data" in cmd
    assert (
        "--initial-cluster=n1=http://10.0.0.1:7100,n2=http://10.0.0.2:7100,n3=http://10.0.0.3:7100"
        in cmd
    )
    # one token per cluster: another layout gets another one
    other = EtcdTarget().command(
        Launch(**{**launch.__dict__, "extra": {"config": _layout(5), "remote": True}})
    )
    token = [a for a in cmd if a.startswith("--initial-cluster-token")]
    assert token and token != [a for a in other if a.startswith("--initial-cluster-token")]


def test_the_node_image_carries_every_targets_debian_packages():
    for name in targets.names():
        t = targets.make_target(name, {}, nodes=3)
        assert set(t.install.debian_packages) <= set(image.PACKAGES), name
