"""Masterless mode: every node is a proposer and runs both Paxos phases per slot.

There is no leader to redirect to: a node takes the lowest slot it does not know to be
chosen, runs phase 1 for that single slot with a fresh ballot, proposes the highest-ballot
value reported (or, if none, a batch of its own queued commands), and on a phase-2 quorum
tells everyone the value. Proposers that collide on a slot are resolved by ballots and a
randomized back-off; a proposer whose slot was won by another value simply tries the next
slot. Holes left by a proposer that died mid-way are filled by whoever notices them, with a
no-op unless phase 1 reveals a value. Reads go through the log (the quorum and lease routes
need a leader; in this mode they fall back to the log).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paxos_impl import limits
from paxos_impl import messages as M
from paxos_impl.limits import encoded_size
from paxos_impl.messages import Ballot, ballot_of
from paxos_impl.phase1 import adopt
from paxos_impl.proposer import CommandQueue, Handler, ProposerHost, QuietHooks, ignore


@dataclass
class Attempt:
    slot: int
    ballot: Ballot
    mine: list  # the batch of our own commands we would like to place
    deadline: float
    phase: int = 1
    value: list = field(default_factory=list)
    promises: dict[int, dict] = field(default_factory=dict)
    acks: set[int] = field(default_factory=set)


class Masterless(CommandQueue, QuietHooks):
    """Every node proposes: one slot at a time, both phases per slot (module docstring)."""

    per_slot = True  # a ballot per slot (see paxos_impl.proposer)

    def __init__(self, r: ProposerHost) -> None:
        self.r = r
        self.queue: list[dict] = []
        self.active: set[tuple[str, int]] = set()
        self.cur: Attempt | None = None
        self.backoff_until = 0.0
        self.gap_since: float | None = None
        self.next_gossip = 0.0
        t = r.cfg.timeouts
        self.attempt_s = t.election_min_ms / 1000
        self.backoff_s = t.heartbeat_ms / 1000
        self.handlers: dict[str, Handler] = {
            "promise": self._on_promise,
            "accepted": self._on_accepted,
            "nack": self._on_nack,
            # a leader-mode peer (a misconfiguration) heartbeats; nothing here uses them
            "heartbeat": ignore,
            "heartbeat_ok": ignore,
        }

    # -- status and hooks the learner calls ----------------------------------------------------
    def role_and_leader(self) -> tuple[str, int | None]:
        return "leader", self.r.id  # every node serves clients itself

    def current_ballot(self) -> Ballot:
        return self.cur.ballot if self.cur else self.r.promised

    def on_chosen(self, slot: int, batch: list) -> None:
        if self.cur is not None and self.cur.slot == slot:
            self.cur = None

    def on_compacted(self, upto: int) -> None:
        if self.cur is not None and self.cur.slot <= upto:
            self.cur = None

    # -- timers ---------------------------------------------------------------------------------
    def start(self) -> None:
        self.next_gossip = self.r.now + self.r.catchup_s

    def rebase(self, delta: float) -> None:
        self.backoff_until += delta
        self.next_gossip += delta
        if self.cur is not None:
            self.cur.deadline += delta
        if self.gap_since is not None:
            self.gap_since += delta

    def next_tick(self) -> float | None:
        ts = [self.next_gossip]
        if self.cur is not None:
            ts.append(self.cur.deadline)
        elif self.queue:
            ts.append(self.backoff_until)
        elif self.gap_since is not None:
            ts.append(max(self.backoff_until, self.gap_since + 2 * self.r.catchup_s))
        return min(ts)

    def tick(self) -> None:
        r = self.r
        if self.cur is not None and r.now >= self.cur.deadline:
            self.cur = None  # lost messages or a duel: try again with a higher ballot
            self.backoff_until = r.now + r.rng.uniform(0, self.backoff_s)
        if r.now >= self.next_gossip:
            self.next_gossip = r.now + r.catchup_s
            if r.commit_index:
                r.broadcast(M.msg("learn", entries=[], commit=r.commit_index))

    def before_finish(self) -> None:
        r = self.r
        holes = r.max_chosen > r.commit_index or r.known_commit > r.commit_index
        if not holes:
            self.gap_since = None
        elif self.gap_since is None:
            self.gap_since = r.now
        if self.cur is not None or r.now < self.backoff_until:
            return
        fill = self.gap_since is not None and r.now >= self.gap_since + 2 * r.catchup_s
        if self.queue or fill:
            self._begin()

    # -- one slot ---------------------------------------------------------------------------------
    def _begin(self) -> None:
        r = self.r
        slot = r.commit_index + 1
        while slot in r.chosen:
            slot += 1
        b = r.next_ballot()
        budget = limits.batch_budget(r.cfg.max_frame_bytes)
        mine = self.queue[: limits.take_batch(self.queue, r.cfg.max_batch, budget, encoded_size)]
        self.cur = Attempt(slot, b, mine, r.now + self.attempt_s)
        self.gap_since = None if not mine else self.gap_since
        r.broadcast(M.msg("prepare", ballot=b, to=slot, **{"from": slot}), True)

    def _on_promise(self, src: int, m: dict) -> None:
        r, a = self.r, self.cur
        if a is None or a.phase != 1 or ballot_of(m) != a.ballot or m["from"] != a.slot:
            return
        r.note_commit(m["commit"], src)
        for s, v in m["chosen"]:
            r.learn(s, v)
        if self.cur is not a:  # our slot turned out to be chosen already
            return
        if m["snap"] >= a.slot:  # chosen and compacted there: catch up instead
            r.fetch_from(src, m["snap"], at_once=False)
            self.cur = None
            return
        a.promises[src] = m
        if len(a.promises) < r.cfg.q1:
            return
        reported = adopt(a.promises.values(), a.slot - 1, r.cfg)
        a.value = reported.get(a.slot, a.mine)
        a.phase = 2
        entries = [[a.slot, a.value]]
        r.broadcast(M.msg("accept", ballot=a.ballot, entries=entries, commit=r.commit_index), True)

    def _on_accepted(self, src: int, m: dict) -> None:
        r, a = self.r, self.cur
        r.note_commit(m["commit"], src)
        if a is None or a.phase != 2 or ballot_of(m) != a.ballot or a.slot not in m["slots"]:
            return
        a.acks.add(src)
        if len(a.acks) < r.cfg.q2:
            return
        self.cur = None
        r.broadcast(M.msg("learn", entries=[[a.slot, a.value]], commit=r.commit_index))
        r.learn(a.slot, a.value)

    def _on_nack(self, src: int, m: dict) -> None:
        a = self.cur
        if a is not None and ballot_of(m) > a.ballot and m["slot"] in (None, a.slot):
            self.cur = None
            self.backoff_until = self.r.now + self.r.rng.uniform(0, 2 * self.backoff_s)
