"""What a workload is: a client, a generator, a final generator and the checkers it needs."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import Context, Generator, const, each_worker, then, until_ok

Checker = Callable[["CheckInput"], dict[str, Any]]


@dataclass
class CheckInput:
    """What a checker gets: the stored history (path and parsed events) and the spec."""

    history_path: Path
    events: list[dict[str, Any]]
    check_time_limit: float | None = None


class Workload:
    """Subclasses set name/model/default_rate and implement generator() and checkers()."""

    name: str = ""
    model: str | None = None  # the linearizability model, if the workload is checked by it
    default_rate: float = 40.0
    uses_target_opts: bool = False  # made with the run's --target-opt table (workloads.make)

    def __init__(self, concurrency: int = 10) -> None:
        self.concurrency = concurrency

    def generator(self) -> Generator:
        raise NotImplementedError

    def final_generator(self, nodes: list[str]) -> Generator | None:
        """Operations after healing (the final reads); None if the workload has none."""
        return None

    def final_concurrency(self, nodes: list[str]) -> int:
        """One final worker per node, so 'from every node' holds for reads."""
        return len(nodes)

    def checkers(self) -> dict[str, Checker]:
        raise NotImplementedError


class KeyPool:
    """Keys that rotate: ``active`` keys in use, each retired after ``ops_per_key`` operations.

    Keeping every key's history short keeps the linearizability search cheap (Jepsen's
    ``independent`` generator does the same).
    """

    def __init__(self, active: int, ops_per_key: int, prefix: str = "k") -> None:
        self.ops_per_key = ops_per_key
        self.prefix = prefix
        self._ids = itertools.count()
        self.used: list[str] = []
        self.keys: list[str] = []
        self.left: dict[str, int] = {}
        for _ in range(active):
            self._add()

    def _add(self) -> None:
        k = f"{self.prefix}{next(self._ids)}"
        self.keys.append(k)
        self.used.append(k)
        self.left[k] = self.ops_per_key

    def pick(self, rng: random.Random) -> str:
        k = rng.choice(self.keys)
        self.left[k] -= 1
        if self.left[k] <= 0:
            self.keys.remove(k)
            self._add()
        return k


def register_op(ctx: Context, key: str | None, values: int = 5) -> dict[str, Any]:
    """A random read, write or cas over small integers."""
    r = ctx.rng.random()
    if r < 1 / 3:
        return {"f": "read", "key": key, "value": None}
    if r < 2 / 3:
        return {"f": "write", "key": key, "value": ctx.rng.randrange(values)}
    return {"f": "cas", "key": key, "value": [ctx.rng.randrange(values), ctx.rng.randrange(values)]}


def final_reads(keys: list[str | None], workers: int, attempts: int = 10) -> Generator:
    """Each worker reads its share of ``keys`` (worker w: keys[w::workers]), each until ok."""

    def for_worker(w: int | str) -> Generator:
        mine = keys[int(w) :: workers] if isinstance(w, int) else []
        return then(
            *[until_ok(const({"f": "read", "key": k, "value": None}), attempts) for k in mine]
        )

    return each_worker(for_worker)


def linearizability_checker(model: str) -> Checker:
    """checker.linearizability on the stored history."""

    def check(inp: CheckInput) -> dict[str, Any]:
        from checker import history as ch
        from checker import linearizability as lin

        hist = ch.load(inp.history_path)
        return lin.check(hist, model=model, time_limit=inp.check_time_limit)

    return check


def stats_checker(inp: CheckInput) -> dict[str, Any]:
    """Counts by function and outcome; unknown when nothing ever succeeded (nothing to judge)."""
    by_f: dict[str, dict[str, int]] = {}
    for e in inp.events:
        if not isinstance(e.get("process"), int) or e.get("type") == "invoke":
            continue
        d = by_f.setdefault(e["f"], {"ok": 0, "fail": 0, "info": 0})
        d[e["type"]] = d.get(e["type"], 0) + 1
    total_ok = sum(d["ok"] for d in by_f.values())
    out: dict[str, Any] = {"valid": True if total_ok else "unknown", "by_f": by_f}
    if not total_ok:
        out["error"] = "no operation succeeded"
    return out


class Counter:
    """Unique values for adds and appends (shared by all workers, deterministic in order)."""

    def __init__(self) -> None:
        self._it = itertools.count()

    def take(self) -> int:
        return next(self._it)
