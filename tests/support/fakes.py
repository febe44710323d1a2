"""Fakes for the controller's unit tests: an in-memory cluster and store (no network, no docker).

The fake store is linearizable by construction (one asyncio loop, atomic dict updates) unless
told to misbehave, so a run against it must be valid, and a run against the misbehaving one
must not be. Partitions, kills and pauses change which nodes answer, like the real thing.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
from pathlib import Path
from typing import Any

from cluster.base import CAPABILITIES, Cluster, ClusterError, node_name, store_id
from nemesis.base import FaultContext
from paxos_impl.client import CasMismatch, DefiniteFailure, Indeterminate
from paxos_impl.config import local_config
from targets.bundled import BundledTarget


class FakeCluster(Cluster):
    def __init__(
        self,
        n: int = 3,
        *,
        caps: set[str] | None = None,
        virtual: bool = True,
        latency: float = 0.002,
        lose_writes: bool = False,
        lose_set_element: int | None = None,
        teardown_error: bool = False,
        setup_error: bool = False,
        sigint_after_ops: int | None = None,
        machine: type | None = None,
    ) -> None:
        self.name = "fake"
        self.nodes = [node_name(i) for i in range(n)]
        self.config = local_config(n)
        self.caps = set(CAPABILITIES if caps is None else caps)
        self.virtual_time = virtual
        self.latency = latency
        self.lose_writes = lose_writes
        self.lose_set_element = lose_set_element
        self.teardown_error = teardown_error
        self.setup_error = setup_error
        self.sigint_after_ops = sigint_after_ops
        self.data: dict[Any, Any] = {}
        # a user's state machine for apply/query (lose_writes: commands answered, not applied)
        self.machine = machine() if machine is not None else None
        self.running: set[str] = set()
        self.paused: set[str] = set()
        self.grudge: dict[str, set[str]] = {}
        self.offsets: dict[str, float] = {}
        self.netems: dict[str, dict] = {}
        self.calls: list[tuple] = []
        self.ops = 0
        self.torn_down = False
        self.set_up = False

    # -- the Cluster interface --------------------------------------------------------------
    def capabilities(self) -> set[str]:
        return set(self.caps)

    def setup(self) -> None:
        self.calls.append(("setup",))
        if self.setup_error:
            raise ClusterError("no room for containers")
        self.set_up = True

    def teardown(self) -> None:
        self.calls.append(("teardown",))
        self.torn_down = True
        self.running.clear()
        if self.teardown_error:
            raise ClusterError("network still in use")

    def start(self, node: str, bugs: list[str] | None = None) -> None:
        self.calls.append(("start", node, tuple(bugs or ())))
        self.running.add(node)
        self.paused.discard(node)

    def stop(self, node: str) -> None:
        self.running.discard(node)

    def kill(self, node: str) -> None:
        self.calls.append(("kill", node))
        self.running.discard(node)

    def pause(self, node: str) -> None:
        self.calls.append(("pause", node))
        self.paused.add(node)

    def resume(self, node: str) -> None:
        self.calls.append(("resume", node))
        self.paused.discard(node)

    def is_running(self, node: str) -> bool:
        return node in self.running

    def collect(self, node: str, dest: Path) -> None:
        (dest / "store.log").write_text(f"{node} log\n")

    def partition(self, grudge: dict[str, set[str]]) -> None:
        self.calls.append(("partition", {k: set(v) for k, v in grudge.items()}))
        self.grudge = {k: set(v) for k, v in grudge.items()}

    def heal_network(self) -> None:
        self.calls.append(("heal_network",))
        self.grudge = {}

    def set_clock_offset(self, node: str, seconds: float) -> None:
        self.calls.append(("clock", node, seconds))
        self.offsets[node] = seconds

    def reset_clocks(self) -> None:
        self.calls.append(("reset_clocks",))
        self.offsets = {}

    def netem(self, node: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        self.calls.append(("netem", node, delay_ms, jitter_ms, loss))
        self.netems[node] = {"delay_ms": delay_ms, "loss": loss}

    def heal_netem(self) -> None:
        self.calls.append(("heal_netem",))
        self.netems = {}

    # -- what the fake store can do from a node ---------------------------------------------
    def up(self, node: str) -> bool:
        return node in self.running and node not in self.paused

    def sees_majority(self, node: str) -> bool:
        peers = [m for m in self.nodes if self.up(m) and m not in self.grudge.get(node, set())]
        return len(peers) > len(self.nodes) // 2

    def leader(self) -> str | None:
        return next((n for n in self.nodes if self.up(n) and self.sees_majority(n)), None)

    def async_client(self, node: str, client_id: str = "", timeout: float = 5.0) -> FakeConn:
        return FakeConn(self, node, timeout)


class FakeConn:
    def __init__(self, cluster: FakeCluster, node: str, timeout: float) -> None:
        self.c = cluster
        self.node = node
        self.timeout = timeout
        self.closed = False

    async def _enter(self) -> None:
        c = self.c
        c.ops += 1
        if c.sigint_after_ops is not None and c.ops == c.sigint_after_ops:
            os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(c.latency)
        if not c.up(self.node):
            await asyncio.sleep(self.timeout)
            raise Indeterminate(f"{self.node} did not answer", "timeout")
        if not c.sees_majority(self.node):
            raise DefiniteFailure("no quorum", "unavailable")

    async def read(self, key: Any = None) -> Any:
        await self._enter()
        return self.c.data.get(key)

    async def write(self, key: Any, value: Any) -> None:
        await self._enter()
        if not self.c.lose_writes:
            self.c.data[key] = value

    async def cas(self, key: Any, expected: Any, new: Any) -> None:
        await self._enter()
        if self.c.data.get(key) != expected:
            raise CasMismatch("mismatch", "mismatch")
        self.c.data[key] = new

    async def append(self, key: Any, value: Any) -> None:
        await self._enter()
        if self.c.lose_set_element is not None and value == [self.c.lose_set_element]:
            return
        cur = self.c.data.get(key)
        self.c.data[key] = (cur or ([] if isinstance(value, list) else "")) + value

    async def apply(self, command: Any) -> Any:
        await self._enter()
        m = self.c.machine
        before = json.loads(json.dumps(m.snapshot())) if self.c.lose_writes else None
        try:
            result = m.apply(command)
            if hasattr(result, "__await__"):
                result = await result
        except Exception as e:  # the machine refused it (the store's MachineError)
            raise DefiniteFailure(str(e), "rejected") from None
        if self.c.lose_writes:
            m.restore(before)
        return result

    async def query(self, query: Any) -> Any:
        await self._enter()
        return self.c.machine.query(query)

    async def status(self, node: int | None = None) -> dict:
        await self._enter()
        leader = self.c.leader()
        me = self.node if node is None else node_name(node)
        return {
            "id": store_id(me),
            "role": "leader" if leader == me else "follower",
            "leader": None if leader is None else store_id(leader),
            "ballot": [1, 0],
        }

    async def close(self) -> None:
        self.closed = True


def started(n: int = 5, **kw: Any) -> FakeCluster:
    """A fake cluster with every node's store running (n1 leads: the first node up)."""
    c = FakeCluster(n, **kw)
    c.start_all()
    return c


def fault_context(cluster: FakeCluster, seed: int = 0) -> FaultContext:
    """What a nemesis gets in a run, over the fake: blocking calls made inline, the store's
    status from the fake store, a seeded rng, and the run's bugs (early-ack) for restarts."""

    async def call(fn, *a: Any, **kw: Any) -> Any:
        return fn(*a, **kw)

    return FaultContext(
        cluster=cluster,
        call=call,
        rng=random.Random(seed),
        target=BundledTarget(),
        bugs=["early-ack"],
    )
