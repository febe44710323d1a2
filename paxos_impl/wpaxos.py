"""WPaxos mode: every key is its own Multi-Paxos log, owned by one node at a time, over zones.

Ailijiang, Charapko and Demirbas, "WPaxos: Wide Area Network Flexible Consensus" (2019):
nodes are grouped into zones (``config.zones``), and each *object* (here: a key; the single
register's ``None`` is an object like any other) has its own ballot, its own owner and its
own log of slots. The owner orders its object's commands with phase 2 at a Q2 quorum that
can sit in its own zone; any node that needs an object it does not own *steals* it with a
phase 1 on that object at a Q1 quorum, which spans the zones. The quorums are the flexible
grid of the paper (:meth:`paxos_impl.config.Config.grid`): Q1 = ``l - f_n`` nodes in each
of ``Z - f_z`` zones, Q2 = ``f_n + 1`` nodes in each of ``f_z + 1`` zones (``l``: a zone's
size); defaults ``f_z = 0`` and ``f_n = (l - 1) // 2``, which on one zone are two majorities
and on three zones of three make phase 2 local (2 nodes of one zone) and phase 1 global.

Per object ``o`` (an object id is the JSON text of its key):

- **steal** (phase 1): ``wp_prepare(o, b, from)`` to everyone at a fresh ballot ``b``; an
  acceptor that promised nothing higher for ``o`` promises ``b`` durably and reports the
  slots ``>= from`` it knows chosen and the ones it accepted (with their ballots). With
  promises from a Q1 grid quorum the stealer learns the chosen ones, re-proposes in every
  other slot up to the highest one reported the value of the highest ballot reported
  (:func:`paxos_impl.phase1.adopt`), a no-op where none was, and owns ``o`` from the slot
  after;
- **commit** (phase 2): ``wp_accept(o, b, [[slot, batch]])``; an acceptor takes it unless it
  promised a higher ballot for ``o``. Accepted by a Q2 grid quorum, the slot is chosen; the
  owner tells everyone (``wp_commit``);
- **routing**: a node that gets a request for an object it does not own forwards it to the
  owner it last heard from (``wp_fwd``) while that owner is alive, and steals the object
  otherwise, or when the key's home zone (keys ``z<zone>-...``) is this node's zone and the
  owner sits in another zone, or after forwarding ``STEAL_AFTER`` requests for it since it
  last moved (WPaxos's adaptive ownership: objects move to where they are used);
- **catch-up**: every node gossips the highest chosen slot of each object it knows
  (``wp_tips``); a node that lags asks for the rest (``wp_fetch``, answered by a
  ``wp_commit``).

**One applied order.** Each node executes each object's log in slot order and hands every
executed batch to the shared learner as its next *local* slot (as EPaxos does): the state
machine, snapshots and the client protocol are the core's. Commands on different keys
commute for the key-value state machine, so nodes that interleave objects differently reach
the same state. Client de-duplication must commute too, so a command's client id is the
client's id joined to the object (``"c7@\\"k1\\""``): the state machine's per-client "last
sequence number" is then per client and object, and each object's log orders it the same
on every node. Transactions that name several keys are refused (``unsupported``): no single
object's log orders them; a transaction on one key goes through that key's log. Reads are
commands in their key's log (``read_mode`` is ignored: no leases, no local reads).
Membership changes are refused (``unsupported``).

**Safety** (no two nodes execute different batches in slot ``s`` of object ``o``): per object
this is Multi-Paxos with flexible quorums. (1) A ballot ``(round, node)`` is used by one node,
for one value per slot: a node's rounds exceed every round in its durable state, and its own
promise of a ballot is on its disk before the prepare leaves (the prepare is delivered to
itself in the same step). (2) A value chosen at ballot ``b`` was accepted by a Q2 quorum;
any later ballot's owner got promises from a Q1 quorum, which meets that Q2 quorum
(``Grid.intersect``; the configuration is refused at start-up otherwise), and the acceptor
there promised only after accepting (it refuses lower ballots after the promise), so it
reported the value, or a later re-proposal of it, and the new owner re-proposes it.
(3) Execution is in slot order per object, with the chosen values only.

**Durability**, each record written before any message that depends on it leaves the node
(the core's persist-then-send ``Ready``): ``{"t": "wp_p", "o", "b"}`` a promise,
``{"t": "wp_a", "o", "b", "e": [[slot, batch]]}`` accepted values, ``{"t": "wp_c", "o", "e"}``
chosen values (what execution and catch-up serve from). The snapshot carries :meth:`dump`,
taken with the learner's state, so each object's executed prefix matches the state
machine; after the snapshot, executed batches carry their ``(object, slot)`` in the
learner's own records, so a restart re-executes exactly what the learner lost.

Deliberate bugs: ``wpaxos-steal-no-phase1`` (a steal takes ownership at a fresh ballot with
no phase 1: values the last owner got chosen are overwritten), ``wpaxos-quorums-disjoint``
(Q1 takes one node fewer per zone, bypassing the start-up check: a steal can miss a chosen
value). Known limits: an object's log is never compacted (its chosen values stay in the
mode's state and snapshot); the tips gossip names every object each ``catchup_ms``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from paxos_impl import limits
from paxos_impl import messages as M
from paxos_impl.config import Grid
from paxos_impl.limits import encoded_size
from paxos_impl.messages import ZERO, Ballot, ballot_of, wire_ballot
from paxos_impl.phase1 import adopt
from paxos_impl.proposer import Handler, ProposerHost, QuietHooks, ignore
from paxos_impl.statemachine import error

HOME = re.compile(r"z(\d+)-")  # a key's home zone: "z1-k7" lives in zone 1
MAX_HOPS = 2  # a forwarded request goes on at most this often before the receiver steals
STEAL_AFTER = 8  # requests forwarded for an object since it last moved: then steal it


def object_id(key: str | None) -> str:
    """The object a key is (its JSON text, so ``None`` and ``"null"`` differ)."""
    return json.dumps(key)


@dataclass
class Prop:
    """A batch we proposed in one of our object's slots."""

    batch: list
    deadline: float
    acks: set[int] = field(default_factory=set)


@dataclass
class Obj:
    """One object: its acceptor and learner state (durable) and our proposer state."""

    promised: Ballot = ZERO
    acc: dict[int, tuple[Ballot, list]] = field(default_factory=dict)
    chosen: dict[int, list] = field(default_factory=dict)
    done: int = 0  # slots <= done are executed here
    top: int = 0  # highest slot known chosen
    # proposer (volatile): 0 nothing, 1 stealing, 2 owner
    phase: int = 0
    ballot: Ballot = ZERO
    promises: dict[int, dict] = field(default_factory=dict)
    partial: dict[int, list] = field(default_factory=dict)  # accepted entries of a promise in parts
    deadline: float = 0.0
    next: int = 1
    inflight: dict[int, Prop] = field(default_factory=dict)
    queue: list[dict] = field(default_factory=list)
    owner: int | None = None  # who we last saw lead it
    forwarded: int = 0  # requests we forwarded to that owner since it took the object
    fetch_at: float = 0.0  # when we may next ask for missing slots (at most once a catchup_ms)

    def dump(self, o: str) -> list:
        acc = [[s, wire_ballot(b), v] for s, (b, v) in sorted(self.acc.items())]
        return [o, wire_ballot(self.promised), acc, sorted(self.chosen.items()), self.done]


# -- the mode's messages, checked by the core's one validation path (messages.validate) ------
def _is_obj(v: Any) -> bool:
    return isinstance(v, str) and len(v) <= 4096


def _check(m: dict, ballot: bool = True, **kinds: Callable[[Any], bool]) -> None:
    if ballot and not M.is_ballot(m.get("ballot")):
        raise M.ProtocolError(f"malformed {m['type']} message: ballot must be [round, node]")
    for k, ok in {"obj": _is_obj, **kinds}.items():
        if not ok(m.get(k)):
            raise M.ProtocolError(f"malformed {m['type']} message: bad {k}")


def _all(ok: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and all(ok(x) for x in v)


_slot, _nat = M._slot, M._nat  # noqa: SLF001 (the shared field checks)
_entries = _all(M._slot_batch)  # noqa: SLF001
_tip = _all(lambda t: isinstance(t, list) and len(t) == 2 and _is_obj(t[0]) and _slot(t[1]))
M.register(
    {
        "wp_prepare": lambda m: _check(m, **{"from": _slot}),
        "wp_promise": lambda m: _check(
            m,
            entries=_all(M._slot_ballot_batch),
            chosen=_entries,
            **{"from": _slot},  # noqa: SLF001
        ),
        "wp_accept": lambda m: _check(m, entries=_entries),
        "wp_accepted": lambda m: _check(m, slots=_all(_slot)),
        "wp_nack": lambda m: _check(m),
        "wp_commit": lambda m: _check(m, False, entries=_entries),
        "wp_fwd": lambda m: _check(m, False, cmds=M.is_batch, hops=_nat),
        "wp_tips": lambda m: _check(m, False, obj=lambda v: v is None, tips=_tip),
        "wp_fetch": lambda m: _check(m, False, **{"from": _slot}),
    }
)


def grid_of(r: ProposerHost) -> Grid:
    """The configured grid, or (bug) one whose Q1 rows are a node short."""
    g = r.cfg.grid()
    if r.cfg.has_bug("wpaxos-quorums-disjoint"):
        # BUG(wpaxos-quorums-disjoint): Q1 rows one node short, so a Q1 and a Q2 may not meet
        g = replace(g, n1=max(1, g.n1 - 1))
    return g


class WPaxos(QuietHooks):
    """Per-key owners, stolen with phase 1 at a Q1 grid quorum (module docstring)."""

    per_slot = True  # the core's acceptor and slot commit are not used by this mode

    def __init__(self, r: ProposerHost) -> None:
        self.r = r
        self.grid = grid_of(r)
        self.zone = {i: z for z, ids in enumerate(self.grid.zones) for i in ids}
        self.objs: dict[str, Obj] = {}
        self.active: set[tuple[str, int]] = set()  # commands queued or in flight here
        self.dirty: set[str] = set()  # objects with queued commands
        self.mine: set[str] = set()  # objects we own or are stealing
        self.out: dict[str, list[list]] = {}  # chosen by us this step: wp_commit to everyone
        self.heard: dict[int, float] = {}  # node -> when we last heard from it
        self.max_round = 0
        self.replay = False  # objects to execute at start (restored chosen slots)
        t = r.cfg.timeouts
        self.attempt_s = t.election_min_ms / 1000
        self.alive_s = t.election_max_ms / 1000
        self.backoff_s = t.heartbeat_ms / 1000
        self.next_gossip = 0.0
        self.wake: float | None = None
        self.handlers: dict[str, Handler] = {
            "wp_prepare": self._on_prepare,
            "wp_promise": self._on_promise,
            "wp_accept": self._on_accept,
            "wp_accepted": self._on_accepted,
            "wp_nack": self._on_nack,
            "wp_commit": self._on_commit,
            "wp_fwd": self._on_fwd,
            "wp_tips": self._on_tips,
            "wp_fetch": self._on_fetch,
            "heartbeat": ignore,  # a leader-mode peer (a misconfiguration)
            "heartbeat_ok": ignore,
        }

    def obj(self, o: str) -> Obj:
        st = self.objs.get(o)
        if st is None:
            st = self.objs[o] = Obj()
        return st

    # == durable state ========================================================================
    def restore(self, snap: dict | None, records: list[dict]) -> None:
        """Objects from the snapshot's dump and the records after it; each object's executed
        prefix from the dump and from the markers of the batches the learner still has."""
        for o, p, acc, chosen, done in (snap or {}).get("objs", []):
            st = self.obj(o)
            st.promised = (p[0], p[1])
            st.acc = {s: ((b[0], b[1]), v) for s, b, v in acc}
            st.chosen = {s: v for s, v in chosen}
            st.done = done
        for rec in records:
            t = rec.get("t")
            if t == "wp_p":
                st = self.obj(rec["o"])
                st.promised = max(st.promised, (rec["b"][0], rec["b"][1]))
            elif t == "wp_a":
                st = self.obj(rec["o"])
                b = (rec["b"][0], rec["b"][1])
                st.promised = max(st.promised, b)
                for s, v in rec["e"]:
                    st.acc[s] = (b, v)
            elif t == "wp_c":
                st = self.obj(rec["o"])
                for s, v in rec["e"]:
                    st.chosen[s] = v
        for _, batch in sorted(self.r.chosen.items()):
            for c in batch:
                if "wo" in c:
                    st = self.obj(c["wo"])
                    st.done = max(st.done, c["ws"])
        for st in self.objs.values():
            st.top = max(st.chosen, default=0)
            for s in [s for s in st.acc if s in st.chosen]:
                del st.acc[s]
            rounds = [st.promised[0], *(b[0] for b, _ in st.acc.values())]
            self.max_round = max(self.max_round, *rounds)
        self.replay = True

    def dump(self) -> dict:
        return {"objs": [st.dump(o) for o, st in sorted(self.objs.items())]}

    # == status and core hooks ================================================================
    def role_and_leader(self) -> tuple[str, int | None]:
        return "leader", self.r.id  # every node serves its clients (and owns some keys)

    def current_ballot(self) -> Ballot:
        return (self.max_round, self.r.id)

    def on_chosen(self, slot: int, batch: list) -> None:
        return None  # local slots: we put them there

    def on_compacted(self, upto: int) -> None:
        return None

    def after_apply(self) -> None:
        """Drop queued commands that were applied (by another owner, or a retry's slot)."""
        r = self.r
        for o in list(self.dirty):
            st = self.objs[o]
            keep = []
            for c in st.queue:
                key = (c["client_id"], c["seq"])
                if r.result_of(*key) is None:
                    keep.append(c)
                else:
                    self.active.discard(key)
            st.queue = keep

    # == timers ===============================================================================
    def start(self) -> None:
        r = self.r
        self.next_gossip = r.now + r.catchup_s
        if self.replay:
            self.replay = False
            for o in sorted(self.objs):
                self._execute(o)

    def rebase(self, delta: float) -> None:
        self.next_gossip += delta
        self.heard = {i: t + delta for i, t in self.heard.items()}
        for st in self.objs.values():
            st.fetch_at += delta
        for o in self.mine:
            st = self.objs[o]
            st.deadline += delta
            for p in st.inflight.values():
                p.deadline += delta
        if self.wake is not None:
            self.wake += delta

    def next_tick(self) -> float | None:
        return self.next_gossip if self.wake is None else min(self.wake, self.next_gossip)

    def _arm(self, at: float) -> None:
        if self.wake is None or at < self.wake:
            self.wake = at

    def tick(self) -> None:
        r = self.r
        if self.wake is not None and r.now >= self.wake:
            self.wake = None
            for o in sorted(self.mine):
                st = self.objs[o]
                if st.phase == 1 and r.now >= st.deadline:
                    if st.queue:  # lost messages or a duel: again, at a higher ballot
                        self._steal(o)
                    else:
                        self._lose(o, None)
                        continue
                for s, p in st.inflight.items():  # lost messages: send the same value again
                    if r.now >= p.deadline:
                        p.deadline = r.now + self.attempt_s
                        self._send_accept(o, st.ballot, [[s, p.batch]])
                    self._arm(p.deadline)
                if st.phase == 1:
                    self._arm(st.deadline)
        if r.now >= self.next_gossip:
            self.next_gossip = r.now + r.catchup_s
            tips = [[o, st.top] for o, st in sorted(self.objs.items()) if st.top]
            for part in limits.chunks(tips, r.budget, lambda t: len(t[0]) + 16):
                r.broadcast(M.msg("wp_tips", obj=None, tips=part))

    # == client requests =======================================================================
    def request(self, handle: object, req: dict, size: int) -> None:
        r = self.r
        key = req.get("key")
        if req["op"] == "txn":
            keys = {m[1] for m in req["value"]}
            if len(keys) > 1:
                r.reply(handle, dict(error("unsupported"), reason="wpaxos orders each key on "
                                     "its own: a transaction may name one key only"))  # fmt: skip
                return
            key = keys.pop()
        o = object_id(key)
        cid = f"{req['client_id']}@{o}"  # de-dup per client and object (module docstring)
        done = r.result_of(cid, req["seq"])
        if done is not None:
            r.reply(handle, done)
            return
        r.wait_for((cid, req["seq"]), handle)
        self._route(o, [M.command(dict(req, client_id=cid))], 0)

    def _route(self, o: str, cmds: list[dict], hops: int) -> None:
        r = self.r
        st = self.obj(o)
        if not st.phase:
            owner = st.owner
            alive = owner is not None and owner != r.id and self._alive(owner)
            if alive and hops < MAX_HOPS and not self._home_here(o, owner):
                st.forwarded += 1
                if hops or st.forwarded <= STEAL_AFTER:
                    r.send(owner, M.msg("wp_fwd", obj=o, cmds=cmds, hops=hops + 1))
                    return
        self._enqueue(o, cmds)
        if not st.phase:
            self._steal(o)

    def _alive(self, i: int) -> bool:
        return self.r.now - self.heard.get(i, -1e9) <= self.alive_s

    def _home_here(self, o: str, owner: int) -> bool:
        """Is the key's home zone ours while its owner is elsewhere (then we steal it)?"""
        me = self.zone.get(self.r.id)
        if len(self.grid.zones) < 2 or me == self.zone.get(owner):
            return False
        m = HOME.match(o[1:])  # the id is JSON text: skip the quote
        return m is not None and o.startswith('"') and int(m.group(1)) == me

    def _enqueue(self, o: str, cmds: list[dict]) -> None:
        r = self.r
        st = self.obj(o)
        for c in cmds:
            key = (c["client_id"], c["seq"])
            if key not in self.active and r.result_of(*key) is None:
                self.active.add(key)
                st.queue.append(c)
                self.dirty.add(o)

    # == phase 1: stealing ======================================================================
    def _ballot(self) -> Ballot:
        rnd = max(self.r.next_ballot()[0], self.max_round + 1)
        self.max_round = rnd
        return (rnd, self.r.id)

    def _steal(self, o: str) -> None:
        r = self.r
        st = self.obj(o)
        self.mine.add(o)
        st.ballot = self._ballot()
        st.owner, st.forwarded = r.id, 0
        if r.cfg.has_bug("wpaxos-steal-no-phase1"):
            # BUG(wpaxos-steal-no-phase1): a new owner must run phase 1 at a Q1 quorum and
            # re-propose what the last owner may have got chosen; this one just starts
            st.phase, st.next = 2, max(st.top, st.done) + 1
            self.dirty.add(o)
            return
        st.phase, st.promises = 1, {}
        st.deadline = r.now + self.attempt_s + r.rng.uniform(0, self.backoff_s)
        self._arm(st.deadline)
        m = M.msg("wp_prepare", ballot=st.ballot, obj=o, **{"from": st.done + 1})
        r.broadcast(m, True)

    def _on_prepare(self, src: int, m: dict) -> None:
        r = self.r
        o, b, first = m["obj"], ballot_of(m), m["from"]
        st = self.obj(o)
        self._hear(src)
        if b < st.promised:
            r.send(src, M.msg("wp_nack", ballot=st.promised, obj=o))
            return
        if b > st.promised:
            st.promised = b
            r.persist({"t": "wp_p", "o": o, "b": wire_ballot(b)})
        if src != r.id:
            st.owner, st.forwarded = src, 0
            if st.phase:
                self._lose(o, src)
        chosen = limits.prefix_within(
            ([s, st.chosen[s]] for s in sorted(st.chosen) if s >= first),
            r.budget // 2,
            lambda e: encoded_size(e[1]) + limits.ENTRY_OVERHEAD,
        )
        more = {}
        if chosen and chosen[-1][0] < st.top:  # the rest when it asks again (same ballot)
            more = {"more": chosen[-1][0] + 1}
        acc = [[s, wire_ballot(ab), v] for s, (ab, v) in sorted(st.acc.items()) if s >= first]
        r.send(src, M.msg("wp_promise", ballot=b, obj=o, entries=acc, chosen=chosen,
                          **{"from": first}, **more))  # fmt: skip

    def _on_promise(self, src: int, m: dict) -> None:
        r = self.r
        o, b = m["obj"], ballot_of(m)
        st = self.obj(o)
        if st.phase != 1 or b != st.ballot:
            return
        for s, v in m["chosen"]:
            self._learn(o, s, v)
        if st.phase != 1:
            return
        seen = st.partial.pop(src, [])
        if "more" in m and isinstance(m["more"], int) and m["more"] > m["from"]:
            st.partial[src] = seen + [e for e in m["entries"] if e[0] < m["more"]]
            r.send(src, M.msg("wp_prepare", ballot=b, obj=o, **{"from": m["more"]}))
            return  # counted once its whole report is in
        st.promises[src] = dict(m, entries=seen + m["entries"])
        if not self.grid.q1(st.promises):
            return
        values = adopt(st.promises.values(), st.done, r.cfg)
        top = max([st.top, st.done, *values])
        todo = [[s, values.get(s, [])] for s in range(st.done + 1, top + 1) if s not in st.chosen]
        st.phase, st.next, st.promises, st.partial = 2, top + 1, {}, {}
        self.dirty.add(o)
        for s, v in todo:
            st.inflight[s] = Prop(v, r.now + self.attempt_s)
        self._arm(r.now + self.attempt_s)
        for part in limits.chunks(todo, r.budget, lambda e: encoded_size(e[1])):
            self._send_accept(o, st.ballot, part)

    def _on_nack(self, src: int, m: dict) -> None:
        o, b = m["obj"], ballot_of(m)
        st = self.obj(o)
        if st.phase and b > st.ballot:
            self.max_round = max(self.max_round, b[0])
            self._lose(o, b[1] if b[1] != self.r.id else None)

    def _lose(self, o: str, owner: int | None) -> None:
        """Someone else leads ``o`` now: hand our clients' commands on to it (or drop them:
        the client's retry finds the owner), and forget what we proposed."""
        r = self.r
        st = self.objs[o]
        cmds = st.queue + [c for p in st.inflight.values() for c in p.batch]
        st.phase, st.queue, st.inflight, st.promises = 0, [], {}, {}
        self.mine.discard(o)
        self.dirty.discard(o)
        if owner is not None:
            st.owner = owner
        keep = []
        for c in cmds:
            key = (c["client_id"], c["seq"])
            self.active.discard(key)
            if r.result_of(*key) is None and key in r.waiting:
                keep.append(c)
        if keep and owner is not None and owner != r.id:
            r.send(owner, M.msg("wp_fwd", obj=o, cmds=keep, hops=1))

    # == phase 2 =================================================================================
    def before_finish(self) -> None:
        r = self.r
        budget = limits.batch_budget(r.cfg.max_frame_bytes)
        for o in sorted(self.dirty):
            st = self.objs[o]
            if st.phase != 2:
                continue
            sent = []
            while st.queue and len(st.inflight) < r.cfg.max_inflight:
                k = limits.take_batch(st.queue, r.cfg.max_batch, budget, encoded_size)
                batch, st.queue = st.queue[:k], st.queue[k:]
                s, st.next = st.next, st.next + 1
                st.inflight[s] = Prop(batch, r.now + self.attempt_s)
                sent.append([s, batch])
            if sent:
                self._arm(r.now + self.attempt_s)
                self._send_accept(o, st.ballot, sent)
            if not st.queue:
                self.dirty.discard(o)
        out, self.out = self.out, {}
        for o, entries in sorted(out.items()):
            for part in limits.chunks(entries, r.budget, lambda e: encoded_size(e[1])):
                r.broadcast(M.msg("wp_commit", obj=o, entries=part))

    def _send_accept(self, o: str, b: Ballot, entries: list[list]) -> None:
        self.r.broadcast(M.msg("wp_accept", ballot=b, obj=o, entries=entries), True)

    def _on_accept(self, src: int, m: dict) -> None:
        r = self.r
        o, b = m["obj"], ballot_of(m)
        st = self.obj(o)
        self._hear(src)
        if b < st.promised:
            r.send(src, M.msg("wp_nack", ballot=st.promised, obj=o))
            return
        if src != r.id:
            if st.owner != src:
                st.owner, st.forwarded = src, 0
            if st.phase and b > st.ballot:
                self._lose(o, src)
        st.promised = b
        kept = []
        for s, v in m["entries"]:
            have = st.acc.get(s)
            if have is None or have[0] != b:
                st.acc[s] = (b, v)
                kept.append([s, v])
        if kept:
            r.persist({"t": "wp_a", "o": o, "b": wire_ballot(b), "e": kept})
        slots = [s for s, _ in m["entries"]]
        r.send(src, M.msg("wp_accepted", ballot=b, obj=o, slots=slots))

    def _on_accepted(self, src: int, m: dict) -> None:
        o, b = m["obj"], ballot_of(m)
        st = self.obj(o)
        if st.phase != 2 or b != st.ballot:
            return
        for s in m["slots"]:
            p = st.inflight.get(s)
            if p is None:
                continue
            p.acks.add(src)
            if self.grid.q2(p.acks):
                self.out.setdefault(o, []).append([s, p.batch])
                self._learn(o, s, p.batch)

    # == learning, executing, catching up ===========================================================
    def _learn(self, o: str, s: int, batch: list) -> None:
        r = self.r
        st = self.obj(o)
        if s in st.chosen or s <= st.done:
            return
        st.chosen[s] = batch
        st.acc.pop(s, None)
        st.top = max(st.top, s)
        r.persist({"t": "wp_c", "o": o, "e": [[s, batch]]})
        p = st.inflight.pop(s, None)
        self._execute(o)
        if p is None:
            return
        for c in p.batch:
            self.active.discard((c["client_id"], c["seq"]))
        if p.batch != batch:  # our batch lost the slot: queue it again
            if st.phase == 2:
                self._enqueue(o, p.batch)

    def _execute(self, o: str) -> None:
        """Run the object's chosen slots in order; each non-empty one is the learner's next
        local slot, marked with its (object, slot) for a restart (module docstring)."""
        r = self.r
        st = self.objs[o]
        while st.done + 1 in st.chosen:
            st.done += 1
            batch = st.chosen[st.done]
            if batch:
                r.learn(r.max_chosen + 1, [dict(c, wo=o, ws=st.done) for c in batch])

    def _hear(self, src: int) -> None:
        self.heard[src] = self.r.now

    def _on_commit(self, src: int, m: dict) -> None:
        o = m["obj"]
        self._hear(src)  # (a fetch is answered by anyone: no owner hint from a commit)
        self.obj(o)
        for s, v in m["entries"]:
            self._learn(o, s, v)
        if self.objs[o].done < self.objs[o].top:  # a hole below what we learned: ask for it
            self._fetch(src, o)

    def _on_tips(self, src: int, m: dict) -> None:
        self._hear(src)
        for o, top in m["tips"]:
            if self.obj(o).done < top:
                self._fetch(src, o)

    def _fetch(self, src: int, o: str) -> None:
        """Ask ``src`` for the slots of ``o`` after our executed prefix, once a catchup_ms at
        most: a hole nobody can fill yet (its commit was lost with its owner; the next steal
        fills it) must not turn every answer into another question."""
        r, st = self.r, self.objs[o]
        if r.now >= st.fetch_at:
            st.fetch_at = r.now + r.catchup_s
            r.send(src, M.msg("wp_fetch", obj=o, **{"from": st.done + 1}))

    def _on_fetch(self, src: int, m: dict) -> None:
        r = self.r
        st = self.objs.get(m["obj"])
        if st is None:
            return
        have = (
            [s, st.chosen[s]]
            for s in range(m["from"], st.top + 1)
            if s in st.chosen  # fmt: skip
        )
        entries = limits.prefix_within(have, r.budget, lambda e: encoded_size(e[1]))
        if entries:
            r.send(src, M.msg("wp_commit", obj=m["obj"], entries=entries))

    def _on_fwd(self, src: int, m: dict) -> None:
        self._hear(src)
        self._route(m["obj"], m["cmds"], m["hops"])
