"""A user's own state machine as a workload: its example commands and queries, checked by
replaying the history against the machine run serially (checker.machine_check).

The machine is the run's ``--target-opt state_machine=module:Class``, the same class the
nodes replicate, so any deterministic machine gets a workload and a checker for free. Its
optional class methods ``example_command(rng)`` and ``example_query(rng)`` say what to send
(a machine without ``example_query`` gets commands only). Commands are ``apply`` ops,
queries ``query`` ops (key null), the result in the completion's ``result``
(docs/state-machines.md); after healing each node answers one query until it succeeds, so
a command lost on the way shows in the final state.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from checker.machine_check import check_machine, load_machine
from generator import Context, Generator, const, each_worker, fn, then, until_ok
from workloads.base import Checker, CheckInput, Workload, stats_checker

QUERY_SHARE = 0.3  # of the operations, when the machine has example_query
OPTION = "state_machine"


class MachineWorkload(Workload):
    name = "machine"
    model = "machine"
    default_rate = 20.0  # one object every op touches: keep the history checkable
    uses_target_opts = True

    def __init__(self, concurrency: int = 10, target_opts: Mapping[str, Any] | None = None):
        super().__init__(concurrency)
        spec = (target_opts or {}).get(OPTION)
        if not isinstance(spec, str) or not spec:
            raise ValueError(f"--workload machine needs --target-opt {OPTION}=module:Class")
        self.spec = spec
        self.cls = load_machine(spec)  # a one-line ValueError when it cannot be loaded
        if not callable(getattr(self.cls, "example_command", None)):
            raise ValueError(f"{spec} has no example_command(rng): the workload cannot "
                             f"make commands for it")  # fmt: skip
        eq = getattr(self.cls, "example_query", None)
        self.example_query = eq if callable(eq) else None

    def op(self, ctx: Context) -> dict[str, Any]:
        if self.example_query is not None and ctx.rng.random() < QUERY_SHARE:
            return {"f": "query", "key": None, "value": self.example_query(ctx.rng)}
        return {"f": "apply", "key": None, "value": self.cls.example_command(ctx.rng)}

    def generator(self) -> Generator:
        return fn(self.op)

    def final_generator(self, nodes: list[str]) -> Generator | None:
        """One query per final worker (one per node), each until it succeeds."""
        if self.example_query is None:
            return None
        q = {"f": "query", "key": None, "value": self.example_query(random.Random(0))}

        def for_worker(w: int | str) -> Generator:
            return until_ok(const(q), 10) if isinstance(w, int) else then()

        return each_worker(for_worker)

    def checkers(self) -> dict[str, Checker]:
        return {"linearizable": machine_checker(self.spec), "stats": stats_checker}


def machine_checker(spec: str) -> Checker:
    """checker.machine_check on the stored history, against ``spec`` run serially."""

    def check(inp: CheckInput) -> dict[str, Any]:
        return check_machine(inp.history_path, spec, time_limit=inp.check_time_limit)

    return check
