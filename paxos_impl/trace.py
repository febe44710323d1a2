"""What a protocol message says, in the few fields a person reading a trace needs.

A message trace (the simulator records every message; a real node on request) is for
seeing *why* a run went wrong: which prepare was answered by whom, which accept a
partition swallowed. That needs, per message, its type, ballot, the log slots it touches
and the client commands it carries (``client_id:seq@slot``, so a client's operation can be
followed to the slots that served it), not its payload. :func:`summarize` reads those off
any message of :mod:`paxos_impl.messages` (and a client request or reply) without
trusting its shape: a trace must never fail on a malformed message, it only records less.
"""

from __future__ import annotations

from typing import Any

MAX_SLOTS = 64  # a promise or learn may carry hundreds; the first ones say enough
MAX_CMDS = 64


def _slot_of(entry: Any) -> int | None:
    if isinstance(entry, list) and entry and type(entry[0]) is int:
        return entry[0]
    return None


def _cmds_of(batch: Any, slot: int | None, out: list[str]) -> None:
    if not isinstance(batch, list):
        return
    at = "" if slot is None else f"@{slot}"
    for c in batch:
        if len(out) >= MAX_CMDS:
            return
        if isinstance(c, dict) and "client_id" in c and "seq" in c:
            out.append(f"{c['client_id']}:{c['seq']}{at}")


def summarize(msg: Any) -> dict:
    """``{"type", "ballot", "slots", "cmds"}`` of a peer message or client request/reply
    (fields it does not have are None / empty). A command in a slot's batch is
    ``client_id:seq@slot``; in a client request, ``client_id:seq``."""
    if not isinstance(msg, dict):
        return {"type": "?", "ballot": None, "slots": [], "cmds": []}
    mtype = msg.get("type")
    slots: list[int] = []
    cmds: list[str] = []
    if mtype is None:  # a client request (op) or a reply (ok)
        if "op" in msg:
            mtype = "request"
            if "client_id" in msg and "seq" in msg:
                cmds.append(f"{msg['client_id']}:{msg['seq']}")
        else:
            mtype = "reply"
    entries = msg.get("entries")
    if isinstance(entries, list):
        for e in entries:
            s = _slot_of(e)
            if s is not None and len(slots) < MAX_SLOTS:
                slots.append(s)
            if isinstance(e, list) and e:
                _cmds_of(e[-1], s, cmds)  # [slot, batch] or [slot, ballot, batch]
    chosen = msg.get("chosen")
    if isinstance(chosen, list):
        for e in chosen:
            s = _slot_of(e)
            if s is not None and len(slots) < MAX_SLOTS:
                slots.append(s)
    raw = msg.get("slots")
    if isinstance(raw, list):
        slots += [s for s in raw[:MAX_SLOTS] if type(s) is int]
    slot = msg.get("slot")
    if type(slot) is int:
        slots.append(slot)
    ballot = msg.get("ballot")
    if not (isinstance(ballot, list) and len(ballot) == 2):
        ballot = None
    return {"type": str(mtype), "ballot": ballot, "slots": slots, "cmds": cmds}
