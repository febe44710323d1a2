"""What paxlab needs to know about a system under test: the Target seam.

Workloads, nemeses and the controller never speak a store's wire protocol: they ask the
run's target. A target says how its node program is installed and started (the part a
backend needs, :class:`cluster.base.NodeProgram`), which faults it cannot take, and how the
workloads' operations map onto its client API with the history's outcome rules:

- ``ok``: the operation took effect (a read carries the value read);
- ``fail``: it certainly did not; a ``cas`` whose comparison failed is ``fail`` with
  ``"error": "mismatch"`` (the linearizability checker uses that observation);
- ``info``: the outcome is unknown (timeout, lost connection, any surprise).

Who leads is an optional capability (:class:`Primaries`), as in Jepsen's ``Primary``
protocol: a target without it gets the leader-aimed faults on a random node instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from cluster.base import NodeProgram

if TYPE_CHECKING:
    from cluster.base import Cluster

Op = dict[str, Any]  # {"f": "read"|"write"|"cas"|"append"|"add", "key": ..., "value": ...}
Completion = dict[str, Any]  # {"type": "ok"|"fail"|"info", "value": ..., "error": ...}

OPERATIONS = ("read", "write", "cas", "append", "add")


class ReconfigError(Exception):
    """A membership change that failed: ``definite`` if it certainly was not made; ``error``
    is the store's code (``not_caught_up``, ``reconfig_in_progress``, ``no_quorum``...)."""

    def __init__(self, message: str, error: str, definite: bool) -> None:
        super().__init__(message)
        self.error, self.definite = error, definite


class TargetError(ValueError):
    """A target that does not exist or options it cannot take; one line for a person."""


@runtime_checkable
class TargetClient(Protocol):
    """One connection a worker owns. ``invoke`` never raises for the store's answers: every
    outcome, lost connections included, comes back as a completion."""

    bounded: bool  # every wait it makes has a deadline (spares the interpreter a guard timer)

    async def invoke(self, op: Op) -> Completion: ...

    async def ready(self, probe_key: str) -> None:
        """Return once this node serves a read of ``probe_key``; raise if it does not."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Target(NodeProgram, Protocol):
    """The system under test. ``bugs`` are its deliberate faults (``--bug``), ``refused``
    the faults it cannot take, by capability, with the one-line reason a user sees."""

    name: str
    bugs: tuple[str, ...]
    refused: dict[str, str]

    def cluster_opts(self) -> dict[str, Any]:
        """Keywords a backend is made with for this target (the store's own settings)."""
        ...

    def client(self, cluster: Cluster, node: str, client_id: str, timeout: float) -> TargetClient:
        """A client connected to ``node`` of ``cluster`` (not yet used: it may connect lazily)."""
        ...


@runtime_checkable
class Primaries(Protocol):
    """Optional: who leads right now, best guess first (empty when nobody knows)."""

    async def primaries(self, cluster: Cluster, timeout: float = 1.0) -> list[str]: ...


@runtime_checkable
class QuorumSizes(Protocol):
    """A target whose quorum sizes change through its log (flexible quorums): the
    membership nemesis's ``quorum`` kind. Raises :class:`ReconfigError` like a change."""

    async def set_quorums(
        self, cluster: Cluster, q1: int, q2: int, timeout: float = 5.0
    ) -> dict[str, Any]: ...


@runtime_checkable
class Reconfigurable(Protocol):
    """A target whose membership can change while it serves (the membership nemesis).

    Both raise :class:`ReconfigError` when the store refused or could not be asked."""

    async def members(self, cluster: Cluster, timeout: float = 5.0) -> dict[str, Any]: ...

    async def reconfigure(
        self,
        cluster: Cluster,
        action: str,
        node: str,
        addr: list | None = None,
        with_: str | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]: ...
