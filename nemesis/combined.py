"""Several nemeses as one (``--nemesis partition,kill``), their schedule, and heal-all.

The schedule is a generator (controller.generator): wait an interval, start a fault, let it
last an interval, stop it, and so on. Faults come in a fixed rotation, one nemesis after the
other and each one's kinds in turn, so a run of a minute sees every kind of partition; only
the choice of victims is random (from the seed).
"""

from __future__ import annotations

from typing import Any

from cluster.base import Unsupported
from controller.generator import Context, Generator, Result, Sleep
from nemesis.base import FaultContext, Nemesis, NemesisError
from nemesis.clock import ClockNemesis
from nemesis.disk import DiskNemesis
from nemesis.kill import KillNemesis
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

    def require(self, cluster, final: bool = True) -> None:
        """Raise Unsupported (one line) unless the cluster can do every fault asked for.

        Called before set-up (``final=False``) and again once the nodes run."""
        caps = set(cluster.capabilities())
        for n in self.nemeses.values():
            missing = sorted(c for c in n.requires(caps, final) if c not in caps)
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

    def schedule(self, interval: float) -> Generator:
        return Schedule(self.rotation(), interval)

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


def build(entries: list[tuple[str, list[str] | None]]) -> Combined:
    """From the spec's nemesis entries [(name, kinds or None)]."""
    nemeses = []
    for name, kinds in entries:
        cls = REGISTRY.get(name)
        if cls is None:
            raise NemesisError(f"unknown nemesis {name!r}; known: {', '.join(REGISTRY)}")
        nemeses.append(cls(kinds))
    return Combined(nemeses)
