"""Mencius mode: the log's slots are dealt round-robin to the nodes, each proposes in its own.

Slot ``s`` belongs to node ``s mod N``. Every node serves clients and puts their commands in
its own next slot, at its own *owner ballot* ``(0, owner)``, straight to phase 2: nobody
else ever proposes at round 0 of that slot, so no phase 1 is needed to learn what a lower
ballot might have chosen (there is no lower ballot). Slots are executed in slot order by the
shared learner, so one idle owner would stop everybody; two rules keep the log moving:

- **skip**: a node that sees a higher slot proposed or chosen (an accept or a learn for
  slot ``t``) gives up its own unused slots below ``t``: it proposes no-ops there at its
  owner ballot (one accept for all of them), chosen by a Q2 quorum like any value. The
  watermark of its used slots is persisted (``{"t": "mencius", "next": k}``) before a skip
  or a proposal leaves the node. (The paper's skips need no quorum, since nothing but the
  no-op can be chosen in a skipped slot; but the owner's own memory of a skip is only as
  good as its disk, and a skip learned before the watermark is synced could be re-decided
  after a power cut. The simulator caught that, so skips go through the acceptors);
- **revoke**: a slot that blocks execution for ``election_min_ms`` while later slots wait
  is taken over by whoever notices: a per-slot phase 1 at a fresh ballot above round 0
  and a phase 2 of the value the promises report with the highest ballot, or a no-op if
  none report one. The owner is then suspected, and its other blocking slots are revoked
  without waiting, until an accept at its owner ballot shows that it is back.

Why no two learners ever see different values in one slot (safety):

1. At round 0 of slot ``s`` only the owner proposes, and only once: its slots are used in
   increasing order and the watermark is durable before any message about a slot below it
   leaves, so a restarted owner never reuses a slot (one value per ballot, as Paxos needs).
2. A skip is the owner's round-0 proposal of a no-op: by step 1 the owner proposes nothing
   else there, and it is chosen by a Q2 quorum like any other value.
3. Revocation is single-decree Paxos at ballots above the owner's (an acceptor's accepted
   ballot counts as its promise for the slot, so it never takes a lower one after it): a value chosen at round 0 was accepted by a Q2 quorum, which meets the revoker's
   Q1 quorum, so the revoker re-proposes it (``paxos_impl.phase1.adopt``). Acceptors that
   promised the revoker refuse the owner's later accepts.
4. Execution is in slot order (the core's learner), so every node applies the same
   sequence of batches, and dedup by (client id, sequence number) is shared.

Deliberate bugs: ``mencius-skip-unowned`` (a node that waited long enough on another
owner's slot declares it a no-op itself, as if it were a skip: the owner may still propose
there, and its value can be chosen too), ``mencius-revoke-no-phase1`` (revocation goes
straight to phase 2 with a no-op, so a value the owner already got chosen is overwritten).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paxos_impl import limits
from paxos_impl import messages as M
from paxos_impl.limits import encoded_size
from paxos_impl.messages import Ballot, ballot_of
from paxos_impl.phase1 import adopt
from paxos_impl.proposer import CommandQueue, Handler, ProposerHost, QuietHooks, ignore

REVOKE_WINDOW = 64  # slots past the execution point a suspected owner's slots are revoked in


@dataclass
class Own:
    """A proposal in one of our own slots, at our owner ballot."""

    batch: list
    deadline: float
    acks: set[int] = field(default_factory=set)


@dataclass
class Revoke:
    """A per-slot phase 1 + phase 2 that takes a blocking slot over."""

    ballot: Ballot
    deadline: float
    phase: int = 1
    value: list = field(default_factory=list)
    promises: dict[int, dict] = field(default_factory=dict)
    acks: set[int] = field(default_factory=set)


class Mencius(CommandQueue, QuietHooks):
    """Round-robin slot owners; skips and revocation (module docstring)."""

    per_slot = True  # a ballot per slot: owner ballots, and per-slot revocations

    def __init__(self, r: ProposerHost) -> None:
        self.r = r
        self.n = r.cfg.n
        self.ballot: Ballot = (0, r.id)
        self.next_own = self._own_from(1)  # our lowest slot not yet proposed nor skipped
        self.saved_next = 0  # the watermark on disk
        self.queue: list[dict] = []
        self.active: set[tuple[str, int]] = set()
        self.own: dict[int, Own] = {}
        self.revoking: dict[int, Revoke] = {}
        self.suspect: set[int] = set()
        self.seen_max = 0  # the highest slot seen proposed or chosen
        self.out: list[list] = []  # [slot, batch] chosen by us this step: learn to everyone
        self.skips: list[int] = []  # our unused slots to fill with no-ops this step
        self.gap: tuple[int, float] | None = None  # (blocking slot, since when)
        self.retry_at: float | None = None
        self.backoff_until = 0.0
        self.next_gossip = 0.0
        t = r.cfg.timeouts
        self.attempt_s = t.election_min_ms / 1000
        self.revoke_s = t.election_min_ms / 1000
        self.backoff_s = t.heartbeat_ms / 1000
        self.handlers: dict[str, Handler] = {
            "promise": self._on_promise,
            "accepted": self._on_accepted,
            "nack": self._on_nack,
            "heartbeat": ignore,  # a leader-mode peer (a misconfiguration)
            "heartbeat_ok": ignore,
        }

    def _own_from(self, s: int) -> int:
        """Our first slot >= s."""
        return s + (self.r.id - s) % self.n

    def owner(self, s: int) -> int:
        return s % self.n

    # -- durable state ------------------------------------------------------------------------
    def restore(self, snap: dict | None, records: list[dict]) -> None:
        """Our watermark from the snapshot and records; never below what the learner knows."""
        top = (snap or {}).get("next", 1)
        for rec in records:
            if rec.get("t") == "mencius":
                top = max(top, rec["next"])
        r = self.r
        self.next_own = self._own_from(max(top, r.max_chosen + 1, r.commit_index + 1))
        self.saved_next = top  # the derived part is written with the first slot we use
        self.seen_max = r.max_chosen

    def dump(self) -> dict:
        return {"next": self.saved_next}

    # -- status and learner hooks ---------------------------------------------------------------
    def role_and_leader(self) -> tuple[str, int | None]:
        return "leader", self.r.id  # every node serves clients itself

    def current_ballot(self) -> Ballot:
        return self.ballot

    def on_accept_seen(self, src: int, b: Ballot, entries: list) -> None:
        """Our acceptor got an accept (core hook): a higher slot means skip our lower ones;
        an owner's accept at its owner ballot means it is alive."""
        if b[0] == 0 and b[1] == src:
            self.suspect.discard(src)
        for s, _ in entries:
            self._seen(s)

    def on_chosen(self, slot: int, batch: list) -> None:
        self._seen(slot)
        self.revoking.pop(slot, None)
        mine = self.own.pop(slot, None)
        if mine is not None:
            self._settle(mine.batch, batch)

    def on_compacted(self, upto: int) -> None:
        for s in [s for s in self.own if s <= upto]:
            self._settle(self.own.pop(s).batch, None)
        for s in [s for s in self.revoking if s <= upto]:
            del self.revoking[s]

    def _settle(self, ours: list, chosen: list | None) -> None:
        """One of our slots is decided: if not with our batch, queue ours again."""
        r = self.r
        for c in ours:
            key = (c["client_id"], c["seq"])
            if chosen != ours and r.result_of(*key) is None and key in r.waiting:
                self.queue.append(c)
            else:
                self.active.discard(key)

    def _seen(self, t: int) -> None:
        """Slot ``t`` is in use: give up our unused slots below it (a skip)."""
        if t > self.seen_max:
            self.seen_max = t
        if t < self.next_own:
            return
        nxt = self._own_from(t + 1)
        self.skips.extend(range(self.next_own, t, self.n))
        self.next_own = nxt

    # -- timers -----------------------------------------------------------------------------------
    def start(self) -> None:
        self.next_gossip = self.r.now + self.r.catchup_s

    def rebase(self, delta: float) -> None:
        self.backoff_until += delta
        self.next_gossip += delta
        if self.retry_at is not None:
            self.retry_at += delta
        for p in (*self.own.values(), *self.revoking.values()):
            p.deadline += delta
        if self.gap is not None:
            self.gap = (self.gap[0], self.gap[1] + delta)

    def next_tick(self) -> float | None:
        ts = [self.next_gossip]
        if self.retry_at is not None:
            ts.append(self.retry_at)
        if self.gap is not None:  # a past time here would spin: attempts have deadlines
            at = max(self.backoff_until, self.gap[1] + self.revoke_s)
            if at > self.r.now:
                ts.append(at)
        return min(ts)

    def _arm(self, at: float) -> None:
        if self.retry_at is None or at < self.retry_at:
            self.retry_at = at

    def tick(self) -> None:
        r = self.r
        if self.retry_at is not None and r.now >= self.retry_at:
            self.retry_at = None
            for s, p in self.own.items():  # lost messages: send the same value again
                if r.now >= p.deadline:
                    p.deadline = r.now + self.attempt_s
                    self._accept(s, self.ballot, p.batch)
                self._arm(p.deadline)
            for s in [s for s, a in self.revoking.items() if r.now >= a.deadline]:
                del self.revoking[s]  # a duel or lost messages: a higher ballot next time
                self.backoff_until = r.now + r.rng.uniform(0, self.backoff_s)
            for a in self.revoking.values():
                self._arm(a.deadline)
        if r.now >= self.next_gossip:
            self.next_gossip = r.now + r.catchup_s
            if r.commit_index:
                r.broadcast(M.msg("learn", entries=[], commit=r.commit_index))

    # -- one step's last word: propose, skip, revoke -------------------------------------------------
    def before_finish(self) -> None:
        r = self.r
        budget = limits.batch_budget(r.cfg.max_frame_bytes)
        while self.queue and len(self.own) < r.cfg.max_inflight:
            k = limits.take_batch(self.queue, r.cfg.max_batch, budget, encoded_size)
            batch, self.queue = self.queue[:k], self.queue[k:]
            s = self.next_own
            self.next_own += self.n
            self.seen_max = max(self.seen_max, s)
            self.own[s] = Own(batch, r.now + self.attempt_s)
            self._arm(r.now + self.attempt_s)
            self._save()
            self._accept(s, self.ballot, batch)
        self._revoke_blocking()
        sent: list[list] = []
        while self.out:  # learning may skip more of our slots: those go out too
            self._save()  # the skips' watermark is durable before they leave
            out, self.out = self.out, []
            for s, v in out:
                r.learn(s, v)
            sent += out
        for part in limits.chunks(sent, r.budget, lambda e: encoded_size(e[1])):
            r.broadcast(M.msg("learn", entries=part, commit=r.commit_index))
        if self.skips:  # no-ops at our owner ballot, chosen by a Q2 quorum like any value
            self._save()
            skips, self.skips = self.skips, []
            for s in skips:
                self.own[s] = Own([], r.now + self.attempt_s)
            self._arm(r.now + self.attempt_s)
            for part in limits.chunks(skips, r.budget, lambda e: 8):
                m = M.msg("accept", ballot=self.ballot, entries=[[s, []] for s in part],
                          commit=r.commit_index)  # fmt: skip
                r.broadcast(m, True)

    def _save(self) -> None:
        if self.next_own > self.saved_next:
            self.saved_next = self.next_own
            self.r.persist({"t": "mencius", "next": self.next_own})

    def _accept(self, s: int, b: Ballot, batch: list) -> None:
        m = M.msg("accept", ballot=b, entries=[[s, batch]], commit=self.r.commit_index)
        self.r.broadcast(m, True)

    def _revoke_blocking(self) -> None:
        """Take over the slot execution waits on, once it waited too long (or its owner
        is suspected), and a suspected owner's other slots up to the highest slot seen."""
        r = self.r
        s = r.commit_index + 1
        if s in r.chosen or (self.seen_max <= s and r.max_chosen <= s):
            self.gap = None
            return
        if self.gap is None or self.gap[0] != s:
            self.gap = (s, r.now)
        o = self.owner(s)
        waited = r.now >= self.gap[1] + self.revoke_s
        if o == r.id and s >= self.next_own:
            return  # our own unused slot: the next skip covers it
        if o == r.id and s in self.own:
            return  # ours, in flight: retransmissions decide it
        if waited and o != r.id:
            self.suspect.add(o)
        if r.now < self.backoff_until or not (waited or o in self.suspect):
            return
        top = min(max(self.seen_max, r.max_chosen), s + REVOKE_WINDOW)
        todo = [
            t
            for t in range(s, top + 1)
            if t not in r.chosen
            and t not in self.revoking
            and t not in self.own
            and (t == s or self.owner(t) in self.suspect)
            and not (self.owner(t) == r.id and t >= self.next_own)
        ]
        if not todo:
            return
        if r.cfg.has_bug("mencius-skip-unowned"):
            # BUG(mencius-skip-unowned): only an owner may skip its slot; another node must
            # revoke it with phase 1, since the owner may still propose there
            self.out.extend([t, []] for t in todo)
            return
        b = r.next_ballot()
        for t in todo:
            a = Revoke(b, r.now + self.attempt_s)
            self.revoking[t] = a
            if r.cfg.has_bug("mencius-revoke-no-phase1"):
                # BUG(mencius-revoke-no-phase1): a revoker must learn, with phase 1 at a Q1
                # quorum, what the owner may have got chosen, and re-propose that
                a.phase = 2
                self._accept(t, b, [])
            else:
                r.broadcast(M.msg("prepare", ballot=b, to=t, **{"from": t}), True)
        self._arm(r.now + self.attempt_s)

    # -- phase 1 and 2 replies ---------------------------------------------------------------------
    def _on_promise(self, src: int, m: dict) -> None:
        r = self.r
        s = m["from"]
        a = self.revoking.get(s)
        if a is None or a.phase != 1 or ballot_of(m) != a.ballot:
            return
        r.note_commit(m["commit"], src)
        for t, v in m["chosen"]:
            r.learn(t, v)
        if self.revoking.get(s) is not a:  # the slot turned out to be chosen already
            return
        if m["snap"] >= s:  # chosen and compacted there: catch up instead
            r.fetch_from(src, m["snap"], at_once=False)
            del self.revoking[s]
            return
        a.promises[src] = m
        if len(a.promises) < r.cfg.q1:
            return
        a.value = adopt(a.promises.values(), s - 1, r.cfg).get(s, [])
        a.phase = 2
        self._accept(s, a.ballot, a.value)

    def _on_accepted(self, src: int, m: dict) -> None:
        r = self.r
        r.note_commit(m["commit"], src)
        b = ballot_of(m)
        for s in m["slots"]:
            p: Own | Revoke | None = self.own.get(s) if b == self.ballot else None
            if p is None:
                a = self.revoking.get(s)
                p = a if a is not None and a.phase == 2 and a.ballot == b else None
            if p is None:
                continue
            p.acks.add(src)
            if len(p.acks) >= r.cfg.q2:
                v = p.batch if isinstance(p, Own) else p.value
                self.out.append([s, v])  # learned and sent in before_finish

    def _on_nack(self, src: int, m: dict) -> None:
        b = ballot_of(m)
        slot = m["slot"]
        lost = [s for s, a in self.revoking.items() if b > a.ballot and slot in (None, s)]
        for s in lost:
            del self.revoking[s]
        if lost:
            self.backoff_until = self.r.now + self.r.rng.uniform(0, 2 * self.backoff_s)
