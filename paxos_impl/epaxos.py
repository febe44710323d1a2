"""EPaxos mode: leaderless consensus, one instance per command batch, ordered by dependencies.

Every node is the *command leader* of the batches its clients send it. Instead of agreeing on
a slot, the replicas agree on a batch's *attributes*: a sequence number and a set of
dependencies (the interfering instances it must be ordered after). Two commands interfere
when they touch a common key (``key``; a register's ``None`` is a key like any other), and
reads are commands like writes: a read goes through the protocol, gets dependencies like a
write, and sees every write that finished before it began. Nothing is weaker here: there is
no local read, lease or quorum-read shortcut in this mode (``read_mode`` is ignored).

The protocol (N = 2F + 1 replicas, instance (L, i) led by L, its i-th):

- **Pre-accept.** L computes seq = 1 + the highest seq of the interfering instances it knows,
  deps = the latest interfering instance of every replica (plus (L, i-1): see below), records
  the instance as pre-accepted (durably) and sends it to everyone. A replica merges in the
  interfering instances *it* knows, records the result (durably, with ``eq``: whether it left
  L's attributes unchanged) and answers with it.
- **Fast path.** If a *fast quorum* of FQ replicas (L included) answered at L's initial ballot
  and every answer is ``eq``, the attributes are committed after one round trip.
  FQ = N - 1 (= 2F for odd N, the basic EPaxos of Moraru et al. 2013, section 4.4), and never
  below a majority. Why not the optimized F + floor((F+1)/2): with 2F, any majority that
  recovers without L meets the fast quorum in at least F replicas that answered ``eq``,
  which is the simple, checkable recovery rule below; the optimized size needs the extra
  "tentative" recovery phase whose published version was later shown wrong (Sutra 2019).
- **Slow path (accept).** Otherwise L takes the union of the answers' deps and the highest
  seq, and runs a Paxos accept with them at a majority (acceptors record it durably at the
  instance's ballot); then commits.
- **Commit.** L records the attributes as committed and tells everyone (``ep_commit``).
- **Execution.** A replica executes a committed instance once every instance reachable from
  it through deps is committed: it finds the strongly connected components of that graph
  (Tarjan), which come out dependencies first, and executes each component's instances in
  (seq, leader, number) order; a component of interfering commands comes out the same on
  every replica because the committed attributes are agreed. Executed batches go to the
  shared learner as this replica's next local slot: the log, snapshots and the state
  machine are the core's, but slot numbers are local (non-interfering commands may run in
  another order elsewhere), so the core's slot catch-up is never used in this mode; a
  replica that lacks an instance gets it through explicit prepare instead.
- **Explicit prepare (recovery).** A replica that waits too long for an instance to commit
  (a dependency it needs, or its own batch) takes a higher ballot and asks a majority for
  their state of it (each promises the ballot durably). Then, in order: any committed ->
  commit that; any accepted -> accept the value of the highest accepted ballot; L itself
  answered (still pre-accepted) -> nobody can have committed at L's ballot (L refuses to
  decide after promising a higher one), so pre-accept again at the new ballot and take the
  slow path; at least F answers from replicas other than L pre-accepted ``eq`` at L's
  initial ballot -> accept those attributes (a fast commit leaves at least F such answers
  in every majority without L); any other pre-accepted answer -> pre-accept again, slow
  path; nobody knows the instance -> accept a no-op whose only dependency is (L, i-1).

Every instance of L depends on L's previous one, (L, i-1). Dependencies name only the
*latest* interfering instance of each replica; this chain is what makes "latest" enough
even when a recovery turns an instance into a no-op (which knows no keys).

Durable state, written before any message that depends on it leaves the node (records
``{"t": "ep", ...}`` with the instance's whole state): an instance's promised ballot, its
status (pre-accepted, accepted, committed), the ballot at which its attributes were set,
the batch, seq, deps and ``eq``. The safety argument uses all of them: promises and
accepted values are Paxos's acceptor state per instance; pre-accepted attributes and ``eq``
are what recovery counts to find a fast commit. ``{"t": "ep_x", "x": [[slot, L, i]]}``
records which local slot an instance was executed in, so a restarted replica does not
execute it twice (an instance whose slot the learner lost is executed again). The core's
snapshot carries :meth:`EPaxos.dump` of all instances.

Known limits: instances are never garbage-collected (the state grows with the history);
``txn`` commands interfere through every key they name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from paxos_impl import limits
from paxos_impl import messages as M
from paxos_impl.epaxos_exec import execution_order
from paxos_impl.limits import encoded_size
from paxos_impl.messages import Ballot, ballot_of, wire_ballot
from paxos_impl.proposer import CommandQueue, Handler, ProposerHost, QuietHooks, ignore

Iid = tuple[int, int]  # (command leader, instance number)

NONE, PREACCEPTED, ACCEPTED, COMMITTED = 0, 1, 2, 3  # instance status, in order
MAX_RECOVERIES = 32  # explicit prepares in flight at once (a restarted node may need many)


@dataclass
class Inst:
    """One instance as this replica knows it (the durable part; see the module docstring)."""

    ballot: Ballot  # the highest ballot promised for it
    status: int = NONE
    vballot: Ballot = (0, -1)  # the ballot at which cmds/seq/deps were set
    cmds: list = field(default_factory=list)
    seq: int = 0
    deps: list[Iid] = field(default_factory=list)
    eq: bool = False  # pre-accepted with the command leader's attributes unchanged
    executed: int = 0  # the local slot it was executed in (0: not executed)

    def record(self, iid: Iid) -> dict:
        return {
            "t": "ep",
            "i": list(iid),
            "b": wire_ballot(self.ballot),
            "s": self.status,
            "vb": wire_ballot(self.vballot),
            "c": self.cmds,
            "q": self.seq,
            "d": [list(d) for d in self.deps],
            "eq": self.eq,
        }

    @staticmethod
    def load(rec: dict) -> Inst:
        return Inst(
            ballot=(rec["b"][0], rec["b"][1]),
            status=rec["s"],
            vballot=(rec["vb"][0], rec["vb"][1]),
            cmds=rec["c"],
            seq=rec["q"],
            deps=[(d[0], d[1]) for d in rec["d"]],
            eq=rec["eq"],
        )


@dataclass
class Lead:
    """An instance this replica is driving: as its command leader or as a recoverer."""

    ballot: Ballot
    phase: str  # "prepare", "preaccept", "accept"
    deadline: float
    cmds: list = field(default_factory=list)
    seq: int = 0
    deps: list[Iid] = field(default_factory=list)
    replies: dict[int, dict] = field(default_factory=dict)
    all_eq: bool = True
    fast_until: float = 0.0  # pre-accept: wait this long for a fast quorum once a majority is in


# -- the mode's messages, checked by the core's one validation path (messages.validate) ------
def _iid(v: Any) -> bool:
    return (
        isinstance(v, list)
        and len(v) == 2
        and all(isinstance(x, int) and not isinstance(x, bool) for x in v)
        and v[0] >= 0
        and v[1] >= 1
    )


_KINDS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "nat": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
    "batch": M.is_batch,
    "deps": lambda v: isinstance(v, list) and all(_iid(d) for d in v),
    "ballot": M.is_ballot,
}


def _check(m: dict, *, ballot: bool = True, attrs: bool = False, **kinds: str) -> None:
    def fail(why: str) -> M.ProtocolError:
        return M.ProtocolError(f"malformed {m['type']} message: {why}")

    if ballot and not M.is_ballot(m.get("ballot")):
        raise fail("ballot must be [round, node]")
    if not _iid(m.get("inst")):
        raise fail("inst must be [leader, number >= 1]")
    if attrs:
        kinds = {"cmds": "batch", "seq": "nat", "deps": "deps", **kinds}
    for k, kind in kinds.items():
        good = _KINDS[kind](m.get(k))
        if not good:
            raise fail(f"bad {k}")
    if kinds.get("status") == "nat" and m["status"] > COMMITTED:
        raise fail("bad status")


M.register(
    {
        "ep_preaccept": lambda m: _check(m, attrs=True),
        "ep_preaccept_ok": lambda m: _check(m, ok="bool", seq="nat", deps="deps"),
        "ep_accept": lambda m: _check(m, attrs=True),
        "ep_accept_ok": lambda m: _check(m, ok="bool"),
        "ep_commit": lambda m: _check(m, ballot=False, attrs=True),
        "ep_prepare": lambda m: _check(m),
        "ep_prepare_ok": lambda m: _check(
            m, attrs=True, ok="bool", status="nat", vballot="ballot", eq="bool"
        ),
    }
)


def keys_of(cmds: list) -> set:
    """The keys a batch touches: what interference is decided on."""
    out: set = set()
    for c in cmds:
        if c.get("op") == "txn" and isinstance(c.get("value"), list):
            out.update(m[1] for m in c["value"] if isinstance(m, list) and len(m) > 1)
        else:
            out.add(c.get("key"))
    return out


def fast_quorum(n: int, bugged: bool = False) -> int:
    """Replicas (command leader included) that must pre-accept unchanged for a fast commit."""
    if bugged:  # BUG(epaxos-small-fast-quorum): F replicas do not meet every other quorum
        return max(1, (n - 1) // 2)
    return max(n - 1, n // 2 + 1)


class EPaxos(CommandQueue, QuietHooks):
    """Every node leads its own clients' batches; agreement is on their dependencies."""

    per_slot = True  # the core's acceptor and its slot commit are not used by this mode

    def __init__(self, r: ProposerHost) -> None:
        self.r = r
        cfg = r.cfg
        self.n = cfg.n
        self.f = (self.n - 1) // 2
        self.majority = self.n // 2 + 1
        self.fq = fast_quorum(self.n, cfg.has_bug("epaxos-small-fast-quorum"))
        t = cfg.timeouts
        self.attempt_s = t.election_min_ms / 1000
        self.fast_wait_s = t.heartbeat_ms / 1000
        self.inst: dict[Iid, Inst] = {}
        self.conf: dict[Any, dict[int, int]] = {}  # key -> replica -> its latest instance
        self.maxseq: dict[Any, int] = {}  # key -> highest seq seen
        self.next_i = 1
        self.leads: dict[Iid, Lead] = {}
        self.pending: dict[Iid, float] = {}  # uncommitted instances we need -> recover at
        # committed instances whose execution waits for an instance to commit (by that one)
        self.blocked: dict[Iid, set[Iid]] = {}
        self.queue: list[dict] = []
        self.active: set[tuple[str, int]] = set()
        self.handlers: dict[str, Handler] = {
            "ep_preaccept": self._on_preaccept,
            "ep_preaccept_ok": self._on_preaccept_ok,
            "ep_accept": self._on_accept,
            "ep_accept_ok": self._on_accept_ok,
            "ep_commit": self._on_commit,
            "ep_prepare": self._on_prepare,
            "ep_prepare_ok": self._on_prepare_ok,
            "heartbeat": ignore,
            "heartbeat_ok": ignore,
        }

    # == durable state: restore, dump ========================================================
    def restore(self, snap: dict | None, records: list[dict]) -> None:
        """Rebuild the instances from the snapshot's dump and the records after it; an
        instance counts as executed only if the learner still has its slot."""
        if snap:
            for rec in snap.get("inst", []):
                inst = Inst.load(rec)
                inst.executed = rec.get("x", 0)
                self.inst[(rec["i"][0], rec["i"][1])] = inst
        for rec in records:
            if rec.get("t") == "ep":
                iid = (rec["i"][0], rec["i"][1])
                old = self.inst.get(iid)
                inst = Inst.load(rec)
                inst.executed = old.executed if old else 0
                self.inst[iid] = inst
            elif rec.get("t") == "ep_x":
                for slot, a, i in rec["x"]:
                    if (a, i) in self.inst:
                        self.inst[(a, i)].executed = slot
        applied = self.r.applied_index
        for iid, inst in self.inst.items():
            if inst.executed > applied:
                inst.executed = 0
            if inst.status >= PREACCEPTED:
                self._note(iid, inst)
            if inst.status < COMMITTED:
                self.pending[iid] = 0.0
            if iid[0] == self.r.id:
                self.next_i = max(self.next_i, iid[1] + 1)

    def dump(self) -> dict:
        out = []
        for iid, inst in sorted(self.inst.items()):
            rec = inst.record(iid)
            rec["x"] = inst.executed
            out.append(rec)
        return {"inst": out}

    def _save(self, iid: Iid, inst: Inst) -> None:
        self.inst[iid] = inst
        self.r.persist(inst.record(iid))

    # == status and hooks ====================================================================
    def role_and_leader(self) -> tuple[str, int | None]:
        return "leader", self.r.id  # every node leads its own clients' commands

    def current_ballot(self) -> Ballot:
        return self.r.promised

    def on_chosen(self, slot: int, batch: list) -> None:
        return None

    def on_compacted(self, upto: int) -> None:
        return None

    def after_apply(self) -> None:
        """Unlike CommandQueue's: ``active`` also holds commands already in an instance (the
        queue empties at every step), so a retry of one in flight is not proposed again."""
        r = self.r
        self.active = {k for k in self.active if r.result_of(*k) is None and k in r.waiting}

    def start(self) -> None:
        self._execute(
            [iid for iid, x in self.inst.items() if x.status == COMMITTED and not x.executed]
        )

    def rebase(self, delta: float) -> None:
        for lead in self.leads.values():
            lead.deadline += delta
            if lead.fast_until:
                lead.fast_until += delta
        self.pending = {k: t + delta for k, t in self.pending.items()}

    def next_tick(self) -> float | None:
        ts = [lead.deadline for lead in self.leads.values()]
        ts += [lead.fast_until for lead in self.leads.values() if lead.fast_until]
        if self._recoveries() < MAX_RECOVERIES:  # else the next one waits for a free place
            ts += [t for k, t in self.pending.items() if k not in self.leads]
        return min(ts, default=None)

    def _recoveries(self) -> int:
        return sum(1 for lead in self.leads.values() if lead.phase == "prepare")

    def tick(self) -> None:
        r = self.r
        for iid, lead in list(self.leads.items()):
            if r.now >= lead.deadline:
                del self.leads[iid]  # lost messages or a higher ballot: recover it later
                self.pending.setdefault(iid, r.now + self._backoff())
            elif lead.fast_until and r.now >= lead.fast_until:
                lead.fast_until = 0.0
                if lead.phase == "preaccept" and len(lead.replies) + 1 >= self.majority:
                    self._slow_path(iid, lead)
        busy = self._recoveries()
        for iid, due in sorted(self.pending.items()):
            if busy >= MAX_RECOVERIES:
                break
            known = self.inst.get(iid)
            if known is not None and known.status >= COMMITTED:
                del self.pending[iid]
                continue
            if iid not in self.leads and r.now >= due:
                self._recover(iid)
                busy += 1

    def before_finish(self) -> None:
        r = self.r
        budget = limits.batch_budget(r.cfg.max_frame_bytes)
        while self.queue:
            k = limits.take_batch(self.queue, r.cfg.max_batch, budget, encoded_size)
            batch, self.queue = self.queue[:k], self.queue[k:]
            self._propose(batch)

    # == attributes ==========================================================================
    def _note(self, iid: Iid, inst: Inst) -> None:
        """Remember ``iid`` as the latest instance of its leader on each key it touches."""
        a, i = iid
        for k in keys_of(inst.cmds):
            c = self.conf.setdefault(k, {})
            if c.get(a, 0) < i:
                c[a] = i
            if self.maxseq.get(k, 0) < inst.seq:
                self.maxseq[k] = inst.seq

    def _attributes(self, iid: Iid, cmds: list, seq: int, deps: list[Iid]) -> tuple[int, list]:
        """``seq`` and ``deps`` merged with what this replica knows interferes with ``cmds``."""
        a, i = iid
        got = set(deps)
        if i > 1:
            got.add((a, i - 1))
        for k in keys_of(cmds):
            for b, j in self.conf.get(k, {}).items():
                if (b, j) != iid and not (b == a and j > i):
                    got.add((b, j))
            seq = max(seq, self.maxseq.get(k, 0) + 1)
        return seq, sorted(got)

    # == command leader ======================================================================
    def _propose(self, batch: list) -> None:
        r = self.r
        iid = (r.id, self.next_i)
        self.next_i += 1
        b = (0, r.id)
        seq, deps = self._attributes(iid, batch, 1, [])
        self._save(iid, Inst(b, PREACCEPTED, b, batch, seq, deps, eq=True))
        self._note(iid, self.inst[iid])
        lead = Lead(b, "preaccept", r.now + self.attempt_s, batch, seq, deps)
        self.leads[iid] = lead
        self.pending[iid] = lead.deadline + self._backoff()
        self._send_preaccept(iid, lead)
        if self.fq <= 1:
            self._commit(iid, lead)

    def _send_preaccept(self, iid: Iid, lead: Lead) -> None:
        self.r.broadcast(
            M.msg(
                "ep_preaccept",
                ballot=lead.ballot,
                inst=list(iid),
                cmds=lead.cmds,
                seq=lead.seq,
                deps=[list(d) for d in lead.deps],
            )  # fmt: skip
        )

    def _on_preaccept_ok(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        lead = self.leads.get(iid)
        if lead is None or lead.phase != "preaccept" or ballot_of(m) != lead.ballot:
            return
        if not m["ok"]:
            self._give_up(iid)
            return
        lead.replies[src] = m
        deps = [(d[0], d[1]) for d in m["deps"]]
        if m["seq"] != lead.seq or deps != lead.deps:
            lead.all_eq = False
        fast = lead.ballot == (0, self.r.id)
        if fast and lead.all_eq and len(lead.replies) + 1 >= self.fq:
            if self._still_ours(iid, lead):
                self._commit(iid, lead)
            return
        if len(lead.replies) + 1 >= self.majority:
            if not fast or not lead.all_eq:
                self._slow_path(iid, lead)
            elif not lead.fast_until:
                lead.fast_until = self.r.now + self.fast_wait_s

    def _slow_path(self, iid: Iid, lead: Lead) -> None:
        seq, deps = lead.seq, set(lead.deps)
        for m in lead.replies.values():
            seq = max(seq, m["seq"])
            deps.update((d[0], d[1]) for d in m["deps"])
        lead.seq, lead.deps = seq, sorted(deps)
        self._send_accept(iid, lead)

    def _send_accept(self, iid: Iid, lead: Lead) -> None:
        lead.phase, lead.replies, lead.fast_until = "accept", {}, 0.0
        self.r.broadcast(
            M.msg(
                "ep_accept",
                ballot=lead.ballot,
                inst=list(iid),
                cmds=lead.cmds,
                seq=lead.seq,
                deps=[list(d) for d in lead.deps],
            ),  # fmt: skip
            include_self=True,
        )

    def _on_accept_ok(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        lead = self.leads.get(iid)
        if lead is None or lead.phase != "accept" or ballot_of(m) != lead.ballot:
            return
        if not m["ok"]:
            self._give_up(iid)
            return
        lead.replies[src] = m
        if len(lead.replies) >= self.majority and self._still_ours(iid, lead):
            self._commit(iid, lead)

    def _still_ours(self, iid: Iid, lead: Lead) -> bool:
        """A leader decides only while its own replica has promised nothing higher."""
        inst = self.inst.get(iid)
        if inst is not None and inst.ballot != lead.ballot:
            self._give_up(iid)
            return False
        return True

    def _give_up(self, iid: Iid) -> None:
        self.leads.pop(iid, None)
        self.pending.setdefault(iid, self.r.now + self._backoff())

    def _commit(self, iid: Iid, lead: Lead) -> None:
        self.leads.pop(iid, None)
        self.r.broadcast(
            M.msg(
                "ep_commit",
                inst=list(iid),
                cmds=lead.cmds,
                seq=lead.seq,
                deps=[list(d) for d in lead.deps],
            )  # fmt: skip
        )
        self._committed(iid, lead.cmds, lead.seq, lead.deps)

    def _backoff(self) -> float:
        return self.attempt_s * self.r.rng.uniform(1.0, 2.0)

    # == replica (acceptor) side =============================================================
    def _on_preaccept(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        b = ballot_of(m)
        inst = self.inst.get(iid)
        if inst is not None and (b < inst.ballot or inst.status >= ACCEPTED):
            self.r.send(src, self._preaccept_ok(iid, b, False, 0, []))
            return
        cmds = m["cmds"]
        deps0 = sorted((d[0], d[1]) for d in m["deps"])
        seq, deps = self._attributes(iid, cmds, m["seq"], deps0)
        eq = seq == m["seq"] and deps == deps0
        new = Inst(b, PREACCEPTED, b, cmds, seq, deps, eq=eq)
        self._save(iid, new)
        self._note(iid, new)
        self.r.send(src, self._preaccept_ok(iid, b, True, seq, deps))

    @staticmethod
    def _preaccept_ok(iid: Iid, b: Ballot, ok: bool, seq: int, deps: list[Iid]) -> dict:
        return M.msg("ep_preaccept_ok", ballot=b, inst=list(iid), ok=ok, seq=seq,
                     deps=[list(d) for d in deps])  # fmt: skip

    def _on_accept(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        b = ballot_of(m)
        inst = self.inst.get(iid)
        ok = inst is None or (b >= inst.ballot and inst.status < COMMITTED)
        if ok:
            deps = sorted((d[0], d[1]) for d in m["deps"])
            new = Inst(b, ACCEPTED, b, m["cmds"], m["seq"], deps)
            self._save(iid, new)
            self._note(iid, new)
        self.r.send(src, M.msg("ep_accept_ok", ballot=b, inst=list(iid), ok=ok))

    def _on_commit(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        deps = sorted((d[0], d[1]) for d in m["deps"])
        self._committed(iid, m["cmds"], m["seq"], deps)

    def _committed(self, iid: Iid, cmds: list, seq: int, deps: list[Iid]) -> None:
        inst = self.inst.get(iid)
        if inst is not None and inst.status >= COMMITTED:
            self.pending.pop(iid, None)
            self.leads.pop(iid, None)
            return
        ballot = inst.ballot if inst is not None else (0, iid[0])
        new = Inst(ballot, COMMITTED, ballot, cmds, seq, deps)
        self._save(iid, new)
        self._note(iid, new)
        self.pending.pop(iid, None)
        self.leads.pop(iid, None)
        self._execute([iid, *self.blocked.pop(iid, ())])

    # == explicit prepare (recovery) =========================================================
    def _recover(self, iid: Iid) -> None:
        r = self.r
        b = r.next_ballot()
        self.leads[iid] = Lead(b, "prepare", r.now + self.attempt_s)
        self.pending[iid] = r.now + self.attempt_s + self._backoff()
        r.broadcast(M.msg("ep_prepare", ballot=b, inst=list(iid)), include_self=True)

    def _on_prepare(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        b = ballot_of(m)
        inst = self.inst.get(iid)
        if inst is None:
            inst = Inst((0, iid[0]))
        ok = b > inst.ballot
        if ok:
            inst.ballot = b
            self._save(iid, inst)
        self.r.send(
            src,
            M.msg(
                "ep_prepare_ok",
                ballot=b,
                inst=list(iid),
                ok=ok,
                status=inst.status,
                vballot=wire_ballot(inst.vballot),
                cmds=inst.cmds,
                seq=inst.seq,
                deps=[list(d) for d in inst.deps],
                eq=inst.eq,
            ),  # fmt: skip
        )

    def _on_prepare_ok(self, src: int, m: dict) -> None:
        iid = (m["inst"][0], m["inst"][1])
        lead = self.leads.get(iid)
        if lead is None or lead.phase != "prepare" or ballot_of(m) != lead.ballot:
            return
        if not m["ok"]:
            self._give_up(iid)
            return
        lead.replies[src] = m
        if len(lead.replies) < self.majority:
            return
        self._decide_recovery(iid, lead)

    def _decide_recovery(self, iid: Iid, lead: Lead) -> None:
        """The recovery rule of the module docstring, case by case."""
        replies = list(lead.replies.items())
        leader, i = iid

        def attrs(m: dict) -> tuple[list, int, list[Iid]]:
            return m["cmds"], m["seq"], sorted((d[0], d[1]) for d in m["deps"])

        done = [m for _, m in replies if m["status"] >= COMMITTED]
        if done:
            lead.cmds, lead.seq, lead.deps = attrs(done[0])
            self._commit(iid, lead)
            return
        acc = [m for _, m in replies if m["status"] == ACCEPTED]
        if acc:
            best = max(acc, key=lambda m: (m["vballot"][0], m["vballot"][1]))
            lead.cmds, lead.seq, lead.deps = attrs(best)
            self._send_accept(iid, lead)
            return
        pre = [(s, m) for s, m in replies if m["status"] == PREACCEPTED]
        if self.r.cfg.has_bug("epaxos-recovery-ignores-preaccept"):
            pre = []  # BUG(epaxos-recovery-ignores-preaccept): a fast commit may hide there
        initial = [0, leader]
        eqs = [m for s, m in pre if s != leader and m["eq"] and m["vballot"] == initial]
        leader_answered = any(s == leader for s, _ in pre)
        if eqs and len(eqs) >= self.f and not leader_answered:
            lead.cmds, lead.seq, lead.deps = attrs(eqs[0])
            self._send_accept(iid, lead)
            return
        if pre:
            cmds = pre[0][1]["cmds"]
            lead.cmds = cmds
            lead.seq, lead.deps = self._attributes(iid, cmds, 1, [])
            for _, m in pre:
                lead.seq = max(lead.seq, m["seq"])
                lead.deps = sorted(set(lead.deps) | {(d[0], d[1]) for d in m["deps"]})
            lead.phase, lead.replies, lead.all_eq = "preaccept", {}, False
            lead.deadline = self.r.now + self.attempt_s
            self._pre_accept_locally(iid, lead)
            self._send_preaccept(iid, lead)
            return
        lead.cmds, lead.seq, lead.deps = [], 0, ([(leader, i - 1)] if i > 1 else [])
        self._send_accept(iid, lead)

    def _pre_accept_locally(self, iid: Iid, lead: Lead) -> None:
        inst = self.inst.get(iid)
        if inst is not None and inst.status >= ACCEPTED:
            return
        new = Inst(lead.ballot, PREACCEPTED, lead.ballot, lead.cmds, lead.seq, lead.deps)
        self._save(iid, new)
        self._note(iid, new)

    # == execution ===========================================================================
    def _execute(self, roots: list[Iid]) -> None:
        """Execute ``roots`` (newly committed instances, or ones that waited for one) and
        what they depend on, once their whole dependency graph is committed. A root that
        must wait is parked under the first instance it waits for and tried again when that
        one commits, so no commit re-walks every waiting graph."""
        r = self.r
        skip = r.cfg.has_bug("epaxos-execute-uncommitted")
        for root in sorted(roots):
            inst = self.inst.get(root)
            if inst is None or inst.status < COMMITTED or inst.executed:
                continue
            # BUG(epaxos-execute-uncommitted): ``skip`` runs a command before its deps commit
            order, missing = execution_order(root, self._node, skip_uncommitted=skip)
            if order is None:
                self.blocked.setdefault(missing[0], set()).add(root)
                for w in missing:
                    self.pending.setdefault(w, r.now + self._backoff())
                continue
            for comp in order:
                comp.sort(key=lambda w: (self.inst[w].seq, w))
                for w in comp:
                    inst = self.inst[w]
                    slot = r.max_chosen + 1
                    inst.executed = slot
                    if inst.cmds:
                        r.persist({"t": "ep_x", "x": [[slot, w[0], w[1]]]})
                        r.learn(slot, inst.cmds)
                    else:
                        inst.executed = -1  # a no-op: nothing to apply

    def _node(self, iid: Iid) -> tuple[str, list[Iid]]:
        """What execution needs of an instance: "done", "ready" with its deps, or "wait"."""
        inst = self.inst.get(iid)
        if inst is None or inst.status < COMMITTED:
            return "wait", []
        if inst.executed:
            return "done", []
        return "ready", inst.deps
