"""The bundled Multi-Paxos store (paxos_impl) as a target: one Python process per node."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cluster.base import Cluster, store_id
from cluster.capabilities import InProcessClients
from cluster.program import PaxosServer
from paxos_impl.client import DefiniteFailure, PaxosError
from paxos_impl.config import KNOWN_BUGS
from paxos_impl.machine import BUILTIN, MachineSpecError, load_class
from targets.base import ReconfigError, TargetError
from targets.bundled import leader
from targets.bundled.client import StoreClient, connect
from targets.bundled.settings import SettingError, check, config_kwargs


class BundledTarget(PaxosServer):
    """``paxos_impl.server`` on every node (cluster.program: install, command line, data
    and log paths), configured by the cluster's ``cluster.toml``.

    Options (``--target-opt KEY=VALUE``) are the store's configuration settings
    (targets/bundled/settings.py), checked here against the store's own schema on ``nodes``
    nodes, so a refused setting is a one-line error before anything starts."""

    name = "bundled"
    bugs: tuple[str, ...] = tuple(KNOWN_BUGS)
    refused: dict[str, str] = {}  # it takes every fault paxlab has

    def __init__(
        self, opts: Mapping[str, Any] | None = None, *, nodes: int = 3, read_mode: str = "log"
    ) -> None:
        self.opts = dict(opts or {})
        self.read_mode = read_mode
        try:
            config = check(self.opts, nodes, read_mode=read_mode)
            if config.state_machine not in BUILTIN:  # a user's machine: loadable here?
                load_class(config.state_machine)
        except (SettingError, MachineSpecError) as e:
            raise TargetError(str(e)) from None

    def cluster_opts(self) -> dict[str, Any]:
        return {"read_mode": self.read_mode, **config_kwargs(self.opts)}

    def client(self, cluster: Cluster, node: str, client_id: str, timeout: float) -> StoreClient:
        return StoreClient(connect(cluster, node, client_id, timeout), store_id(node))

    async def primaries(self, cluster: Cluster, timeout: float = 1.0) -> list[str]:
        async def status(node: str) -> dict[str, Any]:
            c = self.client(cluster, node, "paxlab-primaries", timeout)
            try:
                return await c.status()
            finally:
                await c.close()

        return await leader.primaries(list(cluster.nodes), status, timeout)

    # -- membership (targets.base.Reconfigurable) ---------------------------------------------
    async def members(self, cluster: Cluster, timeout: float = 5.0) -> dict[str, Any]:
        """The membership as the first node that answers sees it (with the leader it knows)."""
        conn = self._admin(cluster, timeout)
        try:
            return await conn.members()
        except PaxosError as e:
            raise _reconfig_error(e) from None
        finally:
            await conn.close()

    async def reconfigure(
        self,
        cluster: Cluster,
        action: str,
        node: str,
        addr: list | None = None,
        with_: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """One membership change through the store's client (it finds the leader)."""
        conn = self._admin(cluster, timeout)
        try:
            other = None if with_ is None else store_id(with_)
            return await conn.reconfig(action, store_id(node), addr, other)
        except PaxosError as e:
            raise _reconfig_error(e) from None
        finally:
            await conn.close()

    async def set_quorums(
        self, cluster: Cluster, q1: int, q2: int, timeout: float = 5.0
    ) -> dict[str, Any]:
        """Phase-1 and phase-2 quorum sizes of the current voters (targets.base.QuorumSizes)."""
        conn = self._admin(cluster, timeout)
        try:
            return await conn.reconfig("quorum", None, quorums=(q1, q2))
        except PaxosError as e:
            raise _reconfig_error(e) from None
        finally:
            await conn.close()

    def _admin(self, cluster: Cluster, timeout: float) -> Any:
        """A fresh client (its own id: changes are de-duplicated per client) to any node."""
        self._admins = getattr(self, "_admins", 0) + 1
        # unique across processes (the store de-duplicates by client id and sequence, so a
        # second `paxlab cluster add-node` must not look like a retry of the first); in the
        # simulator one run is one process and the id stays deterministic
        tag = "" if isinstance(cluster, InProcessClients) else f"{uuid.uuid4().hex[:12]}-"
        return connect(cluster, cluster.nodes[0], f"paxlab-admin-{tag}{self._admins}", timeout)


def _reconfig_error(e: PaxosError) -> ReconfigError:
    return ReconfigError(str(e), e.error or "failed", isinstance(e, DefiniteFailure))
