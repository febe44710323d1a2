"""Who votes for which slot: membership changes chosen through the log (Lamport's alpha window).

A configuration change is a client command (``op: "reconfig"``) chosen in a slot like any
other. Chosen at slot ``s``, it governs slots ``s + alpha`` and later; slots before that keep
the configuration they had. This is the scheme of "Paxos Made Simple" (section 3), and we
chose it over joint consensus because it needs no second kind of quorum and no second phase:
every slot has exactly one configuration, fixed by the log itself, so a proposer that knows
the first ``s`` slots knows the voters of every slot up to ``s + alpha``. The price is the
window: a leader may open slot ``t`` only once every slot ``<= t - alpha`` is chosen and
applied here (``alpha`` is ``max_inflight``, so the window is the pipeline it already had),
and after a change it fills the window with no-ops so the change takes effect at once.

The state here is kept apart from the key-value :class:`~paxos_impl.statemachine.StateMachine`
on purpose: a user's state machine never sees a ``reconfig`` command and cannot break
membership. It has its own de-duplication (a retried change is applied once) and travels in
snapshots next to the state machine's dump.

Roles: a *voter* is counted in phase-1 and phase-2 quorums of the slots its configuration
governs; a *learner* receives accepts and chosen values, applies and snapshots them, and is
never counted. Changes:

``add N ADDR``       N joins as a learner (ADDR: ``[host, peer_port, client_port]``)
``promote N``        learner N becomes a voter (the leader checks it has caught up)
``remove N``         voter or learner N leaves (the leader hands over if N is the leader)
``replace OLD NEW``  learner NEW becomes a voter and voter OLD leaves, in one change
``quorum Q1 Q2``     the phase-1 and phase-2 quorum sizes of the current voters (flexible
                     quorums): refused unless ``Q1 + Q2 > N`` (or ``unsafe_quorums``)

Quorum sizes belong to a configuration like its voters: set through the log, in effect from
``s + alpha``, and per slot, so a slot's phase-1 and phase-2 quorums are always counted among
the same voters with the same sizes (the intersection argument is then the usual one). They
are sizes for *these* voters: a change of the voters (promote, remove, replace) goes back to
majorities, and adding or removing a learner keeps them.

Every replica applies the same commands in the same order and decides the same way, so a
change that cannot apply (unknown node, another change not yet in effect, no voters left) is
refused deterministically with a definite error and changes nothing.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

ACTIONS = ("add", "remove", "promote", "replace", "quorum")
Address = list  # [host, peer_port, client_port]


@dataclass(frozen=True)
class Conf:
    """One configuration: voters, learners and quorum sizes, effective from slot ``start``."""

    start: int
    voters: tuple[int, ...]
    learners: tuple[int, ...]
    q1: int = 0  # phase-1 quorum size (0: a majority of the voters)
    q2: int = 0  # phase-2 quorum size (0: a majority of the voters)

    def sizes(self) -> tuple[int, int]:
        """(phase-1, phase-2) quorum sizes: the explicit ones, else majorities."""
        majority = len(self.voters) // 2 + 1
        return self.q1 or majority, self.q2 or majority

    def members(self) -> tuple[int, ...]:
        return tuple(sorted(self.voters + self.learners))


def refusal(code: str, reason: str) -> dict:
    """A definite refusal: the change was not made (a client may try another)."""
    return {"ok": False, "error": code, "leader": None, "reason": reason}


def check_value(v: Any) -> str | None:
    """Why a reconfig command's value is malformed (None if it is well formed)."""
    if not isinstance(v, dict) or v.get("action") not in ACTIONS:
        return f"reconfig value must be {{action: {'|'.join(ACTIONS)}, node, ...}}"
    if v["action"] == "quorum":
        if not all(_nat(v.get(k)) and v[k] >= 1 for k in ("q1", "q2")):
            return "reconfig quorum needs q1 and q2: positive integers"
        return None
    if not _nat(v.get("node")):
        return "reconfig node must be a non-negative integer"
    if v["action"] == "add" and not is_address(v.get("addr")):
        return "reconfig add needs addr [host, peer_port, client_port]"
    if v["action"] == "replace" and (not _nat(v.get("with")) or v["with"] == v["node"]):
        return "reconfig replace needs with: the learner that takes the node's place"
    return None


def is_address(a: Any) -> bool:
    return (
        isinstance(a, list)
        and len(a) == 3
        and isinstance(a[0], str)
        and 0 < len(a[0]) <= 255
        and all(_nat(p) and 0 < p < 65536 for p in a[1:])
    )


def parse_address(text: str) -> Address | None:
    """``HOST:PEER_PORT:CLIENT_PORT`` as ``[host, peer_port, client_port]`` (None: not one)."""
    rest, _, client = text.rpartition(":")
    host, _, peer = rest.rpartition(":")
    try:
        addr = [host, int(peer), int(client)]
    except ValueError:
        return None
    return addr if is_address(addr) else None


def _nat(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


class Membership:
    """The configurations of every slot this replica may still act on, and node addresses.

    ``confs`` is sorted by ``start``; the configuration of slot ``t`` is the last one that
    starts at or before ``t``. Configurations wholly below the applied prefix are dropped.
    """

    def __init__(
        self,
        voters: list[int],
        alpha: int,
        addrs: dict[int, Address],
        quorum: tuple[int, int],
        unsafe_quorums: bool = False,
    ) -> None:
        self.alpha = max(1, alpha)
        # the configuration file's (phase-1, phase-2) sizes (0: majority) are the first
        # configuration's; later ones set their own (``quorum``) or use majorities
        self.genesis_quorum = quorum
        self.confs: list[Conf] = [Conf(1, tuple(sorted(voters)), (), *quorum)]
        self.addrs: dict[int, Address] = {int(k): list(v) for k, v in addrs.items()}
        self.unsafe_quorums = unsafe_quorums  # as the configuration file: overlap not checked
        self.dedup: dict[str, list[Any]] = {}  # client id -> [seq, result], as the SM does
        self.version = 0  # bumped on every applied change (the node opens links on it)

    # -- queries ---------------------------------------------------------------------------
    def at(self, slot: int) -> Conf:
        """The configuration that governs ``slot`` (known once slot - alpha is applied)."""
        i = bisect.bisect_right([c.start for c in self.confs], slot) - 1
        return self.confs[max(i, 0)]

    def quorums(self, conf: Conf) -> tuple[int, int]:
        """(phase-1, phase-2) quorum sizes of ``conf``."""
        return conf.sizes()

    @property
    def latest(self) -> Conf:
        return self.confs[-1]

    def pending(self, applied: int) -> bool:
        """A change is chosen but not yet in effect for the next slot."""
        return self.latest.start > applied + 1

    def reach(self, applied: int) -> list[int]:
        """Every node a proposer must talk to for slots after ``applied``."""
        ids: set[int] = set()
        for c in self.confs:
            if c is self.latest or c.start > applied or c is self.at(applied + 1):
                ids.update(c.voters, c.learners)
        return sorted(ids)

    def known(self) -> set[int]:
        """Every node id this replica has an address for (messages from others are refused)."""
        return set(self.addrs) | {i for c in self.confs for i in c.voters + c.learners}

    def view(self) -> dict:
        """What ``paxos-client members`` shows: the latest configuration and addresses."""
        c = self.latest
        return {
            "voters": list(c.voters),
            "learners": list(c.learners),
            "quorums": list(c.sizes()),
            "effective": c.start,
            "alpha": self.alpha,
            "nodes": {str(i): self.addrs[i] for i in c.members() if i in self.addrs},
        }

    # -- applying a chosen change ------------------------------------------------------------
    def lookup(self, cid: str, seq: int) -> dict | None:
        last = self.dedup.get(cid)
        return last[1] if last is not None and last[0] == seq else None

    def apply(self, slot: int, cmd: dict) -> dict:
        """Apply the change chosen at ``slot``: effective from ``slot + alpha``."""
        done = self.lookup(cmd["client_id"], cmd["seq"])
        if done is not None:
            return done
        res = self._apply(slot, cmd["value"])
        self.dedup[cmd["client_id"]] = [cmd["seq"], res]
        return res

    def _apply(self, slot: int, v: Any) -> dict:
        why = self.refuse(v, slot - 1)
        if why is not None:
            return why
        if v["action"] == "add":
            self.addrs[v["node"]] = list(v["addr"])
        self.confs.append(self.successor(v, slot + self.alpha))
        self.version += 1
        return {"ok": True, "value": self.view()}

    def successor(self, v: dict, start: int) -> Conf:
        """The configuration the well-formed change ``v`` makes of the latest one."""
        c = self.latest
        voters, learners = set(c.voters), set(c.learners)
        a, n = v["action"], v.get("node")
        if a == "quorum":
            return Conf(start, c.voters, c.learners, v["q1"], v["q2"])
        if a == "add":
            learners.add(n)
        elif a == "promote":
            learners.discard(n)
            voters.add(n)
        elif a == "remove":
            voters.discard(n)
            learners.discard(n)
        else:  # replace
            voters.discard(n)
            learners.discard(v["with"])
            voters.add(v["with"])
        new = tuple(sorted(voters))
        # sizes were chosen for these voters: other voters go back to majorities
        q1, q2 = (c.q1, c.q2) if new == c.voters else (0, 0)
        return Conf(start, new, tuple(sorted(learners)), q1, q2)

    def refuse(self, v: Any, applied: int) -> dict | None:
        """Why the change ``v`` cannot be made after slot ``applied`` (None: it can)."""
        why = check_value(v)
        if why is not None:
            return refusal("bad_request", why)
        if self.pending(applied):
            return refusal("reconfig_in_progress", "another membership change is not yet in effect")
        c = self.latest
        if v["action"] == "quorum":
            return self._refuse_sizes(v["q1"], v["q2"], len(c.voters))
        a, n = v["action"], v["node"]
        if a == "add" and n in c.members():
            return refusal("bad_request", f"node {n} is already a member")
        if a == "promote" and n not in c.learners:
            return refusal("bad_request", f"node {n} is not a learner")
        if a in ("remove", "replace") and n not in c.members():
            return refusal("bad_request", f"node {n} is not a member")
        if a == "replace" and (n not in c.voters or v["with"] not in c.learners):
            return refusal("bad_request", "replace takes a voter and a learner")
        if a == "remove" and c.voters == (n,):
            return refusal("no_quorum", "removing the last voter leaves no quorum")
        return None

    def _refuse_sizes(self, q1: int, q2: int, n: int) -> dict | None:
        """The configuration file's rules for quorum sizes, applied to ``n`` voters."""
        if q1 > n or q2 > n:
            return refusal("bad_request", f"quorum sizes must be within 1..{n}")
        if q1 + q2 <= n and not self.unsafe_quorums:
            return refusal(
                "bad_request",
                f"phase-1 and phase-2 quorums must overlap: {q1} + {q2} <= {n}"
                " (unsafe_quorums = true permits it on purpose)",
            )
        return None

    def compact(self, applied: int) -> None:
        """Forget configurations no slot after ``applied`` can use."""
        keep = self.at(applied + 1)
        self.confs = [c for c in self.confs if c.start >= keep.start]

    # -- durability ---------------------------------------------------------------------------
    def dump(self) -> dict:
        return {
            "alpha": self.alpha,
            "confs": [[c.start, list(c.voters), list(c.learners), c.q1, c.q2] for c in self.confs],
            "addrs": {str(i): a for i, a in sorted(self.addrs.items())},
            "dedup": self.dedup,
            "version": self.version,
        }

    def _conf(self, c: list) -> Conf:
        """A dumped configuration; one without sizes (written before they were part of it)
        has the first configuration's from the file, and majorities after that."""
        if len(c) == 5:
            return Conf(c[0], tuple(c[1]), tuple(c[2]), c[3], c[4])
        q = self.genesis_quorum if c[0] == 1 else (0, 0)
        return Conf(c[0], tuple(c[1]), tuple(c[2]), *q)

    def load(self, d: dict) -> None:
        """Take the state of a snapshot (ours, or a peer's for a prefix we install)."""
        self.confs = [self._conf(c) for c in d["confs"]]
        self.addrs.update({int(k): list(a) for k, a in d["addrs"].items()})
        self.dedup = {k: list(e) for k, e in d["dedup"].items()}
        self.version = max(self.version + 1, d.get("version", 0))


def is_dump(d: Any) -> bool:
    """A membership dump as a peer may send it in a snapshot (checked before use)."""
    if not isinstance(d, dict):
        return False
    confs, addrs, dedup = d.get("confs"), d.get("addrs"), d.get("dedup")
    return (
        isinstance(confs, list)
        and len(confs) >= 1
        and all(
            isinstance(c, list)
            and len(c) in (3, 5)
            and all(_nat(q) for q in c[3:])
            and _nat(c[0])
            and isinstance(c[1], list)
            and len(c[1]) >= 1
            and all(_nat(x) for x in c[1])
            and isinstance(c[2], list)
            and all(_nat(x) for x in c[2])
            for c in confs
        )
        and isinstance(addrs, dict)
        and all(isinstance(k, str) and k.isdigit() and is_address(a) for k, a in addrs.items())
        and isinstance(dedup, dict)
        and all(
            isinstance(k, str) and isinstance(e, list) and len(e) == 2 for k, e in dedup.items()
        )
    )
