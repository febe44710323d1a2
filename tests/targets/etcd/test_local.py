"""Real etcd members as local processes: the client's operations, kill and restart, pause,
and a partition in which a serializable read is stale while a linearizable one is not.

Needs Debian's etcd-server (``apt-get install -y etcd-server``): without it these fail
with that instruction rather than skip, like the other process tests."""

from __future__ import annotations

import asyncio
import time

import pytest

from cluster.local import LocalCluster, probe_iptables
from paxos_impl.client import CasMismatch, DefiniteFailure, Indeterminate
from targets.etcd import EtcdTarget
from targets.etcd.client import EtcdClient
from targets.etcd.status import leaders, wait_leader
from targets.etcd.target import client_url

pytestmark = pytest.mark.timeout(120)


class Members:
    """A local cluster running etcd, with each member's client URL at hand."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster

    def __getattr__(self, name):
        return getattr(self.cluster, name)

    def client_url(self, node: str) -> str:
        return client_url(self.cluster, node)

    def urls(self) -> dict[str, str]:
        return {n: self.client_url(n) for n in self.cluster.nodes}


@pytest.fixture
def etcd3():
    target = EtcdTarget()
    c = LocalCluster("etcd-t", 3, program=target, faketime=False, **target.cluster_opts())
    m = Members(c)
    try:
        c.setup()
        c.start_all()
        assert asyncio.run(wait_leader(m.urls()))
        yield m
    finally:
        c.teardown()
    assert all(c.pid(n) is None for n in c.nodes)


async def _with(url: str, op, **kw):
    c = EtcdClient(url, timeout=kw.pop("timeout", 3.0), **kw)
    try:
        return await op(c)
    finally:
        await c.close()


def _write_until_ok(url: str, key: str, value, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            return asyncio.run(_with(url, lambda c: c.write(key, value)))
        except (Indeterminate, DefiniteFailure):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_operations_on_a_real_cluster(etcd3):
    u1, u2 = etcd3.client_url("n1"), etcd3.client_url("n2")

    async def ops():
        a = EtcdClient(u1)
        b = EtcdClient(u2)
        try:
            assert await a.read("x") is None
            await a.write("x", 1)
            assert await b.read("x") == 1
            await b.cas("x", 1, 2)
            with pytest.raises(CasMismatch):
                await a.cas("x", 1, 3)
            assert await a.read("x") == 2
            await asyncio.gather(*[(a if i % 2 else b).append("l", [i]) for i in range(10)])
            assert sorted(await b.read("l")) == list(range(10))
        finally:
            await a.close()
            await b.close()

    asyncio.run(ops())


def test_a_killed_member_refuses_then_rejoins_with_its_data(etcd3):
    asyncio.run(_with(etcd3.client_url("n3"), lambda c: c.write("k", "before")))
    etcd3.kill("n3")
    assert not etcd3.is_running("n3")
    with pytest.raises(DefiniteFailure) as e:
        asyncio.run(_with(etcd3.client_url("n3"), lambda c: c.write("k", "lost")))
    assert e.value.error == "unavailable"
    # n3 may have led: etcd answers "request timed out" until a new leader is elected
    _write_until_ok(etcd3.client_url("n1"), "k", "during")
    etcd3.start("n3")
    assert asyncio.run(_with(etcd3.client_url("n3"), lambda c: c.read("k"))) == "during"


def test_a_paused_member_times_out_and_resumes(etcd3):
    etcd3.pause("n2")
    assert etcd3.is_paused("n2")
    with pytest.raises(DefiniteFailure):  # a read that times out did nothing
        asyncio.run(_with(etcd3.client_url("n2"), lambda c: c.read("k"), timeout=0.5))
    etcd3.resume("n2")
    _write_until_ok(etcd3.client_url("n2"), "k", 1)  # it may have led: an election first


def test_the_leader_is_who_the_members_say_it_is(etcd3):
    (first, *_) = asyncio.run(leaders(etcd3.urls()))
    etcd3.kill(first)
    new = asyncio.run(wait_leader(etcd3.urls()))
    assert new and first not in new


@pytest.mark.skipif(probe_iptables() is not None, reason="partitions need root and iptables")
def test_serializable_reads_are_stale_on_an_isolated_member(etcd3):
    n1, n2 = etcd3.client_url("n1"), etcd3.client_url("n2")
    asyncio.run(_with(n1, lambda c: c.write("s", "old")))
    etcd3.partition({"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}})
    try:
        _write_until_ok(n2, "s", "new")  # n1 may have led: the majority elects another first
        stale = asyncio.run(_with(n1, lambda c: c.read("s"), serializable=True))
        assert stale == "old"
        with pytest.raises(DefiniteFailure):  # linearizable: no quorum, no answer
            asyncio.run(_with(n1, lambda c: c.read("s"), timeout=1.0))
    finally:
        etcd3.heal_network()
    assert asyncio.run(_with(n1, lambda c: c.read("s"), timeout=10.0)) == "new"
