"""One register (key null): reads, writes and cas over small integers; linearizability."""

from __future__ import annotations

from generator import Generator, fn
from workloads.base import Checker, Workload, linearizability_checker, register_op, stats_checker


class RegisterWorkload(Workload):
    name = "register"
    model = "register"
    default_rate = 10.0  # one key: every op is concurrent with the others, so keep it checkable

    def generator(self) -> Generator:
        return fn(lambda ctx: register_op(ctx, None))

    def checkers(self) -> dict[str, Checker]:
        return {"linearizable": linearizability_checker("register"), "stats": stats_checker}
