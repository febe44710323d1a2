"""The dependency graph: labelled edges with their reasons, SCCs and shortest cycles.

Edges are ``ww``, ``wr``, ``rw`` and ``rt`` (realtime: one transaction completed before the
other began). A cycle is searched only inside one strongly connected component, so a valid
history (no component of more than one transaction) costs one linear pass.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from checker.txn.history import Txn

TYPES = ("ww", "wr", "rw", "rt")
BIT = {k: 1 << i for i, k in enumerate(TYPES)}
MAX_SEEDS = 100  # start edges tried per anomaly class and component
MAX_STATES = 200_000  # states explored per anomaly class and component: a huge SCC's bound


Why = str | tuple[str, tuple]  # a reason, or a format and its arguments (formatted late)


class Graph:
    """Adjacency with, for every edge and type, why the edge exists (first reason kept).
    Reasons may be left unformatted, ``(format, args)``: most edges are never shown."""

    def __init__(self) -> None:
        self.out: dict[int, dict[int, int]] = {}  # a -> b -> the kinds' bits
        self.reasons: dict[tuple[int, int, str], Why] = {}
        self.rt_edges = 0  # realtime edges (their reason is implied: not in ``reasons``)

    def why(self, a: int, b: int, kind: str) -> str:
        if kind == "rt":  # one reason for every realtime edge: not stored per edge
            return f"T{a} completed before T{b} was invoked"
        w = self.reasons[(a, b, kind)]
        return w if isinstance(w, str) else w[0].format(*w[1])

    def kinds(self, a: int, b: int) -> list[str]:
        m = self.out.get(a, {}).get(b, 0)
        return [k for k in TYPES if m & BIT[k]]

    def add(self, a: int, b: int, kind: str, why: Why) -> None:
        if a == b:
            return
        d = self.out.get(a)
        if d is None:
            d = self.out[a] = {}
        m = d.get(b, 0)
        bit = BIT[kind]
        if not m & bit:
            d[b] = m | bit
            self.reasons[(a, b, kind)] = why

    def add_realtime_edges(self, preds: Iterable[int], b: int) -> int:
        """``p rt b`` for every ``p`` (the reason is implied by the kind); how many were new."""
        out, bit, added = self.out, BIT["rt"], 0
        for a in preds:
            d = out.get(a)
            if d is None:
                d = out[a] = {}
            m = d.get(b, 0)
            if not m & bit:
                d[b] = m | bit
                added += 1
        return added

    def nodes(self) -> set[int]:
        ns = set(self.out)
        for d in self.out.values():
            ns.update(d)
        return ns

    def edge_count(self) -> int:
        return len(self.reasons) + self.rt_edges


def add_realtime(g: Graph, txns: list[Txn]) -> None:
    """``a rt b`` when ``a`` completed before ``b`` was invoked, as Elle builds it: only
    edges from the frontier of latest completions, the rest follows by transitivity."""
    events: list[tuple[int, int, int]] = []  # (time, 0 completion before 1 invocation, id)
    for t in txns:
        if t.type == "fail":
            continue
        events.append((t.call, 1, t.id))
        if t.type == "ok" and t.ret is not None:
            events.append((t.ret, 0, t.id))
    events.sort()
    frontier: set[int] = set()
    preds: dict[int, tuple[int, ...]] = {}
    for _, kind, i in events:
        if kind == 1:
            preds[i] = tuple(frontier)
            g.rt_edges += g.add_realtime_edges(preds[i], i)
        else:
            frontier.difference_update(preds.get(i, ()))
            frontier.add(i)


def sccs(g: Graph, kinds: Iterable[str] = TYPES, within: set[int] | None = None) -> list[list[int]]:
    """Strongly connected components of more than one node (iterative Tarjan), over the
    edges of the given kinds; only among the nodes ``within`` if given (a cycle over some
    kinds is a cycle over more kinds too, so the components of a subset of kinds lie
    inside those of the whole set: searching only there skips the acyclic bulk)."""
    mask = sum(BIT[k] for k in set(kinds))
    if within is None:
        adj = {a: [b for b, m in d.items() if m & mask] for a, d in g.out.items()}
    else:
        out_ = g.out
        adj = {
            a: [b for b, m in out_.get(a, {}).items() if m & mask and b in within] for a in within
        }
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    n = 0
    for root in adj:
        if root in index:
            continue
        work = [(root, 0)]
        index[root] = low[root] = n
        n += 1
        stack.append(root)
        on.add(root)
        while work:
            v, i = work[-1]
            succ = adj.get(v, ())
            if i < len(succ):
                work[-1] = (v, i + 1)
                w = succ[i]
                if w not in index:
                    index[w] = low[w] = n
                    n += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
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
                if len(comp) > 1:
                    out.append(comp)
    return out


Step = tuple[int, int, str]  # (from, to, kind)
Accept = Callable[[dict[str, int]], bool]


def shortest_cycle(g: Graph, comp: set[int], kinds: tuple[str, ...], seed_kind: str | None,
                   accept: Accept, cap: dict[str, int]) -> list[Step] | None:  # fmt: skip
    """A shortest cycle inside ``comp`` over edges of ``kinds`` whose edge counts (each
    kind counted up to ``cap[kind]``) satisfy ``accept``; it starts with an edge of
    ``seed_kind`` (any kind when None). Breadth-first over (node, counts) states from up
    to MAX_SEEDS start edges, within MAX_STATES states in all: in a huge component the
    cycle found is short but may not be the shortest (Elle bounds its search too)."""
    allowed = set(kinds)
    order = list(kinds)
    seeds = []
    for a in sorted(comp):
        for b in g.out.get(a, {}):
            if b in comp:
                for k in g.kinds(a, b):
                    if k in allowed and (seed_kind is None or k == seed_kind):
                        seeds.append((a, b, k))
    best: list[Step] | None = None
    budget = MAX_STATES
    for a, b, k in seeds[:MAX_SEEDS]:
        if budget <= 0:
            break
        start = (b, tuple(min(int(k == x), cap.get(x, 0)) for x in order))
        prev: dict[tuple, tuple[tuple, str] | None] = {start: None}
        depth = {start: 1}
        q = deque([start])
        found = None
        while q and found is None and budget > 0:
            state = q.popleft()
            v, counts = state
            d = depth[state]
            if best is not None and d + 1 > len(best) - 1:
                break  # only a strictly shorter cycle is worth finding
            budget -= 1
            for w in g.out.get(v, {}):
                if w not in comp:
                    continue
                for kk in g.kinds(v, w):
                    if kk not in allowed:
                        continue
                    j = order.index(kk)
                    c = list(counts)
                    c[j] = min(c[j] + 1, cap.get(kk, 0))
                    ns = (w, tuple(c))
                    if ns in prev:
                        continue
                    prev[ns] = (state, kk)
                    depth[ns] = d + 1
                    if w == a:
                        if accept(dict(zip(order, ns[1], strict=True))):
                            found = ns
                            break
                        continue  # back at the start without the right edges: no cycle
                    q.append(ns)
                if found is not None:
                    break
        if found is None:
            continue
        path: list[Step] = []
        st = found
        while prev[st] is not None:
            p, kk = prev[st]  # type: ignore[misc]
            path.append((p[0], st[0], kk))
            st = p
        path.append((a, b, k))
        path.reverse()
        if best is None or len(path) < len(best):
            best = path
            if len(best) == 2:
                break  # no cycle is shorter
    return best
