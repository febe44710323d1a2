"""Several nemeses as one (``--nemesis partition,kill``), their schedule, and heal-all.

Two schedules (``--nemesis-schedule``), both generators (generator) and both
random only by the run's seed, so a run replays exactly:

- ``mixed`` (the default): every nemesis has a lane of its own, and lanes run side by side,
  so faults of different kinds overlap (a leader isolated while its clock jumps, a node
  paused while another is killed), as in Jepsen's combined nemesis. Each lane splits the
  run into slots, at least one per kind it has, and gives every kind a slot (in an order
  shuffled by the seed) before any kind runs twice: every requested kind runs within the
  run, however short. A fault starts at a random point of its slot and lasts about half of
  it (the slot is ``2 x --nemesis-interval`` when the run is long enough).
- ``rotate``: one fault at a time in a fixed rotation, one nemesis after the other and each
  one's kinds in turn: wait an interval, start a fault, let it last an interval, stop it.

Within a nemesis, faults never overlap (one start, then its stop).
"""

from __future__ import annotations

import math
import random
from typing import Any

from cluster.base import Unsupported
from cluster.capabilities import offered
from generator import Context, Generator, Result, Sleep
from nemesis.base import FaultContext, Nemesis, NemesisError
from nemesis.clock import ClockNemesis
from nemesis.disk import DiskNemesis
from nemesis.kill import KillNemesis
from nemesis.membership import MembershipNemesis
from nemesis.netem import NetemNemesis
from nemesis.partition import PartitionNemesis
from nemesis.pause import PauseNemesis

REGISTRY: dict[str, type[Nemesis]] = {
    c.name: c
    for c in (
        PartitionNemesis,
        KillNemesis,
        PauseNemesis,
        ClockNemesis,
        NetemNemesis,
        DiskNemesis,
        MembershipNemesis,
    )
}


class Combined:
    """The nemeses of one run, keyed by name (a name given twice merges its kinds)."""

    def __init__(self, nemeses: list[Nemesis]) -> None:
        self.nemeses: dict[str, Nemesis] = {}
        for n in nemeses:
            if n.name in self.nemeses:
                prev = self.nemeses[n.name]
                merged = list(dict.fromkeys(prev.kinds + n.kinds))
                self.nemeses[n.name] = type(n)(merged)
            else:
                self.nemeses[n.name] = n

    def __bool__(self) -> bool:
        return bool(self.nemeses)

    def require(self, cluster, final: bool = True, refused: dict[str, str] | None = None) -> None:
        """Raise Unsupported (one line) unless the cluster can do every fault asked for and
        the target takes it (``refused``: capability -> why the target cannot take it).

        Called before set-up (``final=False``) and again once the nodes run."""
        caps = offered(cluster, final)
        refused = refused or {}
        for n in self.nemeses.values():
            needed = n.requires(caps, final)
            no = sorted(c for c in needed if c in refused)
            if no:
                raise Unsupported(f"the target cannot take the {n.name} nemesis: {refused[no[0]]}")
            missing = sorted(c for c in needed if c not in caps)
            if missing:
                raise Unsupported(
                    f"the {type(cluster).__name__} backend cannot do the {n.name} nemesis "
                    f"(missing: {', '.join(missing)})"
                )

    def rotation(self) -> list[tuple[str, str]]:
        """(nemesis, kind) in the order faults are tried: nemeses interleaved, kinds in turn."""
        out = []
        lists = [(name, n.kinds) for name, n in self.nemeses.items()]
        for j in range(max((len(k) for _, k in lists), default=0)):
            for name, kinds in lists:
                if j < len(kinds):
                    out.append((name, kinds[j]))
        return out

    def schedule(
        self,
        interval: float,
        time_limit: float | None = None,
        mode: str = "rotate",
        rng: random.Random | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> Generator:
        """The run's fault schedule: ``mixed`` (overlapping lanes, covering every kind within
        ``time_limit``) or ``rotate``. A run passes its spec's choice (default ``mixed``);
        ``events``, when given, is the schedule itself (ExplicitSchedule) and mode is unused."""
        if events is not None:
            return ExplicitSchedule(events)
        if mode == "rotate":
            return Schedule(self.rotation(), interval)
        if mode != "mixed":
            raise NemesisError(f"unknown nemesis schedule {mode!r}; known: {', '.join(SCHEDULES)}")
        rng = rng or random.Random(0)
        lanes = [
            Lane(name, list(n.kinds), lane_slot(len(n.kinds), interval, time_limit), rng)
            for name, n in self.nemeses.items()
            if n.kinds
        ]
        return MixedSchedule(lanes)

    def requested(self) -> list[str]:
        """Every fault kind this run asked for, as ``nemesis:kind``."""
        return [f"{name}:{k}" for name, n in self.nemeses.items() for k in n.kinds]

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Heal every nemesis; an error in one does not stop the others."""
        out: dict[str, Any] = {}
        for name, n in self.nemeses.items():
            try:
                out[name] = await n.heal(fx)
            except Exception as e:
                out[name] = {"error": f"{type(e).__name__}: {e}"[:300]}
        return out


class Schedule(Generator):
    """Sleep ``interval``, start the next fault, sleep ``interval``, stop it; repeat.

    Each interval counts from when the previous step *finished* (the interpreter asks again
    only then): a slow docker call must not eat the quiet time between faults.
    """

    def __init__(self, rotation: list[tuple[str, str]], interval: float) -> None:
        self.rotation = rotation
        self.interval = interval
        self.i = 0
        self.active: str | None = None
        self.due: float | None = None  # None: the interval starts at the next ask

    def next(self, ctx: Context) -> Result:
        if not self.rotation:
            return None
        if self.due is None:
            self.due = ctx.time + self.interval
        if ctx.time < self.due:
            return Sleep(self.due)
        self.due = None
        if self.active is None:
            name, kind = self.rotation[self.i % len(self.rotation)]
            self.i += 1
            self.active = name
            return {"f": "start", "nemesis": name, "kind": kind}
        name, self.active = self.active, None
        return {"f": "stop", "nemesis": name}


EXPLICIT_SLACK_S = 1e-9  # t0 + (t - t0) may miss t by a rounding: an ask that close is on time


class ExplicitSchedule(Generator):
    """A schedule given as a list of events, ``{"at": s, "f": "start", "nemesis": n, "kind": k}``
    or ``{"at": s, "f": "stop", "nemesis": n}``, ``at`` in seconds from the first ask.

    This is how a shrunk run (controller.shrink) replays exactly the faults it kept: the
    seeded schedules cannot drop one fault and keep the others where they were. An event
    due while an earlier step still ran goes right after it, as in the other schedules."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = sorted(events, key=lambda e: float(e["at"]))
        self.i = 0
        self.t0: float | None = None

    def next(self, ctx: Context) -> Result:
        if self.i >= len(self.events):
            return None
        if self.t0 is None:
            self.t0 = ctx.time
        ev = self.events[self.i]
        due = self.t0 + float(ev["at"])
        if ctx.time < due - EXPLICIT_SLACK_S:
            return Sleep(due)
        self.i += 1
        return {k: v for k, v in ev.items() if k != "at"}


class Recording(Generator):
    """``gen``, writing each fault step it gives into ``events`` with its time from the first
    ask: the run's schedule as it ran, which ExplicitSchedule replays (results.json keeps it)."""

    def __init__(self, gen: Generator, events: list[dict[str, Any]]) -> None:
        self.gen = gen
        self.events = events
        self.t0: float | None = None
        self.slept: float | None = None

    def next(self, ctx: Context) -> Result:
        if self.t0 is None:
            self.t0 = ctx.time
        r = self.gen.next(ctx)
        if isinstance(r, Sleep):
            self.slept = r.until
        elif isinstance(r, dict):
            # the instant the schedule meant (what it slept until), which a replay sleeps
            # until too, so it wakes when this run woke
            due = self.slept if self.slept is not None and self.slept <= ctx.time else ctx.time
            self.events.append({"at": offset(self.t0, due), **r})
            self.slept = None
        return r


def offset(t0: float, t: float) -> float:
    """``t - t0``, nudged by a few units in the last place so that ``t0 + offset == t``
    exactly: a replay of the recorded events then sleeps until the very instant the recorded
    run slept until, not one rounding later."""
    at = t - t0
    for _ in range(8):
        if t0 + at == t:
            break
        at = math.nextafter(at, math.inf if t0 + at < t else -math.inf)
    return at


def check_events(events: Any, known: dict[str, list[str]]) -> str | None:
    """Why ``events`` is not an explicit schedule for these nemeses (name -> kinds), or None."""
    if not isinstance(events, list):
        return "nemesis_events must be a list of events"
    for i, ev in enumerate(events):
        if not isinstance(ev, dict) or ev.get("f") not in ("start", "stop"):
            return f"nemesis event {i} must be an object with f start or stop"
        at = ev.get("at")
        if isinstance(at, bool) or not isinstance(at, (int, float)) or at < 0:
            return f"nemesis event {i} needs a time 'at' of 0 or more seconds"
        name = ev.get("nemesis")
        if name not in known:
            return f"nemesis event {i} names {name!r}, not one of this run's nemeses"
        if ev["f"] == "start" and ev.get("kind") not in known[name]:
            return f"nemesis event {i}: {name} has no kind {ev.get('kind')!r}"
    return None


SCHEDULES = ("mixed", "rotate")
MIN_SLOT_S = 0.05  # a lane's slot is never shorter (a fault of a few ms is not a fault)


def lane_slot(kinds: int, interval: float, time_limit: float | None) -> float:
    """One fault's slot in a lane: ``2 x interval`` (a quiet spell, then the fault), shrunk so
    that all ``kinds`` fit in the run's time limit."""
    slot = 2 * interval
    if time_limit is not None and time_limit > 0:
        slot = min(slot, time_limit / max(1, kinds))
    return max(slot, MIN_SLOT_S)


class Lane:
    """One nemesis's faults in the mixed schedule: slot after slot, one fault in each.

    Kinds are dealt like cards: every kind once, in a seeded random order, then again."""

    def __init__(self, name: str, kinds: list[str], slot: float, rng: random.Random) -> None:
        self.name = name
        self.kinds = kinds
        self.slot = slot
        self.rng = rng
        self.deck: list[str] = []
        self.slot_start = 0.0
        self.last_stop = 0.0
        self.active: str | None = None  # the kind started and not yet stopped
        self.pending: list[tuple[float, dict[str, Any]]] = []
        self._deal()

    def _deal(self) -> None:
        if not self.deck:
            self.deck = self.rng.sample(self.kinds, len(self.kinds))
        kind = self.deck.pop(0)
        t0, slot = self.slot_start, self.slot
        start = max(t0 + self.rng.uniform(0.05, 0.4) * slot, self.last_stop + 0.01)
        stop = start + self.rng.uniform(0.4, 0.55) * slot  # ends before 0.95 of the slot
        self.pending = [
            (start, {"f": "start", "nemesis": self.name, "kind": kind}),
            (stop, {"f": "stop", "nemesis": self.name}),
        ]
        self.slot_start = t0 + slot

    def peek(self) -> float:
        return self.pending[0][0]

    def postpone(self, until: float) -> None:
        """Move the coming start (and its stop) to ``until``."""
        shift = until - self.pending[0][0]
        if shift > 0:
            self.pending = [(t + shift, op) for t, op in self.pending]

    def pop(self) -> dict[str, Any]:
        t, op = self.pending.pop(0)
        if op["f"] == "start":
            self.active = op["kind"]
        else:
            self.active, self.last_stop = None, t
            self._deal()
        return op


# A start that cannot work, or would undo another lane's fault, while a fault of another lane
# is on waits for that fault's stop ("*": any kind). Nothing can be paused while every store
# process is killed; kill:all-leader-last partitions and heals the network itself, so it
# and a partition fault never overlap.
CONFLICTS: tuple[tuple[tuple[str, str], tuple[str, str]], ...] = (
    (("pause", "*"), ("kill", "all")),
    (("pause", "*"), ("kill", "all-leader-last")),
    (("kill", "all-leader-last"), ("partition", "*")),
    (("partition", "*"), ("kill", "all-leader-last")),
    # a paused node cannot be removed cleanly (nor resumed once its host is gone)
    (("membership", "*"), ("pause", "*")),
    (("pause", "*"), ("membership", "*")),
)


def _conflicts(starting: tuple[str, str], active: tuple[str, str]) -> bool:
    def match(pat: tuple[str, str], x: tuple[str, str]) -> bool:
        return pat[0] == x[0] and pat[1] in ("*", x[1])

    return any(match(a, starting) and match(b, active) for a, b in CONFLICTS)


class MixedSchedule(Generator):
    """The lanes merged in time order (times count from the first ask)."""

    def __init__(self, lanes: list[Lane]) -> None:
        self.lanes = lanes
        self.t0: float | None = None

    def next(self, ctx: Context) -> Result:
        if not self.lanes:
            return None
        if self.t0 is None:
            self.t0 = ctx.time
        while True:
            lane = min(self.lanes, key=lambda lane: lane.peek())
            blocker = self._blocker(lane)
            if blocker is None:
                break
            lane.postpone(blocker.peek() + 0.01)  # just after the blocking fault stops
        due = self.t0 + lane.peek()
        if ctx.time < due:
            return Sleep(due)
        return lane.pop()

    def _blocker(self, lane: Lane) -> Lane | None:
        """The lane whose active fault must stop before ``lane``'s coming start, if any."""
        if lane.active is not None:  # its next op is a stop
            return None
        starting = (lane.name, lane.pending[0][1]["kind"])
        for other in self.lanes:
            if other is not lane and other.active is not None:
                if _conflicts(starting, (other.name, other.active)):
                    return other
        return None


def coverage(requested: list[str], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Which requested fault kinds ran (a start that completed without error), from the
    history's nemesis events: {"requested", "ran": {kind: times}, "failed": {kind: times},
    "not_run": [kinds]}."""
    ran: dict[str, int] = {}
    failed: dict[str, int] = {}
    asked: dict[str, Any] = {}  # f -> the kind its open invoke asked for
    for ev in events:
        f = ev.get("f")
        if ev.get("process") != "nemesis" or not isinstance(f, str) or not f.startswith("start-"):
            continue
        value = ev.get("value") if isinstance(ev.get("value"), dict) else {}
        if ev.get("type") == "invoke":
            asked[f] = value.get("kind")
            continue
        key = f"{f[len('start-') :]}:{asked.pop(f, value.get('kind'))}"
        bucket = failed if ev.get("error") else ran
        bucket[key] = bucket.get(key, 0) + 1
    return {
        "requested": list(requested),
        "ran": ran,
        "failed": failed,
        "not_run": [k for k in requested if k not in ran],
    }


def build(entries: list[tuple[str, list[str] | None]]) -> Combined:
    """From the spec's nemesis entries [(name, kinds or None)]."""
    nemeses = []
    for name, kinds in entries:
        cls = REGISTRY.get(name)
        if cls is None:
            raise NemesisError(f"unknown nemesis {name!r}; known: {', '.join(REGISTRY)}")
        nemeses.append(cls(kinds))
    return Combined(nemeses)
