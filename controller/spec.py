"""A test run as plain data: everything needed to rerun it, seed included.

The spec is what `test.json` stores and what `paxlab test` builds from its flags; the run
itself (controller.run) reads nothing else, so a stored spec replays the same plan.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import cluster
import nemesis
import targets
import workloads

# the names a spec may use, from the registries (a new workload, nemesis, backend or target
# registers there and is known here)
WORKLOADS = tuple(workloads.REGISTRY)
NEMESES = ("none", *nemesis.REGISTRY)
BACKENDS = tuple(cluster.BACKENDS)
TARGETS = targets.names()
READ_MODES = ("log", "quorum", "lease")
NEMESIS_SCHEDULES = (
    "mixed",
    "rotate",
)  # overlapping lanes / one fault at a time (nemesis.combined)


class SpecError(ValueError):
    """A spec that cannot run; the message is one line for a person."""


@dataclass
class TestSpec:
    """One Jepsen-style test: workload, faults, cluster shape, load, timing and seed.

    ``nemesis`` is a list of entries ``NAME`` or ``NAME:KIND[+KIND...]`` (e.g.
    ``partition:isolate-leader``): a bare name runs every kind of that fault in turn.
    """

    __test__ = False  # not a pytest test class, despite the name

    workload: str = "kv"
    nemesis: list[str] = field(default_factory=list)
    nodes: int = 5
    concurrency: int = 10
    time_limit: float = 60.0
    rate: float | None = (
        None  # total ops/s over all workers; None: the workload's default, 0: no limit
    )
    seed: int = 0
    nemesis_interval: float = 5.0
    nemesis_schedule: str = "mixed"
    backend: str = "docker"
    target: str = targets.DEFAULT  # the system under test (targets.TARGETS)
    bugs: list[str] = field(default_factory=list)
    read_mode: str = "log"
    name: str | None = None
    op_timeout: float = 5.0  # a client gives up and records "info" after this
    recovery_time: float = 30.0  # after healing: the longest we wait for every node to answer
    final_time_limit: float = 30.0  # the final-reads phase
    check_time_limit: float | None = 120.0  # linearizability search budget per check
    backend_opts: dict[str, Any] = field(default_factory=dict)
    # the target's own settings (the bundled store's: its configuration file's names), any backend
    target_opts: dict[str, Any] = field(default_factory=dict)
    argv: list[str] | None = None
    # the fault schedule as explicit events (nemesis.combined.ExplicitSchedule) instead of the
    # seeded one: what a shrunk run (paxlab sim --shrink) keeps, so that it replays exactly
    nemesis_events: list[dict[str, Any]] | None = None

    # -- derived ---------------------------------------------------------------------------
    @property
    def test_name(self) -> str:
        if self.name:
            return _safe(self.name)
        faults = "+".join(self.nemesis) if self.nemesis else "none"
        return _safe(f"{self.workload}-{faults}")

    def nemesis_entries(self) -> list[tuple[str, list[str] | None]]:
        """[(name, kinds or None for all kinds)], 'none' dropped."""
        out = []
        for entry in self.nemesis:
            name, _, kinds = entry.partition(":")
            if name == "none":
                continue
            out.append((name, [k for k in kinds.split("+") if k] or None))
        return out

    def make_target(self) -> targets.Target:
        """The run's target with its options checked (TargetError, one line, if refused)."""
        return targets.make_target(
            self.target, self.target_opts, nodes=self.nodes, read_mode=self.read_mode
        )

    def cluster_opts(self) -> dict[str, Any]:
        """The keywords the backend's cluster is made with: what the target asks for (the
        bundled store: its read route and settings) and the backend's own options."""
        return {**self.make_target().cluster_opts(), **self.backend_opts}

    # -- checks ----------------------------------------------------------------------------
    def validate(self) -> TestSpec:
        if self.workload not in WORKLOADS:
            raise SpecError(f"unknown workload {self.workload!r}; known: {', '.join(WORKLOADS)}")
        for entry in self.nemesis:
            name = entry.partition(":")[0]
            if name not in NEMESES:
                raise SpecError(f"unknown nemesis {name!r}; known: {', '.join(NEMESES)}")
        if self.backend not in BACKENDS:
            raise SpecError(f"unknown backend {self.backend!r}; known: {', '.join(BACKENDS)}")
        if self.target not in TARGETS:
            raise SpecError(f"unknown target {self.target!r}; known: {', '.join(TARGETS)}")
        if self.read_mode not in READ_MODES:
            raise SpecError(f"unknown read mode {self.read_mode!r}; known: {', '.join(READ_MODES)}")
        if not 1 <= self.nodes <= 64:
            raise SpecError(f"--nodes must be between 1 and 64, got {self.nodes}")
        if not 1 <= self.concurrency <= 1000:
            raise SpecError(f"--concurrency must be between 1 and 1000, got {self.concurrency}")
        if not self.time_limit > 0:
            raise SpecError(f"--time-limit must be positive, got {self.time_limit}")
        if self.rate is not None and not self.rate >= 0:
            raise SpecError(f"--rate must be positive (0: as fast as possible), got {self.rate}")
        if not self.nemesis_interval > 0:
            raise SpecError(f"--nemesis-interval must be positive, got {self.nemesis_interval}")
        if self.nemesis_schedule not in NEMESIS_SCHEDULES:
            raise SpecError(
                f"unknown nemesis schedule {self.nemesis_schedule!r}; "
                f"known: {', '.join(NEMESIS_SCHEDULES)}"
            )
        if not self.op_timeout > 0:
            raise SpecError(f"the op timeout must be positive, got {self.op_timeout}")
        if self.nemesis_events is not None:
            self._validate_events()
        self._validate_target()
        if workloads.REGISTRY[self.workload].uses_target_opts:  # e.g. machine: its class loads
            try:
                workloads.make(self.workload, self.concurrency, self.target_opts)
            except ValueError as e:
                raise SpecError(str(e).splitlines()[0] if str(e) else type(e).__name__) from None
        return self

    def _validate_events(self) -> None:
        try:
            combined = nemesis.build(self.nemesis_entries())
        except nemesis.NemesisError as e:
            raise SpecError(str(e)) from None
        known = {name: list(n.KINDS + n.EXTRA_KINDS) for name, n in combined.nemeses.items()}
        why = nemesis.check_events(self.nemesis_events, known)
        if why:
            raise SpecError(why)

    def _validate_target(self) -> None:
        """The target would accept its options and bugs on this many nodes (checked here,
        before any cluster exists, so a refusal leaves no run behind)."""
        if not isinstance(self.target_opts, dict):
            raise SpecError("target_opts must be a table of the target's settings")
        try:
            target = self.make_target()
        except targets.TargetError as e:
            raise SpecError(str(e)) from None
        for b in self.bugs:
            if b not in target.bugs:
                known = ", ".join(target.bugs) or "none"
                raise SpecError(f"unknown bug {b!r} for the {self.target} target; known: {known}")
        both = sorted(set(target.cluster_opts()) & set(self.backend_opts) - {"read_mode"})
        if both:
            raise SpecError(f"{both[0]!r} is given both as a store setting and a backend option")

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TestSpec:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SpecError(f"unknown test spec keys: {', '.join(sorted(unknown))}")
        return cls(**d).validate()


def _safe(name: str) -> str:
    """A name usable as one directory component."""
    return re.sub(r"[^A-Za-z0-9_.+-]+", "-", name).strip("-.") or "test"
