"""The compiled search (checker/_native.c) against the pure-Python one, its reference: the
same result, field for field (verdict, configurations explored, failing op, prefix and the
states along it), on every generated benchmark history and on thousands of random ones;
and the Python search wherever the compiled one declines."""

import glob
import json
import random
import shutil

import pytest

from checker import native
from checker.history import HistoryError, iter_events, iter_ops, ops_from
from checker.kvgen import generate_kv, named_set, write_set
from checker.linearizability import check, drive, relevant, search_steps
from checker.models import freeze, get_model
from tests.support.histories import random_history, string_history

if native._native is None and (shutil.which("cc") or shutil.which("gcc")):
    pytest.fail("checker._native is not built although there is a C compiler: run make install",
                pytrace=False)  # fmt: skip
pytestmark = pytest.mark.skipif(native._native is None, reason="no C compiler on this machine")


def _search(ops, mdl, init, pure, monkeypatch):
    if pure:
        monkeypatch.setenv("PAXLAB_PURE", "1")
    else:
        monkeypatch.delenv("PAXLAB_PURE", raising=False)
    r = drive(search_steps(ops, mdl, init), None)
    r.pop("ops", None)
    return r


def _same_per_key(history, model, initial, monkeypatch) -> int:
    """Assert both searches agree on every key; the number of keys the C search took."""
    mdl = get_model(model)
    init = freeze(initial)
    taken = 0
    for kops in mdl.split(ops_from(history)).values():
        rel = relevant(kops, mdl)
        want = _search(rel, mdl, init, True, monkeypatch)
        got = _search(rel, mdl, init, False, monkeypatch)
        assert got == want, history
        srt = sorted(rel, key=lambda o: (o.call, o.line))
        taken += native.native_steps(
            srt, mdl, [o.f for o in srt], [mdl.arg(o) for o in srt],
            [mdl.output(o) for o in srt], [None if o.type == "info" else o.ret for o in srt],
            mdl.init(init)) is not None  # fmt: skip
    return taken


def _without_info(events):
    """The history less its timed-out ops (the C search takes only determinate ones)."""
    pending, out = {}, []
    for e in events:
        if e["type"] == "invoke":
            pending[e["process"]] = e
        elif e["type"] != "info":
            out += [pending.pop(e["process"]), e]
    out.sort(key=lambda e: e["index"])
    return [dict(e, index=i) for i, e in enumerate(out)]


@pytest.mark.parametrize("name", ["kv-c50-set", "kv-c50-calm-set"])
def test_benchmark_sets_identical_results(name, monkeypatch):
    for hname, (events, want) in named_set(name, 1).items():
        assert _same_per_key(events, "kv", None, monkeypatch) == 10, hname
        monkeypatch.delenv("PAXLAB_PURE", raising=False)
        r = check(events, "kv")
        monkeypatch.setenv("PAXLAB_PURE", "1")
        ref = check(events, "kv")
        assert r["valid"] is want
        for res in (r, ref):
            res.pop("time_s")
            for kr in res["keys"].values():
                kr.pop("time_s")
        assert r == ref, hname


def test_random_histories_identical_results(monkeypatch):
    """3,000 small random histories (strings appended, integer registers, lists appended,
    with and without timed-out ops): the same result from both, and the C search takes
    most of the keys it can."""
    taken = 0
    for seed in range(1000):
        rng = random.Random(seed)
        s = string_history(rng, rng.randint(1, 9), rng.randint(1, 4))
        taken += _same_per_key(_without_info(s), "kv", rng.choice([None, "a"]), monkeypatch)
        _same_per_key(s, "kv", "a", monkeypatch)
        for kv in (True, False):
            h = random_history(rng, rng.randint(1, 9), rng.randint(1, 4), kv)
            model = "kv" if kv else "register"
            initial = rng.choice([None, 0])
            taken += _same_per_key(_without_info(h), model, initial, monkeypatch)
    assert taken > 2000


def test_a_window_too_wide_falls_back_to_the_python_search(monkeypatch):
    """A write pending across 1,200 reads, 700 of them before any sees it, outgrows the C search's window: it says so
    and the Python search starts over and gives the answer."""
    ev = [{"process": 0, "type": "invoke", "f": "write", "key": None, "value": 1}]
    for n in range(1200):
        ev.append({"process": 1, "type": "invoke", "f": "read", "key": None, "value": None})
        ev.append({"process": 1, "type": "ok", "f": "read", "key": None,
                   "value": 1 if n >= 700 else None})  # fmt: skip
    ev.append({"process": 0, "type": "ok", "f": "write", "key": None, "value": 1})
    bad = [dict(e) for e in ev]
    bad[-2]["value"] = 7  # a read of a value nobody wrote
    mdl = get_model("register")
    for h, want in ((ev, True), (bad, False)):
        h = [dict(e, index=i, time=i) for i, e in enumerate(h)]
        ops = sorted(ops_from(h), key=lambda o: (o.call, o.line))
        steps = native.native_steps(ops, mdl, [o.f for o in ops], [mdl.arg(o) for o in ops],
                                    [mdl.output(o) for o in ops], [o.ret for o in ops], None)  # fmt: skip
        with pytest.raises(native.Wide):
            drive(steps, None)
        _same_per_key(h, "register", None, monkeypatch)
        assert check(h, "register")["valid"] is want


def test_declines_what_it_does_not_cover():
    mdl = get_model("kv")
    ops = ops_from([
        {"index": 0, "process": 0, "type": "invoke", "f": "append", "key": "k", "value": [1]},
        {"index": 1, "process": 0, "type": "ok", "f": "append", "key": "k", "value": [1]},
    ])  # fmt: skip
    args = [mdl.arg(o) for o in ops]
    outs = [mdl.output(o) for o in ops]
    assert native.native_steps(ops, mdl, ["append"], args, outs, [1], None) is None  # lists
    assert native.native_steps(ops, mdl, ["append"], ["x"], outs, [None], None) is None  # info
    assert native.native_steps(ops, mdl, ["append"], ["x"], outs, [1], None) is not None


def test_pure_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv("PAXLAB_PURE", "1")
    assert not native.available()
    monkeypatch.delenv("PAXLAB_PURE")
    assert native.available()


# --- the C history reader ----------------------------------------------------------------


def _python_reader(path):
    try:
        ops = sorted(iter_ops(iter_events(path)), key=lambda o: (o.call, o.line))
        return [o.as_dict() for o in ops]
    except HistoryError:
        return "refused"


def test_reader_gives_the_python_readers_ops(tmp_path):
    """Every JSONL history under tests/data and the generated sets: the same ops, field
    for field (lines, indices, positions, outputs), or a decline."""
    paths = sorted(glob.glob("tests/data/**/*.jsonl", recursive=True))
    for name in ("kv-c50-set", "kv-c50-calm-set"):
        out = tmp_path / name
        paths += [str(out / f"{h}.jsonl") for h in write_set(str(out), name, 1)]
    taken = 0
    for path in paths:
        ops = native.read_ops(path)
        want = _python_reader(path)
        if ops is None:
            continue
        assert want != "refused", path
        assert [o.as_dict() for o in ops] == want, path
        taken += 1
    assert taken >= 20


SPLICES = [b"", b" ", b"\n", b'"', b"{", b"}", b"[", b"]", b",", b":", b"0", b"-", b"1.5",
           b"null", b"true", b"\\n", b"\xff", b"\xc3\xa9", b'"key":1,', b'"index":3,',
           b'"time":null,', b'"process":"nemesis",', b'{"a":1}', b'"type":"ok",', b"\r",
           b"\t", b"00", b"1e3", b'"error":"x",', b'"key":null,']  # fmt: skip


def test_reader_on_damaged_files_agrees_or_declines(tmp_path):
    """5,000 histories with a few bytes spliced in: where the Python reader refuses one,
    the C reader declines it (so the user gets the Python reader's message); where it
    accepts one, the C reader gives the same ops or declines."""
    events = generate_kv(1, n_ops=40)
    text = "".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events).encode()
    rng = random.Random(1)
    path = tmp_path / "h.jsonl"
    same = 0
    for _ in range(5000):
        data = bytearray(text)
        for _ in range(rng.randint(1, 2)):
            i = rng.randrange(len(data))
            data[i : i + rng.randint(0, 4)] = rng.choice(SPLICES)
        path.write_bytes(data)
        ops = native.read_ops(path)
        if ops is None:
            continue
        want = _python_reader(path)
        assert want != "refused", bytes(data)
        assert [o.as_dict() for o in ops] == want, bytes(data)
        same += 1
    assert same > 200


def test_ops_from_uses_it_unless_pure(tmp_path, monkeypatch):
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps({"process": 0, "type": "invoke", "f": "read", "value": None})
                    + "\n")  # fmt: skip
    calls = []
    real = native._native

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(real, name)

    monkeypatch.setattr(native, "_native", Spy())
    assert len(ops_from(str(path))) == 1
    monkeypatch.setenv("PAXLAB_PURE", "1")
    assert len(ops_from(str(path))) == 1
    assert calls.count("read_ops") == 1
