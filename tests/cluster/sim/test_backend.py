"""The sim backend: disks with power loss, the network's faults, clocks, the client's
definite / indeterminate answers, and the controller's unmodified phases on top."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from cluster import make_cluster
from cluster.base import ClusterError
from cluster.sim.backend import SimCluster
from cluster.sim.disk import SimDisk
from controller.run import run_test
from controller.spec import TestSpec
from controller.virtual_loop import run_virtual
from paxos_impl.client import DefiniteFailure, Indeterminate
from paxos_impl.storage import encode_record
from tests.support.sim.booted import booted


# -- the disk -------------------------------------------------------------------------------------
def _recs(a: int, b: int) -> list[dict]:
    return [{"t": "accept", "slot": s, "v": "x" * (s % 7)} for s in range(a, b)]


def test_kill_keeps_the_page_cache_power_loss_keeps_what_was_synced():
    d = SimDisk()
    d.write(_recs(0, 5))
    d.sync()
    d.write(_recs(5, 9))
    assert d.crash(power_loss=False, rng=random.Random(1)) == "kept"
    assert d.records == _recs(0, 9)

    fates = set()
    for seed in range(60):
        d = SimDisk()
        d.write(_recs(0, 5))
        d.sync()
        d.write(_recs(5, 9))
        fate = d.crash(power_loss=True, rng=random.Random(seed))
        fates.add(fate.split("@")[0])
        got = d.records  # recovery: never invents, never loses what was synced
        assert got == _recs(0, len(got)) and len(got) >= 5, (seed, fate)
        if fate == "lost":
            assert len(got) == 5
        if fate == "kept":
            assert len(got) == 9
        assert d.records == got  # the torn tail was truncated once, as storage does
    assert fates == {"lost", "kept", "torn"}


def test_a_torn_tail_is_truncated_like_storage_recovery():
    d = SimDisk()
    d.write(_recs(0, 3))
    d.sync()
    frames = b"".join(map(encode_record, _recs(3, 5)))
    d.residue = frames[: len(frames) - 5]  # the second record cut short
    assert d.records == _recs(0, 4)
    assert d.torn_recoveries == 1 and d.residue == b""
    assert d.records == _recs(0, 4)


def test_a_snapshot_replaces_the_log_only_once_synced():
    d = SimDisk()
    d.write(_recs(0, 4))
    d.sync()
    d.write(_recs(4, 5), snapshot={"applied": 4})
    d.crash(power_loss=True, rng=random.Random(0))
    assert d.snapshot is None  # the rename never happened
    d.write(_recs(4, 5), snapshot={"applied": 4})
    d.sync()
    assert d.snapshot == {"applied": 4} and d.records == []


# -- the cluster, driven without an event loop ---------------------------------------------------
def _booted(n: int = 3, **kw) -> SimCluster:
    return booted(n, **kw)


def test_make_cluster_registers_the_backend_and_a_leader_is_elected():
    c = _booted()
    assert c.capabilities() >= {"kill", "pause", "partition", "clock", "netem-delay", "netem-loss"}
    assert len(c.world.leaders()) == 1
    assert all(c.is_running(n) for n in c.nodes)


def test_unknown_option_or_node_is_a_one_line_error():
    with pytest.raises(ClusterError, match="no option 'bogus'"):
        make_cluster("sim", "t", 3, bogus=1)
    c = _booted()
    with pytest.raises(ClusterError, match="no node 'n9'"):
        c.kill("n9")


def test_one_way_partition_drops_one_direction_only():
    c = _booted()
    c.partition({"n2": {"n1"}})  # n2 drops traffic from n1; n1 still hears n2
    assert c.world.net.delays(0, 1) == []
    assert len(c.world.net.delays(1, 0)) == 1
    c.heal_network()
    assert len(c.world.net.delays(0, 1)) == 1


def test_clock_offset_and_drift():
    c = _booted()
    w = c.world
    c.set_clock_offset("n1", 5.0)
    c.set_clock_drift("n1", 0.1)
    t0, n0 = w.now, w.node_time(0)
    c.run_for(10.0)
    assert w.node_time(0) - n0 == pytest.approx((w.now - t0) * 1.1)
    assert n0 - t0 == pytest.approx(5.0)
    c.reset_clocks()
    assert w.node_time(0) == pytest.approx(w.now)
    with pytest.raises(ClusterError):
        c.set_clock_drift("n1", 2.0)


def test_power_loss_crash_and_restart_recovers_the_node():
    c = _booted()
    fate = c.crash("n2", lose_unsynced=True)
    assert fate in ("clean", "lost", "kept") or fate.startswith("torn")
    assert not c.is_running("n2")
    c.start("n2")
    c.run_for(2.0)
    assert c.world.statuses()[1]["role"] in ("follower", "leader")
    assert c.violations == []


# -- the client's answers, in virtual time --------------------------------------------------------
def _client_scenario(action):
    async def main():
        c = SimCluster("t", 3, seed=2)
        c.setup()
        c.start_all()
        await asyncio.sleep(2.0)
        try:
            return await action(c)
        finally:
            c.teardown()

    return run_virtual(main())


def test_client_reads_its_writes_and_follows_redirects():
    async def act(c):
        leader = c.world.leaders()[0]
        follower = next(n for n in c.nodes if int(n[1:]) - 1 != leader)
        cl = c.async_client(follower, client_id="a", timeout=2.0)
        await cl.write("k", 1)
        await cl.append("l", [1])
        await cl.cas("k", 1, 2)
        st = await cl.status(leader)
        return await cl.read("k"), await cl.read("l"), st["role"]

    assert _client_scenario(act) == (2, [1], "leader")


def test_cas_mismatch_and_down_cluster_are_definite():
    async def act(c):
        cl = c.async_client("n1", client_id="b", timeout=1.0)
        with pytest.raises(DefiniteFailure) as e:
            await cl.cas("k", 7, 8)
        assert e.value.error == "mismatch"
        for n in c.nodes:
            c.kill(n)
        with pytest.raises(DefiniteFailure):
            await cl.write("k", 3)  # every connection refused: nothing was sent
        return True

    assert _client_scenario(act)


def test_crash_or_pause_during_a_request_is_indeterminate():
    async def act(c):
        leader = c.nodes[c.world.leaders()[0]]
        cl = c.async_client(leader, client_id="c", timeout=0.5)
        c.pause(leader)
        with pytest.raises(Indeterminate):
            await cl.write("k", 1)
        c.resume(leader)
        fut = asyncio.ensure_future(cl.write("k", 2))
        await asyncio.sleep(0)  # the request is on its way
        for n in c.nodes:  # its connection resets; no retry can learn the outcome
            c.kill(n)
        with pytest.raises(Indeterminate):
            await fut
        return True

    assert _client_scenario(act)


# -- the controller on top ------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_paxlab_test_phases_run_unchanged_on_the_sim(tmp_path):
    spec = TestSpec(
        workload="register",
        nemesis=["kill", "partition"],
        nodes=3,
        concurrency=4,
        time_limit=6,
        seed=11,
        backend="sim",
        nemesis_interval=1.0,
        op_timeout=1.0,
        argv=["paxlab", "test"],
    )
    out = run_test(spec, results_root=tmp_path, progress=False)
    assert out.results["phases"][:6] == ["setup", "run", "heal", "recover", "final", "collect"]
    assert out.valid is True, out.results
    events = [json.loads(x) for x in (out.run_dir / "history.jsonl").read_text().splitlines()]
    assert sum(e["type"] == "ok" for e in events if isinstance(e["process"], int)) > 20
    assert any(e["f"] == "start-kill" for e in events)
    assert (out.run_dir / "nodes" / "n1" / "data-listing.txt").exists()
    assert out.report is not None


class _OneWaySim(SimCluster):
    """Test double: applies only one direction of each partition the nemesis asks for, so the
    unchanged partition nemesis drives one-way partitions (which iptables makes awkward)."""

    def partition(self, grudge):
        one_way = {
            dst: {src for src in srcs if (src < dst) == (self.seed % 2 == 0)}
            for dst, srcs in grudge.items()
        }
        super().partition(one_way)
        blocked = self.world.net.blocked
        assert not any((b, a) in blocked for a, b in blocked)  # really one way
        self.one_way_blocks = getattr(self, "one_way_blocks", 0) + len(blocked)


@pytest.mark.timeout(120)
def test_correct_store_stays_linearizable_under_one_way_partitions(tmp_path):
    for seed in range(8):
        spec = TestSpec(
            workload="register",
            nemesis=["partition"],
            nodes=3,
            concurrency=4,
            time_limit=4,
            seed=seed,
            backend="sim",
            nemesis_interval=0.4,
            op_timeout=1.0,
        )
        c = _OneWaySim("t", 3, seed=seed)
        out = run_test(spec, cluster=c, results_root=tmp_path, progress=False, report=False)
        assert out.valid is True, (seed, out.results)
        assert c.violations == []
        assert c.one_way_blocks > 0


def test_virtual_loop_fires_same_instant_timers_in_creation_order():
    """Even after the loop rebuilds its heap to drop cancelled timers (which reorders ties
    in a plain asyncio loop), timers due together fire in the order they were set."""

    async def main():
        loop = asyncio.get_running_loop()
        order = []
        junk = [loop.call_at(5.0, order.append, "x") for _ in range(400)]
        for k in range(200):
            loop.call_at(1.0 + (k % 3), order.append, k)
        for h in junk:
            h.cancel()  # most of the heap is now cancelled: the loop will rebuild it
        await asyncio.sleep(4.0)
        return order

    got = run_virtual(main())
    assert got == sorted(range(200), key=lambda k: (k % 3, k))
