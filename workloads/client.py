"""The one client every workload uses: history operations onto the store's async client.

It is also where the store's answers become history outcomes: a definite failure is
``fail``, a cas that saw another value is ``fail`` with ``error: mismatch``, anything whose
outcome we cannot know (timeout, lost connection, surprise) is ``info``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cluster.base import Cluster, store_id
from paxos_impl.client import CasMismatch, DefiniteFailure, Indeterminate


def store_connector(cluster: Cluster, timeout: float, tag: str) -> Callable[[str, int], Any]:
    """A factory ``connect(node, process) -> async store client`` for this cluster.

    A backend may provide ``async_client(node, client_id=..., timeout=...)`` (the simulator
    does, to reach in-process nodes); otherwise the store's AsyncClient over TCP.
    """
    hook = getattr(cluster, "async_client", None)

    def connect(node: str, process: int) -> Any:
        client_id = f"{tag}-p{process}"
        if hook is not None:
            return hook(node, client_id=client_id, timeout=timeout)
        from paxos_impl.client import AsyncClient

        return AsyncClient(
            cluster.config, node=store_id(node), client_id=client_id, timeout=timeout
        )

    return connect


def _error_code(e: Exception) -> str:
    code = getattr(e, "code", None) or getattr(e, "error", None)
    return str(code) if code else (str(e) or type(e).__name__)[:200]


class StoreClient:
    """Maps read/write/cas/append/add operations onto a connection; ``add`` appends ``[value]``."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        # a connection that cannot hang (every wait it makes has a deadline) spares the
        # interpreter its per-operation guard timer
        self.bounded = bool(getattr(conn, "bounded", False))

    async def invoke(self, op: dict[str, Any]) -> dict[str, Any]:
        f, key, value = op["f"], op.get("key"), op.get("value")
        try:
            if f == "read":
                return {"type": "ok", "value": await self.conn.read(key)}
            if f == "write":
                await self.conn.write(key, value)
            elif f == "cas":
                await self.conn.cas(key, value[0], value[1])
            elif f == "append":
                await self.conn.append(key, value)
            elif f == "add":
                await self.conn.append(key, [value])
            else:
                return {"type": "fail", "error": f"unknown operation {f}"}
            return {"type": "ok", "value": value}
        except CasMismatch:
            return {"type": "fail", "error": "mismatch"}
        except DefiniteFailure as e:
            return {"type": "fail", "error": _error_code(e)}
        except Indeterminate as e:
            return {"type": "info", "error": _error_code(e)}
        except (OSError, EOFError) as e:  # lost connection: the request may have arrived
            return {"type": "info", "error": f"{type(e).__name__}: {e}"[:200]}

    async def close(self) -> None:
        res = self.conn.close()
        if hasattr(res, "__await__"):
            await res
