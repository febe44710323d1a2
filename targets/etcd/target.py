"""etcd as a target: the node program, the client, who leads, and what it cannot take.

Options (``--target-opt KEY=VALUE``):

* ``read=linearizable`` (default): every read goes through etcd's ReadIndex, so a member
  cut off from the quorum cannot answer it.
* ``read=serializable``: reads are answered from the member's own state, which etcd
  documents as possibly stale. It is etcd's documented weak setting, so ``paxlab
  validate`` treats it as the target's "bug": under partitions the checker must find it.

Faults: partition, kill, pause and netem loss act on the processes and the network like on
any program. The clock nemesis is refused: etcd is a Go binary, Go reads the time through
the vDSO rather than the libc calls libfaketime replaces, so shifting its clock would
silently do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cluster.base import Cluster, store_id
from targets.base import TargetError
from targets.bundled.client import StoreClient
from targets.etcd import status
from targets.etcd.client import EtcdClient
from targets.etcd.program import EtcdProgram

READS = ("linearizable", "serializable")
CLOCK_REFUSAL = "etcd is a Go binary and ignores libfaketime, so its clock cannot be shifted"


def client_url(cluster: Cluster, node: str) -> str:
    """Where ``node``'s member serves clients: its host and client port in the layout."""
    a = cluster.config.node(store_id(node))
    return f"http://{a.host}:{a.client_port}"


class EtcdClientAdapter(StoreClient):
    """The workloads' operations on one member (the history mapping is the store's:
    targets.bundled.client.StoreClient, over EtcdClient's outcome exceptions)."""

    async def ready(self, probe_key: str) -> None:
        await self.conn.read(probe_key)

    async def status(self) -> dict[str, Any]:
        raise NotImplementedError("etcd's status is read with targets.etcd.status")


class EtcdTarget(EtcdProgram):
    name = "etcd"
    bugs: tuple[str, ...] = ()
    refused: dict[str, str] = {"clock": CLOCK_REFUSAL}

    def __init__(
        self, opts: Mapping[str, Any] | None = None, *, nodes: int = 3, read_mode: str = "log"
    ) -> None:
        opts = dict(opts or {})
        self.read = opts.pop("read", "linearizable")
        if self.read not in READS:
            raise TargetError(f"etcd: read must be one of {', '.join(READS)}, not {self.read!r}")
        if opts:
            raise TargetError(
                f"etcd takes only the target option read=linearizable|serializable, "
                f"not {', '.join(sorted(opts))}"
            )
        if read_mode != "log":
            raise TargetError(
                "--read-mode is the bundled store's; etcd's reads are --target-opt read=..."
            )
        self.opts = {"read": self.read}

    def cluster_opts(self) -> dict[str, Any]:
        return {"tls": False}  # etcd speaks plain HTTP here; no certificates to make

    def client(
        self, cluster: Cluster, node: str, client_id: str, timeout: float
    ) -> EtcdClientAdapter:
        conn = EtcdClient(
            client_url(cluster, node), timeout=timeout, serializable=self.read == "serializable"
        )
        return EtcdClientAdapter(conn, store_id(node))

    async def primaries(self, cluster: Cluster, timeout: float = 1.0) -> list[str]:
        """The leader by the members' ``/v3/maintenance/status`` (endpoint status)."""
        return await status.leaders({n: client_url(cluster, n) for n in cluster.nodes}, timeout)
