"""Membership changes while the store serves: grow, shrink, replace a node, replace the leader.

Each fault is one change of the store's membership, done the way an operator would: the
backend creates the new host first (``cluster.capabilities.Grow``), the node program starts
on it and joins, the store adds it as a learner and promotes it (or lets it take a voter's
place) once it has caught up; a node leaves the store first and its host is deleted only
after the store has let it go (the removal chosen, and the node no longer leading). The
cluster's size moves between ``min_size`` and ``max_size`` (by default one below and two
above the size the run started with): a kind that would cross a bound does the opposite
change instead, so every fault is a real change.

Two kinds run only when named. ``learners`` adds learners (up to ``max_size``) for the
length of the fault and removes them at its end. ``learners-cut`` adds them the first time
and keeps them for the run, and each fault cuts the network so that the leader sits with the
learners and every other voter is on the other side (its end heals the network): the one
partition where a leader that counts learners' accepts (the deliberate bug
``learner-quorum``) commits alone while the voters elect another leader. Adding hosts takes
seconds on docker (10-20 s for two on a busy machine), so a separate partition nemesis rarely
lands on that shape by chance, and adding them again for every fault left one cut per run,
often after the load had stopped; here the learners are in place before every cut.
``removed-cut`` is its twin for nodes that left: the first time it removes two voters from
the store but keeps their hosts running (the size bounds do not apply), and each fault cuts
the leader off together with them from the remaining voters (a leader that still counts a
removed node, the deliberate bug ``removed-node-votes``, commits alone); the final heal
deletes their hosts, so the run's last reads come from members only. ``quorum`` sets the flexible
quorum sizes of the current voters (a target with ``targets.base.QuorumSizes``): from
majorities to a pair with ``Q1 + Q2 = N + 1`` and ``Q1 < N`` (one voter down still lets a
leader be elected), and back to majorities the next time.

A change the store refuses (another one in flight, no live quorum, a learner not caught up)
is recorded as such with its error; one whose outcome is unknown is looked up in the
store's membership afterwards. The changes are permanent: ``stop`` only closes the band in
the report, and ``heal`` deletes hosts the store never took in.
"""

from __future__ import annotations

from typing import Any

from cluster.base import store_id
from cluster.capabilities import Grow, Partition
from nemesis.base import (
    FaultContext,
    Nemesis,
    NemesisError,
    find_leader,
    leader_or_random,
    majority,
    on_each,
)
from nemesis.partition import complete_grudge
from targets.base import QuorumSizes, ReconfigError, Reconfigurable

CATCH_UP_S = 15.0  # a learner gets this long to catch up before it is promoted
LET_GO_S = 5.0  # a removed leader gets this long to hand over before its host goes


class MembershipNemesis(Nemesis):
    name = "membership"
    KINDS = ("grow", "shrink", "replace", "replace-leader")
    # run only when named: learners (up to max_size) for the fault's length, removed at stop
    EXTRA_KINDS = ("learners", "learners-cut", "removed-cut", "quorum")
    CAPABILITY = "membership"

    def requires(self, capabilities: set[str], final: bool = True) -> set[str]:
        cuts = {"learners-cut", "removed-cut"} & set(self.kinds)
        return {"membership", "partition"} if cuts else {"membership"}

    def __init__(
        self, kinds: list[str] | None = None, min_size: int = 0, max_size: int = 0
    ) -> None:
        super().__init__(kinds)
        self.min_size, self.max_size = min_size, max_size
        self.pending: list[str] = []  # hosts created that the store has not taken in yet
        self.learners: list[str] = []  # the learners kinds' nodes (learners: removed at stop)
        self.keep = False  # learners-cut keeps its learners from one fault to the next
        self.cut = False  # a *-cut kind partitioned the network: stop heals it
        self.removed: list[str] = []  # removed-cut's nodes: out of the store, hosts kept

    def _bounds(self, fx: FaultContext) -> tuple[int, int]:
        if not self.max_size:  # first fault: bounds around the size the run started with
            n = len(fx.cluster.nodes)
            self.min_size = self.min_size or max(1, n - 1)
            self.max_size = max(n + 2, self.min_size)
        return self.min_size, self.max_size

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        target = fx.target
        if not isinstance(target, Reconfigurable):
            raise NemesisError("the target cannot change its membership")
        grow = fx.can(Grow)
        lo, hi = self._bounds(fx)
        size = len(fx.cluster.nodes)
        if kind == "grow" and size >= hi:
            kind = "shrink"
        elif kind == "shrink" and size <= lo:
            kind = "grow"
        out: dict[str, Any] = {"kind": kind, "size_before": size}
        if kind == "removed-cut" or kind == "learners-cut":
            await self._await_leader(fx)  # just healed: an election may be running
        if not kind.startswith("learners") and await find_leader(fx) is None:
            # nothing can be chosen now (a majority down or cut off): a change would only
            # hold up the other nemeses' steps, which run one after the other
            out["skipped"] = "no leader"
            return out
        try:
            if kind.startswith("learners"):
                while len(fx.cluster.nodes) < hi:
                    new = await self._add(fx, target, grow)
                    self.learners.append(new)
                out["learners"] = list(self.learners)
                if kind == "learners-cut":
                    self.keep = True
                    out.update(await self._cut(fx, self.learners))
            elif kind == "removed-cut":
                out.update(await self._remove_keeping_hosts(fx, target))
                out.update(await self._cut(fx, self.removed))
            elif kind == "quorum":
                out.update(await self._quorum(fx, target))
            elif kind == "grow":
                out.update(await self.grow(fx, target, grow, replace=None))
            elif kind == "shrink":
                victim = await self._victim(fx, leader=False)
                out.update(await self.remove(fx, target, grow, victim))
            else:
                victim = await self._victim(fx, leader=kind == "replace-leader")
                out.update(await self.grow(fx, target, grow, replace=victim))
        except ReconfigError as e:
            out["error"] = getattr(e, "error", None) or "failed"
            out["reason"] = str(e)[:200]
        out["size_after"] = len(fx.cluster.nodes)
        return out

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        """Only the learners kind has something to undo: its learners leave."""
        out: dict[str, Any] = {}
        if self.cut:
            await fx.call(fx.can(Partition).heal_network)
            self.cut = False
            out["healed"] = "network"
        target = fx.target
        while self.learners and not self.keep and isinstance(target, Reconfigurable):
            node = self.learners[0]
            try:
                await target.reconfigure(fx.cluster, "remove", node)
            except ReconfigError as e:
                if e.error != "reconfig_in_progress":
                    out["error"] = e.error
                    break
                await fx.sleep(0.2)
                continue
            self.learners.pop(0)
            await self._let_go(fx, node)
            out.setdefault("removed", []).append(node)
        return out

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Delete the hosts of nodes the store never took in (a change refused half-way)."""
        gone: list[str] = []
        out: dict[str, Any] = {"removed_hosts": gone}
        if self.cut:
            await fx.call(fx.can(Partition).heal_network)
            self.cut = False
            out["healed"] = "network"
        for node in self.removed:  # the store let them go long ago
            if node in fx.cluster.nodes:
                await fx.call(fx.can(Grow).remove_node, node)
                gone.append(node)
        self.removed = []
        if self.pending and isinstance(fx.target, Reconfigurable):
            try:
                view = await fx.target.members(fx.cluster)
            except ReconfigError:
                return {**out, "pending": list(self.pending)}
            ids = {*view.get("voters", []), *view.get("learners", [])}
            for node in list(self.pending):
                if store_id(node) not in ids and node in fx.cluster.nodes:
                    await fx.call(fx.can(Grow).remove_node, node)
                    gone.append(node)
                self.pending.remove(node)
        return out

    # -- the changes ---------------------------------------------------------------------------
    async def _await_leader(self, fx: FaultContext, most: float = 3.0) -> None:
        """Wait (up to ``most`` seconds) until the target names a leader: a cut aimed at
        the leader is wasted on an election, and a change needs a leader anyway."""
        waited = 0.0
        while waited < most and await find_leader(fx) is None:
            await fx.sleep(0.5)
            waited += 0.5

    async def _cut(self, fx: FaultContext, others: list[str]) -> dict[str, Any]:
        """The leader and ``others`` (learners, or nodes that left) on one side, the
        remaining voters on the other."""
        leader, known = await leader_or_random(fx)
        side = [leader, *(n for n in others if n != leader)]
        rest = [n for n in fx.cluster.nodes if n not in side]
        grudge = complete_grudge([side, rest])
        await fx.call(fx.can(Partition).partition, grudge)
        self.cut = True
        return {"leader": leader, "leader_known": known, "cut": [sorted(side), sorted(rest)]}

    async def _remove_keeping_hosts(
        self, fx: FaultContext, target: Reconfigurable
    ) -> dict[str, Any]:
        """The first time: two voters other than the leader leave the store; their hosts
        (and nodes) keep running, as a careless operator's would."""
        if self.removed:
            return {"removed": list(self.removed)}
        for _ in range(2):
            victim = await self._victim(fx, leader=False, exclude=tuple(self.removed))
            waited = 0.0
            while True:
                try:
                    await target.reconfigure(fx.cluster, "remove", victim)
                    break
                except ReconfigError as e:
                    if e.error != "reconfig_in_progress" or waited >= CATCH_UP_S:
                        raise
                await fx.sleep(0.2)
                waited += 0.2
            self.removed.append(victim)
        return {"removed": list(self.removed)}

    async def _quorum(self, fx: FaultContext, target: Reconfigurable) -> dict[str, Any]:
        """Flexible sizes for the current voters, or majorities again if they had some."""
        if not isinstance(target, QuorumSizes):
            raise NemesisError("the target cannot change its quorum sizes")
        view = await target.members(fx.cluster)
        n = len(view.get("voters", []))
        m = majority(n)
        # Q1 + Q2 = N + 1 (they overlap), both below N (one voter down still lets a
        # leader be elected and commit), and not the majorities they replace
        pairs = [(q1, n - q1 + 1) for q1 in range(2, n) if (q1, n - q1 + 1) != (m, m)]
        if list(view.get("quorums", [m, m])) != [m, m]:
            pairs = [(m, m)]
        if not pairs:
            return {"skipped": f"no flexible sizes for {n} voters", "voters": n}
        q1, q2 = fx.rng.choice(pairs)
        await target.set_quorums(fx.cluster, q1, q2)
        return {"quorums": [q1, q2], "voters": n}

    async def _victim(self, fx: FaultContext, leader: bool, exclude: tuple[str, ...] = ()) -> str:
        view = await fx.target.members(fx.cluster)  # type: ignore[union-attr]
        running = await on_each(fx, fx.cluster.is_running, list(fx.cluster.nodes))
        voters = [
            n
            for n, up in zip(fx.cluster.nodes, running, strict=True)
            if up and store_id(n) in view.get("voters", []) and n not in exclude
        ]
        if not voters:
            raise NemesisError("no voter to remove")
        found = await find_leader(fx)
        if leader and found in voters:
            return found
        others = [n for n in voters if n != found] or voters
        return fx.rng.choice(others)

    async def grow(
        self, fx: FaultContext, target: Reconfigurable, grow: Grow, replace: str | None
    ) -> dict[str, Any]:
        """A new host, its node started and added as a learner, then promoted (or swapped
        for ``replace``, whose host goes once the store let it go). Also what `paxlab
        cluster add-node` does."""
        new = await self._add(fx, target, grow)
        out: dict[str, Any] = {"added": new}
        waited = 0.0
        while True:
            try:
                if replace is None:
                    await target.reconfigure(fx.cluster, "promote", new)
                else:
                    await target.reconfigure(fx.cluster, "replace", replace, with_=new)
                break
            except ReconfigError as e:  # not caught up yet, or a change still in flight
                if getattr(e, "error", None) not in ("not_caught_up", "reconfig_in_progress"):
                    raise
                if waited >= CATCH_UP_S:
                    out["learner"] = True  # it stays a learner: still a real change
                    return out
            await fx.sleep(0.2)
            waited += 0.2
        out["voter"] = new
        if replace is not None:
            out["removed"] = replace
            await self._let_go(fx, replace)
        return out

    async def _add(self, fx: FaultContext, target: Reconfigurable, grow: Grow) -> str:
        """A new host, its node started, then added to the store as a learner."""
        new = await fx.call(grow.add_node)
        self.pending.append(new)
        await fx.call(fx.cluster.start, new, list(fx.bugs))
        addr = await fx.call(grow.node_address, new)
        await target.reconfigure(fx.cluster, "add", new, addr=addr)
        self.pending.remove(new)
        return new

    async def remove(
        self, fx: FaultContext, target: Reconfigurable, grow: Grow, victim: str
    ) -> dict[str, Any]:
        """``victim`` leaves the store, then its host goes (also `paxlab cluster remove-node`)."""
        await target.reconfigure(fx.cluster, "remove", victim)
        await self._let_go(fx, victim)
        return {"removed": victim}

    async def _let_go(self, fx: FaultContext, node: str) -> None:
        """Delete ``node``'s host once it no longer leads (it hands over after its removal
        takes effect), or after LET_GO_S."""
        waited = 0.0
        while waited < LET_GO_S and await find_leader(fx) == node:
            await fx.sleep(0.2)
            waited += 0.2
        if node in fx.cluster.nodes:
            await fx.call(fx.can(Grow).remove_node, node)
