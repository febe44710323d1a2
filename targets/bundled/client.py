"""The bundled store's client as a target client: history operations onto its async API.

It is also where the store's answers become history outcomes: a definite failure is
``fail``, a cas that saw another value is ``fail`` with ``error: mismatch``, anything whose
outcome we cannot know (timeout, lost connection, surprise) is ``info``.
"""

from __future__ import annotations

from typing import Any

from cluster.base import Cluster, store_id
from cluster.capabilities import Grow, InProcessClients
from paxos_impl.client import AsyncClient, CasMismatch, DefiniteFailure, Indeterminate


def connect(cluster: Cluster, node: str, client_id: str, timeout: float) -> Any:
    """The store's async client for ``node``: in-process where the backend hosts the nodes
    itself (the simulator), else over TCP with the cluster's client configuration."""
    if isinstance(cluster, InProcessClients):
        return cluster.async_client(node, client_id=client_id, timeout=timeout)
    i, ids = store_id(node), cluster.config.ids()
    if i in ids or not isinstance(cluster, Grow):
        return AsyncClient(cluster.config, node=i, client_id=client_id, timeout=timeout)
    # a node added while the cluster runs: not in its config file, the backend knows where
    c = AsyncClient(cluster.config, node=ids[0], client_id=client_id, timeout=timeout)
    host, _, client_port = cluster.node_address(node)
    c.add_address(i, host, client_port)
    c.node = c.preferred = i
    return c


def _error_code(e: Exception) -> str:
    code = getattr(e, "code", None) or getattr(e, "error", None)
    return str(code) if code else (str(e) or type(e).__name__)[:200]


class StoreClient:
    """Maps read/write/cas/append/add/txn operations onto a connection; ``add`` appends
    ``[value]``; ``apply``/``query`` go to a state machine's command and query, the answer
    in the completion's ``result``."""

    def __init__(self, conn: Any, node: int | None = None) -> None:
        self.conn = conn
        self.node = node  # the store id this client asks for status (None: its default)
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
            elif f in ("apply", "query"):  # a user's state machine: command or query
                call = getattr(self.conn, f, None)
                if call is None:
                    return {"type": "fail", "error": "this target's client has no state machine"}
                return {"type": "ok", "value": value, "result": await call(value)}
            elif f == "txn":  # micro-ops; the reply carries them with the reads filled in
                txn = getattr(self.conn, "txn", None)
                if txn is None:  # a target's client without transactions: never sent
                    return {"type": "fail", "error": "this target's client has no transactions"}
                return {"type": "ok", "value": await txn(value)}
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

    async def status(self) -> dict[str, Any]:
        """The node's own view: role, ballot, the leader it follows (raises if unreachable)."""
        return await self.conn.status(self.node)

    async def ready(self, probe_key: str) -> None:
        """The node answers its status and serves a read through it (raises otherwise)."""
        await self.status()
        await self.conn.read(probe_key)

    async def close(self) -> None:
        res = self.conn.close()
        if hasattr(res, "__await__"):
            await res
