"""Client operations and the checkers each workload needs: register, kv, set, append,
the transactional list-append and rw-register, bank and counter, and ``machine`` (a user's
own state machine)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workloads.append import AppendWorkload
from workloads.bank import BankWorkload
from workloads.base import CheckInput, Workload
from workloads.counter import CounterWorkload
from workloads.kv import KvWorkload
from workloads.machine import MachineWorkload
from workloads.register import RegisterWorkload
from workloads.set import SetWorkload
from workloads.txn import ListAppendWorkload, RwRegisterWorkload

REGISTRY: dict[str, type[Workload]] = {
    c.name: c
    for c in (
        RegisterWorkload,
        KvWorkload,
        SetWorkload,
        AppendWorkload,
        ListAppendWorkload,
        RwRegisterWorkload,
        BankWorkload,
        CounterWorkload,
        MachineWorkload,
    )
}


def make(
    name: str, concurrency: int = 10, target_opts: Mapping[str, Any] | None = None
) -> Workload:
    """The workload ``name``; one that reads the run's target options (``machine``: its
    ``state_machine``) gets them, and a ValueError (one line) when they do not suit it."""
    try:
        cls = REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(REGISTRY)}") from None
    if cls.uses_target_opts:
        return cls(concurrency, target_opts=target_opts)  # type: ignore[call-arg]
    return cls(concurrency)


__all__ = ["REGISTRY", "CheckInput", "Workload", "make"]
