"""Why a log cut while the node was stopped must stop the node: the lost write it causes.

A scenario on the simulator, aimed: write k=2 is acknowledged by the leader L and follower F
while the third node is cut off; F is stopped cleanly and its log cut at a record boundary
just before k=2 (the ``truncate`` damage); L dies; the partition heals; F starts. If F trusts
its shortened log (as storage did before the clean-shutdown check: a cut at a record boundary
looked like a log that ended there), F and the third node form a quorum that never saw k=2
and the acknowledged write is gone. The fixed store refuses to start F: the cluster is
unavailable instead, and no read ever returns the old value.
"""

from __future__ import annotations

import asyncio

from cluster.base import ClusterError
from cluster.sim.backend import SimCluster
from cluster.sim.disk import SimDisk, _Bytes, scan_frames
from controller.virtual_loop import run_virtual
from paxos_impl.client import PaxosError
from paxos_impl.storage import encode_record


def _scenario(seed: int) -> dict:
    async def main() -> dict:
        c = SimCluster("t", 3, seed=seed)
        c.setup()
        c.start_all()
        await asyncio.sleep(2.0)
        try:
            cl = c.async_client("n1", client_id="w", timeout=3.0)
            await cl.write("k", 1)
            leader = c.nodes[c.world.leaders()[0]]
            other = [n for n in c.nodes if n != leader]
            follower, cut_off = other[0], other[1]
            grudge = {cut_off: {leader, follower}, leader: {cut_off}, follower: {cut_off}}
            c.partition(grudge)
            await asyncio.sleep(0.5)
            disk: SimDisk = c.world.nodes[c.nodes.index(follower)].disk  # type: ignore[assignment]
            before = len(disk.durable_records())
            cl2 = c.async_client(leader, client_id="w2", timeout=3.0)
            await cl2.write("k", 2)  # acknowledged: chosen by {leader, follower}
            await asyncio.sleep(0.3)
            c.stop(follower)
            frames = b"".join(encode_record(r) for r in disk.durable_records())
            keep = b"".join(encode_record(r) for r in disk.durable_records()[:before])
            disk.damaged, disk.clean_size = keep, len(frames)  # cut at a record boundary
            c.kill(leader)
            c.heal_network()
            try:
                c.start(follower)
                started = True
            except ClusterError:
                started = False
            await asyncio.sleep(3.0)
            reads = []
            cl3 = c.async_client(cut_off, client_id="r", timeout=3.0)
            for _ in range(3):
                try:
                    reads.append(await cl3.read("k"))
                except PaxosError as e:
                    reads.append(f"error {e.error}")
            return {"started": started, "reads": reads, "violations": list(c.violations)}
        finally:
            c.teardown()

    return run_virtual(main())


def test_a_cut_log_stops_the_node_and_no_acknowledged_write_is_lost():
    for seed in range(3):
        out = _scenario(seed)
        assert out["started"] is False, out
        assert 1 not in out["reads"], out  # never the value before the acknowledged write
        assert out["violations"] == [], out


def test_control_trusting_the_cut_log_loses_the_acknowledged_write(monkeypatch):
    """The old behaviour (take the log up to its last whole record): the same scenario then
    reads k=1 after k=2 was acknowledged, so the test above is one that can fail."""

    def trusting(self: SimDisk) -> None:
        if self.damaged is not None:
            scan = scan_frames(_Bytes("log", self.damaged))  # type: ignore[arg-type]
            self.durable, self.damaged = scan.records, None

    monkeypatch.setattr(SimDisk, "_check_damage", trusting)
    for seed in range(3):
        out = _scenario(seed)
        assert out["started"] is True, out
        assert 1 in out["reads"], out  # the acknowledged k=2 is gone
        assert any("chosen slot" in v for v in out["violations"]), out  # chosen twice
