"""The sans-IO Multi-Paxos replica: one node's whole protocol as a deterministic state machine.

The runtime (asyncio node, simulator, unit test) hands it a message, a client request or a
clock tick together with the current time; it answers with a :class:`Ready` saying what to
persist, which snapshot to write, what to send and what to answer, in that order. It never
reads a clock, opens a socket or draws randomness other than from the ``rng`` it was given,
so the same inputs always give the same outputs (that is what lets the simulator replay a
failing schedule from its seed).

Layers inside one replica:
- the :class:`~paxos_impl.acceptor.Acceptor` (promises, accepted values; durable);
- the learner (chosen slots, commit index, in-order apply to the state machine, client
  de-duplication, snapshots, catch-up) -- this module. The machine is whatever
  ``config.state_machine`` names (:mod:`paxos_impl.machine`): the core sees only its
  :class:`~paxos_impl.machine.Hosted` face, and de-duplicates for it (:mod:`paxos_impl.dedup`).
  An asynchronous machine's commands leave in ``Ready.applies``; the runtime awaits them in
  log order and steps the results back in (:meth:`Replica.on_applied`);
- a proposer: the stable leader of :mod:`paxos_impl.leader` or the per-slot proposer of
  :mod:`paxos_impl.masterless`, selected by ``config.mode`` from :data:`PROPOSERS`. The
  seam between them is :mod:`paxos_impl.proposer`: the replica is the proposer's
  :class:`~paxos_impl.proposer.ProposerHost`, the proposer answers the
  :class:`~paxos_impl.proposer.Proposer` hooks.

Peer messages are routed by explicit tables (message type -> handler): the acceptor's and
learner's here, then the proposer's ``handlers``. A type in neither is a ``ProtocolError``,
raised before the message touches any state.

Durable records (``Ready.persist``), besides the acceptor's ``promise`` and ``accept``:
``{"t": "chosen", "entries": [[slot, batch], ...]}`` -- slots this replica learned are chosen
(written lazily: with the next record that must be synced anyway, or on a tick).
A snapshot is ``{"applied", "sm", "members", "acceptor", "chosen"}``, ``sm`` being
``{"state": <the machine's snapshot>, "dedup": {...}}``: it replaces every record before it. Membership changes are log commands (``op: "reconfig"``) applied to
:class:`~paxos_impl.membership.Membership`, never to the state machine; see that module for
the scheme (Lamport's alpha window).
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from paxos_impl import limits
from paxos_impl import messages as M
from paxos_impl.acceptor import Acceptor
from paxos_impl.config import Config
from paxos_impl.dedup import PENDING, Dedup
from paxos_impl.epaxos import EPaxos
from paxos_impl.leader import Leader
from paxos_impl.machine import Hosted, build_user, error, ok
from paxos_impl.masterless import Masterless
from paxos_impl.membership import Membership, is_dump
from paxos_impl.mencius import Mencius
from paxos_impl.messages import ZERO, Ballot, ProtocolError
from paxos_impl.proposer import Handler, Proposer, ProposerHost, RequestKey
from paxos_impl.statemachine import KeyValue, Register
from paxos_impl.wpaxos import WPaxos

__all__ = ["PROPOSERS", "Ready", "Replica", "ProtocolError", "ZERO"]

# config.mode -> the proposer class (a new mode registers here; see paxos_impl.proposer)
PROPOSERS: dict[str, Callable[[ProposerHost], Proposer]] = {
    "leader": Leader,
    "masterless": Masterless,
    "epaxos": EPaxos,
    "mencius": Mencius,
    "wpaxos": WPaxos,
}
CATCHUP_LIMIT = 64  # chosen slots per learn or promise message (and bytes: see limits.py)
# "chosen" records are a recovery shortcut, not a safety rule (a chosen value is durable at a
# phase-2 quorum of acceptors), so they ride along with the next write that must be synced
# anyway, or a tick, instead of costing an fsync of their own before the client's answer.
CHOSEN_FLUSH = 256
SNAPSHOT_RETRIES = 5  # unanswered asks for the next part of a snapshot before starting over
Observer = Callable[[str, int, Any], None]


@dataclass(slots=True)
class Ready:
    """What one step of the core asks the runtime to do, in this order."""

    persist: list[dict] = field(default_factory=list)
    snapshot: dict | None = None
    messages: list[tuple[int, dict]] = field(default_factory=list)
    replies: list[tuple[object, dict]] = field(default_factory=list)
    next_tick: float | None = None
    # an asynchronous machine's commands, in log order: (token, machine, command) for the
    # runtime to await one by one and step back in with Replica.on_applied(token, reply)
    applies: list[tuple[tuple, Hosted, dict]] = field(default_factory=list)


class Replica:
    """One node of the replicated store (see the module docstring)."""

    def __init__(
        self,
        node_id: int,
        config: Config,
        rng: random.Random,
        snapshot: dict | None = None,
        records: Iterable[dict] = (),
        *,
        observer: Observer | None = None,
    ) -> None:
        self.id = node_id
        self.cfg = config
        self.rng = rng
        self.observer = observer
        # who votes for which slot (paxos_impl.membership); ids and peers follow it
        self.members = Membership(
            config.ids(),
            config.max_inflight,
            {a.id: [a.host, a.peer_port, a.client_port] for a in config.nodes},
            (config.phase1_quorum, config.phase2_quorum),
            config.unsafe_quorums,
        )
        self._members_seen = -1
        self.ids: list[int] = []  # every node we know (a message from another is refused)
        self.reach: list[int] = []  # the nodes this replica's broadcasts go to
        self.peers: list[int] = []  # reach without ourselves
        self._next_conf_start = -1  # the next slot whose configuration differs (-1: none)
        t = config.timeouts
        self.hb_s = t.heartbeat_ms / 1000
        self.req_s = t.request_ms / 1000
        self.catchup_s = t.catchup_ms / 1000
        self.budget = limits.payload_budget(config.max_frame_bytes)  # entries per message
        self.now = 0.0
        # durable parts, rebuilt below
        self.acc = Acceptor()
        self.dedup = Dedup(enabled=not config.has_bug("no-dedup"))
        self.sm: Hosted = self._new_sm()
        # asynchronous machine: the generation of self.sm (a snapshot install replaces it,
        # and late replies for the old one are dropped), replies still owed, work to hand out
        self._gen = 0
        self._pending = 0
        self._machine_out: list[tuple[tuple, Hosted, dict]] = []
        self.chosen: dict[int, list] = {}  # slot -> batch, for slots > snap_index
        self.max_chosen = 0  # highest slot known chosen (a hole below it: catch up / fill)
        self.snap_index = 0
        self.commit_index = 0  # every slot <= commit_index is chosen (and known here)
        self.applied_index = 0
        self.known_commit = 0  # highest commit index heard of (from leader or peers)
        self.catchup_from: int | None = None  # whom to ask for missing slots
        self.catchup_next = 0.0
        # a snapshot too big for one frame: the parts received so far (src, applied, parts...)
        self._snap_in: dict | None = None
        self._snap_out: tuple[int, list[dict], dict] | None = None  # the parts we serve, by applied
        # client bookkeeping (volatile)
        self.waiting: dict[tuple[str, int], list[object]] = {}
        self.deadlines: list[tuple[float, int, tuple[str, int] | None, object]] = []
        self._seq = 0
        # step bookkeeping
        self._ready: Ready | None = None
        self._local: list[dict] = []
        self._chosen_buf: list[list] = []  # "chosen" entries not yet handed to persist
        self._flush_chosen = False
        self._flush_at = 0.0
        self._want_snapshot = False
        self._mode_snap: dict | None = None  # a mode's own durable state (EPaxos)
        self._mode_records: list[dict] = []
        self._recovering = True
        self._recover(snapshot, records)
        self._recovering = False
        self._refresh_members()
        self.max_round = self.acc.max_round()
        self.p: Proposer = self._proposer()
        if hasattr(self.p, "restore"):
            self.p.restore(self._mode_snap, self._mode_records)
            self._mode_snap, self._mode_records = None, []
        self._snapshot_every = max(1, config.snapshot_every)
        # message type -> handler: the acceptor and learner here, then the proposer's
        self._handlers: dict[str, Handler] = {
            "prepare": self._on_prepare,
            "accept": self._on_accept,
            "catchup": self._on_catchup,
            "learn": self._on_learn,
            "snapshot": self._on_snapshot,
        }
        for t, fn in self.p.handlers.items():
            self._handlers.setdefault(t, fn)

    # == the four entry points ===============================================================
    def start(self, now: float) -> Ready:
        return self._step(now, self._on_start)

    def on_message(self, src: int, msg: dict, now: float) -> Ready:
        M.validate(src, msg, self.ids)  # raises ProtocolError before any state changes
        if msg["type"] not in self._handlers:
            raise ProtocolError(f"message type {msg['type']!r} is not used in mode {self.cfg.mode}")
        return self._step(now, self._handle, src, msg)

    def on_client_request(self, handle: object, req: dict, now: float) -> Ready:
        return self._step(now, self._on_request, handle, req)

    def on_tick(self, now: float) -> Ready:
        return self._step(now, self._on_tick)

    def on_applied(self, token: tuple, reply: dict, now: float) -> Ready:
        """An asynchronous machine's reply to a command of ``Ready.applies``."""
        return self._step(now, self._on_applied, token, reply)

    def status(self) -> dict:
        role, leader = self.p.role_and_leader()
        return {
            "id": self.id,
            "role": role,
            "leader": leader,
            "ballot": M.wire_ballot(self.p.current_ballot()),
            "commit_index": self.commit_index,
            "applied_index": self.applied_index,
            "snapshot_index": self.snap_index,
            "mode": self.cfg.mode,
            "read_mode": self.cfg.read_mode,
        }

    def _new_sm(self, state: Any = None) -> Hosted:
        """A fresh machine of the configured kind, restored from ``state`` if given (which
        raises ValueError, TypeError or KeyError if the state is not one of its own)."""
        spec = self.cfg.state_machine
        sm: Hosted
        if spec == "kv" or spec == "register":
            kv = KeyValue() if spec == "kv" else Register()
            kv.max_value_bytes = self.cfg.max_command_bytes  # appends must not outgrow a frame
            kv.txn_bugs = frozenset(
                b for b in ("txn-split", "txn-stale-read") if self.cfg.has_bug(b)
            )
            sm = kv
        else:
            sm = build_user(spec, self.cfg.bugs, self.id)
        if state is not None:
            sm.restore(state)
        return sm

    def _load_sm(self, d: dict) -> tuple[Hosted, Dedup]:
        """The machine and de-duplication table of a snapshot's ``sm`` (a snapshot written
        before machines were pluggable holds the key-value pairs themselves)."""
        state = d["state"] if "state" in d else {"kv": d.get("kv", [])}
        return self._new_sm(state), Dedup(self.dedup.enabled, dict(d.get("dedup", {})))

    def _dump_sm(self) -> dict:
        return {"state": self.sm.snapshot(), "dedup": self.dedup.dump()}

    def _proposer(self) -> Proposer:
        make = PROPOSERS.get(self.cfg.mode)
        if make is None:
            raise ValueError(f"no proposer for mode {self.cfg.mode!r}")
        return make(self)

    @property
    def masterless(self) -> bool:
        """Ballots per slot (the mode says so: ``Proposer.per_slot``)."""
        return self.p.per_slot

    # == step mechanics ======================================================================
    def _step(self, now: float, fn: Callable[..., None], *args: Any) -> Ready:
        if now < self.now:
            self._clock_went_back(now - self.now)
        self.now = now
        self._ready = Ready()
        fn(*args)
        self._drain()
        self._finish()
        ready, self._ready = self._ready, None
        ready.next_tick = self._next_tick()
        if self._machine_out:
            ready.applies, self._machine_out = self._machine_out, []
        return ready

    def _clock_went_back(self, delta: float) -> None:
        """The node's clock jumped backwards: move the liveness timers with it, or a leader
        would stop heartbeating until its clock caught up. Leases are *not* moved: they are
        the part whose safety rests on bounded clock drift, and must stay exposed to it."""
        self.catchup_next += delta
        self.deadlines = [(t + delta, *rest) for t, *rest in self.deadlines]  # type: ignore[misc]
        heapq.heapify(self.deadlines)
        self.p.rebase(delta)

    def _drain(self) -> None:
        """Deliver the messages this node sent itself (its own acceptor) within the step."""
        while self._local:
            m = self._local.pop(0)
            self._handle(self.id, m)

    def _finish(self) -> None:
        self.p.before_finish()
        self._drain()
        if (
            self._want_snapshot or self.applied_index - self.snap_index >= self._snapshot_every
        ) and not self._pending:  # (an asynchronous machine: only at a point it has reached)
            self._take_snapshot()
            self._chosen_buf = []  # the snapshot holds them
        elif self._chosen_buf and (
            self._ready.persist or self._flush_chosen or len(self._chosen_buf) >= CHOSEN_FLUSH
        ):
            self._ready.persist.append({"t": "chosen", "entries": self._chosen_buf})
            self._chosen_buf = []
        self._flush_chosen = False

    def _next_tick(self) -> float | None:
        """The earliest of the proposer's timer, the oldest live request deadline, the next
        catch-up and the chosen-record flush (None: nothing). Runs after every step, so it
        builds no lists."""
        best = self.p.next_tick()
        dl = self.deadlines
        while dl and self._stale_deadline(dl[0]):
            heapq.heappop(dl)
        if dl and (best is None or dl[0][0] < best):
            best = dl[0][0]
        if self.commit_index < self.known_commit and (best is None or self.catchup_next < best):
            best = self.catchup_next
        if self._chosen_buf and (best is None or self._flush_at < best):
            best = self._flush_at
        return best

    def send(self, dst: int, m: dict) -> None:
        if dst == self.id:
            self._local.append(m)
        else:
            self._ready.messages.append((dst, m))

    def broadcast(self, m: dict, include_self: bool = False) -> None:
        for i in self.reach:
            if i != self.id or include_self:
                self.send(i, m)

    def _persist_acceptor(self, rec: dict | None) -> None:
        if rec is None:
            return
        if self.cfg.has_bug("volatile-acceptor"):
            return  # BUG(volatile-acceptor): promises/accepts must be durable before replying
        self._ready.persist.append(rec)

    def reply(self, handle: object, rep: dict) -> None:
        self._ready.replies.append((handle, rep))

    def persist(self, rec: dict) -> None:
        """A mode's own durable record (see ProposerHost.persist)."""
        self._persist_acceptor(rec)

    def read_deadline(self, handle: object) -> None:
        self._deadline(None, handle)

    def _deadline(self, key: tuple[str, int] | None, handle: object) -> None:
        self._seq += 1
        heapq.heappush(self.deadlines, (self.now + self.req_s, self._seq, key, handle))

    def _stale_deadline(self, d: tuple) -> bool:
        key, handle = d[2], d[3]
        if key is None:
            return not self.p.read_pending(handle)
        return handle not in self.waiting.get(key, ())

    def _observe(self, kind: str, slot: int, value: Any) -> None:
        if self.observer is not None:
            self.observer(kind, slot, value)

    # == the rest of the proposer's host (paxos_impl.proposer.ProposerHost) ==================
    @property
    def promised(self) -> Ballot:
        return self.acc.promised

    def abandon(self, key: RequestKey) -> list[object]:
        return self.waiting.pop(key, [])

    def note_commit(self, commit: int, src: int) -> None:
        if commit > self.known_commit:
            self.known_commit = commit
            self.catchup_from = src

    def fetch_from(self, src: int, upto: int, at_once: bool) -> None:
        self.known_commit = max(self.known_commit, upto)
        self.catchup_from = src
        if at_once:
            self.catchup_next = min(self.catchup_next, self.now)

    def next_ballot(self) -> Ballot:
        self.max_round += 1
        return (self.max_round, self.id)

    def read(self, req: dict) -> dict:
        return self.sm.query(req)

    def result_of(self, cid: str, seq: int) -> dict | None:
        return self.dedup.lookup(cid, seq)

    @property
    def local_reads(self) -> tuple[str, ...]:
        """Ops a leader may answer from local state once its reads are confirmed (quorum
        and lease routes). An asynchronous machine's state lags the applied index, so its
        queries always go through the log."""
        return ("read",) if self.sm.is_async else ("read", "query")

    def election_timeout(self) -> float:
        t = self.cfg.timeouts
        return self.rng.uniform(t.election_min_ms, t.election_max_ms) / 1000

    # == dispatch ============================================================================
    def _on_start(self) -> None:
        self.p.start()

    def _handle(self, src: int, m: dict) -> None:
        b = m.get("ballot")
        if b is not None and b[0] > self.max_round:  # the highest round seen anywhere
            self.max_round = b[0]
        self._handlers[m["type"]](src, m)  # on_message checked that the type has one

    def _on_tick(self) -> None:
        now = self.now
        self._flush_chosen = now >= self._flush_at  # idle nodes still get them to disk
        while self.deadlines and self.deadlines[0][0] <= now:
            _, _, key, handle = heapq.heappop(self.deadlines)
            if key is None:
                if self.p.read_pending(handle):
                    self.p.drop_read(handle)
                    self.reply(handle, error("timeout"))
            elif handle in self.waiting.get(key, ()):
                self.waiting[key].remove(handle)
                if not self.waiting[key]:
                    del self.waiting[key]
                self.reply(handle, error("timeout"))
        self.p.tick()
        self._maybe_catchup()

    # == acceptor side =======================================================================
    def _on_prepare(self, src: int, m: dict) -> None:
        b: Ballot = (m["ballot"][0], m["ballot"][1])
        first, last = m["from"], m["to"]
        if not self.p.may_promise(src, b):
            self.send(src, M.msg("nack", ballot=self.acc.promise_for(first), slot=last))
            return
        rec = self.acc.prepare(b, first, last)
        if rec is None:
            self.send(src, M.msg("nack", ballot=self.acc.promise_for(first), slot=last))
            return
        self._persist_acceptor(rec)
        self.p.on_promised(src, b)
        more = None
        if last == first:  # masterless: one slot
            chosen = [[first, self.chosen[first]]] if first in self.chosen else []
            entries = self.acc.report(first, last)
        else:
            # Slots up to our commit index are chosen: we send their values (a bounded
            # number; the candidate catches up on the rest before it proposes, see
            # Leader._on_promise) instead of what we accepted there, which keeps the
            # promise small however far behind the candidate is.
            chosen = []
            s, top, have = first, self.max_chosen, self.chosen
            half, used = self.budget // 2, 0
            while s <= top and len(chosen) < CATCHUP_LIMIT:  # the lowest ones, in order
                v = have.get(s)
                if v is not None:
                    used += limits.encoded_size(v) + limits.ENTRY_OVERHEAD
                    if chosen and used > half:
                        break
                    chosen.append([s, v])
                s += 1
            # Accepted values must all be reported (the candidate re-proposes them), but may
            # be more than a frame holds: then the promise says so ("more") and the
            # candidate asks again from there, at the same ballot (Leader._on_promise).
            every = self.acc.report(max(first, self.commit_index + 1), None)
            entries = limits.prefix_within(every, half, lambda e: limits.encoded_size(e[2]))
            if len(entries) < len(every):
                more = every[len(entries)][0]
        self.send(
            src,
            M.msg(
                "promise",
                ballot=b,
                **{"from": first},
                to=last,
                entries=entries,
                chosen=chosen,
                snap=self.snap_index,
                commit=self.commit_index,
                **({"more": more} if more is not None else {}),
            ),
        )

    def _on_accept(self, src: int, m: dict) -> None:
        b: Ballot = (m["ballot"][0], m["ballot"][1])
        lower = self.cfg.has_bug("accept-lower-ballot")
        # BUG(accept-lower-ballot): an acceptor must refuse a ballot below its promise
        slots, rec = self.acc.accept(
            b, m["entries"], raise_promise=not self.masterless, check=not lower
        )
        self._persist_acceptor(rec)
        if slots:
            self.p.on_accepted_from(src, b)
            self.send(src, M.msg("accepted", ballot=b, slots=slots, commit=self.commit_index))
        else:
            first = m["entries"][0][0] if m["entries"] else 1
            if self.acc.floor >= first:  # compacted: the sender must catch up instead
                self.send(src, M.msg("accepted", ballot=b, slots=[], commit=self.commit_index))
            else:
                self.send(src, M.msg("nack", ballot=self.acc.promise_for(first), slot=None))
        if not self.masterless:  # per-slot learners get values in "learn" messages
            self.commit_by_ballot(b, m["commit"], src)
        seen = getattr(self.p, "on_accept_seen", None)
        if seen is not None:  # Mencius: a higher slot in use means skip our lower ones
            seen(src, b, m["entries"])

    # == learner =============================================================================
    def learn(self, slot: int, batch: list) -> None:
        """Record that ``slot`` is chosen with ``batch``; apply what became contiguous."""
        if slot <= self.snap_index:
            return
        have = self.chosen.get(slot)
        if have is not None:
            if have != batch:
                self._observe("conflict", slot, [have, batch])
            return
        self.chosen[slot] = batch
        if slot > self.max_chosen:
            self.max_chosen = slot
        if not self._recovering:
            if not self._chosen_buf:
                self._flush_at = self.now + self.hb_s
            self._chosen_buf.append([slot, batch])
        self._observe("chosen", slot, batch)
        self.p.on_chosen(slot, batch)
        self._advance()

    def commit_by_ballot(self, b: Ballot, commit: int, src: int) -> None:
        """A proposer at ballot ``b`` says slots <= commit are chosen: those we accepted at
        ``b`` hold its value (a proposer proposes one value per slot per ballot); the rest we
        fetch with catch-up."""
        if commit > self.known_commit:
            self.known_commit = commit
            self.catchup_from = src
        if commit <= self.commit_index:
            return
        acc = self.acc.accepted
        if commit - self.commit_index <= len(acc):
            slots = range(self.commit_index + 1, commit + 1)
        else:
            slots = sorted(s for s in acc if self.commit_index < s <= commit)
        for s in slots:
            e = acc.get(s)
            if e is None or s in self.chosen:
                continue
            if e[0] == b or self.cfg.has_bug("commit-other-ballot"):
                self.learn(s, e[1])  # BUG(commit-other-ballot): only values accepted at b count

    def _advance(self) -> None:
        while self.commit_index + 1 in self.chosen:
            self.commit_index += 1
        if self.commit_index > self.known_commit:
            self.known_commit = self.commit_index
        while self.applied_index < self.commit_index:
            s = self.applied_index + 1
            batch = self.chosen[s]
            results = [self._apply(s, cmd) for cmd in batch]
            self.applied_index = s
            if self.members.version != self._members_seen or s + 1 == self._next_conf_start:
                self._refresh_members()
            self._observe("apply", s, batch)
            if not self._recovering:
                for cmd, res in zip(batch, results, strict=True):
                    if res is not PENDING:
                        self.answer(cmd.get("client_id"), cmd.get("seq"), res)
        if not self._recovering:
            self.p.after_apply()

    def _apply(self, slot: int, cmd: dict) -> dict:
        """A membership change goes to the membership, everything else to the state machine
        (which never sees a reconfig command: a user machine cannot break membership), at
        most once per (client_id, seq). An asynchronous machine's command is handed to the
        runtime: its reply is PENDING until :meth:`on_applied`."""
        if cmd["op"] == "reconfig":
            return self.members.apply(slot, cmd)
        cid, seq = cmd.get("client_id"), cmd.get("seq")
        done = self.dedup.lookup(cid, seq)
        if done is not None:
            return done
        sm = self.sm
        if sm.is_async:
            self._pending += 1
            self._machine_out.append(((self._gen, cid, seq), sm, cmd))
            res = PENDING
        elif cmd["op"] in sm.ops:
            res = sm.apply(cmd)
        else:  # logged before the machine changed (a restart with another state_machine)
            res = error("bad_request")
        self.dedup.record(cid, seq, res)
        return res

    def _on_applied(self, token: tuple, reply: dict) -> None:
        gen, cid, seq = token
        if gen != self._gen:  # for a machine a snapshot install replaced: the snapshot has it
            return
        self._pending -= 1
        self.dedup.fill(cid, seq, reply)
        if not self._recovering:
            self.answer(cid, seq, reply)
            self.p.after_apply()

    def _refresh_members(self) -> None:
        """Recompute whom we talk to after a change was applied or came into effect."""
        m = self.members
        m.compact(self.applied_index)
        self._members_seen = m.version
        self.ids = sorted(m.known() | {self.id})
        self.reach = m.reach(self.applied_index)
        if self.cfg.has_bug("removed-node-votes"):
            self.reach = sorted(m.known())  # BUG(removed-node-votes): a node that left is gone
        self.peers = [i for i in self.reach if i != self.id]
        later = [c.start for c in m.confs if c.start > self.applied_index + 1]
        self._next_conf_start = min(later, default=-1)

    def learn_addresses(self, nodes: dict) -> None:
        """Addresses of nodes a joining replica will hear from before its log names them
        (from a running node's ``members`` answer). Addresses only: who votes is decided
        by the log alone."""
        for k, a in nodes.items():
            if str(k).isdigit() and int(k) not in self.members.addrs:
                self.members.addrs[int(k)] = list(a)
        self._refresh_members()

    def answer(self, cid: str | None, seq: int | None, res: dict) -> None:
        handles = self.waiting.pop((cid, seq), None)  # type: ignore[arg-type]
        if handles:
            for h in handles:
                self.reply(h, res)

    # -- catch-up -----------------------------------------------------------------------------
    def _maybe_catchup(self) -> None:
        if self.commit_index >= self.known_commit or self.now < self.catchup_next:
            return
        if self._snap_in is not None:  # a snapshot in parts: ask again for the next one
            self._snap_in["retries"] += 1
            if self._snap_in["retries"] <= SNAPSHOT_RETRIES:
                self.catchup_next = self.now + self.catchup_s
                self._ask_snapshot_part()
                return
            self._snap_in = None  # its sender is gone: start over, from whoever answers
        src = self.catchup_from
        if src is None or src == self.id:
            src = self.rng.choice(self.peers) if self.peers else None
        if src is None:
            return
        self.catchup_next = self.now + self.catchup_s
        self.send(src, M.msg("catchup", **{"from": self.commit_index + 1}))

    def _on_catchup(self, src: int, m: dict) -> None:
        first = m["from"]
        if first <= self.snap_index:
            self._send_snapshot_part(src, m.get("snap"))
            return
        last = min(self.commit_index, first + CATCHUP_LIMIT - 1)
        entries = limits.prefix_within(
            ([s, self.chosen[s]] for s in range(first, last + 1)),
            self.budget,
            lambda e: limits.encoded_size(e[1]),
        )
        self.send(src, M.msg("learn", entries=entries, commit=self.commit_index))

    # -- snapshots in parts -----------------------------------------------------------------
    def _send_snapshot_part(self, src: int, cursor: list | None) -> None:
        """Send one part of our state (pull-based: the receiver asks for each next part, so
        at most one part per receiver is ever in flight). The parts are cut once per applied
        index and kept, so every part a receiver gets belongs to the same state."""
        want = 0
        if (
            cursor is not None
            and self._snap_out is not None
            and self._snap_out[0] == cursor[0]
            and cursor[1] < len(self._snap_out[1])
        ):
            want = cursor[1]
        else:
            if self._pending:  # the machine has not reached applied_index: asked again later
                return
            self._snap_out = (self.applied_index, self._cut_state(), self.members.dump())
        applied, parts, members = self._snap_out
        snap = {"applied": applied, "sm": parts[want]}
        if want == 0:  # the membership rides in the first part (it is small)
            snap["members"] = members
        self.send(src, M.msg("snapshot", snap=snap, part=want, parts=len(parts)))

    def _cut_state(self) -> list[dict]:
        """The machine's state as JSON text cut into pieces (any machine's state splits the
        same way), then the de-duplication table in whole entries. A piece is at most half
        the budget in characters: escaped inside a JSON string it at most doubles."""
        text = json.dumps(self.sm.snapshot(), separators=(",", ":"))
        step = max(1, self.budget // 2)
        parts = [{"text": text[i : i + step], "dedup": {}} for i in range(0, len(text), step)]
        dedup = limits.chunks(self.dedup.table.items(), self.budget, limits.encoded_size)
        parts += [{"text": "", "dedup": dict(c)} for c in dedup]
        return parts

    def _ask_snapshot_part(self) -> None:
        s = self._snap_in
        assert s is not None
        cursor = [s["applied"], s["next"]]
        self.send(s["src"], M.msg("catchup", snap=cursor, **{"from": self.commit_index + 1}))

    def _snapshot_part(self, src: int, m: dict) -> dict | None:
        """Collect one part; the whole snapshot once the last part is in (else None)."""
        snap, part, parts = m["snap"], m["part"], m["parts"]
        s = self._snap_in
        if part == 0:
            if snap["applied"] <= self.applied_index:
                return None
            s = self._snap_in = {"src": src, "applied": snap["applied"], "parts": parts,
                                 "next": 0, "text": [], "dedup": {}, "retries": 0,
                                 "members": snap.get("members")}  # fmt: skip
        if s is None or (src, snap["applied"], parts, part) != (
            s["src"],
            s["applied"],
            s["parts"],
            s["next"],
        ):
            return None  # a stale or repeated part: the next catch-up asks again
        s["text"].append(snap["sm"].get("text", ""))
        s["dedup"].update(snap["sm"].get("dedup", {}))
        s["next"] += 1
        s["retries"] = 0
        if s["next"] < parts:
            self.catchup_next = self.now + self.catchup_s
            self._ask_snapshot_part()
            return None
        self._snap_in = None
        return {
            "applied": s["applied"],
            "sm": {"text": "".join(s["text"]), "dedup": s["dedup"]},
            "members": s["members"],
        }

    def _on_learn(self, src: int, m: dict) -> None:
        before = self.commit_index
        if m["commit"] > self.known_commit:
            self.known_commit = m["commit"]
            self.catchup_from = src
        for s, v in m["entries"]:
            self.learn(s, v)
        if self.commit_index > before and self.commit_index < self.known_commit:
            self.catchup_next = self.now  # progress: ask for the next chunk at once
            self._maybe_catchup()

    def _on_snapshot(self, src: int, m: dict) -> None:
        snap = m["snap"]
        if "parts" in m:
            snap = self._snapshot_part(src, m)
            if snap is None:
                return
        if snap["applied"] <= self.applied_index:
            return
        sm = snap["sm"]
        try:  # restored into a fresh machine: a state it refuses changes nothing here
            if "text" in sm:
                sm = dict(sm, state=json.loads(sm["text"]))
            self.sm, self.dedup = self._load_sm(sm)
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise ProtocolError(f"snapshot state refused by the machine: {str(e)[:80]}") from e
        self._gen += 1  # late replies of the replaced machine are dropped
        self._pending = 0
        if is_dump(snap.get("members")):
            self.members.load(snap["members"])
        self._install_prefix(snap["applied"])
        self._refresh_members()
        self._want_snapshot = True  # our own snapshot must now cover the installed prefix
        self._observe("install", snap["applied"], None)
        for (cid, seq), _ in list(self.waiting.items()):
            res = self.dedup.lookup(cid, seq)
            if res is not None and res is not PENDING:
                self.answer(cid, seq, res)
        if self.known_commit < snap["applied"]:
            self.known_commit = snap["applied"]
        self.catchup_next = self.now
        self._advance()
        self._maybe_catchup()

    def _install_prefix(self, upto: int) -> None:
        self.applied_index = upto
        self.commit_index = max(self.commit_index, upto)
        self.snap_index = upto
        for s in [s for s in self.chosen if s <= upto]:
            del self.chosen[s]
        self.acc.compact(upto)
        self.p.on_compacted(upto)

    # == snapshots and recovery ==============================================================
    def _take_snapshot(self) -> None:
        self._want_snapshot = False
        upto = self.applied_index
        self.snap_index = upto
        for s in [s for s in self.chosen if s <= upto]:
            del self.chosen[s]
        self.acc.compact(upto)
        self.p.on_compacted(upto)
        self._ready.snapshot = {
            "applied": upto,
            "sm": self._dump_sm(),
            "members": self.members.dump(),
            "acceptor": self.acc.dump(),
            "chosen": [[s, v] for s, v in sorted(self.chosen.items())],
        }
        if hasattr(self.p, "dump"):
            self._ready.snapshot["mode"] = self.p.dump()

    def _recover(self, snapshot: dict | None, records: Iterable[dict]) -> None:
        if snapshot:
            self.sm, self.dedup = self._load_sm(snapshot["sm"])
            if "members" in snapshot:
                self.members.load(snapshot["members"])
            self.acc = Acceptor.load(snapshot.get("acceptor", {}))
            a = snapshot["applied"]
            self.snap_index = self.commit_index = self.applied_index = a
            self._mode_snap = snapshot.get("mode")
            self.acc.compact(a)
            for s, v in snapshot.get("chosen", []):
                if s > a:
                    self.chosen[s] = v
        for rec in records:
            t = rec.get("t")
            if t in ("promise", "accept"):
                self.acc.restore(rec)
            elif t == "chosen":
                for s, v in rec["entries"]:
                    if s > self.snap_index:
                        self.chosen[s] = v
            else:
                self._mode_records.append(rec)  # a mode's own (EPaxos); others write none
        self.max_chosen = max(self.chosen, default=self.snap_index)
        self._advance()
        self.known_commit = self.commit_index

    # == client requests =====================================================================
    def _on_request(self, handle: object, req: dict) -> None:
        why = M.check_request(req)
        if why is not None:
            self.reply(handle, dict(error("bad_request"), reason=why))
            return
        if req["op"] == "status":
            self.reply(handle, ok(self.status()))
            return
        if req["op"] == "members":
            self.reply(handle, ok(dict(self.members.view(), leader=self.p.role_and_leader()[1])))
            return
        if req["op"] == "reconfig" and not hasattr(self.p, "reconfig_refusal"):
            self.reply(handle, dict(error("unsupported"), reason=f"mode {self.cfg.mode}"))
            return
        why, size = M.request_limits(req, self.cfg.max_value_depth, self.cfg.max_command_bytes)
        if why is not None:
            self.reply(handle, dict(error("bad_request"), reason=why))
            return
        if req["op"] != "reconfig" and req["op"] not in self.sm.ops:
            why = f"the state machine ({self.cfg.state_machine}) does not take op {req['op']!r}"
            self.reply(handle, dict(error("bad_request"), reason=why))
            return
        if req["op"] == "read" and self.cfg.has_bug("local-read"):
            self.reply(handle, self.sm.query(req))  # BUG(local-read): stale
            return
        table = self.members if req["op"] == "reconfig" else self.dedup
        done = table.lookup(req["client_id"], req["seq"])
        if done is not None and done is not PENDING:
            self.reply(handle, done)
            return
        self.p.request(handle, req, size)

    def wait_for(self, key: tuple[str, int], handle: object) -> bool:
        """Register a handle for a command's result; True if the command is new here."""
        fresh = key not in self.waiting
        self.waiting.setdefault(key, []).append(handle)
        self._deadline(key, handle)
        return fresh
