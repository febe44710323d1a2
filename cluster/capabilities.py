"""What a backend can do beyond the core, each a Protocol checked with ``isinstance``.

The core (:class:`cluster.base.Cluster`) is what every backend does: own named nodes, set
them up and tear them down, start and stop the node program, collect its logs. Everything
else is optional, as Jepsen's ``Kill``, ``Pause`` and ``Primary`` protocols are: a nemesis
or the controller asks ``isinstance(cluster, Kill)`` instead of calling and catching.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class InProcessClients(Protocol):
    """The backend hosts the nodes in this process (the simulator): clients reach them
    through it instead of over sockets."""

    def async_client(self, node: str, client_id: str = "", timeout: float = 5.0) -> Any: ...
