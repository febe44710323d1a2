"""Linearizability: Wing-Gong-Lowe search with memoisation, pruning and P-compositionality.

The search (`search`) walks the history's call and return entries kept in a doubly linked
list, as Porcupine does: linearizing an op unlinks its call and return entries, a return
entry reached means the ops linearized so far cannot be extended, and the search
backtracks. Configurations (set of linearized ops as a Python-int bitset, model state) are
memoised, so none is explored twice. On top of plain WGL:

* **Indeterminate ops live in their own list** (they have no return entry): they are tried
  only after every determinate candidate, since most timed-out ops either took effect
  long before anyone looked or never did. Success is "every ``ok`` op linearized".
* **Interchangeable indeterminate ops**: two ``info`` ops with the same f and input are
  interchangeable once both are invoked, so only the earliest unlinearized one of each
  such class is tried (a run of timed-out ``write 3`` is one choice, not 2^n).
* **Greedy steps**: a read-only op (`Model.pure`: a read, a cas that saw a mismatch)
  that is legal now is linearized at once with no alternative explored: it changes no
  state wherever it goes, so anything that works with it placed later works with it here.
* **Candidate order**: read-only ops first; then, when the op about to return needs a
  state it does not have, the ops that produce that state; then earliest return first
  (the op about to return is the most constrained); info ops last.
* **Dead ends** (`Model.effect`): when a pending op needs a state that no op still
  unplaced and invoked before it returned can produce, the configuration is abandoned at
  once instead of after every order of the concurrent ops has been tried. The same test
  on the whole history (`unproducible`) refutes a read of a never-written value with no
  search at all.
* **Model pruning** (`Model.prune`): ``info`` writes whose value nobody observes are
  dropped before the search.
* **Interned states and a step cache**: states become small ints, so memo keys hash fast
  and the model is called once per (op, state).

* **Unread states collapse** (`Model.abstraction`): string or list states that no op can
  ever read (after appends) become one abstract state, so orders of unread appends do not
  multiply configurations.

`check` splits a history by key (``Model.split``) and checks keys independently, in worker
processes when the history is large; `check_file` streams a file and spills keys to
temporary buckets so memory follows the largest key, not the whole history. The search is
a generator (`search_steps`, `check_steps`) that keeps its place between steps, so keys
take turns (`schedule`): one hard key cannot starve the others, and the first refuted key
ends the check unless ``full``. The index building (`info_classes`, `linked_entries`,
`producers`) is pure functions; only the hot loop is inlined.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left, bisect_right

from checker import native
from checker.history import HistoryError, Op, iter_events, iter_ops, ops_from
from checker.models import ANYTHING, ILLEGAL, NOCHECK, NOTHING, Model, freeze, get_model, thaw

TYPE_CHECKING = False  # not `typing`'s: importing typing is start-up time of every check
if TYPE_CHECKING:  # (collections too: with functools, a tenth of a quick check's CPU)
    from collections.abc import Callable, Generator, Iterable
    from typing import Any

    Progress = Callable[[dict], None]

PARALLEL_MIN_OPS = 40_000  # below this a process pool costs more than it saves
SPILL_MIN_BYTES = 64 << 20  # files above this are split by key through temporary buckets
CHECK_EVERY = 4096  # search iterations between looks at the clock


class TimeUp(Exception):
    pass


def op_summary(op: Op) -> dict:
    """An op as JSON for results: where it is in the file and what it did."""
    d = {
        "index": op.index,
        "process": op.process,
        "f": op.f,
        "key": op.key,
        "value": op.value,
        "type": op.type,
    }
    if op.type == "ok" and op.output is not None:
        d["output"] = op.output
    if op.error is not None:
        d["error"] = op.error
    d["line"] = op.line
    return d


_KEY_CLASSES = frozenset((str, int, type(None)))


def validate(ops: Iterable[Op], model: Model) -> None:
    easy = model.always_valid  # fs valid with any value and a plain key: no call for them
    check = model.validate
    keys = _KEY_CLASSES
    for op in ops:
        if op.f in easy and op.key.__class__ in keys:
            continue
        err = check(op)
        if err:
            raise HistoryError(f"line {op.line}: {err}")


def relevant(ops: list[Op], model: Model) -> list[Op]:
    """The ops the search must place: fails dropped (except those executed with no effect,
    `Model.kept_fail`: a cas mismatch), info reads dropped."""
    keep = []
    kept_fail = model.kept_fail
    for o in ops:
        t = o.type
        if t == "fail":
            if kept_fail(o):
                keep.append(o)
        elif t == "info":
            if model.fs.get(o.f) != "read":
                keep.append(o)
        else:
            keep.append(o)
    return model.prune(keep)


def _ret(o: Op) -> int | None:
    """Return position: a cas mismatch completed (it was executed); info ops never return."""
    return None if o.type == "info" else o.ret


def search(
    ops: list[Op],
    model: Model,
    initial: Any = None,
    deadline: float | None = None,
    on_tick: Callable[[int], None] | None = None,
    relaxed: bool = False,
) -> dict:
    """`search_steps` run to the end: TimeUp(configurations explored) past ``deadline``."""
    return drive(search_steps(ops, model, initial, relaxed), deadline, on_tick)


def drive(steps: Generator[int, None, dict], deadline: float | None,
          on_tick: Callable[[int], None] | None = None) -> dict:  # fmt: skip
    """Run a stepwise search to its result, looking at the clock between its steps."""
    try:
        while True:
            it = next(steps)
            if deadline is not None and time.monotonic() > deadline:
                steps.close()
                raise TimeUp(it)
            if on_tick is not None:
                on_tick(it)
    except StopIteration as stop:
        return stop.value


def info_classes(
    fs: list[str], args: list[Any], rets: list[int | None]
) -> tuple[list[int], list[int]]:
    """Interchangeable info ops: same f and input. Only a class's earliest unlinearized
    member is ever a candidate, so a run of timed-out ``write 3`` is one choice, not 2^n.
    Returns (pred, succ): the previous / next member of each info op's class, by call
    order (-1: none; -1 too for determinate ops)."""
    m = len(fs)
    pred, succ = [-1] * m, [-1] * m
    last: dict = {}
    for i in range(m):
        if rets[i] is None:
            k = (fs[i], args[i])
            p = last.get(k, -1)
            pred[i] = p
            if p >= 0:
                succ[p] = i
            last[k] = i
    return pred, succ


def linked_entries(calls: list, rets: list[int | None], pred: list[int]) -> tuple[list[int], ...]:
    """The search's doubly linked lists, as Porcupine's makeLinkedEntries builds them.

    Ops are positions 0..m-1 (sorted by call). Every call and determinate return gets a
    rank on one axis, calls before returns at equal positions so that intervals that
    touch are concurrent (closed intervals). Entry 2i is op i's call, 2i+1 its return;
    2m and 2m+1 are the head and tail sentinels: ``nxt``/``prv``. Info ops (no return)
    have their own list, holding only the first member of each interchangeable class
    (``pred`` -1; `info_classes`), sentinels m and m+1: ``inxt``/``iprv``. ``crank`` and
    ``rrank`` are each op's call and return rank (``crank`` of the info tail: past all).
    Returns (nxt, prv, inxt, iprv, crank, rrank)."""
    m = len(calls)
    ents = [(c, 0, i) for i, c in enumerate(calls)]
    ents += [(r, 1, i) for i, r in enumerate(rets) if r is not None]
    ents.sort()
    head, tail = 2 * m, 2 * m + 1
    nxt = [0] * (2 * m + 2)
    prv = [0] * (2 * m + 2)
    ihead, itail = m, m + 1
    inxt = [0] * (m + 2)
    iprv = [0] * (m + 2)
    crank = [0] * (m + 2)
    rrank = [0] * m
    last, ilast = head, ihead
    for rank, (_, kind, i) in enumerate(ents):
        if kind:
            rrank[i] = rank
            e = 2 * i + 1
        elif rets[i] is None:
            crank[i] = rank
            if pred[i] < 0:
                inxt[ilast] = i
                iprv[i] = ilast
                ilast = i
            continue
        else:
            crank[i] = rank
            e = 2 * i
        nxt[last] = e
        prv[e] = last
        last = e
    nxt[last], prv[tail], nxt[tail] = tail, last, tail
    inxt[ilast], iprv[itail], inxt[itail] = itail, ilast, itail
    crank[itail] = len(ents) + 1
    return nxt, prv, inxt, iprv, crank, rrank


def producers(produces: list[Any], isinfo: list[bool], crank: list[int]) -> tuple:
    """Who can produce which state, for the dead-end test, indexed by call rank.

    Returns (prod_ok, prod_info, any_ok, any_info, all_ok, all_info): for each state the
    determinate ops leaving it as (call ranks, ops), searched by bisection from the
    earliest unplaced call on, and the info ops leaving it (a list, scanned); the same
    for ops whose resulting state depends on the state before (``ANYTHING``: appends);
    and every op with a fixed resulting state, merged ("could anything reset the state").
    """
    prod_ok: dict[Any, tuple[list[int], list[int]]] = {}
    prod_info: dict[Any, list[int]] = {}
    for i in sorted(range(len(produces)), key=crank.__getitem__):
        pv = produces[i]
        if pv is NOTHING:
            continue
        if isinfo[i]:
            prod_info.setdefault(pv, []).append(i)
        else:
            cr, ids = prod_ok.setdefault(pv, ([], []))
            cr.append(crank[i])
            ids.append(i)
    any_ok = prod_ok.pop(ANYTHING, ([], []))
    any_info = prod_info.pop(ANYTHING, [])
    all_ok: tuple[list[int], list[int]] = ([], [])
    for i in sorted((i for cr_ids in prod_ok.values() for i in cr_ids[1]), key=crank.__getitem__):
        all_ok[0].append(crank[i])
        all_ok[1].append(i)
    all_info = sorted((j for lst in prod_info.values() for j in lst), key=crank.__getitem__)
    return prod_ok, prod_info, any_ok, any_info, all_ok, all_info


def search_steps(
    ops: list[Op], model: Model, initial: Any = None, relaxed: bool = False
) -> Generator[int, None, dict]:
    """Decide one independent sub-history, stepwise: yields the configurations explored so
    far every `CHECK_EVERY` of them (so a caller can share the CPU among keys and stop at a
    time limit) and returns {"valid", "explored", ...}.

    ``relaxed``: let every indeterminate op take effect any number of times after its
    invocation (`refute`). Every linearization is then also a relaxed one, so a relaxed
    ``valid: False`` is a proof of non-linearizability; a relaxed True proves nothing.

    ``ops`` must already be filtered (`relevant`). When invalid, the result holds
    ``fail_at`` (position in ``ops`` of the op no order could place), ``prefix`` (positions
    of the longest linearization found) and ``states`` (model state after each).
    """
    compiled_ok = not relaxed and native.available()
    if compiled_ok:
        compiled = native.string_steps(ops, model, model.init(initial))
        if compiled is not None:
            try:
                return (yield from compiled)
            except native.Wide:
                compiled_ok = False  # its window outgrew it: the Python search, from the start
    ops = sorted(ops, key=lambda o: (o.call, o.line))
    m = len(ops)
    fs = [o.f for o in ops]
    args = [model.arg(o) for o in ops]
    outs = [model.output(o) for o in ops]
    rets = [_ret(o) for o in ops]
    pure = [model.pure(f, out) for f, out in zip(fs, outs, strict=True)]
    init = model.init(initial)
    if compiled_ok:
        compiled = native.native_steps(ops, model, fs, args, outs, rets, init)
        if compiled is not None:
            try:
                return (yield from compiled)
            except native.Wide:
                pass  # its window outgrew it: the Python search, from the start

    pred, succ = info_classes(fs, args, rets)
    nxt, prv, inxt, iprv, crank, rrank = linked_entries([o.call for o in ops], rets, pred)
    head, ihead = 2 * m, m  # the lists' head sentinels
    linflag = bytearray(m)
    same_effect = model.update_ignores_output
    ckey = [(f, a) for f, a in zip(fs, args, strict=True)]

    remaining = sum(1 for r in rets if r is not None)
    if remaining == 0:
        return {"valid": True, "explored": 0}

    canon = model.abstraction(fs, args, outs)
    step = model.step
    if canon is not None:
        raw_step = step

        def step(state: Any, f: str, arg: Any, out: Any) -> Any:
            # a state the search holds is already canonical (canon is idempotent): a read,
            # which leaves its state as it is, needs no second look (~10% of steps' time)
            ns = raw_step(state, f, arg, out)
            return ns if ns is state or ns is illegal else canon(ns)

        start = canon(init)
    else:
        start = init
    states = [start]
    sid_of = {start: 0}
    cache: dict[int, int] = {}
    illegal = ILLEGAL
    isinfo = [r is None for r in rets]
    # Bit positions: determinate ops and info ops are numbered apart so both sets stay
    # small. Positions, not the ints 1 << n: those would take memory in the square of the
    # history (a 200k-op history held 2.5 GB of them).
    bit = [0] * m
    nd = ni = 0
    for i in range(m):
        if isinfo[i]:
            bit[i] = ni
            ni += 1
        else:
            bit[i] = nd
            nd += 1
    # memo: (determinate set, state) -> info sets seen with it. A configuration whose info
    # set contains one of those is dominated (the extra info ops could simply not happen)
    # and is skipped: this is what tames histories full of timed-out writes.
    memo: dict[tuple[int, int, int], list[int]] = {}
    rkey = rrank.__getitem__
    # Dead-end test (Model.effect): the op that must be linearized next needs the state to
    # be v; if it is not, and no op that may still go first can produce v, give up here
    # instead of trying every order of the concurrent ops.
    needs, produces = [], []
    for f, a, o in zip(fs, args, outs, strict=True):
        nv, pv = model.effect(f, a, o)
        needs.append(nv)
        produces.append(pv)
    nocheck, anything, nothing = NOCHECK, ANYTHING, NOTHING
    prod_ok, prod_info, any_ok, any_info, all_ok, all_info = producers(produces, isinfo, crank)
    no_ok: tuple[list[int], list[int]] = ([], [])
    toward = model.toward
    helps = model.helps

    def available(
        ok: tuple[list[int], list[int]], info: Iterable[int], lo: int, bound: int
    ) -> bool:
        cr, ids = ok
        a = bisect_left(cr, lo)
        n = len(cr)
        while a < n and cr[a] < bound:
            if not linflag[ids[a]]:
                return True
            a += 1
        for j in info:
            if crank[j] >= bound:
                break
            if not linflag[j]:
                return True
        return False

    def producible(nv: Any, bound: int) -> bool:
        """Can unlinearized ops called before ``bound`` still lead to state ``nv``?"""
        lo = crank[nxt[head] >> 1]  # every determinate op called before this is linearized
        if available(prod_ok.get(nv, no_ok), prod_info.get(nv, ()), lo, bound):
            return True
        if not available(any_ok, any_info, lo, bound):
            return False
        # only state-dependent ops (appends) can help: from the state now, or from the state
        # an op with a fixed result (a write) leaves, if that leads toward nv
        if toward(states[sid], nv):
            return True
        cr, ids = all_ok
        a = bisect_left(cr, lo)
        n = len(cr)
        while a < n and cr[a] < bound:
            j = ids[a]
            if not linflag[j] and toward(produces[j], nv):
                return True
            a += 1
        for j in all_info:
            if crank[j] >= bound:
                break
            if not linflag[j] and toward(produces[j], nv):
                return True
        return False

    def _successor(sid: int, i: int) -> int:
        """The state id after op i from state sid (-1: illegal), memoised. The search loop
        below inlines this same lookup because it is the hottest path."""
        ck = sid * m + i
        r = cache.get(ck)
        if r is None:
            ns = step(states[sid], fs[i], args[i], outs[i])
            if ns is illegal:
                r = -1
            else:
                r = sid_of.get(ns)
                if r is None:
                    r = sid_of[ns] = len(states)
                    states.append(ns)
            cache[ck] = r
        return r

    def _toward(lst: list[int], nv: Any) -> list[int]:
        """Stable partition: ops producing ``nv`` (or, if their result depends on the state,
        moving toward it: `Model.helps`) first."""
        good, rest = [], []
        for i in lst:
            pv = produces[i]
            if pv is anything:
                r = _successor(sid, i)
                (good if r >= 0 and helps(states[r], nv) else rest).append(i)
            else:
                (good if pv is not nothing and pv == nv else rest).append(i)
        return good + rest if good and rest else lst

    def candidates() -> tuple[list[int], int, int]:
        """Ops that may be linearized next, best first: read-only ones (by earliest return),
        then, when the next op to return needs a state it does not have, the ops that
        produce that state, then the rest by earliest return (the op about to return is the
        most constrained), info ops last. None when the next op to return can no longer be
        made legal, with the op that cannot be placed."""
        reads, others, infos = [], [], []
        e = nxt[head]
        while not e & 1:
            i = e >> 1
            (reads if pure[i] else others).append(i)
            e = nxt[e]
        y = e >> 1
        rr = rrank[y]
        j = inxt[ihead]
        okkeys = None
        while crank[j] < rr:  # the list holds only the first unplaced op of each class
            if same_effect:
                # an info op is never needed now when a determinate op with the same
                # effect can go instead: that one must be placed anyway
                if okkeys is None:
                    okkeys = {ckey[i] for i in others}
                if ckey[j] in okkeys:
                    j = inxt[j]
                    continue
            infos.append(j)
            j = inxt[j]
        st = states[sid]
        # Dead ends: an op still to place needs a state that nothing left can produce.
        for lst in (reads, others):
            for x in lst:
                nv = needs[x]
                if nv is not nocheck and st != nv and not producible(nv, rrank[x]):
                    return [], e, x
        nv = needs[y]
        if len(reads) > 1:
            reads.sort(key=rkey)
        if len(others) > 1:
            others.sort(key=rkey)
        if nv is not nocheck and st != nv:  # what the next op to return needs, first
            others = _toward(others, nv)
            infos = _toward(infos, nv)
        reads += others
        reads += infos
        return reads, e, -1

    # (op, state id before, greedy, candidates, next candidate, return entry, low, lw, linf)
    stack: list[tuple] = []
    # The linearized determinate ops are every one numbered below ``low`` and those whose
    # bit is set in ``lw`` (bit n: op low + n): the set stays as small as the window of
    # concurrency, however long the history (a plain bitset grows with every op placed).
    low = 0
    lw = 0
    linf = 0  # linearized info ops
    sid = 0
    cands, R, culprit = candidates()
    k = 0
    best_len = -(m + 1)
    best: tuple = ()
    it = 0
    while True:
        it += 1
        if not it % CHECK_EVERY:
            yield it
        if k < len(cands):
            i = cands[k]
            k += 1
            ck = sid * m + i
            r = cache.get(ck)
            if r is None:
                ns = step(states[sid], fs[i], args[i], outs[i])
                if ns is illegal:
                    r = -1
                else:
                    r = sid_of.get(ns)
                    if r is None:
                        r = sid_of[ns] = len(states)
                        states.append(ns)
                cache[ck] = r
            if r < 0:
                continue
            if isinfo[i]:
                nlow, nlw, nlf = low, lw, (linf if relaxed else linf | (1 << bit[i]))
            else:
                nlw = lw | (1 << (bit[i] - low))
                t = ((nlw + 1) & ~nlw).bit_length() - 1  # ops now linearized from low on
                nlow, nlw, nlf = low + t, nlw >> t, linf
            mk = (nlow, nlw, r)
            seen = memo.get(mk)
            if seen is None:
                memo[mk] = [nlf]
                fresh = True
            else:
                # The info sets kept for a key form an antichain (no one contains another),
                # and one that just dominated moves to the front: runs of timed-out ops make
                # these lists long, and scanning them was most of the search's time.
                inv = ~nlf
                for ix, x in enumerate(seen):
                    if not x & inv:
                        fresh = False
                        if ix:
                            seen[ix], seen[0] = seen[0], x
                        break
                else:
                    # a superset of nlf is dominated by nlf from now on: drop it
                    seen[:] = [x for x in seen if x & nlf != nlf]
                    seen.append(nlf)
                    fresh = True
            if fresh:
                stack.append((i, sid, pure[i], cands, k, R, low, lw, linf))
                low, lw, linf, sid = nlow, nlw, nlf, r
                if isinfo[i]:
                    if relaxed:  # stays available: nothing to unlink
                        cands, R, culprit = candidates()
                        k = 0
                        continue
                    linflag[i] = 1
                    a, b = iprv[i], inxt[i]
                    inxt[a] = b
                    iprv[b] = a
                    x = succ[i]
                    if x >= 0:  # the next of its class takes its place, by call rank
                        cx = crank[x]
                        while crank[b] < cx:
                            a, b = b, inxt[b]
                        inxt[a] = x
                        iprv[x] = a
                        inxt[x] = b
                        iprv[b] = x
                else:
                    c = 2 * i
                    a, b = prv[c], nxt[c]
                    nxt[a] = b
                    prv[b] = a
                    at_head = a == head
                    c += 1
                    a, b = prv[c], nxt[c]
                    nxt[a] = b
                    prv[b] = a
                    remaining -= 1
                    if not remaining:
                        return {"valid": True, "explored": it}
                    if c != R and not at_head and pure[i] and r == stack[-1][1]:
                        # A read placed where the state stays, neither the op about to
                        # return nor the first unplaced call: the window, the state, the
                        # bound the dead-end test scans from and every dead-end answer are
                        # as they were (a read produces nothing), so `candidates` would give
                        # the same list less this op.
                        cands = cands[: k - 1] + cands[k:]
                        k = 0
                        continue
                cands, R, culprit = candidates()
                k = 0
                continue
            if not pure[i]:
                continue
            # a greedy step into a known-dead configuration: this one is dead too
        elif -remaining > best_len:  # most determinate ops placed (info ops do not count)
            best_len = -remaining
            best = (stack[:], sid, culprit if culprit >= 0 else R >> 1)
        # Backtrack: this configuration cannot be completed.
        while True:
            if not stack:
                fr_stack, last_sid, fail_at = best
                prefix = [fr[0] for fr in fr_stack]
                sids = [fr[1] for fr in fr_stack[1:]] + [last_sid] if fr_stack else []
                return {
                    "valid": False,
                    "explored": it,
                    "ops": ops,
                    "fail_at": fail_at,
                    "prefix": prefix,
                    "states": [states[s] for s in sids],
                    "initial": init,
                }
            i, sid, greedy, cands, k, R, low, lw, linf = stack.pop()
            linflag[i] = 0
            if isinfo[i]:
                if not relaxed:
                    x = succ[i]
                    if x >= 0:
                        a, b = iprv[x], inxt[x]
                        inxt[a] = b
                        iprv[b] = a
                    inxt[iprv[i]] = i
                    iprv[inxt[i]] = i
            else:
                c = 2 * i + 1
                nxt[prv[c]] = c
                prv[nxt[c]] = c
                c -= 1
                nxt[prv[c]] = c
                prv[nxt[c]] = c
                remaining += 1
            if not greedy:
                culprit = -1
                break


def _window(ops: list[Op], fail_at: int, prefix: list[int]) -> list[int]:
    """Positions of ops concurrent with the failing op and not in the prefix."""
    f = ops[fail_at]
    done = set(prefix)
    hi = f.ret if f.ret is not None else float("inf")
    out = []
    for i, o in enumerate(ops):
        if i in done:
            continue
        r = _ret(o)
        if o.call <= hi and (r is None or r >= f.call):
            out.append(i)
    return out


def static_refutation(ops: list[Op], model: Model, initial: Any = None) -> tuple | None:
    """A completed op that no linearization can place, found without a search, or None.

    Two polynomial tests, from `Model.effect` (the state an op needs, the state it leaves):
    *unproducible*: it needs a state that is not the initial one and that no other op
    invoked before it returned produces (a read of a value nobody wrote); *stale*: every
    op that could produce the state it needs returned before some op ``z`` began that
    certainly left another state, and ``z`` returned before it began (a read of an
    overwritten value). Returns (op, reason, z or None) for the earliest such op.
    """
    init = model.init(initial)
    inf = float("inf")
    eff = [model.effect(o.f, model.arg(o), model.output(o)) for o in ops]
    det = [o.ret is not None and o.type != "info" for o in ops]
    prods: dict[Any, list[tuple]] = {}
    for n, o in enumerate(ops):
        pv = eff[n][1]
        if pv is not NOTHING:
            prods.setdefault(pv, []).append((o.call, o.ret if det[n] else inf))
    table: dict[Any, tuple[list, list]] = {}  # state -> (calls, running max of returns)
    for pv, lst in prods.items():
        lst.sort()
        calls, rmax, top = [], [], -inf
        for c, r in lst:
            top = max(top, r)
            calls.append(c)
            rmax.append(top)
        table[pv] = (calls, rmax)
    any_t = table.pop(ANYTHING, ([], []))
    # ops that certainly leave a known state, by call; suffix minima of their returns,
    # the best one and the best one leaving a different state
    ch = sorted((o.call, o.ret, eff[n][1], n) for n, o in enumerate(ops)
                if det[n] and eff[n][1] is not NOTHING and eff[n][1] is not ANYTHING)  # fmt: skip
    ch_calls = [c[0] for c in ch]
    best1: list = [None] * (len(ch) + 1)
    best2: list = [None] * (len(ch) + 1)
    for i in range(len(ch) - 1, -1, -1):
        _, r, v, n = ch[i]
        b1, b2 = best1[i + 1], best2[i + 1]
        if b1 is None or r < b1[0]:
            b1, b2 = (r, v, n), (b1 if b1 is not None and b1[1] != v else b2)
        elif v != b1[1] and (b2 is None or r < b2[0]):
            b2 = (r, v, n)
        best1[i], best2[i] = b1, b2
    worst = None
    for n, o in enumerate(ops):
        nv = eff[n][0]
        if nv is NOCHECK or not det[n]:
            continue
        if worst is not None and o.ret >= worst[0].ret:
            continue
        top, count = -inf, 0
        for calls, rmax in (table.get(nv, ([], [])), any_t):
            k = bisect_right(calls, o.ret)
            if k:
                count += k
                top = max(top, rmax[k - 1])
        if count - (1 if eff[n][1] == nv else 0) <= 0 and nv != init:
            worst = (o, "no operation invoked before it returned can produce the state it "
                        "observed", None)  # fmt: skip
            continue
        i = bisect_right(ch_calls, top)
        if i < len(ch):
            b1, b2 = best1[i], best2[i]
            z = b1 if b1[1] != nv else b2
            if z is not None and z[0] < o.call:
                worst = (o, "every operation that could produce the state it observed "
                            "was overwritten before it began", ops[z[2]])  # fmt: skip
    return worst


RELAXED_REASON = ("no order can place it, even letting every timed-out operation take effect "
                  "whenever, and as often as, it would help")  # fmt: skip


def _relaxable(ops: list[Op], model: Model) -> bool:
    """The relaxed search is worth running: there are indeterminate ops (otherwise it is the
    exact search) and each leaves a fixed state (reusing an append could build ever new
    states and never end)."""
    infos = [o for o in ops if o.type == "info"]
    return bool(infos) and all(
        model.effect(o.f, model.arg(o), model.output(o))[1] is not ANYTHING for o in infos
    )


def relaxed_refutation(
    ops: list[Op],
    model: Model,
    initial: Any = None,
    deadline: float | None = None,
    on_tick: Callable[[int], None] | None = None,
) -> tuple[tuple | None, int]:
    """((op, reason, None) or None, configurations explored): `search` with every
    indeterminate op reusable (``relaxed``).

    The exact search must remember which timed-out ops it has used, and on an invalid
    history with many of them it enumerates sets of them until the time limit. The relaxed
    search keys configurations on (determinate ops placed, state) only, so it exhausts far
    sooner; as it only adds orders, an op it cannot place no real order can place either.
    `check_steps` runs it side by side with the exact search, step for step.
    """
    if not _relaxable(ops, model):
        return None, 0
    try:
        r = search(ops, model, initial, deadline, on_tick, relaxed=True)
    except TimeUp as e:
        return None, e.args[0]
    if r["valid"]:
        return None, r["explored"]
    return (r["ops"][r["fail_at"]], RELAXED_REASON, None), r["explored"]


PREFIX_BUDGET_S = 1.0  # after a static refutation, search this long for the longest prefix


def check_steps(ops: list[Op], model: Model, initial: Any = None) -> Generator[int, None, dict]:
    """Check one independent sub-history (one key) of already-validated ops, stepwise.

    Yields the configurations explored so far, every `CHECK_EVERY` or so, and returns the
    key's result. Throwing `TimeUp` into it at a yield ends it at once with its best answer
    so far: invalid when a refutation without a full search found one, else unknown. The
    exact and the relaxed search (`relaxed_refutation`) go side by side, a step each, so
    whichever finishes first decides. ``time_s`` counts only the time spent inside it.
    """
    own = 0.0
    t_run = time.monotonic()
    rel = relevant(ops, model)
    res: dict[str, Any] = {"ops": len(ops), "searched": len(rel)}
    # Without timed-out ops there is no relaxed search to choose, and a key the exact search
    # decides before its first yield never needs the static test: it runs at that yield
    # (most valid keys are done by then, and it cost them ~8% of their time).
    relaxable = _relaxable(rel, model)
    static = static_refutation(rel, model, initial) if relaxable else None
    static_due = not relaxable
    exact = search_steps(rel, model, initial)
    relaxed = None
    if static is None and relaxable:
        relaxed = search_steps(rel, model, initial, relaxed=True)
    rx = ex = 0
    since_static = 0.0
    r: dict | None = None
    try:
        while True:
            if relaxed is not None:
                try:
                    rx = next(relaxed)
                except StopIteration as stop:
                    relaxed, rr = None, stop.value
                    rx = rr["explored"]
                    if not rr["valid"]:
                        static = (rr["ops"][rr["fail_at"]], RELAXED_REASON, None)
            try:
                ex = next(exact)
            except StopIteration as stop:
                r = stop.value
                break
            if static_due:
                static_due = False
                static = static_refutation(rel, model, initial)
            now = time.monotonic()
            own += now - t_run
            if static is not None:  # certainly invalid: a short search for the prefix only
                since_static += now - t_run
                if since_static > PREFIX_BUDGET_S:
                    raise TimeUp(rx + ex)
            yield rx + ex
            t_run = time.monotonic()
    except TimeUp:
        exact.close()
        if relaxed is not None:
            relaxed.close()
        if static is not None:
            bad, reason, z = static
            rel.sort(key=lambda o: (o.call, o.line))
            x = rel.index(bad)
            res.update(valid=False, explored=rx + ex, op=op_summary(bad), prefix=[],
                       initial=thaw(model.init(initial)), reason=reason,
                       window=[rel[i].index for i in _window(rel, x, [])])  # fmt: skip
            if z is not None:
                res["overwritten_by"] = op_summary(z)
        else:
            res.update(valid="unknown", explored=rx + ex, reason="time limit reached")
        res["time_s"] = round(own, 6)
        return res
    if relaxed is not None:
        relaxed.close()
    res["valid"] = r["valid"]
    res["explored"] = r["explored"] + rx
    if not r["valid"]:
        sops = r["ops"]
        fail_at = r["fail_at"]
        res["op"] = op_summary(sops[fail_at])
        res["prefix"] = [
            {"index": sops[i].index, "state": thaw(s)}
            for i, s in zip(r["prefix"], r["states"], strict=True)
        ]
        res["initial"] = thaw(r["initial"])
        res["window"] = [sops[i].index for i in _window(sops, fail_at, r["prefix"])]
    res["time_s"] = round(own + time.monotonic() - t_run, 6)
    return res


def _stop(steps: Generator[int, None, dict], it: int) -> dict:
    """End a `check_steps` now with its best answer so far."""
    try:
        steps.throw(TimeUp(it))
    except StopIteration as stop:
        return stop.value
    raise RuntimeError("check_steps went on after TimeUp")  # pragma: no cover


def check_ops(
    ops: list[Op],
    model: Model,
    initial: Any = None,
    deadline: float | None = None,
    on_tick: Callable[[int], None] | None = None,
) -> dict:
    """Check one independent sub-history (one key) of already-validated ops."""
    steps = check_steps(ops, model, initial)
    try:
        while True:
            it = next(steps)
            if deadline is not None and time.monotonic() > deadline:
                return _stop(steps, it)
            if on_tick is not None:
                on_tick(it)
    except StopIteration as stop:
        return stop.value


FIRST_TURN = 8  # steps (of CHECK_EVERY configurations) a key gets before it must wait
TURN = 4  # steps per turn when the keys that did not finish take turns


def schedule(
    items: Iterable[tuple[Any, list[Op]]],
    model: Model,
    initial: Any,
    deadline: float | None,
    on_result: Callable[[Any, dict], bool],
    on_tick: Callable[[int], None] | None = None,
) -> None:
    """Check keys so that one hard key cannot starve the others.

    Each key in turn runs until it is decided or has had `FIRST_TURN` steps; the keys not
    decided then wait and take turns of `TURN` steps each, round and round, keeping their
    search where it was. So an invalid key is found after about (number of hard keys) x
    its own time, not after a hard key ahead of it has used the whole time limit. Keys
    are taken from ``items`` lazily, so only the hard ones are held at once.
    ``on_result(key, result)`` returns True to stop (an invalid key, not --full); at the
    deadline every key still waiting gets its answer so far ("unknown" mostly).
    ``on_tick(n)``: n configurations explored in the keys not yet decided.
    """
    waiting: list = []  # a queue: taken from the front by position (no collections.deque)
    head = 0
    live: dict[Any, int] = {}  # explored so far by each key not yet decided

    def turn(key: Any, steps: Generator[int, None, dict], n: int) -> bool | None:
        """Run up to n steps: None when still undecided, else on_result's answer."""
        for _ in range(n):
            try:
                it = next(steps)
            except StopIteration as stop:
                live.pop(key, None)
                return bool(on_result(key, stop.value))
            live[key] = it
            if deadline is not None and time.monotonic() > deadline:
                live.pop(key, None)
                return bool(on_result(key, _stop(steps, it)))
            if on_tick is not None:
                on_tick(sum(live.values()))
        return None

    def close_all() -> None:
        for _, st in waiting[head:]:
            st.close()
        waiting.clear()

    for key, kops in items:
        steps = check_steps(kops, model, initial)
        done = turn(key, steps, FIRST_TURN)
        if done:
            close_all()
            return
        if done is None:
            waiting.append((key, steps))
    while head < len(waiting):
        key, steps = waiting[head]
        waiting[head] = None
        head += 1
        done = turn(key, steps, TURN)
        if done:
            close_all()
            return
        if done is None:
            waiting.append((key, steps))


_FORKED_PARTS: dict = {}  # set before the pool forks: workers read their keys' ops from here


def _scheduled(items: Iterable[tuple[Any, list[Op]]], model: Model, initial: Any,
               deadline: float | None, full: bool) -> list[tuple[Any, dict]]:  # fmt: skip
    """`schedule` in a worker: its keys' results, up to the first invalid one unless full."""
    out: list[tuple[Any, dict]] = []

    def on_result(k: Any, r: dict) -> bool:
        out.append((k, r))
        return r["valid"] is False and not full

    schedule(items, model, initial, deadline, on_result)
    return out


def _check_batch(job: tuple) -> list[tuple[Any, dict]]:
    """Check keys given by position in `_FORKED_PARTS` (inherited, never pickled)."""
    batch, model_name, initial, deadline, full = job
    keys = _FORKED_PARTS["keys"]
    parts = _FORKED_PARTS["parts"]
    items = ((keys[i], parts[keys[i]]) for i in batch)
    return _scheduled(items, get_model(model_name), initial, deadline, full)


def _check_bucket(job: tuple) -> list[tuple[Any, dict]]:
    import pickle  # here, not at the top: only large files are spilled (start-up time)

    path, model_name, initial, deadline, full = job
    parts: dict[Any, list[Op]] = {}
    with open(path, "rb") as fh:
        while True:
            try:
                chunk = pickle.load(fh)
            except EOFError:
                break
            for o in chunk:
                parts.setdefault(o.key, []).append(o)
    os.unlink(path)
    items = ((k, parts.pop(k)) for k in list(parts))
    return _scheduled(items, get_model(model_name), initial, deadline, full)


_NONE = object()  # "no such key yet" (None is a real key: the single register)


class _Aggregate:
    """Folds per-key results into the top-level result, reporting progress on the way."""

    def __init__(self, model: Model, total_keys: int, full: bool, progress: Progress | None):
        self.model = model
        self.total = total_keys
        self.full = full
        self.progress = progress
        self.keys: dict[Any, dict] = {}
        self.first_bad: Any = _NONE
        self.first_unknown: Any = _NONE
        self.explored = 0

    def add(self, key: Any, r: dict) -> bool:
        """Record a key; True when the check can stop (an invalid key, not full)."""
        self.keys[key] = r
        self.explored += r.get("explored", 0)
        if r["valid"] is False and self.first_bad is _NONE:
            self.first_bad = key
        if r["valid"] == "unknown" and self.first_unknown is _NONE:
            self.first_unknown = key
        if self.progress is not None:
            self.progress({"keys_done": len(self.keys), "keys": self.total,
                           "explored": self.explored})  # fmt: skip
        return self.first_bad is not _NONE and not self.full

    def result(self, counts: dict, t0: float) -> dict:
        valid: Any = True
        if self.first_bad is not _NONE:
            valid = False
        elif self.first_unknown is not _NONE or len(self.keys) < self.total:
            valid = "unknown"
        res: dict[str, Any] = {
            "valid": valid,
            "model": self.model.name,
            "ops": counts,
            "keys_checked": len(self.keys),
            "keys_total": self.total,
            "explored": self.explored,
        }
        if valid is False:
            bad = self.keys[self.first_bad]
            res.update(key=self.first_bad, op=bad["op"], prefix=bad["prefix"],
                       window=bad["window"], initial=bad["initial"])  # fmt: skip
            for extra in ("reason", "overwritten_by"):
                if extra in bad:
                    res[extra] = bad[extra]
        elif valid == "unknown":
            res["reason"] = "time limit reached"
        res["time_s"] = round(time.monotonic() - t0, 6)
        res["keys"] = self.keys
        return res


def key_lines(r: dict) -> list[str]:
    """One line per key checked, for ``--full``: its verdict, time and configurations."""
    out = []
    for k, kr in r.get("keys", {}).items():
        v = kr["valid"]
        verdict = {True: "linearizable", False: "NOT linearizable"}.get(v, "unknown")
        why = f", {kr['reason']}" if v == "unknown" and kr.get("reason") else ""
        out.append(f"  key {k!r}: {verdict}{why} ({kr['ops']:,} ops, "
                   f"{kr.get('explored', 0):,} configurations, {kr.get('time_s', 0):.3f} s)")  # fmt: skip
    return out


def _counts(ops: Iterable[Op]) -> dict:
    c = {"total": 0, "ok": 0, "fail": 0, "info": 0}
    for o in ops:
        c["total"] += 1
        c[o.type] += 1
    return c


def _jobs(jobs: int | None) -> int:
    if jobs is not None:
        return max(1, jobs)
    return max(1, min(os.cpu_count() or 1, 8))


def _pool_run(n_jobs: int, fn: Callable, jobs: list[tuple], agg: _Aggregate) -> None:
    """Run ``fn`` over ``jobs`` in forked worker processes, folding results into ``agg``;
    once ``agg`` says stop, the workers are terminated rather than waited for (one may be
    deep in a hard key whose verdict no longer matters)."""
    import multiprocessing

    pool = multiprocessing.get_context("fork").Pool(n_jobs)
    try:
        for results in pool.imap_unordered(fn, jobs):
            for k, r in results:
                if agg.add(k, r):
                    return
    finally:
        pool.terminate()
        pool.join()


def check(
    history: Any,
    model: str | Model = "register",
    initial: Any = None,
    time_limit: float | None = None,
    full: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
) -> dict:
    """Is ``history`` (a path, a list of Ops or of event dicts) linearizable under ``model``?

    Returns ``{"valid": True|False|"unknown", "model", "ops", "time_s", "keys": {key: {...}},
    ...}``; when invalid also ``key``, ``op`` (the op no order can place), ``prefix`` (the
    longest linearization found: ``[{"index", "state"}]``) and ``window`` (indices of the
    ops concurrent with it). The first invalid key stops the check unless ``full``.
    """
    t0 = time.monotonic()
    mdl = get_model(model)
    initial = freeze(initial)
    ops = ops_from(history)
    validate(ops, mdl)
    deadline = None if time_limit is None else t0 + time_limit
    parts = mdl.split(ops)
    agg = _Aggregate(mdl, len(parts), full, progress)
    n_jobs = _jobs(jobs)
    if n_jobs > 1 and len(parts) > 1 and len(ops) >= PARALLEL_MIN_OPS:
        _run_parallel(parts, mdl, initial, deadline, agg, n_jobs)
    else:
        tick = None
        if progress is not None:

            def tick(live: int) -> None:
                progress({"keys_done": len(agg.keys), "keys": agg.total,
                          "explored": agg.explored + live})  # fmt: skip

        schedule(parts.items(), mdl, initial, deadline, agg.add, tick)
    return agg.result(_counts(ops), t0)


def _batches(parts: dict, target_ops: int) -> list[list[int]]:
    batches, cur, size = [], [], 0
    for i, kops in enumerate(parts.values()):
        cur.append(i)
        size += len(kops)
        if size >= target_ops:
            batches.append(cur)
            cur, size = [], 0
    if cur:
        batches.append(cur)
    return batches


def _run_parallel(parts: dict, mdl: Model, initial: Any, deadline: float | None,
                  agg: _Aggregate, n_jobs: int) -> None:  # fmt: skip
    total = sum(len(v) for v in parts.values())
    batches = _batches(parts, max(500, total // (n_jobs * 8)))
    _FORKED_PARTS.update(keys=list(parts), parts=parts)
    try:
        jobs = [(b, mdl.name, initial, deadline, agg.full) for b in batches]
        _pool_run(n_jobs, _check_batch, jobs, agg)
    finally:
        _FORKED_PARTS.clear()


def check_file(
    path: str | os.PathLike,
    model: str | Model = "register",
    initial: Any = None,
    time_limit: float | None = None,
    full: bool = False,
    progress: Progress | None = None,
    jobs: int | None = None,
    spill_min_bytes: int = SPILL_MIN_BYTES,
) -> dict:
    """`check` on a file; a large file of a keyed model is streamed and split by key through
    temporary bucket files, so memory follows the largest key rather than the history."""
    mdl = get_model(model)
    try:
        size = os.path.getsize(path)
    except OSError as e:
        raise HistoryError(f"cannot read {path}: {e.strerror}") from None
    if type(mdl).split_key is Model.split_key or size < spill_min_bytes:
        return check(path, mdl, initial, time_limit, full, progress, jobs)
    return _check_spilled(os.fspath(path), mdl, freeze(initial), time_limit, full, progress,
                          jobs, size)  # fmt: skip


def _check_spilled(path: str, mdl: Model, initial: Any, time_limit: float | None, full: bool,
                   progress: Progress | None, jobs: int | None, size: int) -> dict:  # fmt: skip
    import pickle  # here, not at the top: only large files are spilled (start-up time)
    import tempfile

    t0 = time.monotonic()
    deadline = None if time_limit is None else t0 + time_limit
    n_buckets = max(8, min(1024, size // (4 << 20)))
    counts = {"total": 0, "ok": 0, "fail": 0, "info": 0}
    keys: set = set()
    with tempfile.TemporaryDirectory(prefix="paxlab-check-") as tmp:
        files = [open(os.path.join(tmp, f"b{i}"), "wb") for i in range(n_buckets)]  # noqa: SIM115
        bufs: list[list[Op]] = [[] for _ in range(n_buckets)]
        try:
            for op in iter_ops(iter_events(path)):
                err = mdl.validate(op)
                if err:
                    raise HistoryError(f"line {op.line}: {err}")
                counts["total"] += 1
                counts[op.type] += 1
                k = mdl.split_key(op)
                keys.add(k)
                b = hash(k) % n_buckets
                buf = bufs[b]
                buf.append(op)
                if len(buf) >= 2000:
                    pickle.dump(buf, files[b], protocol=pickle.HIGHEST_PROTOCOL)
                    bufs[b] = []
            for b, buf in enumerate(bufs):
                if buf:
                    pickle.dump(buf, files[b], protocol=pickle.HIGHEST_PROTOCOL)
        finally:
            for fh in files:
                fh.close()
        del bufs
        agg = _Aggregate(mdl, len(keys), full, progress)
        paths = [fh.name for fh in files]
        n_jobs = _jobs(jobs)
        jobs_ = [(p, mdl.name, initial, deadline, full) for p in paths]
        if n_jobs > 1:
            _pool_run(n_jobs, _check_bucket, jobs_, agg)
        else:
            for job in jobs_:
                if any(agg.add(k, r) for k, r in _check_bucket(job)):
                    break
    return agg.result(counts, t0)
