"""The stable-leader proposer of Multi-Paxos: election, phase 1 once, pipelined phase 2, reads.

A node that hears no leader for a randomized election timeout becomes a candidate with a
ballot (round, id) above every round it has seen and runs phase 1 for *every* slot from its
first unchosen one. With a phase-1 quorum of promises it re-proposes, per slot, the value of
the highest ballot reported (the rule that keeps a chosen value chosen), fills holes with
no-ops, and from then on runs only phase 2: many slots in flight (``max_inflight``), many
client commands per slot (``max_batch``). Heartbeats carry the commit index and number the
confirmation rounds that quorum reads and leases rely on.

A busy leader skips its periodic heartbeat when, since the last one, an accept went to every
peer and every peer answered one: the accepts already carried the ballot (followers reset
their election timers on them) and the commit index, and the answers show every peer alive
and following. It does so only where nothing waits on a confirmation round (no lease, no
pending quorum read), so a steady write load on a healthy cluster costs one message per
peer per round instead of two. While any peer is silent the heartbeats go out as usual: they
are also how acceptors that promised a higher ballot tell a deposed leader so (a nack), and
skipping them then hid a deliberate bug (accept-lower-ballot) from the docker tests.

Membership (:mod:`paxos_impl.membership`, Lamport's alpha window): every slot has one
configuration, and the leader opens slot ``t`` only when it knows that configuration (slot
``t - alpha`` is applied) and holds promises, at its ballot, from a phase-1 quorum of its
voters; a configuration that comes into the window with voters that have not promised yet
is asked with a ``prepare`` from ``t`` first, and what they report is adopted for the slots
not yet opened. A slot is chosen by a phase-2 quorum of *its* voters (learners' answers never
count). Only voters campaign. A leader that is not a voter of the next slot finishes the
slots it opened, steps down and tells the most up-to-date new voter to campaign at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from paxos_impl import limits
from paxos_impl import messages as M
from paxos_impl.membership import Conf, refusal
from paxos_impl.messages import ZERO, Ballot, ballot_of
from paxos_impl.phase1 import adopt
from paxos_impl.proposer import Handler, ProposerHost
from paxos_impl.statemachine import error, ok

WRITES = ("write", "append")
EAGER_SLOTS = 4  # slots in flight before the leader starts holding commands back to batch
RETRANSMIT_BACKOFF = 4  # at most 2**4 times the first retransmission interval
ACCEPT_CHUNK = 16  # slots per accept message (and bytes: a frame must fit max_frame_bytes)


@dataclass
class Proposal:
    value: list
    size: int  # encoded bytes of value (accepts are cut by bytes)
    acks: set[int] = field(default_factory=set)
    sent: float = 0.0
    tries: int = 0  # retransmissions so far: each waits twice as long as the one before


@dataclass
class PendingRead:
    handle: object
    req: dict  # the read or query request (answered from local state)
    index: int  # answer once applied_index >= index ...
    round: int  # ... and a heartbeat round >= this one was confirmed by a quorum


class Leader:
    """Proposer, candidate and follower roles of the leader mode (one per replica)."""

    per_slot = False  # phase 1 once for all open slots (see paxos_impl.proposer)

    def __init__(self, r: ProposerHost) -> None:
        self.r = r
        cfg = r.cfg
        self.role = "follower"
        self.leader: int | None = None
        self.ballot: Ballot = ZERO
        self.election_deadline = 0.0
        # phase 1
        self.promises: dict[int, dict] = {}
        self.pages: dict[int, list] = {}  # accepted entries of promises that came in parts
        self.p1_need = 0  # promisers know slots chosen up to here: learn them before proposing
        self.p1_top = 0  # highest slot phase 1 had to settle
        # phase 2
        self.next_slot = 1
        self.plan: dict[int, list] = {}  # phase 1's slots to (re)propose, up to plan_top
        self.plan_top = 0
        self.fill_to = 0  # no-ops up to here put a chosen membership change in effect
        self.asked: set[Conf] = set()  # configurations whose voters we sent a prepare
        self.peer_commit: dict[int, int] = {}  # commit index each peer last told us
        self.inflight: dict[int, Proposal] = {}
        self.queue: list[dict] = []
        self.queue_sizes: list[int] = []  # encoded bytes of each queued command
        self.active: set[tuple[str, int]] = set()  # queued or in flight this term
        self.sent_keys: set[tuple[str, int]] = set()  # proposed at some time: outcome unknown
        # heartbeats, reads, leases
        self.next_hb = 0.0
        self.accepts_since_hb = False  # an accept went to every peer since the last heartbeat
        self.answered_since_hb: set[int] = set()  # peers that accepted one since then
        self.hb_round = 0
        self.hb_sent: dict[int, float] = {}
        self.hb_acks: dict[int, set[int]] = {}
        self.confirmed = 0
        self.reads: list[PendingRead] = []
        self.lease = cfg.read_mode == "lease"
        self.lease_s = cfg.timeouts.lease_ms / 1000
        self.drift_s = cfg.max_clock_drift_ms / 1000
        self.lease_until = 0.0  # leader: may answer reads locally until then (own clock)
        self.grant_until = 0.0  # acceptor: promised no other candidate until then
        self.grant_to: int | None = None
        self.heard: dict[int, float] = {}
        self.leader_since = 0.0
        self.max_silence = cfg.timeouts.election_max_ms / 1000
        self.batch_bytes = limits.batch_budget(cfg.max_frame_bytes)
        self.handlers: dict[str, Handler] = {
            "promise": self._on_promise,
            "accepted": self._on_accepted,
            "heartbeat": self._on_heartbeat,
            "heartbeat_ok": self._on_heartbeat_ok,
            "nack": self._on_nack,
            "campaign": self._on_campaign,
        }

    # -- status ---------------------------------------------------------------------------
    def role_and_leader(self) -> tuple[str, int | None]:
        return self.role, self.leader

    def current_ballot(self) -> Ballot:
        return max(self.ballot, self.r.promised)

    # -- timers ---------------------------------------------------------------------------
    def start(self) -> None:
        r = self.r
        self.grant_until = r.now + self.lease_s if self.lease else 0.0
        self.election_deadline = r.now + (0.0 if r.cfg.n == 1 else r.election_timeout())

    def _reset_election(self) -> None:
        self.election_deadline = max(self.r.now + self.r.election_timeout(), self.grant_until)

    def rebase(self, delta: float) -> None:
        self.election_deadline += delta
        self.next_hb += delta
        self.leader_since += delta
        self.heard = {p: t + delta for p, t in self.heard.items()}

    def next_tick(self) -> float | None:
        if self.role == "leader":
            return self.next_hb
        return self.election_deadline

    def tick(self) -> None:
        now = self.r.now
        if self.role == "leader":
            if now >= self.next_hb:
                self.asked = set()  # voters that have not promised yet are asked again
                if (
                    self.accepts_since_hb
                    and len(self.answered_since_hb) == len(self.r.peers)
                    and not self.lease
                    and not self.reads
                ):
                    self.accepts_since_hb = False  # the accepts did a heartbeat's work
                    self.answered_since_hb = set()
                    self.next_hb = now + self.r.hb_s
                    self._retransmit()
                else:
                    self._heartbeat(retransmit=True)
            self._check_quorum()
        elif now >= self.election_deadline:
            if self._voter():
                self._campaign()
            else:  # learners and removed nodes never run
                self._reset_election()

    def _check_quorum(self) -> None:
        """Step down when too few peers answered lately to ever reach a phase-2 quorum, so
        clients are redirected instead of waiting on a leader that cannot commit."""
        now = self.r.now
        if now - self.leader_since <= self.max_silence:
            return
        r = self.r
        conf = r.members.at(r.commit_index + 1)
        alive = self._alive(conf.voters)
        if alive < r.members.quorums(conf)[1]:
            self._step_down(None)

    def _alive(self, ids: tuple[int, ...]) -> int:
        """How many of ``ids`` answered lately (ourselves included)."""
        r, now = self.r, self.r.now
        return sum(
            1
            for p in ids
            if p == r.id or now - self.heard.get(p, self.leader_since) <= self.max_silence
        )

    def _voter(self) -> bool:
        r = self.r
        return r.id in r.members.at(r.commit_index + 1).voters

    # -- election (phase 1) -----------------------------------------------------------------
    def _campaign(self) -> None:
        r = self.r
        if self.role == "leader":
            self._step_down(None)
        self.ballot = r.next_ballot()
        self.role, self.leader = "candidate", None
        self.promises, self.pages, self.p1_need = {}, {}, 0
        self.asked = set()
        self.election_deadline = r.now + r.election_timeout()
        first = r.commit_index + 1
        r.broadcast(M.msg("prepare", ballot=self.ballot, to=None, **{"from": first}), True)

    def may_promise(self, src: int, b: Ballot) -> bool:
        """Under leases, refuse other candidates while a lease we granted may still run."""
        if not self.lease or self.r.now >= self.grant_until:
            return True
        return b[1] == self.grant_to

    def on_promised(self, src: int, b: Ballot) -> None:
        if src != self.r.id and b > self.ballot and self.role != "follower":
            self._step_down(None)
        if src != self.r.id:
            self.leader = None
            self._reset_election()

    def _on_promise(self, src: int, m: dict) -> None:
        r = self.r
        if self.role == "follower" or ballot_of(m) != self.ballot:
            return
        if m.get("more") is not None:
            # the acceptor cut its accepted entries to fit a frame: keep this part, ask for
            # the rest at the same ballot; only a complete report counts toward the quorum
            self.pages.setdefault(src, []).extend(m["entries"])
            r.send(src, M.msg("prepare", ballot=self.ballot, to=None, **{"from": m["more"]}))
        elif src in self.pages:
            self.promises[src] = dict(m, entries=self.pages.pop(src) + m["entries"])
        else:
            self.promises[src] = m
        # A promise leaves out what the acceptor accepted in slots it knows to be chosen (up
        # to its commit index, or compacted into its snapshot): we must know those slots'
        # values before proposing anything. Set first: learning below may finish phase 1.
        self.p1_need = max(self.p1_need, m["snap"], m["commit"])
        if m["commit"] > r.known_commit or m["snap"] > r.commit_index:
            r.fetch_from(src, max(m["commit"], m["snap"]), at_once=True)
        for s, v in m["chosen"]:
            r.learn(s, v)
        if self.role == "leader" and src in self.promises:
            # a voter of a configuration that came into our window: what it accepted in
            # slots we have not opened yet joins the plan (the highest ballot of every
            # promise at our ballot, a superset of a quorum, is still the safe choice)
            reported = adopt(self.promises.values(), self.next_slot - 1, r.cfg)
            for s, v in reported.items():
                if s not in r.chosen:
                    self.plan[s] = v
                    self.plan_top = max(self.plan_top, s)
            return
        self._try_finish_phase1()

    def _promised_quorum(self, conf: Conf) -> bool:
        r = self.r
        q1 = r.members.quorums(conf)[0]
        return sum(1 for v in conf.voters if v in self.promises) >= q1

    def _try_finish_phase1(self) -> None:
        r = self.r
        if self.role != "candidate":
            return
        if not self._promised_quorum(r.members.at(r.commit_index + 1)):
            return
        if r.commit_index < self.p1_need:
            return  # a promiser knows chosen slots we lack: catch up first
        reported = adopt(self.promises.values(), r.commit_index, r.cfg)
        top = max([r.commit_index, *reported, *r.chosen])
        self.role, self.leader = "leader", r.id
        self.p1_top = top
        self.next_slot = r.commit_index + 1
        self.plan = {s: reported.get(s, []) for s in range(self.next_slot, top + 1)}
        self.plan_top = top
        self.inflight, self.queue, self.queue_sizes, self.active = {}, [], [], set()
        self.heard, self.leader_since = {}, r.now
        self.lease_until = 0.0
        self._open_plan()
        self._heartbeat(retransmit=False)

    # -- membership: which slots the leader may open --------------------------------------
    def _may_open(self, slot: int) -> bool:
        """Slot's configuration is known and a phase-1 quorum of its voters promised us."""
        r = self.r
        m = r.members
        if slot - m.alpha > r.applied_index or r.commit_index < self.p1_need:
            return False
        conf = m.at(slot)
        if r.id not in conf.voters:
            self._hand_over(conf)
            return False
        if self._promised_quorum(conf):
            return True
        if conf not in self.asked:  # its voters have not all promised: ask them
            self.asked.add(conf)
            for v in conf.voters:
                if v not in self.promises:
                    r.send(v, M.msg("prepare", ballot=self.ballot, to=None, **{"from": slot}))
        return False

    def _open_plan(self) -> None:
        """Propose phase 1's slots (re-proposals and no-op fills) as far as the window lets."""
        r = self.r
        entries = []
        while self.next_slot <= self.plan_top:
            s = self.next_slot
            if s in r.chosen:
                self.plan.pop(s, None)
            elif self._may_open(s):
                entries.append([s, self.plan.pop(s, [])])
            else:
                break
            self.next_slot += 1
        self._propose(entries)

    def _fill(self) -> None:
        """After a membership change was chosen, no-ops up to the slot it governs from, so
        it takes effect now rather than after alpha more commands."""
        entries = []
        while self.next_slot <= self.fill_to and len(self.inflight) + len(entries) < (
            self.r.cfg.max_inflight
        ):
            if not self._may_open(self.next_slot):
                break
            entries.append([self.next_slot, []])
            self.next_slot += 1
        self._propose(entries)

    def _hand_over(self, conf: Conf) -> None:
        """We are not a voter of the next slot: once the slots we opened are settled, step
        down and ask the new voter that is furthest along to campaign right away."""
        if self.inflight or self.role != "leader":
            return
        best = max(conf.voters, key=lambda v: (self.peer_commit.get(v, -1), -v))
        self._step_down(None)
        self.r.send(best, M.msg("campaign"))

    def _on_campaign(self, src: int, m: dict) -> None:
        if self.role == "follower" and self._voter():
            self._campaign()

    def reconfig_refusal(self, req: dict) -> dict | None:
        """Why this leader refuses a membership change now (None: propose it). The same
        rules are applied again when it is chosen; these are the ones only a leader can see
        (a change in flight, live quorums, a learner that has not caught up)."""
        r = self.r
        m = r.members
        busy = any(c["op"] == "reconfig" for c in self.queue) or any(
            c["op"] == "reconfig" for p in self.inflight.values() for c in p.value
        )
        if busy or m.pending(r.applied_index):
            return refusal("reconfig_in_progress", "another membership change is in flight")
        why = m.refuse(req["value"], r.applied_index)
        if why is not None:
            return why
        v = req["value"]
        if v["action"] in ("promote", "replace"):
            new = v["node"] if v["action"] == "promote" else v["with"]
            if self.peer_commit.get(new, -1) < r.commit_index - m.alpha or not self._alive((new,)):
                return refusal("not_caught_up", f"node {new} has not caught up with the log")
        conf = m.successor(v, 0)
        if self._alive(conf.voters) < max(conf.sizes()):
            return refusal("no_quorum", "the new voters would not have a live quorum")
        return None

    # -- roles ------------------------------------------------------------------------------
    def _follow(self, b: Ballot) -> None:
        if self.role != "follower":
            self._step_down(b[1])
        self.leader = b[1]
        self._reset_election()

    def _step_down(self, leader: int | None) -> None:
        r = self.r
        if self.role == "leader":
            self.plan, self.plan_top, self.fill_to = {}, 0, 0
            self.sent_keys &= set(r.waiting)
            for cmd in self.queue:  # never proposed: certainly not executed
                key = (cmd["client_id"], cmd["seq"])
                if key not in self.sent_keys:
                    for h in r.abandon(key):
                        r.reply(h, error("not_leader", leader))
            for rd in self.reads:
                r.reply(rd.handle, error("not_leader", leader))
        self.queue, self.queue_sizes, self.inflight, self.active = [], [], {}, set()
        self.reads = []
        self.lease_until = 0.0
        self.role, self.leader = "follower", leader
        self.promises = {}
        self._reset_election()

    # -- phase 2 ----------------------------------------------------------------------------
    def _propose(self, entries: list[list], sizes: list[int] | None = None) -> None:
        """Phase 2 for new slots; ``sizes`` are the batches' encoded bytes (computed here
        when not given: phase 1's re-proposals, a rare path)."""
        if not entries:
            return
        r = self.r
        if sizes is None:
            sizes = [limits.encoded_size(v) for _, v in entries]
        for (s, v), size in zip(entries, sizes, strict=True):
            self.inflight[s] = Proposal(v, size, sent=r.now)
            for cmd in v:
                self.sent_keys.add((cmd["client_id"], cmd["seq"]))
        for part in self._accept_chunks(entries):
            r.broadcast(
                M.msg("accept", ballot=self.ballot, entries=part, commit=r.commit_index), True
            )
        self.accepts_since_hb = True

    def _accept_chunks(self, entries: list[list]) -> list[list[list]]:
        """Entries cut into accepts of at most ACCEPT_CHUNK slots that each fit in a frame."""
        inflight = self.inflight
        return limits.chunks(entries, self.r.budget, lambda e: inflight[e[0]].size, ACCEPT_CHUNK)

    def _propose_queue(self) -> None:
        """Open new slots for queued commands. While few slots are in flight a command goes
        out at once (low latency); once EAGER_SLOTS are busy, commands wait for a full batch
        or for a slot to be chosen, so under load each accept round carries many commands."""
        r = self.r
        cfg = r.cfg
        eager = min(cfg.max_inflight, EAGER_SLOTS)
        entries: list[list] = []
        sizes: list[int] = []
        while self.queue and self.next_slot > self.plan_top:
            if not self._may_open(self.next_slot):
                break
            busy = len(self.inflight) + len(entries)
            if busy >= cfg.max_inflight or (busy >= eager and len(self.queue) < cfg.max_batch):
                break
            n = self._batch_len(cfg.max_batch)
            batch, self.queue = self.queue[:n], self.queue[n:]
            sizes.append(sum(self.queue_sizes[:n]) + n + 1)
            del self.queue_sizes[:n]
            entries.append([self.next_slot, batch])
            self.next_slot += 1
            if cfg.has_bug("early-ack"):
                for c in batch:  # BUG(early-ack): must wait until a phase-2 quorum accepted
                    if c["op"] in WRITES:
                        r.answer(c["client_id"], c["seq"], ok(None))
        self._propose(entries, sizes)

    def _batch_len(self, most: int) -> int:
        """How many queued commands make the next batch: at most ``most``, within the batch
        budget (at least one: a command alone always fits, see Config.validate)."""
        sizes, total, n = self.queue_sizes, 2, 0
        for size in sizes[:most]:
            total += size + 1
            if n and total > self.batch_bytes:
                break
            n += 1
        return n

    def on_accepted_from(self, src: int, b: Ballot) -> None:
        if src != self.r.id and b[1] != self.r.id:
            self._follow(b)

    def _on_accepted(self, src: int, m: dict) -> None:
        r = self.r
        if self.role != "leader" or ballot_of(m) != self.ballot:
            return
        self.heard[src] = r.now
        if src != r.id:
            self.answered_since_hb.add(src)
        members = r.members
        off = 1 if r.cfg.has_bug("quorum-off-by-one") else 0
        for s in m["slots"]:
            p = self.inflight.get(s)
            if p is None or src in p.acks:
                continue
            conf = members.at(s)
            # BUG(quorum-off-by-one): phase-2 quorums must meet every phase-1 one
            need = members.quorums(conf)[1] - off
            if src in conf.voters or r.cfg.has_bug("learner-quorum"):
                p.acks.add(src)  # BUG(learner-quorum): only the slot's voters may count
            elif r.cfg.has_bug("removed-node-votes") and src not in conf.learners:
                p.acks.add(src)  # BUG(removed-node-votes): a node that left no longer votes
            if len(p.acks) >= need:
                del self.inflight[s]
                r.learn(s, p.value)
        self._note_commit(src, m["commit"])

    def _note_commit(self, src: int, commit: int) -> None:
        r = self.r
        self.peer_commit[src] = commit
        r.note_commit(commit, src)

    def on_chosen(self, slot: int, batch: list) -> None:
        """A slot we proposed was learned from elsewhere. If another value won, a higher
        ballot exists: we are deposed and must stop at once, because followers treat our
        commit index as "the values you accepted at my ballot are chosen"."""
        for c in batch:
            key = (c["client_id"], c["seq"])
            self.active.discard(key)
            self.sent_keys.discard(key)
        p = self.inflight.pop(slot, None)
        if p is not None and p.value != batch and self.role == "leader":
            self._step_down(None)

    def on_compacted(self, upto: int) -> None:
        """A snapshot from a peer covered slots we had in flight: we cannot tell which value
        won them, so (as in on_chosen) we step down rather than vouch for them."""
        if any(s <= upto for s in self.inflight) and self.role == "leader":
            self._step_down(None)
        if self.next_slot <= upto:
            self.next_slot = upto + 1
        for s in [s for s in self.plan if s <= upto]:
            del self.plan[s]

    def before_finish(self) -> None:
        if self.role != "leader":
            return
        self._open_plan()
        self._propose_queue()
        self._fill()
        if not self.queue and not self.inflight:
            self._may_open(self.next_slot)  # idle: hand over, or get the next voters' promises
        if self.reads and self.reads[-1].round > self.hb_round:
            # reads wait for a round sent after they arrived; one round at a time serves
            # all the reads that arrive meanwhile (the periodic heartbeat keeps it moving)
            idle = self.confirmed >= self.hb_round
            if idle or self.r.now - self.hb_sent.get(self.hb_round, 0.0) >= self.r.hb_s:
                self._heartbeat(retransmit=False)
        self._check_reads()

    def after_apply(self) -> None:
        r = self.r
        if self.role == "leader" and r.members.latest.start - 1 > r.applied_index:
            self.fill_to = max(self.fill_to, r.members.latest.start - 1)
        self._check_reads()
        self._try_finish_phase1()

    # -- heartbeats ---------------------------------------------------------------------------
    def _heartbeat(self, retransmit: bool) -> None:
        r = self.r
        now = r.now
        self.hb_round += 1
        self.hb_sent[self.hb_round] = now
        self.hb_acks[self.hb_round] = {r.id}
        for old in [k for k in self.hb_sent if k < self.hb_round - 64]:
            self.hb_sent.pop(old, None)
            self.hb_acks.pop(old, None)
        self.next_hb = now + r.hb_s
        self.accepts_since_hb = False
        self.answered_since_hb = set()
        if self.lease:
            self.grant_until, self.grant_to = now + self.lease_s, r.id
        r.broadcast(
            M.msg("heartbeat", ballot=self.ballot, commit=r.commit_index, round=self.hb_round)
        )
        self._confirm(self.hb_round)
        if retransmit:
            self._retransmit()

    def _retransmit(self) -> None:
        r = self.r
        # Backing off matters for big values: a follower still writing megabytes of accepts
        # must not be sent them again every 100 ms, or it never catches its breath.
        old = [
            (s, p)
            for s, p in sorted(self.inflight.items())
            if r.now - p.sent >= 2 * r.hb_s * (1 << min(p.tries, RETRANSMIT_BACKOFF))
        ]
        if not old:
            return
        for peer in r.peers:
            entries = [[s, p.value] for s, p in old if peer not in p.acks]
            for part in self._accept_chunks(entries):
                r.send(
                    peer, M.msg("accept", ballot=self.ballot, entries=part, commit=r.commit_index)
                )
        for _, p in old:
            p.sent = r.now
            p.tries += 1

    def _on_heartbeat(self, src: int, m: dict) -> None:
        r = self.r
        b = ballot_of(m)
        if b < r.promised:
            r.send(src, M.msg("nack", ballot=r.promised, slot=None))
            return
        self._follow(b)
        if self.lease:
            self.grant_until, self.grant_to = r.now + self.lease_s, b[1]
        r.commit_by_ballot(b, m["commit"], src)
        r.send(
            src,
            M.msg(
                "heartbeat_ok", ballot=b, round=m["round"], commit=r.commit_index, lease=self.lease
            ),
        )

    def _on_heartbeat_ok(self, src: int, m: dict) -> None:
        r = self.r
        if self.role != "leader" or ballot_of(m) != self.ballot:
            return
        self.heard[src] = r.now
        acks = self.hb_acks.get(m["round"])
        if acks is not None:
            acks.add(src)
            self._confirm(m["round"])
        self._note_commit(src, m["commit"])

    def _confirm(self, rnd: int) -> None:
        if rnd <= self.confirmed or not self._meets_every_phase1(self.hb_acks.get(rnd, set())):
            return
        self.confirmed = rnd
        if self.lease:
            self.lease_until = max(
                self.lease_until, self.hb_sent[rnd] + self.lease_s - self.drift_s
            )
        self._check_reads()

    def _meets_every_phase1(self, acks: set[int]) -> bool:
        """``acks`` meet every phase-1 quorum of every configuration from the next slot on
        (so no other leader can have been elected for those slots without them)."""
        r = self.r
        m = r.members
        first = m.at(r.commit_index + 1).start
        for conf in m.confs:
            if conf.start >= first:
                voters = conf.voters
                if sum(1 for v in voters if v in acks) < len(voters) - m.quorums(conf)[0] + 1:
                    return False
        return True

    def _on_nack(self, src: int, m: dict) -> None:
        b = ballot_of(m)
        if self.role != "follower" and b > self.ballot:
            self._step_down(None)

    # -- client requests ------------------------------------------------------------------------
    def request(self, handle: object, req: dict, size: int) -> None:
        """A client command of ``size`` encoded bytes (the core checked it fits)."""
        r = self.r
        if self.role != "leader":
            r.reply(handle, error("not_leader", self.leader))
            return
        if req["op"] == "reconfig":
            why = self.reconfig_refusal(req)
            if why is not None:
                r.reply(handle, why)
                return
        if req["op"] in r.local_reads and r.cfg.read_mode != "log":
            self._read(handle, req)
            return
        key = (req["client_id"], req["seq"])
        r.wait_for(key, handle)
        if key not in self.active:
            self.active.add(key)
            self.queue.append(M.command(req))
            self.queue_sizes.append(size)

    def _read(self, handle: object, req: dict) -> None:
        r = self.r
        index = max(r.commit_index, self.p1_top)
        if self.lease and r.now < self.lease_until and r.applied_index >= index:
            r.reply(handle, r.read(req))
            return
        self.reads.append(PendingRead(handle, req, index, self.hb_round + 1))
        r.read_deadline(handle)

    def _check_reads(self) -> None:
        if not self.reads:
            return
        r = self.r
        keep = []
        for rd in self.reads:
            if rd.round <= self.confirmed and r.applied_index >= rd.index:
                r.reply(rd.handle, r.read(rd.req))
            else:
                keep.append(rd)
        self.reads = keep

    def read_pending(self, handle: object) -> bool:
        return any(rd.handle is handle for rd in self.reads)

    def drop_read(self, handle: object) -> None:
        self.reads = [rd for rd in self.reads if rd.handle is not handle]
