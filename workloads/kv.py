"""Many keys, each an independent register; keys rotate so each key's history stays small."""

from __future__ import annotations

from generator import Generator, fn
from workloads.base import (
    Checker,
    KeyPool,
    Workload,
    linearizability_checker,
    register_op,
    stats_checker,
)


class KvWorkload(Workload):
    name = "kv"
    model = "kv"
    default_rate = 40.0

    def __init__(self, concurrency: int = 10, ops_per_key: int = 120) -> None:
        super().__init__(concurrency)
        self.pool = KeyPool(active=max(2, min(8, concurrency // 2)), ops_per_key=ops_per_key)

    def generator(self) -> Generator:
        return fn(lambda ctx: register_op(ctx, self.pool.pick(ctx.rng)))

    def checkers(self) -> dict[str, Checker]:
        return {"linearizable": linearizability_checker("kv"), "stats": stats_checker}
