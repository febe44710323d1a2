"""Where nodes live and how we reach them: docker containers, local processes, ssh hosts, simulation."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cluster.base import Cluster, NodeProgram

# backend name -> (module, class). Imported only when asked for, so that choosing the local
# backend never needs the docker SDK and `paxlab check` never loads any of them.
BACKENDS: dict[str, tuple[str, str]] = {
    "docker": ("cluster.docker_backend", "DockerCluster"),
    "local": ("cluster.local", "LocalCluster"),
    "ssh": ("cluster.ssh", "SSHCluster"),
    "sim": ("cluster.sim.backend", "SimCluster"),
}


def make_cluster(
    backend: str, name: str, n: int, program: NodeProgram | None = None, **opts: Any
) -> Cluster:
    """A cluster of n nodes called `name` on `backend` running `program` on each (default:
    the bundled store's server); opts go to the backend's constructor."""
    from cluster.base import ClusterError
    from cluster.program import PaxosServer

    if backend not in BACKENDS:
        raise ClusterError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    modname, clsname = BACKENDS[backend]
    cls = getattr(importlib.import_module(modname), clsname)
    if program is not None and not isinstance(program, PaxosServer):
        if not cls.ANY_PROGRAM:
            raise ClusterError(f"the {backend} backend runs only the bundled store")
        opts["program"] = program
    try:
        return cls(name, n, **opts)
    except TypeError as e:  # an option the backend's constructor does not take
        if "unexpected keyword argument" not in str(e):
            raise
        raise ClusterError(f"the {backend} backend has no such option: {e}") from None
