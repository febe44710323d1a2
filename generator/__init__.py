"""Pure, composable operation schedules: what each worker (or the nemesis) does next.

This package sits at the bottom of paxlab and imports nothing of ours, so workloads,
nemeses and the controller can all build on it (as Jepsen split ``jepsen.generator`` out).
See :mod:`generator.core` for the contract a generator keeps.
"""

from generator.core import (
    Context,
    Generator,
    Op,
    Result,
    Sleep,
    const,
    drain,
    each_worker,
    fn,
    limit,
    mix,
    rate,
    seq,
    sleep,
    stagger,
    then,
    time_limit,
    until_ok,
)

__all__ = [
    "Context",
    "Generator",
    "Op",
    "Result",
    "Sleep",
    "const",
    "drain",
    "each_worker",
    "fn",
    "limit",
    "mix",
    "rate",
    "seq",
    "sleep",
    "stagger",
    "then",
    "time_limit",
    "until_ok",
]
