"""The one interface the rest of paxlab uses to own a set of nodes, whatever they are.

Nemeses, workloads and the controller talk only to :class:`Cluster`. Backends (docker,
local processes, ssh hosts, the in-process simulator) implement it and say up front, through
:meth:`Cluster.capabilities`, which faults they can produce, so an impossible fault is an
error before a run starts rather than a silent no-op in the middle of one.
Modelled on Jepsen's ``Remote``, ``DB`` and ``Net`` protocols.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from paxos_impl.config import Config

CAPABILITIES = frozenset(
    {"kill", "pause", "partition", "clock", "netem-delay", "netem-loss", "exec", "files"}
)


class ClusterError(Exception):
    """Something about the cluster went wrong; the message is one line for a person."""


class Unsupported(ClusterError):
    """This backend cannot produce the requested fault (see capabilities())."""


@dataclass
class ExecResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class Install:
    """What a node program needs in the node image: Debian packages, and top-level Python
    packages of this repository to copy in (the bundled store ships ``paxos_impl``)."""

    debian_packages: tuple[str, ...] = ()
    python_packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Launch:
    """One node's start, as a backend prepares it for the node program.

    Paths are as the node sees them (inside its container or on its host). ``extra`` carries
    what a backend allocates for a program beyond these (ports, certificate paths)."""

    node: str  # n1..nN
    nodes: tuple[str, ...]
    node_dir: str  # the node's own directory: its data and logs live below it
    config_path: str  # the cluster's configuration file ("" when the program needs none)
    python: str  # the interpreter on the node's host, for programs written in Python
    bugs: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class NodeProgram(Protocol):
    """What runs on each node, as a backend sees it: how it is installed, its command line,
    and where (relative to the node's directory) its data and logs live. Targets implement
    it (targets.base.Target); a backend only starts, stops and collects it."""

    install: Install
    data_dir: str  # relative to Launch.node_dir
    log_files: tuple[str, ...]  # relative to Launch.node_dir

    def command(self, launch: Launch) -> list[str]:
        """The argv that starts the program on ``launch.node`` in the foreground."""
        ...


def node_name(store_id: int) -> str:
    """Store id 0 runs on node n1: names are 1-based like Jepsen's, ids 0-based like the store."""
    return f"n{store_id + 1}"


def store_id(node: str) -> int:
    return int(node.lstrip("n")) - 1


class Cluster(ABC):
    """The core every backend has: named nodes (n1..nN) running the node program, their life
    cycle and logs, and the capability names it offers. Faults are optional capabilities,
    Protocols in cluster.capabilities (Kill, Pause, Partition, Clock, Netem, Files, Disk,
    virtual time...), which a backend implements by having their methods."""

    name: str
    nodes: list[str]
    config: Config  # the store configuration clients on the controller's host use
    # True when the constructor takes ``program=`` (any NodeProgram, not only the bundled
    # store's server): make_cluster refuses other targets on a backend that cannot run them
    ANY_PROGRAM = False

    # -- what it can do ----------------------------------------------------------------
    @abstractmethod
    def capabilities(self) -> set[str]: ...

    def possible_capabilities(self) -> set[str]:
        """Before set-up: what this backend can do once its nodes run. A superset of
        :meth:`capabilities` only for what must be probed on a live node (docker's netem
        delay), so that a fault this backend can never do is refused before anything starts."""
        return self.capabilities()

    def require(self, *caps: str) -> None:
        """Raise Unsupported unless every capability is offered and implemented."""
        from cluster.capabilities import offered

        have = offered(self)
        missing = [c for c in caps if c not in have]
        if missing:
            raise Unsupported(f"the {type(self).__name__} backend cannot do: {', '.join(missing)}")

    # -- life cycle ----------------------------------------------------------------------
    @abstractmethod
    def setup(self) -> None: ...

    @abstractmethod
    def teardown(self) -> None: ...

    def __enter__(self) -> Cluster:
        self.setup()
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    # -- the store process -------------------------------------------------------------
    @abstractmethod
    def start(self, node: str, bugs: list[str] | None = None) -> None: ...

    @abstractmethod
    def stop(self, node: str) -> None: ...

    @abstractmethod
    def is_running(self, node: str) -> bool: ...

    def start_all(self, bugs: list[str] | None = None) -> None:
        for n in self.nodes:
            self.start(n, bugs)

    @abstractmethod
    def collect(self, node: str, dest: Path) -> None:
        """Copy the node's logs and a listing of its data directory into dest/."""

    # -- time: real here, virtual on the sim backend ------------------------------------
    _epoch: float | None = None

    def now(self) -> float:
        """Seconds since this cluster's epoch (the start of the test)."""
        if self._epoch is None:
            self._epoch = time.monotonic()
        return time.monotonic() - self._epoch

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
