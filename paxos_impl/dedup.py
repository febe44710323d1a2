"""Client de-duplication, for every state machine: a retried command takes effect once.

It lives in the core's apply path, not in a machine, because only the applied order decides
which copy of a retried command is "the first": a command proposed twice (in two slots, by
two leaders) must still take effect once on every replica, whatever machine runs. A user
machine never sees a duplicate.

``table`` maps client_id -> [last applied seq, its reply]. A client runs one operation at a
time and reuses the seq only for retries, so remembering the last one suffices; an older seq
is a stale retry of an abandoned operation and is not applied again. With an asynchronous
machine a command is *decided* (applied in log order, so later copies are duplicates) before
its reply exists: the entry holds :data:`PENDING` until the runtime hands the reply back.
"""

from __future__ import annotations

from typing import Any

from paxos_impl.machine import Reply, error

PENDING: Reply = {"ok": False, "error": "pending", "leader": None}  # identity matters


class Dedup:
    """The replies of the last applied command of each client (see the module docstring)."""

    __slots__ = ("table", "enabled")

    def __init__(self, enabled: bool = True, table: dict[str, list[Any]] | None = None) -> None:
        self.enabled = enabled
        self.table: dict[str, list[Any]] = table if table is not None else {}

    def lookup(self, client_id: str | None, seq: int | None) -> Reply | None:
        """The recorded reply if this (client_id, seq) was applied already (or is stale);
        PENDING if it was applied and its reply is not back yet; None if it is new."""
        if not self.enabled:  # BUG(no-dedup): a retried command must take effect only once
            return None
        if client_id is None or seq is None:
            return None
        last = self.table.get(client_id)
        if last is None or seq > last[0]:
            return None
        if seq == last[0]:
            return last[1]
        return error("bad_request")  # a stale retry of an operation the client gave up on

    def record(self, client_id: str | None, seq: int | None, reply: Reply) -> None:
        if client_id is not None and seq is not None:
            self.table[client_id] = [seq, reply]

    def fill(self, client_id: str | None, seq: int | None, reply: Reply) -> None:
        """The reply of a PENDING command arrived (if the entry is still that command's)."""
        last = self.table.get(client_id) if client_id is not None else None
        if last is not None and last[0] == seq and last[1] is PENDING:
            self.table[client_id] = [seq, reply]  # replaced, never changed (see dump)

    def dump(self) -> dict[str, list[Any]]:
        return dict(self.table)  # entries are replaced, never changed: shared safely
