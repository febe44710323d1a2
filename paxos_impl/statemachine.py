"""The replicated key-value state machine: what a chosen log slot *does* once applied.

Values are never mutated in place (append builds a new list or string), so results and
snapshots may share them without copying.

Every replica applies the same commands in the same order, so everything here must be
deterministic: no clock, no randomness, no iteration order that differs between runs.
This is one implementation of the state-machine interface (:mod:`paxos_impl.machine`);
the core does not know which one runs.
"""

from __future__ import annotations

from typing import Any

from paxos_impl.limits import encoded_size
from paxos_impl.machine import error, ok

OPS = ("read", "write", "cas", "append", "txn")
TXN_FS = ("r", "w", "append")  # a transaction's micro-ops: read, write, append
Result = dict[str, Any]
# txn-stale-read: how many applied commands the stale snapshot lags behind (at most)
STALE_EVERY = 8


class KeyValue:
    """The bundled machine: keys (str, or None for the single register) map to JSON values.

    It takes client commands as they are logged (``{"op", "key", "value", ...}``) and
    answers with client replies, so it implements :class:`paxos_impl.machine.Hosted`
    itself, with no wrapper on the hot path. De-duplication of retried commands is not
    here: the core does it for every machine (:mod:`paxos_impl.dedup`).
    """

    ops = frozenset(OPS)
    is_async = False

    def __init__(self) -> None:
        self.kv: dict[str | None, Any] = {}
        # Appends grow a value without bound, and a value that no longer fits in a frame
        # can be neither read back nor sent in a snapshot, so an append that would take a
        # value over this many encoded bytes is refused (bad_request, nothing changed).
        # Every replica has the same limit (one config), so all refuse the same appends.
        self.max_value_bytes: int | None = None
        self._sizes: dict[str | None, int] = {}  # encoded size of appended-to values (cache)
        # Deliberate transaction bugs (names from paxos_impl.config.KNOWN_BUGS), set by the
        # replica from its config: see _txn_split and _txn_read.
        self.txn_bugs: frozenset[str] = frozenset()
        self._deferred: list[list[Any]] = []  # txn-split: micro-ops owed to the next command
        self._stale: dict[str | None, Any] = {}  # txn-stale-read: an old copy of kv
        self._applied = 0

    def has_bug(self, name: str) -> bool:
        """Is deliberate bug ``name`` on (the marked lines test it by name, as the core's do)?"""
        return name in self.txn_bugs

    # -- applying -------------------------------------------------------------------------
    def apply(self, cmd: dict) -> Result:
        """Apply one client command (the core applies each (client_id, seq) at most once)."""
        owed, self._deferred = self._deferred, []
        result = self.execute(cmd)
        if owed:  # BUG(txn-split): the rest of the last transaction lands after this command
            self._run_mops(owed, {})
        if self.txn_bugs:
            self._note_applied()
        return result

    def query(self, cmd: dict) -> Result:
        """A read answered from local state (quorum and lease reads)."""
        return ok(self.kv.get(cmd.get("key")))

    def _note_applied(self) -> None:
        """BUG(txn-stale-read): refresh the stale copy of kv every STALE_EVERY commands."""
        self._applied += 1
        if self.has_bug("txn-stale-read") and self._applied % STALE_EVERY == 0:
            self._stale = dict(self.kv)

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
        if op == "txn":
            return self._txn(value)
        return error("bad_request")

    # -- transactions ----------------------------------------------------------------------
    def _txn(self, mops: Any) -> Result:
        """All micro-ops or none: they run against a staged overlay of kv, which replaces the
        keys it wrote only if every micro-op succeeded (an append that cannot grow its value
        refuses the whole transaction). Reads see the transaction's own earlier writes. The
        reply is the micro-ops with the reads filled in."""
        if not valid_mops(mops):
            return error("bad_request")
        if self.has_bug("txn-split") and len(mops) > 1:
            return self._txn_split(mops)
        staged: dict[str | None, Any] = {}
        done = self._run_mops(mops, staged)
        return error("bad_request") if done is None else ok(done)

    def _txn_split(self, mops: list) -> Result:
        """BUG(txn-split): the first half of the micro-ops now, the writes of the second half
        after the next command (as if the transaction had been cut into two log slots)."""
        half = len(mops) // 2
        done = self._run_mops(mops[:half], {})
        if done is None:
            return error("bad_request")
        rest = self._run_mops(mops[half:], {}, dry=True)
        if rest is None:
            return error("bad_request")
        self._deferred = [m for m in mops[half:] if m[0] != "r"]
        return ok(done + rest)

    def _run_mops(self, mops: list, staged: dict, dry: bool = False) -> list | None:
        """Run micro-ops over ``staged`` (then kv); commit staged to kv unless ``dry``.
        None if one of them is refused (nothing changed)."""
        out: list[list[Any]] = []
        sizes: dict[str | None, int] = {}
        for f, k, v in mops:
            if f == "r":
                out.append(["r", k, staged[k] if k in staged else self._txn_read(k)])
                continue
            if f == "w":
                staged[k] = v
                sizes.pop(k, None)
            else:
                cur = staged[k] if k in staged else self.kv.get(k)
                have = sizes.get(k) if k in staged else self._sizes.get(k)
                grown = self._grow(cur, v, have)
                if grown is None:
                    return None
                staged[k], size = grown
                if size is not None:
                    sizes[k] = size
            out.append([f, k, v])
        # The reply must fit in a frame like any value (several reads of big values could
        # outgrow it, and an answer that cannot be sent would be a lie: "unavailable" for a
        # transaction that took effect). Refused whole, the same on every replica.
        if self.max_value_bytes is not None and encoded_size(out) > self.max_value_bytes:
            return None
        if not dry:
            for k, v in staged.items():
                self.kv[k] = v
                self._sizes.pop(k, None)
            self._sizes.update(sizes)
        return out

    def _txn_read(self, key: str | None) -> Any:
        """A transaction's read of a key it has not written (the committed value)."""
        if self.has_bug("txn-stale-read"):  # BUG(txn-stale-read): an old snapshot
            return self._stale.get(key)
        return self.kv.get(key)

    def _append(self, key: str | None, value: Any) -> Result:
        """Strings concatenate, lists extend (a scalar is appended as one element)."""
        grown = self._grow(self.kv.get(key), value, self._sizes.get(key))
        if grown is None:
            return error("bad_request")
        self.kv[key], size = grown
        if size is not None:
            self._sizes[key] = size
        return ok(None)

    def _grow(self, cur: Any, value: Any, have: int | None) -> tuple[Any, int | None] | None:
        """``cur`` with ``value`` appended and its encoded size (None: not tracked), or None
        if the types do not combine or the value would outgrow max_value_bytes. ``have`` is
        the encoded size of ``cur`` if known."""
        if cur is None:
            cur = "" if isinstance(value, str) else []
        if isinstance(cur, str) and isinstance(value, str):
            new, add = cur + value, value
        elif isinstance(cur, list):
            add = value if isinstance(value, list) else [value]
            new = cur + add
        else:
            return None
        if self.max_value_bytes is None:
            return new, None
        size = self._grown_size(have, cur, add)
        if size > self.max_value_bytes:
            return None
        return new, size

    def _grown_size(self, have: int | None, cur: Any, add: Any) -> int:
        """Encoded size of ``cur`` + ``add`` without encoding the whole value each time
        (exact: a string's escapes are per character; lists join with one comma)."""
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
    def snapshot(self) -> dict:
        """JSON-safe state (keys as [key, value] pairs because None is a valid key)."""
        return {"kv": [[k, v] for k, v in self.kv.items()]}

    def restore(self, snapshot: Any) -> None:
        """Replace the state (ValueError for a snapshot that is not a kv one)."""
        pairs = snapshot.get("kv") if isinstance(snapshot, dict) else None
        if not isinstance(pairs, list) or not all(
            isinstance(p, list) and len(p) == 2 and (p[0] is None or isinstance(p[0], str))
            for p in pairs
        ):
            raise ValueError("not a key-value snapshot: {kv: [[key, value]]}")
        self.kv = {k: v for k, v in pairs}  # values are never changed in place
        self._sizes = {}


class Register(KeyValue):
    """The single register: one value (key null), read, write and cas."""

    ops = frozenset(("read", "write", "cas"))

    def execute(self, cmd: dict) -> Result:
        if cmd.get("key") is not None or cmd.get("op") not in self.ops:
            return error("bad_request")
        return super().execute(cmd)


def valid_mops(mops: Any) -> bool:
    """A transaction's value: a non-empty list of ``[f, key, value]`` with f in TXN_FS and
    key a string (reads carry null)."""
    return (
        isinstance(mops, list)
        and len(mops) > 0
        and all(
            isinstance(m, list) and len(m) == 3 and m[0] in TXN_FS and isinstance(m[1], str)
            for m in mops
        )
    )
