"""The simulator's message trace: every message sent and delivered, bounded and cheap.

The simulator sees every message, so it can record all of them for the report's Lamport
diagram and slot stories (``controller.lamport``). Recording runs once per message of a
simulation, so it stores a tuple with the payload the world already encoded (no copy, no
summary); :meth:`SimTrace.records` decodes and summarises once, when the run is collected.
A ring (``maxlen`` entries) bounds the memory of a long run: the oldest entries go first,
and :attr:`SimTrace.dropped` says how many.

Each send gets an id that its deliveries repeat (a duplicated message is delivered twice,
a dropped one never), so a reader pairs a send with what became of it.
"""

from __future__ import annotations

import collections
from typing import Any

from cluster.sim.codec import decode
from paxos_impl.trace import summarize

MAX_ENTRIES = 400_000


class SimTrace:
    """Sends, deliveries and what each node learned and applied, in world time."""

    __slots__ = ("entries", "next_id", "clients", "total")

    def __init__(self, maxlen: int = MAX_ENTRIES) -> None:
        self.entries: collections.deque[tuple] = collections.deque(maxlen=maxlen)
        self.next_id = 0
        self.clients: dict[object, str] = {}  # a client connection's name -> its client id
        self.total = 0

    def sent(self, t: float, clock: float | None, src: object, dst: object, data: Any) -> int:
        self.next_id += 1
        self.total += 1
        self.entries.append(("send", t, clock, src, dst, self.next_id, data))
        return self.next_id

    def received(self, t: float, clock: float | None, src: object, dst: object, mid: int) -> None:
        self.total += 1
        self.entries.append(("recv", t, clock, src, dst, mid))

    def learned(self, kind: str, t: float, clock: float, node: int, slot: int) -> None:
        """``chosen`` (the node learned the slot's value) or ``apply`` (it applied it)."""
        self.total += 1
        self.entries.append((kind, t, clock, node, slot))

    @property
    def dropped(self) -> int:
        """Entries the ring let go (the oldest)."""
        return self.total - len(self.entries)

    def records(self, t0: float = 0.0) -> list[dict]:
        """Every entry as a dict: ``t`` in ns since world time ``t0``, node ids as names
        (``n1``...), clients by their client id."""
        out: list[dict] = []
        sends: dict[int, dict] = {}
        name = self._name
        for e in self.entries:
            kind = e[0]
            rec: dict[str, Any] = {"t": round((e[1] - t0) * 1e9), "clock": e[2], "dir": kind}
            if kind == "send":
                data = e[6]
                try:
                    info = summarize(decode(data))
                except ValueError:
                    info = summarize(None)
                rec.update({"from": name(e[3]), "to": name(e[4]), "id": e[5], **info})
                rec["size"] = len(data)
                sends[e[5]] = rec
            elif kind == "recv":
                rec.update({"from": name(e[3]), "to": name(e[4]), "id": e[5]})
                s = sends.get(e[5])
                if s is not None:  # (a reply's deliverer knows only the client)
                    for k in ("from", "to", "type", "ballot", "slots", "cmds", "size"):
                        rec[k] = s[k]
            else:
                rec.update({"node": name(e[3]), "slot": e[4]})
            out.append(rec)
        return out

    def _name(self, who: object) -> str:
        if isinstance(who, int):
            return f"n{who + 1}"
        return self.clients.get(who, str(who))
