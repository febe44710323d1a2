"""The replicated key-value state machine: what a chosen log slot *does* once applied.

Values are never mutated in place (append builds a new list or string), so results and
snapshots may share them without copying.

Every replica applies the same commands in the same order, so everything here must be
deterministic: no clock, no randomness, no iteration order that differs between runs.
Client de-duplication lives here too (not in the leader) because only the applied order
decides which copy of a retried command is "the first": a command proposed twice (in two
slots, by two leaders) must still take effect once on every replica.
"""

from __future__ import annotations

from typing import Any

from paxos_impl.limits import encoded_size

OPS = ("read", "write", "cas", "append")
Result = dict[str, Any]


def ok(value: Any = None) -> Result:
    return {"ok": True, "value": value}


def error(code: str, leader: int | None = None) -> Result:
    return {"ok": False, "error": code, "leader": leader}


class StateMachine:
    """Keys (str, or None for the single register) map to JSON values.

    ``dedup`` maps client_id -> [last applied seq, its result]. A client runs one operation
    at a time and reuses the seq only for retries, so remembering the last one suffices; an
    older seq is a stale retry of an abandoned operation and is not applied again.
    """

    def __init__(self, dedup: bool = True) -> None:
        self.kv: dict[str | None, Any] = {}
        self.table: dict[str, list[Any]] = {}
        self.dedup = dedup
        # Appends grow a value without bound, and a value that no longer fits in a frame
        # can be neither read back nor sent in a snapshot, so an append that would take a
        # value over this many encoded bytes is refused (bad_request, nothing changed).
        # Every replica has the same limit (one config), so all refuse the same appends.
        self.max_value_bytes: int | None = None
        self._sizes: dict[str | None, int] = {}  # encoded size of appended-to values (cache)

    # -- de-duplication -----------------------------------------------------------------
    def lookup(self, client_id: str | None, seq: int | None) -> Result | None:
        """The recorded result if this (client_id, seq) was applied already (or is stale)."""
        if not self.dedup:  # BUG(no-dedup): a retried command must take effect only once
            return None
        if client_id is None or seq is None:
            return None
        last = self.table.get(client_id)
        if last is None or seq > last[0]:
            return None
        if seq == last[0]:
            return last[1]
        return error("bad_request")  # a stale retry of an operation the client gave up on

    # -- applying -------------------------------------------------------------------------
    def apply(self, cmd: dict) -> Result:
        """Apply one client command (at most once per (client_id, seq)) and return its reply."""
        cid, seq = cmd.get("client_id"), cmd.get("seq")
        done = self.lookup(cid, seq)
        if done is not None:
            return done
        result = self.execute(cmd)
        if cid is not None and seq is not None:
            self.table[cid] = [seq, result]
        return result

    def execute(self, cmd: dict) -> Result:
        op, key, value = cmd.get("op"), cmd.get("key"), cmd.get("value")
        if op == "read":
            return ok(self.kv.get(key))
        if op == "write":
            self.kv[key] = value
            self._sizes.pop(key, None)
            return ok(None)
        if op == "cas":
            if not isinstance(value, list) or len(value) != 2:
                return error("bad_request")
            expected, new = value
            if self.kv.get(key) != expected:
                return error("mismatch")
            self.kv[key] = new
            self._sizes.pop(key, None)
            return ok(None)
        if op == "append":
            return self._append(key, value)
        return error("bad_request")

    def _append(self, key: str | None, value: Any) -> Result:
        """Strings concatenate, lists extend (a scalar is appended as one element)."""
        cur = self.kv.get(key)
        if cur is None:
            cur = "" if isinstance(value, str) else []
        if isinstance(cur, str) and isinstance(value, str):
            new, add = cur + value, value
        elif isinstance(cur, list):
            add = value if isinstance(value, list) else [value]
            new = cur + add
        else:
            return error("bad_request")
        if self.max_value_bytes is not None:
            size = self._grown_size(key, cur, add)
            if size > self.max_value_bytes:
                return error("bad_request")
            self._sizes[key] = size
        self.kv[key] = new
        return ok(None)

    def _grown_size(self, key: str | None, cur: Any, add: Any) -> int:
        """Encoded size of ``cur`` + ``add`` without encoding the whole value each time
        (exact: a string's escapes are per character; lists join with one comma)."""
        have = self._sizes.get(key)
        if have is None:
            have = encoded_size(cur)
        extra = encoded_size(add)
        if isinstance(cur, str):
            return have + extra - 2
        if not cur or not add:
            return have + extra - 2
        return have + extra - 1

    def read(self, key: str | None) -> Any:
        return self.kv.get(key)

    # -- snapshots -------------------------------------------------------------------------
    def dump(self) -> dict:
        """JSON-safe state (keys as [key, value] pairs because None is a valid key)."""
        return {
            "kv": [[k, v] for k, v in self.kv.items()],
            "dedup": dict(self.table),  # entries are replaced, never changed: shared safely
        }

    @classmethod
    def load(cls, d: dict, dedup: bool = True) -> StateMachine:
        sm = cls(dedup=dedup)
        sm.kv = {k: v for k, v in d.get("kv", [])}  # values are never changed in place
        sm.table = dict(d.get("dedup", {}))
        return sm
