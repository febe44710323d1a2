"""EPaxos execution order: Tarjan's strongly connected components over committed instances.

Kept apart from the protocol (:mod:`paxos_impl.epaxos`) because it is pure graph work: given
a root and a way to look up an instance, it says in which order to execute what the root
depends on, or which instances it is still waiting for. Iterative, so a long dependency
chain cannot exhaust Python's recursion limit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

N = TypeVar("N", bound=Hashable)
# node -> ("done", []) executed already | ("ready", deps) committed | ("wait", []) not yet
Lookup = Callable[[N], tuple[str, list[N]]]


def execution_order(
    root: N, lookup: Lookup, *, skip_uncommitted: bool = False
) -> tuple[list[list[N]] | None, list[N]]:
    """The strongly connected components reachable from ``root`` through unexecuted
    committed instances, dependencies first (Tarjan emits a component only after every
    component it reaches), as ``(components, [])``; or ``(None, missing)`` when some
    reachable instance is not committed yet (``missing``: those found). With
    ``skip_uncommitted`` (a deliberate bug) such instances are left out instead."""
    kind, deps = lookup(root)
    if kind != "ready":
        return ([] if kind == "done" else None), ([] if kind == "done" else [root])
    index: dict[N, int] = {root: 0}
    low: dict[N, int] = {root: 0}
    stack: list[N] = [root]
    on: set[N] = {root}
    out: list[list[N]] = []
    missing: list[N] = []
    work = [(root, iter(deps))]
    while work:
        v, it = work[-1]
        descended = False
        for w in it:
            if w in index:
                if w in on:
                    low[v] = min(low[v], index[w])
                continue
            kind, wdeps = lookup(w)
            if kind == "done":
                continue
            if kind == "wait":
                if not skip_uncommitted:  # BUG(epaxos-execute-uncommitted) when skipped
                    missing.append(w)
                continue
            index[w] = low[w] = len(index)
            stack.append(w)
            on.add(w)
            work.append((w, iter(wdeps)))
            descended = True
            break
        if descended:
            continue
        work.pop()
        if work:
            u = work[-1][0]
            low[u] = min(low[u], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)
    if missing:
        return None, missing
    return out, []
