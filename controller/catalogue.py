"""The bug catalogue: every deliberate store bug, the rule it breaks and the test that finds it.

One place says, per ``--bug``, which safety rule of Paxos it breaks, which fault + workload
+ options expose it on each backend, and how much time (runs and seconds) the suite gets to
find it. ``paxlab validate`` runs exactly these tests; the fast test tier runs them on the
simulator, so a change that blinds the suite to a bug fails CI. A bug that no real fault can
reach on a backend says so and why, instead of pretending.

The clean-run plans (``CLEAN``) are the other half: the correct store under every nemesis,
which must never be judged invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from controller.spec import TestSpec

SIM = "sim"
DOCKER = "docker"
VALIDATE_BACKENDS = (SIM, DOCKER)


@dataclass(frozen=True)
class Exposure:
    """How to expose a bug on one backend, and the budget to do it in."""

    workload: str
    nemesis: tuple[str, ...]  # spec entries, e.g. ("partition:isolate-leader",)
    aim: str  # the schedule's intent in words (what the nemesis must hit)
    time_limit: float = 10.0  # seconds of load and faults per run
    nemesis_interval: float = 2.0
    read_mode: str = "log"
    nodes: int = 5
    concurrency: int = 10
    rate: float | None = None
    op_timeout: float = 5.0
    backend_opts: tuple[tuple[str, Any], ...] = ()  # e.g. (("power_loss", 1.0),) on sim
    max_runs: int = 10  # budget: runs (sim: seeds) ...
    max_seconds: float = 120.0  # ... and wall-clock seconds, whichever ends first

    def spec(
        self, backend: str, seed: int, bug: str | None, name: str, time_limit: float | None = None
    ) -> TestSpec:
        """The test spec of one attempt (``bug`` None: the correct store)."""
        return TestSpec(
            workload=self.workload,
            nemesis=list(self.nemesis),
            nodes=self.nodes,
            concurrency=self.concurrency,
            time_limit=time_limit or self.time_limit,
            rate=self.rate,
            seed=seed,
            nemesis_interval=self.nemesis_interval,
            backend=backend,
            bugs=[bug] if bug else [],
            read_mode=self.read_mode,
            name=name,
            op_timeout=self.op_timeout,
            backend_opts=dict(self.backend_opts),
            recovery_time=15.0,
            final_time_limit=15.0,
            check_time_limit=60.0,
        ).validate()


@dataclass(frozen=True)
class BugEntry:
    """One deliberate bug: the rule it breaks and how each backend exposes it."""

    name: str
    rule: str  # the safety rule of Paxos the bug breaks
    symptom: str  # what the checker sees when it shows
    exposures: dict[str, Exposure] = field(default_factory=dict)
    not_exposable: dict[str, str] = field(default_factory=dict)  # backend -> why not

    def exposure(self, backend: str) -> Exposure | None:
        return self.exposures.get(backend)


def _both(e: Exposure, docker: dict[str, Any] | None = None) -> dict[str, Exposure]:
    """The same test on both backends; docker runs cost ~10x more, so a smaller run budget
    and a wall-clock budget that fits this machine, unless ``docker`` overrides fields."""
    d = replace(e, max_runs=min(e.max_runs, 5), max_seconds=300.0)
    if docker:
        d = replace(d, **docker)
    return {SIM: e, DOCKER: d}


CATALOGUE: tuple[BugEntry, ...] = (
    BugEntry(
        name="skip-phase1-adopt",
        rule="a new leader must re-propose, per slot, the value of the highest ballot its "
        "phase-1 quorum reports (a chosen value stays chosen)",
        symptom="an acknowledged write disappears: later reads see an older value",
        exposures=_both(
            Exposure(
                workload="register",
                nemesis=("kill:leader",),
                aim="kill the leader so a new one runs phase 1 over slots in flight",
            )
        ),
    ),
    BugEntry(
        name="early-ack",
        rule="a write is acknowledged only after a phase-2 quorum accepted it",
        symptom="a write acknowledged by a leader cut off from the quorum is never seen",
        exposures=_both(
            Exposure(
                workload="register",
                nemesis=("partition:isolate-leader",),
                aim="isolate the leader: it acknowledges writes no quorum will ever accept",
            )
        ),
    ),
    BugEntry(
        name="volatile-acceptor",
        rule="an acceptor's promise and accepted value are durable before it replies",
        symptom="after a majority restarts, chosen values are forgotten and overwritten",
        exposures=_both(
            Exposure(
                workload="register",
                nemesis=("kill:majority",),
                aim="kill -9 a majority (leader included) at once, so no durable copy is left",
            )
        ),
    ),
    BugEntry(
        name="local-read",
        rule="a read is linearizable only through the log, a quorum round or a valid lease",
        symptom="a follower answers a read from its lagging state machine: a stale read",
        exposures=_both(
            Exposure(
                workload="register",
                nemesis=(),
                aim="no fault needed: followers lag the leader by a round trip",
            )
        ),
    ),
    BugEntry(
        name="no-dedup",
        rule="a command retried by its client (same client id and sequence) takes effect once",
        symptom="an element appended once appears twice",
        exposures=_both(
            Exposure(
                workload="append",
                nemesis=("netem:loss",),
                aim="drop packets so clients time out and retry commands that did commit",
            ),
            docker={"nemesis": ("partition",)},  # docker's loss kind may be unavailable
        ),
    ),
)

# The correct store under each nemesis: these runs must all be valid.
CLEAN: dict[str, Exposure] = {
    name: Exposure(
        workload=workload,
        nemesis=(name,),
        aim=f"the correct store under every kind of {name}",
        time_limit=10.0,
        nemesis_interval=2.0,
    )
    for name, workload in (
        ("partition", "register"),
        ("kill", "register"),
        ("pause", "register"),
        ("clock", "kv"),
        ("netem", "append"),
    )
}
CLEAN_NEMESES = tuple(CLEAN)


def bug_names() -> list[str]:
    return [b.name for b in CATALOGUE]


def entry(name: str) -> BugEntry:
    for b in CATALOGUE:
        if b.name == name:
            return b
    raise KeyError(name)


def uncatalogued(known_bugs: tuple[str, ...] | list[str]) -> list[str]:
    """Store bugs with no catalogue entry (a new ``--bug`` must come with its test)."""
    have = set(bug_names())
    return [b for b in known_bugs if b not in have]
