"""Client operations and the checkers each workload needs: register, kv, set, append,
the transactional list-append and rw-register, bank and counter."""

from __future__ import annotations

from workloads.append import AppendWorkload
from workloads.bank import BankWorkload
from workloads.base import CheckInput, Workload
from workloads.counter import CounterWorkload
from workloads.kv import KvWorkload
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
    )
}


def make(name: str, concurrency: int = 10) -> Workload:
    try:
        return REGISTRY[name](concurrency)
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(REGISTRY)}") from None


__all__ = ["REGISTRY", "CheckInput", "Workload", "make"]
