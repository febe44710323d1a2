"""The store's client for simulated nodes: AsyncClient's policy, the simulator's transport.

Workloads talk to the store through ``paxos_impl.client.AsyncClient``; against the simulator
they get this class instead, with the same methods and the same exceptions meaning the same
things (DefiniteFailure / CasMismatch: certainly not applied; Indeterminate: unknown). The
retry and redirect policy is the real one (``paxos_impl.client._Command``) with its clock
replaced by the event loop's, so the two clients cannot drift apart in what they promise.

The transport mirrors TCP to a node process: a request to a node that is down is refused at
once (nothing sent: definite); a node that crashes while a request is out resets the
connection (the request may have been applied: unknown); a paused node just never answers
before the deadline (unknown).

A refusal costs a LAN round trip. During a majority kill a client cycles through the dead
nodes dozens of times per operation, so that time is not slept refusal by refusal (a timer
and an event-loop turn each, a quarter of a faulty run's cost) but owed and slept in one go
before the next attempt that reaches a node.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from paxos_impl.client import AsyncClient, DefiniteFailure, Indeterminate, _Command

if TYPE_CHECKING:
    from cluster.sim.backend import SimCluster

CONNECT_LATENCY = 0.0005  # a refused connection costs about one round trip on a LAN


def _running_loop_time() -> float:
    return asyncio.get_running_loop().time()


def _expire(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError("no reply in time"))


class SimStoreClient(AsyncClient):
    """``AsyncClient(config, node, client_id, timeout)`` whose connections are simulated:
    read / write / cas / append and the request checks are AsyncClient's own."""

    bounded = True  # every attempt waits on a timer and the retry policy has a deadline

    def __init__(self, cluster: SimCluster, node: int, client_id: str, timeout: float) -> None:
        first = cluster.config.ids()[0]  # a node added later is not in the config file
        super().__init__(cluster.config, node=first, client_id=client_id, timeout=timeout)
        if node not in self.addrs:
            self.addrs[node] = ("sim", 0)
            self.ids = sorted({*self.ids, node})
        self.node = self.preferred = node
        self.cluster = cluster
        self.name = cluster.register_client(self)  # our end of the simulated connections
        self.pending: dict[tuple, tuple[asyncio.Future, int]] = {}
        self._attempts = 0
        # deadlines in the event loop's (virtual) time, by the real policy
        loop = asyncio.events._get_running_loop()
        self.clock = loop.time if loop is not None else _running_loop_time
        self._owed = 0.0  # refused connections' round trips not yet slept

    async def _local(self, node: int, op: str) -> dict:
        """status / members: answered by ``node`` itself, no redirects."""
        cmd = _Command({"op": op}, self.ids, node, self.timeout, False, self.clock)
        try:
            reply = await self._attempt(node, {"op": op}, cmd.remaining())
        except ConnectionRefusedError:
            raise DefiniteFailure(f"node {node} unreachable: refused", "unavailable") from None
        except (ConnectionResetError, TimeoutError):
            raise Indeterminate(f"node {node}: no reply in time", "timeout") from None
        if reply.get("ok") is not True:
            raise DefiniteFailure(
                f"node {node} answered {reply.get('error')!r}", reply.get("error")
            )
        return reply.get("value")

    async def close(self) -> None:
        for fut, _node in self.pending.values():
            if not fut.done():
                fut.cancel()
        self.pending.clear()
        self.cluster.unregister_client(self)

    # -- policy ---------------------------------------------------------------------------------
    async def _exchange(self, node: int, cmd: _Command) -> Any:
        try:
            reply = await self._attempt(node, cmd.req, cmd.remaining())
        except ConnectionRefusedError as e:
            return cmd.on_unreachable(e)
        except (ConnectionResetError, TimeoutError) as e:
            return cmd.on_lost(e)
        return cmd.on_reply(reply)

    # -- transport ------------------------------------------------------------------------------
    async def _attempt(self, node: int, req: dict, timeout: float) -> dict:
        """One request on the connection to ``node``: the reply, or the OSError / TimeoutError
        the real client's socket would have given."""
        if not self.cluster.node_up(node):
            self._owed += CONNECT_LATENCY
            raise ConnectionRefusedError(f"node {node} refused the connection")
        if self._owed:
            owed, self._owed = self._owed, 0.0
            await asyncio.sleep(owed)
            timeout -= owed
            if not self.cluster.node_up(node):  # it went down while we were being refused
                raise ConnectionRefusedError(f"node {node} refused the connection")
        self._attempts += 1
        handle = (self.name, self.seq, self._attempts)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self.pending[handle] = (fut, node)
        # the deadline is a plain timer on the reply's future (asyncio.wait_for would add a
        # second future and a loop turn to every request)
        timer = loop.call_at(loop.time() + max(timeout, 0.001), _expire, fut)
        try:
            self.cluster.send_request(self.name, node, handle, req)
            return await fut
        finally:
            timer.cancel()
            self.pending.pop(handle, None)

    # -- called by the cluster ----------------------------------------------------------------
    def on_reply(self, rep: dict) -> None:
        handle = rep.pop("_handle")
        entry = self.pending.get(handle)
        if entry is not None and not entry[0].done():
            entry[0].set_result(rep)

    def on_node_crash(self, node: int) -> None:
        """The node's process died: its connections are reset."""
        for fut, n in list(self.pending.values()):
            if n == node and not fut.done():
                fut.set_exception(ConnectionResetError(f"node {node} reset the connection"))
