"""The acceptor: the only part of Paxos whose memory must survive a crash.

It keeps one global promise (Multi-Paxos: a leader's phase 1 covers every slot from a point
on) plus per-slot promises (masterless mode runs phase 1 for single slots), and the highest
ballot and value accepted per slot. Every change it makes comes back as a record that the
replica must persist before sending the message that depends on it.

Records: ``{"t": "promise", "ballot": [r, n], "slot": null|int}`` and
``{"t": "accept", "ballot": [r, n], "entries": [[slot, batch], ...]}``.
"""

from __future__ import annotations

from paxos_impl.messages import ZERO, Ballot, wire_ballot


class Acceptor:
    def __init__(self) -> None:
        self.promised: Ballot = ZERO  # applies to every slot
        self.slot_promised: dict[int, Ballot] = {}
        self.accepted: dict[int, tuple[Ballot, list]] = {}
        self.floor = 0  # slots <= floor are compacted away (chosen, in a snapshot)

    def promise_for(self, slot: int) -> Ballot:
        """The lowest ballot this acceptor may still accept for ``slot``. Accepting a
        ballot promises it too: with ballots per slot an accept may arrive before (or
        without) its prepare, and an acceptor that then took a lower ballot would drop a
        value a quorum may have chosen (seen on the simulator with reordered messages)."""
        p = self.promised
        sp = self.slot_promised.get(slot)
        if sp is not None and sp > p:
            p = sp
        a = self.accepted.get(slot)
        return a[0] if a is not None and a[0] > p else p

    # -- phase 1 --------------------------------------------------------------------------
    def prepare(self, b: Ballot, first: int, last: int | None) -> dict | None:
        """Promise ``b`` for slots first..last (all from ``first`` if last is None).

        Returns the promise record to persist, or None when a higher promise stands.
        """
        if last is None:
            if b < self.promised:
                return None
            self.promised = b
            return {"t": "promise", "ballot": wire_ballot(b), "slot": None}
        if b < self.promise_for(first):
            return None
        self.slot_promised[first] = b
        return {"t": "promise", "ballot": wire_ballot(b), "slot": first}

    def report(self, first: int, last: int | None) -> list[list]:
        """Accepted [slot, ballot, batch] for the slots a promise covers."""
        if last == first:
            e = self.accepted.get(first)
            return [] if e is None else [[first, wire_ballot(e[0]), e[1]]]
        out = []
        for s, (b, v) in self.accepted.items():
            if s >= first and (last is None or s <= last):
                out.append([s, wire_ballot(b), v])
        out.sort(key=lambda e: e[0])
        return out

    # -- phase 2 --------------------------------------------------------------------------
    def accept(
        self, b: Ballot, entries: list[list], raise_promise: bool = True, check: bool = True
    ) -> tuple[list[int], dict | None]:
        """Accept every entry whose slot has no higher promise; returns (slots, record).

        With ``raise_promise`` (leader mode) accepting ``b`` also raises the global promise in
        memory, so a deposed leader is refused at once; that is an optimisation, not a rule
        safety needs (the accept record already binds the slots it names), so it is not
        persisted. Masterless mode must not do it: ballots there are per slot.
        """
        done: list[int] = []
        kept: list[list] = []
        for s, v in entries:
            if s <= self.floor or (check and b < self.promise_for(s)):  # check: see bugs
                continue
            done.append(s)
            have = self.accepted.get(s)
            if have is not None and have[0] == b:
                continue  # a retransmission: one value per slot per ballot, already on disk
            self.accepted[s] = (b, v)
            kept.append([s, v])
        if raise_promise and done and b > self.promised:
            self.promised = b
        if not kept:
            return done, None
        return done, {"t": "accept", "ballot": wire_ballot(b), "entries": kept}

    # -- recovery and compaction -------------------------------------------------------------
    def restore(self, rec: dict) -> None:
        b = (rec["ballot"][0], rec["ballot"][1])
        if rec["t"] == "promise":
            if rec.get("slot") is None:
                self.promised = max(self.promised, b)
            elif rec["slot"] > self.floor:
                self.slot_promised[rec["slot"]] = max(self.promise_for(rec["slot"]), b)
        elif rec["t"] == "accept":
            for s, v in rec["entries"]:
                if s > self.floor:
                    self.accepted[s] = (b, v)

    def compact(self, upto: int) -> None:
        """Forget slots <= upto: they are chosen and inside a snapshot."""
        self.floor = max(self.floor, upto)
        for d in (self.accepted, self.slot_promised):
            for s in [s for s in d if s <= upto]:
                del d[s]

    def max_round(self) -> int:
        r = self.promised[0]
        for b in self.slot_promised.values():
            r = max(r, b[0])
        for b, _ in self.accepted.values():
            r = max(r, b[0])
        return r

    def dump(self) -> dict:
        return {
            "promised": wire_ballot(self.promised),
            "slot_promised": [[s, wire_ballot(b)] for s, b in sorted(self.slot_promised.items())],
            "accepted": [[s, wire_ballot(b), v] for s, (b, v) in sorted(self.accepted.items())],
            "floor": self.floor,
        }

    @classmethod
    def load(cls, d: dict) -> Acceptor:
        a = cls()
        a.promised = tuple(d.get("promised", list(ZERO)))  # type: ignore[assignment]
        a.floor = d.get("floor", 0)
        a.slot_promised = {s: (b[0], b[1]) for s, b in d.get("slot_promised", [])}
        a.accepted = {s: ((b[0], b[1]), v) for s, b, v in d.get("accepted", [])}
        return a
