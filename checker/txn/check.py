"""The verdict: which anomalies a history shows and which consistency model they break.

Cycle classes follow Adya and Elle: ``G0`` (write cycle: ww only), ``G1c`` (ww and wr, at
least one wr), ``G-single`` (exactly one rw), ``G2-item`` (two or more rw); a cycle that
needs a realtime edge is the class's ``-realtime`` variant, which only strict
serializability forbids. Non-cycle anomalies (G1a, G1b, internal inconsistency,
incompatible orders, duplicate elements or writes, garbage reads) break every model here.
"""

from __future__ import annotations

import time
from typing import Any

from checker.txn import infer
from checker.txn.graph import Graph, add_realtime, sccs, shortest_cycle
from checker.txn.history import Txn

MODELS = ("list-append", "rw-register")
NON_CYCLE = ("G1a", "G1b", "internal", "incompatible-order", "duplicate-elements",
             "duplicate-writes", "garbage-read")  # fmt: skip
CYCLES = ("G0", "G1c", "G-single", "G2-item")
# What each consistency model forbids (Elle's tables: snapshot isolation allows G2-item).
FORBIDS = {
    "serializable": {*NON_CYCLE, *CYCLES},
    "snapshot-isolation": {*NON_CYCLE, "G0", "G1c", "G-single"},
    "strict-serializable": {*NON_CYCLE, *CYCLES, *(c + "-realtime" for c in CYCLES)},
}
CONSISTENCY = tuple(FORBIDS)

# (class, edge kinds, the kind a search starts from, accepted counts, count caps)
_SEARCHES: list[tuple[str, tuple[str, ...], str | None, Any, dict[str, int]]] = [
    ("G0", ("ww",), None, lambda c: True, {}),
    ("G1c", ("ww", "wr"), "wr", lambda c: c["wr"] >= 1, {"wr": 1}),
    ("G-single", ("ww", "wr", "rw"), "rw", lambda c: c["rw"] == 1, {"rw": 2}),
    ("G2-item", ("ww", "wr", "rw"), "rw", lambda c: c["rw"] >= 2, {"rw": 2}),
]


def _cycles(g: Graph, realtime: bool) -> list[dict]:
    """The shortest cycle of each class (and realtime variant) found in the graph. Each
    class is searched only in the strongly connected components of its own edge kinds, so
    a class that has no cycle costs one linear pass."""
    found: list[dict] = []
    seen: set[str] = set()
    comps: dict[tuple[str, ...], list[list[int]]] = {}
    searches = [(name, kinds, seed, accept, cap) for name, kinds, seed, accept, cap in _SEARCHES]
    if realtime:
        searches += [(name + "-realtime", (*kinds, "rt"), "rt",
                      lambda c, a=accept: c["rt"] >= 1 and a(c), {**cap, "rt": 1})
                     for name, kinds, _seed, accept, cap in _SEARCHES]  # fmt: skip
    # every cycle lies inside a component of the graph of all the kinds searched, so one
    # pass over the whole graph bounds the others (a valid history: that one pass only)
    widest = tuple(sorted({k for _, kinds, *_ in searches for k in kinds}))
    inside = {v for comp in sccs(g, widest) for v in comp}
    for name, kinds, seed, accept, cap in searches:
        if name.removesuffix("-realtime") in seen:
            continue  # the plain class was found: its realtime variant adds nothing
        if kinds not in comps:
            comps[kinds] = sccs(g, kinds, inside) if inside else []
        for comp in comps[kinds]:
            cyc = shortest_cycle(g, set(comp), kinds, seed, accept, cap)
            if cyc:
                seen.add(name)
                found.append(_describe(g, name, cyc))
                break
    return found


def _describe(g: Graph, name: str, cyc: list[tuple[int, int, str]]) -> dict:
    steps = [{"from": a, "to": b, "type": k, "why": g.why(a, b, k)} for a, b, k in cyc]
    return {"type": name, "txns": [a for a, _, _ in cyc], "cycle": steps}


def check_txns(txns: list[Txn], model: str, consistency: str = "serializable") -> dict:
    """Judge a transaction history against a consistency model. ``valid`` is False when an
    anomaly the model forbids is found; the result lists every anomaly found (the allowed
    ones too, for the record) with the transactions and each edge's reason."""
    if model not in MODELS:
        raise ValueError(f"unknown transaction model {model!r} (want {', '.join(MODELS)})")
    if consistency not in FORBIDS:
        raise ValueError(f"unknown consistency model {consistency!r}")
    t0 = time.monotonic()
    build = infer.list_append if model == "list-append" else infer.rw_register
    g, anomalies, _ = build(txns)
    realtime = consistency == "strict-serializable"
    if realtime:
        add_realtime(g, txns)
    anomalies = _dedup(anomalies) + _cycles(g, realtime)
    forbidden = FORBIDS[consistency]
    bad = [a for a in anomalies if a["type"] in forbidden]
    counts = {"total": len(txns), "ok": 0, "fail": 0, "info": 0}
    for t in txns:
        counts[t.type] += 1
    by_id = {t.id: t for t in txns}
    involved = sorted({i for a in bad for i in a["txns"]})
    return {
        "model": model,
        "consistency": consistency,
        "valid": not bad,
        "anomaly_types": sorted({a["type"] for a in bad}),
        "anomalies": bad,
        "allowed_anomalies": [a for a in anomalies if a["type"] not in forbidden],
        "txns": {str(i): by_id[i].as_dict() for i in involved[:200]},
        "ops": counts,
        "edges": g.edge_count(),
        "time_s": round(time.monotonic() - t0, 6),
    }


def _dedup(anomalies: list[dict]) -> list[dict]:
    seen: set = set()
    out = []
    for a in anomalies:
        k = (a["type"], tuple(a["txns"]), repr(a.get("key")), repr(a.get("value")))
        if k not in seen:
            seen.add(k)
            out.append(a)
    return out


def summary(r: dict) -> str:
    """One line per history, for the CLI."""
    n = r["ops"]
    tail = f"({n['total']:,} txns: {n['ok']:,} ok, {n['info']:,} info, {n['fail']:,} fail)"
    if r["valid"]:
        return f"{r['model']} {r['consistency']}: valid {tail}"
    a = r["anomalies"][0]
    if "cycle" in a:
        why = "; ".join(f"T{s['from']} -{s['type']}-> T{s['to']}: {s['why']}" for s in a["cycle"])
    else:
        why = a["why"]
    more = len(r["anomalies"]) - 1
    extra = f" (+{more} more)" if more else ""
    return (f"{r['model']} NOT {r['consistency']}: {', '.join(r['anomaly_types'])}; "
            f"{a['type']}: {why}{extra} {tail}")  # fmt: skip
