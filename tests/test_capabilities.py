"""Backend capabilities as Protocols: what a backend implements, offers, and is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_controller_fakes import FakeCluster

import nemesis
from cluster import make_cluster
from cluster.base import Cluster, Unsupported
from cluster.capabilities import (
    PROTOCOLS,
    Files,
    InProcessClients,
    Inspect,
    Kill,
    Partition,
    in_virtual_time,
    need,
    offered,
)


class _Core(Cluster):
    """Only the core, yet claiming every fault: a backend that lies about itself."""

    def __init__(self) -> None:
        self.name, self.nodes = "core", ["n1", "n2", "n3"]

    def capabilities(self) -> set[str]:
        return {"kill", "pause", "partition", "clock"}

    def setup(self) -> None: ...

    def teardown(self) -> None: ...

    def start(self, node: str, bugs: list[str] | None = None) -> None: ...

    def stop(self, node: str) -> None: ...

    def is_running(self, node: str) -> bool:
        return True

    def collect(self, node: str, dest: Path) -> None: ...


def test_a_claimed_capability_without_its_methods_is_not_offered():
    c = _Core()
    assert offered(c) == set()
    with pytest.raises(Unsupported, match="_Core backend cannot do: kill"):
        c.require("kill")
    with pytest.raises(Unsupported, match="_Core backend cannot do the kill nemesis"):
        nemesis.build([("kill", None)]).require(c, final=False)


def test_need_says_which_capability_is_missing():
    with pytest.raises(Unsupported, match="^the _Core backend has no Partition capability$"):
        need(_Core(), Partition)
    fake = FakeCluster(3)
    assert need(fake, Kill) is fake


def test_the_simulator_declares_its_sim_only_members():
    sim = make_cluster("sim", "caps", 3)
    assert isinstance(sim, InProcessClients) and isinstance(sim, Inspect)
    assert in_virtual_time(sim)
    assert not isinstance(sim, Files)  # no files to copy: nothing claims "files"
    for cap in sim.capabilities():
        assert cap not in PROTOCOLS or isinstance(sim, PROTOCOLS[cap]), cap


def test_the_local_backend_implements_what_it_claims(tmp_path):
    local = make_cluster("local", "caps", 3, run_dir=tmp_path, cleanup_at_exit=False)
    assert not in_virtual_time(local) and not isinstance(local, InProcessClients)
    for cap in local.possible_capabilities():
        assert cap not in PROTOCOLS or isinstance(local, PROTOCOLS[cap]), cap
