"""What a backend can do beyond the core, each a Protocol checked with ``isinstance``.

The core (:class:`cluster.base.Cluster`) is what every backend does: own named nodes, set
them up and tear them down, start and stop the node program, say whether it runs, collect
its logs. Everything else is optional, as Jepsen's ``Kill``, ``Pause`` and ``Primary``
protocols are: a nemesis or the controller asks ``isinstance(cluster, Kill)`` (or
:func:`need`, which says no in one line) instead of calling and catching.

Two layers, because some abilities are only known at run time: a backend *implements* a
Protocol (it has the methods), and *offers* a capability name in ``capabilities()`` when
this host can do it right now (the local backend partitions only where iptables works).
:func:`offered` is both at once: what a nemesis may count on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from cluster.base import ExecResult, Unsupported


@runtime_checkable
class Kill(Protocol):
    """SIGKILL the node program (the core's ``start`` brings it back)."""

    def kill(self, node: str) -> None: ...


@runtime_checkable
class Pause(Protocol):
    """SIGSTOP / SIGCONT the node program."""

    def pause(self, node: str) -> None: ...

    def resume(self, node: str) -> None: ...


@runtime_checkable
class Partition(Protocol):
    """Drop traffic between nodes: ``grudge`` maps a node to the nodes it no longer hears."""

    def partition(self, grudge: dict[str, set[str]]) -> None: ...

    def heal_network(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """Shift a node's wall clock (libfaketime, or the simulator's clocks)."""

    def set_clock_offset(self, node: str, seconds: float) -> None: ...

    def reset_clocks(self) -> None: ...


@runtime_checkable
class ClockRate(Clock, Protocol):
    """Make a node's clock run fast or slow."""

    def set_clock_drift(self, node: str, rate: float) -> None: ...


@runtime_checkable
class Netem(Protocol):
    """Delay, jitter and loss on a node's links."""

    def netem(
        self, node: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0
    ) -> None: ...

    def heal_netem(self) -> None: ...


@runtime_checkable
class Grow(Protocol):
    """Create and delete node hosts while the cluster runs (the membership nemesis). The
    host comes first and goes last: ``add_node`` makes a host the store does not know yet
    (``start`` then runs the node program on it, joining), and ``remove_node`` deletes one
    only once the store has let the node go."""

    def add_node(self) -> str: ...

    def node_address(self, node: str) -> list: ...  # [host, peer_port, client_port]

    def remove_node(self, node: str) -> None: ...


@runtime_checkable
class Exec(Protocol):
    """Run a command on a node."""

    def exec(self, node: str, cmd: list[str], timeout: float = 30) -> ExecResult: ...


@runtime_checkable
class Files(Protocol):
    """Copy files to and from a node."""

    def put_file(self, node: str, local: Path, remote: str) -> None: ...

    def get_file(self, node: str, remote: str, local: Path) -> None: ...


@runtime_checkable
class Disk(Protocol):
    """Damage, fill and restore a node's data directory (cluster.diskfault)."""

    def disk(self, node: str, action: str, kind: str = "", seed: int = 0) -> dict: ...


@runtime_checkable
class InProcessClients(Protocol):
    """The backend hosts the nodes in this process (the simulator): clients reach them
    through it instead of over sockets."""

    def async_client(self, node: str, client_id: str = "", timeout: float = 5.0) -> Any: ...


@runtime_checkable
class VirtualTime(Protocol):
    """The backend keeps its own clock (``virtual_time`` True): the controller runs the whole
    test on a virtual-time loop (controller.virtual_loop) and calls the backend directly,
    since none of its calls blocks. The simulator also drives that loop as its event source."""

    virtual_time: bool


def in_virtual_time(cluster: object) -> bool:
    return isinstance(cluster, VirtualTime) and bool(cluster.virtual_time)


@runtime_checkable
class Inspect(Protocol):
    """The backend sees inside the nodes (the simulator): safety violations the cores
    reported, the store's own invariant check, and the world itself (disks, clocks)."""

    world: Any

    @property
    def violations(self) -> list[str]: ...

    def invariants(self, run_t0: float = 0.0, limit: int = 50) -> dict[str, Any]: ...


# capability names (what capabilities() returns and nemeses require) -> the Protocol that
# provides them
PROTOCOLS: dict[str, type] = {
    "kill": Kill,
    "pause": Pause,
    "partition": Partition,
    "clock": Clock,
    "clock-rate": ClockRate,
    "netem-delay": Netem,
    "netem-loss": Netem,
    "exec": Exec,
    "files": Files,
    "disk": Disk,
    "disk-full": Disk,
}

T = TypeVar("T")


def implements(cluster: object, capability: str) -> bool:
    """The backend has the methods behind ``capability`` (names without a Protocol: yes)."""
    proto = PROTOCOLS.get(capability)
    return proto is None or isinstance(cluster, proto)


def offered(cluster: Any, final: bool = True) -> set[str]:
    """What the backend offers now (``final``) or could once its nodes run, and implements."""
    caps = cluster.capabilities() if final else cluster.possible_capabilities()
    return {c for c in caps if implements(cluster, c)}


def need(cluster: Any, proto: type[T]) -> T:
    """``cluster`` as a ``proto``, or Unsupported saying in one line that it is not one."""
    if not isinstance(cluster, proto):
        name = type(cluster).__name__
        raise Unsupported(f"the {name} backend has no {proto.__name__} capability")
    return cluster
