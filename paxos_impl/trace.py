"""What a protocol message says, in the few fields a person reading a trace needs.

A message trace (the simulator records every message; a real node on request) is for
seeing *why* a run went wrong: which prepare was answered by whom, which accept a
partition swallowed. That needs, per message, its type, ballot, the log slots it touches
and the client commands it carries (``client_id:seq@slot``, so a client's operation can be
followed to the slots that served it), not its payload. :func:`summarize` reads those off
any message of :mod:`paxos_impl.messages` (and a client request or reply) without
trusting its shape: a trace must never fail on a malformed message, it only records less.

A real node records on request (``trace_messages_bytes`` in its config) through
:class:`MessageLog`, which the node runtime calls for every peer message it steps and every
one it sends (``NodeRuntime.trace``). It costs an encode per message for its size and one
buffered write per batch; the file is capped: past half the cap it becomes
``messages.jsonl.1`` (replacing the previous one) and a new one starts, so at most the cap
is on disk and the newest half at least is kept.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paxos_impl.limits import encoded_size

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
    for field, carries in (("entries", True), ("chosen", False)):  # (a promise's chosen
        listed = msg.get(field)  # slots only say which: their commands were placed before)
        if not isinstance(listed, list):
            continue
        for e in listed:
            s = _slot_of(e)
            if s is not None and len(slots) < MAX_SLOTS:
                slots.append(s)
            if carries and isinstance(e, list) and e:
                _cmds_of(e[-1], s, cmds)  # [slot, batch] or [slot, ballot, batch]
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


class MessageLog:
    """A real node's bounded message trace (JSON lines; see the module docstring).

    ``t`` is ns of the host's wall clock (``time.time_ns``), ``clock`` the node's own clock
    (seconds): a reader aligns nodes by ``t`` and sees each node's view in ``clock``."""

    def __init__(
        self,
        path: str | Path,
        node: int,
        max_bytes: int,
        wall: Callable[[], int] = time.time_ns,
    ) -> None:
        self.path = Path(path)
        self.node = node
        self.half = max(max_bytes // 2, 4096)
        self.wall = wall
        self.f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open: a log)
        self.written = self.f.tell()
        self.broken = False  # a write failed (a full disk): the trace stops, the node goes on

    def recv(self, src: int, msg: Any, now: float) -> None:
        self._write("recv", src, self.node, msg, now, None)

    def request(self, req: Any, now: float) -> None:
        """A client request this node starts on (from its ``client_id``)."""
        cid = req.get("client_id") if isinstance(req, dict) else None
        self._write("recv", cid if isinstance(cid, str) else "client", self.node, req, now, None)

    def sends(self, messages: list[tuple[int, dict]], now: float) -> None:
        sizes: dict[int, int] = {}  # a broadcast is one dict: sized once
        for dst, m in messages:
            size = sizes.get(id(m))
            if size is None:
                try:
                    size = encoded_size(m)
                except (ValueError, TypeError, RecursionError):
                    size = -1
                sizes[id(m)] = size
            self._write("send", self.node, dst, m, now, size)
        self.flush()

    def _write(self, d: str, src: int, dst: int, m: Any, now: float, size: int | None) -> None:
        if self.broken:
            return
        rec = {"t": self.wall(), "clock": now, "dir": d, "from": src, "to": dst, **summarize(m)}
        if size is not None:
            rec["size"] = size
        line = json.dumps(rec, separators=(",", ":")) + "\n"
        try:
            self.f.write(line)
            self.written += len(line)
            if self.written > self.half:
                self._rotate()
        except (OSError, ValueError) as e:  # a full disk costs the trace, never the node
            self._give_up(e)

    def _give_up(self, e: Exception) -> None:
        self.broken = True
        logging.getLogger("paxos.node").error("message trace stopped: %s", e)
        try:
            self.f.close()
        except (OSError, ValueError):
            pass

    def _rotate(self) -> None:
        self.f.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self.f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self.written = 0

    def flush(self) -> None:
        if self.broken:
            return
        try:
            self.f.flush()
        except (OSError, ValueError) as e:
            self._give_up(e)

    def close(self) -> None:
        self.flush()
        if not self.broken:
            self.f.close()
            self.broken = True
