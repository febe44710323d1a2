"""Version orders and dependency edges, and the anomalies that need no cycle.

list-append: each key's version order is its longest read; every other read must be a
prefix of it (else ``incompatible-order``). rw-register: values are unique per key; the
initial state (null) precedes every write, and a transaction that read ``v1`` and then
wrote ``v2`` to the same key puts ``v1`` before ``v2``. Only committed transactions (``ok``)
and indeterminate ones (``info``: their writes may have happened) take part; a read of a
failed transaction's write is ``G1a``.
"""

from __future__ import annotations

from typing import Any

from checker.txn.graph import Graph
from checker.txn.history import Txn

Anomaly = dict[str, Any]


def _ext_reads(t: Txn) -> list[tuple[Any, Any]]:
    """(key, value) of reads before the transaction's own first write of that key: what it
    observed of other transactions (later reads see its own writes)."""
    written: set = set()
    out = []
    for f, k, v in t.mops:
        if f == "r":
            if k not in written:
                out.append((k, v))
        else:
            written.add(k)
    return out


def _writers(txns: list[Txn], fs: str) -> tuple[dict, dict, dict, list[Anomaly]]:
    """Who wrote each (key, value): committed-or-maybe, failed; each writer's last value
    per key; and duplicate writes (values must be unique per key)."""
    writer: dict[tuple, int] = {}
    failed: dict[tuple, int] = {}
    final: dict[tuple, Any] = {}  # (txn, key) -> its last written value
    dups: list[Anomaly] = []
    for t in txns:
        for f, k, v in t.mops:
            if f != fs:
                continue
            kv = (k, v)
            if t.type == "fail":
                failed.setdefault(kv, t.id)
                continue
            if kv in writer and writer[kv] != t.id:
                dups.append({"type": "duplicate-writes", "key": k, "value": v,
                             "txns": [writer[kv], t.id],
                             "why": f"{k!r}={v!r} written by T{writer[kv]} and T{t.id}: "
                                    "values must be unique per key"})  # fmt: skip
            writer.setdefault(kv, t.id)
            final[(t.id, k)] = v
    return writer, failed, final, dups


def _read_value_checks(t: Txn, k: Any, v: Any, writer: dict, failed: dict, final: dict,
                       anomalies: list[Anomaly]) -> bool:  # fmt: skip
    """G1a, G1b and garbage for one observed value; True when it is a usable write."""
    kv = (k, v)
    if kv in writer:
        w = writer[kv]
        if w != t.id and final.get((w, k)) != v:
            anomalies.append({"type": "G1b", "txns": [w, t.id], "key": k, "value": v,
                              "why": f"T{t.id} read {k!r}={v!r}, an intermediate write of "
                                     f"T{w}, which later wrote {final[(w, k)]!r}"})  # fmt: skip
        return True
    if kv in failed:
        anomalies.append({"type": "G1a", "txns": [failed[kv], t.id], "key": k, "value": v,
                          "why": f"T{t.id} read {k!r}={v!r}, written by T{failed[kv]}, "
                                 "which failed (aborted)"})  # fmt: skip
        return False
    anomalies.append({"type": "garbage-read", "txns": [t.id], "key": k, "value": v,
                      "why": f"T{t.id} read {k!r}={v!r}, which no transaction wrote"})  # fmt: skip
    return False


def internal(t: Txn, model: str) -> Anomaly | None:
    """A committed transaction whose reads disagree with itself: a read must show what the
    transaction already knows of the key (its earlier read, then its own writes since; with
    no earlier read, a list ending with its own appends), and no read may see a value the
    transaction writes only later."""
    if len({k for _, k, _ in t.mops}) == len(t.mops):
        return None  # no key touched twice: nothing to disagree with
    la = model == "list-append"
    known: dict[Any, Any] = {}  # the key's state as this transaction must see it
    suffix: dict[Any, list] = {}  # own appends to a key whose earlier state is unknown
    later = {(k, v) for f, k, v in t.mops if f != "r"}
    for i, (f, k, v) in enumerate(t.mops):
        if f != "r":
            later.discard((k, v))
            if not la:
                known[k] = v
            elif k in known:
                known[k] = [*known[k], v]
            else:
                suffix.setdefault(k, []).append(v)
            continue
        vals = (v or []) if la else [v]
        future = [x for x in vals if (k, x) in later]
        want: Any = None
        if k in known:
            bad = (list(vals) if la else v) != known[k]
            want = known[k]
        elif k in suffix:
            suf = suffix[k]
            bad = len(vals) < len(suf) or list(vals[-len(suf) :]) != suf
            want = f"a list ending {suf!r}"
        else:
            bad = False
        known[k] = list(vals) if la else v
        if future or bad:
            what = f"a value it writes later ({future[0]!r})" if future else f"expected {want!r}"
            return {"type": "internal", "txns": [t.id], "key": k, "value": v,
                    "why": f"T{t.id}'s micro-op {i} read {k!r}={v!r}: {what}"}  # fmt: skip
    return None


def list_append(txns: list[Txn]) -> tuple[Graph, list[Anomaly], dict]:
    """The ww/wr/rw graph of a list-append history, its non-cycle anomalies and the
    inferred version order of each key."""
    g = Graph()
    anomalies: list[Anomaly] = []
    writer, failed, final, dups = _writers(txns, "append")
    anomalies.extend(dups)
    longest: dict[Any, list] = {}
    longest_by: dict[Any, int] = {}
    reads: list[tuple[Txn, Any, list]] = []  # what each transaction found, for the edges
    states: list[tuple[Txn, Any, list]] = []  # every list read, for the version orders
    for t in txns:
        if t.type != "ok":
            continue
        bad = internal(t, "list-append")
        if bad:
            anomalies.append(bad)
        own: dict[Any, int] = {}
        found: set = set()
        for f, k, v in t.mops:
            if f != "r":
                own[k] = own.get(k, 0) + 1
                continue
            vs = [] if v is None else v
            if len(set(vs)) != len(vs):
                seen: set = set()
                dup = [x for x in vs if x in seen or seen.add(x)]
                anomalies.append({"type": "duplicate-elements", "txns": [t.id], "key": k,
                                  "value": dup[:10],
                                  "why": f"T{t.id} read {k!r} holding {dup[:10]!r} "
                                         "more than once"})  # fmt: skip
            states.append((t, k, vs))
            if len(vs) > len(longest.get(k, ())):
                longest[k], longest_by[k] = vs, t.id
            # a read after its own appends shows the list as the transaction found it,
            # followed by those appends (unless `internal` found otherwise)
            m = own.get(k, 0)
            if k not in found and not (m and bad):
                found.add(k)
                reads.append((t, k, vs[: len(vs) - m] if m else vs))
    for t, k, vs in states:
        lg = longest[k] if k in longest else []
        if lg[: len(vs)] != vs:
            anomalies.append({"type": "incompatible-order", "txns": [longest_by[k], t.id],
                              "key": k, "value": [vs, lg],
                              "why": f"T{t.id} read {k!r}={vs!r}, not a prefix of "
                                     f"T{longest_by[k]}'s read {lg!r}"})  # fmt: skip
    anomalies.extend(_split_appends(txns, longest, longest_by))
    orders: dict[Any, list] = {}
    seen_els = {k: set(lg) for k, lg in longest.items()}
    by_id = {t.id: t for t in txns}
    for k, lg in longest.items():
        usable = []
        for x in lg:
            if (k, x) in writer:
                usable.append(x)
        orders[k] = usable
        for a, b in zip(usable, usable[1:], strict=False):
            wa, wb = writer[(k, a)], writer[(k, b)]
            g.add(wa, wb, "ww", ("T{} appended {!r} to {!r} just before T{} appended {!r}",
                                 (wa, a, k, wb, b)))  # fmt: skip
    # every element read must have been appended: those of each key's longest read once,
    # and those of the reads that are not a prefix of it
    checked: set = set()
    for k, lg in longest.items():
        for x in lg:
            if (k, x) not in writer and (k, x) not in checked:
                checked.add((k, x))
                _read_value_checks(by_id[longest_by[k]], k, x, writer, failed, final, anomalies)
    for t, k, vs in reads:
        if vs:  # the last element says who wrote what was read
            _read_value_checks(t, k, vs[-1], writer, failed, final, anomalies)
        lg = longest.get(k, [])
        prefix = lg[: len(vs)] == vs
        if not prefix:
            for x in vs[:-1]:
                if (k, x) not in writer and (k, x) not in checked:
                    checked.add((k, x))
                    _read_value_checks(t, k, x, writer, failed, final, anomalies)
        if vs and (k, vs[-1]) in writer:
            w = writer[(k, vs[-1])]
            g.add(w, t.id, "wr", ("T{} read {!r}={!r}, whose last element T{} appended",
                                  (t.id, k, vs, w)))  # fmt: skip
        if prefix and len(lg) > len(vs) and (k, lg[len(vs)]) in writer:
            nxt = lg[len(vs)]
            w = writer[(k, nxt)]
            g.add(t.id, w, "rw", ("T{} read {!r}={!r}, missing {!r} that T{} appended next",
                                  (t.id, k, vs, nxt, w)))  # fmt: skip
    # A committed append no read saw comes after everything any read saw of its key
    # (the longest read is a prefix of the final list, which holds it): every reader of
    # the key missed it.
    # (an indeterminate transaction counts as committed once a read saw any of its appends)
    committed = {w for (k, x), w in writer.items() if x in seen_els.get(k, ())}
    committed.update(t.id for t in txns if t.type == "ok")
    unseen: dict[Any, list[tuple[Any, int]]] = {}
    for (k, x), w in writer.items():
        if w in committed and x not in seen_els.get(k, ()):
            unseen.setdefault(k, []).append((x, w))
    for t, k, vs in reads:
        for x, w in unseen.get(k, ()):
            g.add(t.id, w, "rw", ("T{} read {!r}={!r}, missing {!r} that T{} appended (a "
                                  "committed append no read saw)", (t.id, k, vs, x, w)))  # fmt: skip
    return g, anomalies, orders


def _split_appends(txns: list[Txn], longest: dict, longest_by: dict) -> list[Anomaly]:
    """A transaction's appends to one key are one atomic run in the list: those a read
    shows must be the first of them, side by side, in the transaction's order."""
    out = []
    for t in txns:
        if t.type == "fail":
            continue
        mine: dict[Any, list] = {}
        for f, k, v in t.mops:
            if f == "append" and k in longest:
                mine.setdefault(k, []).append(v)
        for k, vals in mine.items():
            if len(vals) < 2:
                continue
            lg = longest[k]
            pos = {x: i for i, x in enumerate(lg)}
            shown = [pos[x] for x in vals if x in pos]
            if (
                not shown
                or shown == list(range(shown[0], shown[0] + len(shown)))
                and all(x in pos for x in vals[: len(shown)])
            ):
                continue
            out.append({"type": "incompatible-order", "txns": [t.id, longest_by[k]], "key": k,
                        "value": [vals, lg],
                        "why": f"T{t.id} appended {vals!r} to {k!r} but T{longest_by[k]} "
                               f"read {lg!r}: not its first appends, side by side, in order"})  # fmt: skip
    return out


def rw_register(txns: list[Txn]) -> tuple[Graph, list[Anomaly], dict]:
    """The ww/wr/rw graph of a rw-register history and its non-cycle anomalies."""
    g = Graph()
    anomalies: list[Anomaly] = []
    writer, failed, final, dups = _writers(txns, "w")
    anomalies.extend(dups)
    by_key: dict[Any, list[Any]] = {}
    for k, v in writer:
        by_key.setdefault(k, []).append(v)
    follows: dict[tuple, set] = {}  # (k, v1) -> values known to come right after v1
    reads: list[tuple[Txn, Any, Any]] = []
    for t in txns:
        if t.type not in ("ok", "info"):
            continue
        ext = dict(_ext_reads(t)) if t.type == "ok" else {}
        bad = internal(t, "rw-register") if t.type == "ok" else None
        if bad:
            anomalies.append(bad)
        for k, v in ext.items():
            if t.type == "ok":
                reads.append((t, k, v))
        for k in {k for f, k, _ in t.mops if f == "w"}:
            if k in ext and ext[k] is not None and (k, ext[k]) in writer:
                follows.setdefault((k, ext[k]), set()).add(final[(t.id, k)])
    for (k, v1), nxt in follows.items():
        for v2 in nxt:
            a, b = writer[(k, v1)], writer[(k, v2)]
            g.add(a, b, "ww", f"T{b} read {k!r}={v1!r} (written by T{a}) and wrote {v2!r}")
    for t, k, v in reads:
        if v is None:  # the initial state: before every write of the key
            for v2 in by_key.get(k, ()):
                w = writer[(k, v2)]
                g.add(t.id, w, "rw", f"T{t.id} read {k!r}=null, before T{w} wrote {v2!r}")
            continue
        if not _read_value_checks(t, k, v, writer, failed, final, anomalies):
            continue
        w = writer[(k, v)]
        g.add(w, t.id, "wr", f"T{t.id} read {k!r}={v!r}, written by T{w}")
        for v2 in follows.get((k, v), ()):
            w2 = writer[(k, v2)]
            g.add(t.id, w2, "rw", f"T{t.id} read {k!r}={v!r}, overwritten next by T{w2} "
                                  f"with {v2!r}")  # fmt: skip
    return g, anomalies, {}
