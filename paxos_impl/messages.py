"""Peer messages of the Paxos core: how they are built and how a received one is checked.

A message is a JSON object with a ``type``. Everything that arrives from the network is
checked here, completely, before the core looks at it, so a malformed or hostile message
raises :class:`ProtocolError` and never leaves a replica half-updated.

Ballots travel as ``[round, node]`` and are tuples inside the core (tuples compare in the
total order we need: first by round, then by node id). A slot's value is a *batch*: a list
of client commands; the empty list is the no-op a new leader uses to fill a hole.

Message types (fields besides ``type``):

``prepare``      ballot, from, to        phase 1a for slots from..to (``to`` null: every slot)
``promise``      ballot, from, to, entries [[slot, ballot, batch]] (accepted, above the
                 acceptor's commit), chosen [[slot, batch]] (at most 64), snap (the acceptor's
                 compacted prefix), commit (the candidate learns up to it before proposing),
                 more (optional: entries were cut to fit a frame; ask again from this slot)
``nack``         ballot (the higher one the acceptor promised), slot (null: all)
``accept``       ballot, entries [[slot, batch]], commit          phase 2a (pipelined, batched)
``accepted``     ballot, slots [slot], commit                     phase 2b
``heartbeat``    ballot, commit, round    leader liveness; ``round`` numbers the quorum-read /
                                          lease confirmation rounds
``heartbeat_ok`` ballot, round, commit, lease (bool: the follower granted a lease)
``catchup``      from, snap (optional [applied, part]: the next part of that snapshot)
``learn``        entries [[slot, batch]], commit                  chosen values
``snapshot``     snap {applied, sm, members}   the sender's state machine and membership, for
                 a compacted prefix (sm: {text: a piece of the machine's JSON state | state:
                 the state itself, dedup: client replies}); part, parts (optional): one part of a snapshot too big
                 for one frame
``campaign``     (no fields)   a leader no longer among the voters asks a voter to run now
"""

from __future__ import annotations

from typing import Any

from paxos_impl.limits import encoded_size, value_problem
from paxos_impl.membership import check_value, is_dump
from paxos_impl.statemachine import valid_mops

Ballot = tuple[int, int]
ZERO: Ballot = (0, -1)
CLIENT_OPS = (
    *("read", "write", "cas", "append", "txn"),  # the key-value machine's
    *("apply", "query"),  # a user machine's (paxos_impl.machine)
    *("status", "members", "reconfig"),
)
# answered by the node that receives them, never logged
LOCAL_OPS = ("status", "members")
# The deepest value a peer may send: the most any config allows clients (Config.validate),
# and far enough below the JSON codecs' recursion limits that no encoder on our write or
# send path can fail on it.
PEER_VALUE_DEPTH = 500


class ProtocolError(ValueError):
    """A peer sent a message the core cannot accept (wrong type, missing or bad field)."""


# -- construction ------------------------------------------------------------------------
def wire_ballot(b: Ballot) -> list[int]:
    return [b[0], b[1]]


def msg(type_: str, **fields: Any) -> dict:
    d = {"type": type_, **fields}
    b = fields.get("ballot")
    if b is not None:  # keeps its place among the keys
        d["ballot"] = [b[0], b[1]]
    return d


# -- validation --------------------------------------------------------------------------
def _fail(mtype: str, why: str) -> ProtocolError:
    return ProtocolError(f"malformed {mtype} message: {why}")


def _int(m: dict, key: str, lo: int = 0, none_ok: bool = False) -> None:
    v = m.get(key)
    if v is None and none_ok and key in m:
        return
    if not isinstance(v, int) or isinstance(v, bool) or v < lo:
        raise _fail(m["type"], f"{key} must be an integer >= {lo}")


def _bool(m: dict, key: str) -> None:
    if not isinstance(m.get(key), bool):
        raise _fail(m["type"], f"{key} must be a boolean")


def is_ballot(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        and v[0] >= 0
    )


def _ballot(m: dict, key: str = "ballot") -> None:
    if not is_ballot(m.get(key)):
        raise _fail(m["type"], f"{key} must be [round, node]")


COMMAND_KEYS = frozenset({"op", "key", "value", "client_id", "seq"})


def is_command(c: Any) -> bool:
    """A client command as it sits in a batch (exactly what ``command`` builds)."""
    return (
        isinstance(c, dict)
        and c.keys() == COMMAND_KEYS
        and c["op"] in CLIENT_OPS
        and c["op"] not in LOCAL_OPS
        and (c["key"] is None or isinstance(c["key"], str))
        and isinstance(c["client_id"], str)
        and isinstance(c["seq"], int)
        and not isinstance(c["seq"], bool)
        and c["seq"] >= 0
        and value_problem(c["value"], PEER_VALUE_DEPTH) is None
    )


def is_batch(v: Any) -> bool:
    return isinstance(v, list) and all(is_command(c) for c in v)


def _slot(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _list(m: dict, key: str, ok: Any) -> None:
    v = m.get(key)
    if not isinstance(v, list) or not all(ok(x) for x in v):
        raise _fail(m["type"], f"bad {key}")


def _nat(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _slot_batch(e: Any) -> bool:
    return isinstance(e, list) and len(e) == 2 and _slot(e[0]) and is_batch(e[1])


def _slot_ballot_batch(e: Any) -> bool:
    return (
        isinstance(e, list) and len(e) == 3 and _slot(e[0]) and is_ballot(e[1]) and is_batch(e[2])
    )


def _dedup_entry(e: Any) -> bool:
    return (
        isinstance(e, list)
        and len(e) == 2
        and isinstance(e[0], int)
        and not isinstance(e[0], bool)
        and isinstance(e[1], dict)
        and value_problem(e[1], PEER_VALUE_DEPTH) is None
    )


def _machine_state(sm: dict) -> bool:
    """Any machine's state: a piece of its JSON text (snapshots in parts), or the JSON value
    itself; whether the machine takes it is its own business (the core restores it into a
    fresh machine and drops the snapshot if it refuses). Neither: an empty part."""
    if "text" in sm:
        return isinstance(sm["text"], str) and "state" not in sm
    if "state" in sm:
        return value_problem(sm["state"], PEER_VALUE_DEPTH) is None
    return True


def _snap(m: dict) -> None:
    s = m.get("snap")
    sm = s.get("sm") if isinstance(s, dict) else None
    if not (
        isinstance(s, dict)
        and isinstance(s.get("applied"), int)
        and not isinstance(s["applied"], bool)
        and s["applied"] >= 0
        and isinstance(sm, dict)
        and _machine_state(sm)
        and isinstance(sm.get("dedup", {}), dict)
        and all(isinstance(k, str) and _dedup_entry(e) for k, e in sm.get("dedup", {}).items())
    ):
        raise _fail("snapshot", "snap must be {applied, sm: {text | state, dedup}}")
    if "members" in s and s["members"] is not None and not is_dump(s["members"]):
        raise _fail("snapshot", "snap members must be a membership dump")
    # a snapshot too big for one frame travels in parts (see Replica._on_catchup)
    if "parts" in m or "part" in m:
        _int(m, "parts", 1)
        _int(m, "part")
        if m["part"] >= m["parts"]:
            raise _fail("snapshot", "part must be below parts")


def _snap_cursor(m: dict) -> None:
    c = m.get("snap")
    if "snap" in m and not (isinstance(c, list) and len(c) == 2 and all(_nat(x) for x in c)):
        raise _fail(m["type"], "snap must be [applied, part]")


_CHECKS: dict[str, Any] = {
    "prepare": lambda m: (_ballot(m), _int(m, "from", 1), _int(m, "to", 1, none_ok=True)),
    "promise": lambda m: (
        _ballot(m),
        _int(m, "from", 1),
        _int(m, "to", 1, none_ok=True),
        _list(m, "entries", _slot_ballot_batch),
        _list(m, "chosen", _slot_batch),
        _int(m, "snap"),
        _int(m, "commit"),
        "more" in m and _int(m, "more", 1, none_ok=True),
    ),
    "nack": lambda m: (_ballot(m), _int(m, "slot", 1, none_ok=True)),
    "accept": lambda m: (_ballot(m), _list(m, "entries", _slot_batch), _int(m, "commit")),
    "accepted": lambda m: (_ballot(m), _list(m, "slots", _slot), _int(m, "commit")),
    "heartbeat": lambda m: (_ballot(m), _int(m, "commit"), _int(m, "round")),
    "heartbeat_ok": lambda m: (_ballot(m), _int(m, "round"), _int(m, "commit"), _bool(m, "lease")),
    "catchup": lambda m: (_int(m, "from", 1), _snap_cursor(m)),
    "learn": lambda m: (_list(m, "entries", _slot_batch), _int(m, "commit")),
    "snapshot": _snap,
    "campaign": lambda m: None,  # a leader that leaves the voters hands over: run now
}
TYPES = tuple(_CHECKS)


def register(checks: dict[str, Any]) -> None:
    """Add a mode's own message types and their checks (the mode's module calls this when
    it is imported, so the core's one validation path covers them too)."""
    _CHECKS.update(checks)


def _plain_ballot(b: Any) -> bool:
    """is_ballot for exact types only (what a decoded message holds): a fast yes, no proof
    of a no (int subclasses go the long way)."""
    return type(b) is list and len(b) == 2 and type(b[0]) is int and type(b[1]) is int and b[0] >= 0


def _plain_nat(v: Any) -> bool:
    return type(v) is int and v >= 0


_LOGGED_OPS = frozenset(op for op in CLIENT_OPS if op not in LOCAL_OPS)


_SCALARS = (int, str, bool, type(None))


def _plain_command(c: Any) -> bool:
    """is_command for exact types only: a fast yes (anything else goes the long way)."""
    if type(c) is not dict or c.keys() != COMMAND_KEYS:
        return False
    key, seq = c["key"], c["seq"]
    return (
        c["op"] in _LOGGED_OPS
        and (key is None or type(key) is str)
        and type(c["client_id"]) is str
        and type(seq) is int
        and seq >= 0
        and type(c["value"]) in _SCALARS
    )


def _fast_ok(m: dict) -> bool:
    """True only if the full check of ``m`` would pass: heartbeats, their acks and phase-2b
    messages are most of the traffic, so they are checked inline (False: check the long way,
    which then also says what is wrong)."""
    t = m.get("type")
    if t == "heartbeat":
        return (
            _plain_ballot(m.get("ballot"))
            and _plain_nat(m.get("commit"))
            and _plain_nat(m.get("round"))
        )
    if t == "heartbeat_ok":
        return (
            _plain_ballot(m.get("ballot"))
            and _plain_nat(m.get("round"))
            and _plain_nat(m.get("commit"))
            and type(m.get("lease")) is bool
        )
    if t == "accept":
        entries = m.get("entries")
        if not (
            _plain_ballot(m.get("ballot")) and _plain_nat(m.get("commit")) and type(entries) is list
        ):
            return False
        for e in entries:
            if not (type(e) is list and len(e) == 2 and type(e[0]) is int and e[0] >= 1):
                return False
            batch = e[1]
            if type(batch) is not list:
                return False
            for c in batch:
                if not _plain_command(c):
                    return False
        return True
    if t == "accepted":
        slots = m.get("slots")
        return (
            _plain_ballot(m.get("ballot"))
            and _plain_nat(m.get("commit"))
            and type(slots) is list
            and all(type(s) is int and s >= 1 for s in slots)
        )
    return False


def validate(src: Any, m: Any, node_ids: range | list[int]) -> None:
    """Raise ProtocolError unless ``m`` from ``src`` is a well-formed peer message."""
    if type(m) is dict and type(src) is int and src in node_ids and _fast_ok(m):
        return
    if not isinstance(m, dict):
        raise ProtocolError(f"a message must be a JSON object, got {type(m).__name__}")
    if src not in node_ids or isinstance(src, bool):
        raise ProtocolError(f"message from unknown node {src!r}")
    check = _CHECKS.get(m.get("type"))  # type: ignore[arg-type]
    if check is None:
        raise ProtocolError(f"unknown message type {m.get('type')!r}")
    check(m)
    # The core notes the round of any ballot a message carries, whatever its type, so a
    # "ballot" field must be well formed even on types that do not need one.
    if "ballot" in m:
        _ballot(m)


def check_request(req: Any) -> str | None:
    """Why a client request is unusable (None if it is fine); answered as bad_request."""
    if not isinstance(req, dict):
        return "a request must be a JSON object"
    op = req.get("op")
    if op not in CLIENT_OPS:
        return f"unknown op {op!r}"
    if op in LOCAL_OPS:
        return None
    if not (req.get("key") is None or isinstance(req.get("key"), str)):
        return "key must be a string or null"
    if not isinstance(req.get("client_id"), str):
        return "client_id must be a string"
    seq = req.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "seq must be a non-negative integer"
    if op == "cas" and not (isinstance(req.get("value"), list) and len(req["value"]) == 2):
        return "cas value must be [expected, new]"
    if op == "txn" and not valid_mops(req.get("value")):
        return 'txn value must be a non-empty list of ["r"|"w"|"append", key, value]'
    if op == "reconfig":
        return check_value(req.get("value"))
    return None


def request_limits(req: dict, max_depth: int, max_bytes: int) -> tuple[str | None, int]:
    """(why the command of a well-formed request cannot be stored, its encoded size): the
    value must be finite and at most ``max_depth`` deep, the command at most ``max_bytes``.
    Checked before anything is proposed, so no replica ever holds what it cannot write."""
    why = value_problem(req.get("value"), max_depth)
    if why is not None:
        return why, 0
    try:
        size = encoded_size(command(req))
    except (ValueError, TypeError, RecursionError) as e:  # not expected after the check above
        return f"value cannot be encoded: {str(e)[:60]}", 0
    if size > max_bytes:
        return f"command of {size} bytes exceeds max_command_bytes ({max_bytes})", size
    return None, size


def command(req: dict) -> dict:
    """The part of a client request that goes into the log."""
    return {
        "op": req["op"],
        "key": req.get("key"),
        "value": req.get("value"),
        "client_id": req["client_id"],
        "seq": req["seq"],
    }


def ballot_of(m: dict) -> Ballot:
    """The ballot of a (validated) message as the tuple the core compares."""
    return (m["ballot"][0], m["ballot"][1])
