"""Hostile input for `paxlab check`: random bytes, random JSON lines, random EDN and
mutations of valid histories never raise out of the CLI nor exit outside {0, 1, 2}; a
malformed line always exits 2 with one line on stderr naming the file and that line."""

import contextlib
import io
import json
import subprocess

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.bench import generate

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])  # fmt: skip


def paxlab(*args):
    """In-process `paxlab check`: any exception escaping it fails the test (a traceback)."""
    from controller.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(["check", "--quiet", "--time-limit", "5", *[str(a) for a in args]])
        except SystemExit as e:
            rc = e.code
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


def assert_contract(r, path):
    assert r.returncode in (0, 1, 2), r
    assert "Traceback" not in r.stderr
    if r.returncode == 2 and r.stderr:
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert str(path) in lines[0]
        assert "internal error" not in lines[0], lines[0]


def valid_lines(n=30, seed=1, keys=1):
    h = generate(n, clients=3, keys=keys, info_rate=0.1, seed=seed,
                 mix=("read", "write", "cas") if keys == 1 else ("read", "write", "cas", "append"))  # fmt: skip
    return [json.dumps(ev) for ev in h]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)
FIELDS = ("index", "time", "process", "type", "f", "key", "value", "error")
event_like = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(-2, 40) | json_values,
        "time": st.integers(-5, 10**6) | json_values,
        "process": st.integers(0, 4) | st.just("nemesis") | json_values,
        "type": st.sampled_from(["invoke", "ok", "fail", "info"]) | json_values,
        "f": st.sampled_from(["read", "write", "cas", "append", "add"]) | json_values,
        "key": st.none() | st.sampled_from(["a", "b"]) | json_values,
        "value": json_values,
        "error": st.sampled_from(["mismatch", "timeout"]) | json_values,
    },
)


@SETTINGS
@given(data=st.binary(max_size=600))
def test_random_bytes(tmp_path, data):
    p = tmp_path / "h.jsonl"
    p.write_bytes(data)
    assert_contract(paxlab(p), p)


@SETTINGS
@given(evs=st.lists(event_like, max_size=12), model=st.sampled_from(["register", "kv", "set",
                                                                     "append"]))  # fmt: skip
def test_random_json_events(tmp_path, evs, model):
    p = tmp_path / "h.jsonl"
    p.write_text("".join(json.dumps(e) + "\n" for e in evs))
    assert_contract(paxlab("--model", model, p), p)


MUTATIONS = ("delete", "duplicate", "swap", "field", "truncate", "garbage", "drop-field")


@SETTINGS
@given(
    seed=st.integers(0, 50),
    keys=st.sampled_from([1, 3]),
    muts=st.lists(
        st.tuples(
            st.sampled_from(MUTATIONS), st.integers(0, 10**6), st.sampled_from(FIELDS), json_values
        ),
        min_size=1,
        max_size=3,
    ),  # fmt: skip
)
def test_mutated_valid_histories(tmp_path, seed, keys, muts):
    lines = valid_lines(24, seed, keys)
    for kind, at, field, value in muts:
        i = at % len(lines)
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif kind in ("field", "drop-field") and _is_object(lines[i]):
            ev = json.loads(lines[i])
            if kind == "field":
                ev[field] = value
            else:
                ev.pop(field, None)
            lines[i] = json.dumps(ev)
        elif kind == "truncate":
            lines[i] = lines[i][: at % max(1, len(lines[i]))]
        elif kind == "garbage":
            lines[i] = json.dumps(value)[:40] + "\x00"
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(lines) + "\n")
    assert_contract(paxlab("--model", "kv" if keys > 1 else "register", p), p)


def malformed_line():
    """Text that is not a JSON object on one line."""
    not_json = st.text(min_size=1, max_size=30).filter(lambda s: "\n" not in s and "\r" not in s)
    other_json = json_values.filter(lambda v: not isinstance(v, dict)).map(json.dumps)
    return (not_json | other_json).filter(lambda s: s.strip() and not _is_object(s))


def _is_object(s):
    try:
        return isinstance(json.loads(s), dict)
    except ValueError:
        return False


@SETTINGS
@given(seed=st.integers(0, 50), at=st.integers(0, 10**6), bad=malformed_line())
def test_a_bad_line_always_exits_2_naming_it(tmp_path, seed, at, bad):
    lines = valid_lines(20, seed)
    i = at % (len(lines) + 1)
    lines.insert(i, bad)
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = paxlab(p)
    assert r.returncode == 2, (bad, r.stdout)
    (msg,) = r.stderr.strip().splitlines()
    assert str(p) in msg
    assert f"line {i + 1}:" in msg, (bad, msg)


EDN_ATOMS = st.sampled_from(["nil", "true", ":ok", ":invoke", ":read", ":write", ":cas",
                             ":process", ":type", ":f", ":value", ":index", ":nemesis", "0",
                             "1", "-3", "1.5", "3N", "1/2", "##NaN", '"s"', "\\a", "#inst",
                             "#uuid", "#_", "#foo", "sym", "x/y"])  # fmt: skip
EDN_PUNCT = st.sampled_from(["{", "}", "[", "]", "(", ")", "#{", " ", "\n", ",", ";", '"'])


@SETTINGS
@given(toks=st.lists(EDN_ATOMS | EDN_PUNCT, max_size=40))
def test_random_edn_tokens(tmp_path, toks):
    p = tmp_path / "h.edn"
    p.write_text(" ".join(toks))
    assert_contract(paxlab(p), p)


edn_op = st.builds(
    lambda p, t, f, v: f"{{:process {p}, :type :{t}, :f :{f}, :value {v}}}",
    st.sampled_from(["0", "1", ":nemesis", "[0]", "nil"]),
    st.sampled_from(["invoke", "ok", "fail", "info", "bogus"]),
    st.sampled_from(["read", "write", "cas", "txn"]),
    st.sampled_from(
        [
            "nil",
            "1",
            "[1 2]",
            "[0 [1 2]]",
            "[0 nil]",
            "[[:append 1 2]]",
            "[[:r 1 nil] [:append 1 2]]",
            '"x"',
            "#{1}",
            "{:a 1}",
        ]
    ),  # fmt: skip
)


@SETTINGS
@given(ops=st.lists(edn_op, max_size=10), wrap=st.booleans())
def test_random_edn_ops(tmp_path, ops, wrap):
    p = tmp_path / "h.edn"
    body = "\n".join(ops)
    p.write_text(f"[{body}]\n" if wrap else body + "\n")
    assert_contract(paxlab(p), p)


def test_an_append_of_null_next_to_reads_of_numbers_is_judged(tmp_path):
    """Found by test_mutated_valid_histories: a list state holding null was compared with
    the read lists of numbers to decide whether it was read (TypeError, "internal error")."""
    evs = [
        (0, "invoke", "append", [None]),
        (0, "ok", "append", [None]),
        (1, "invoke", "append", [1]),
        (1, "ok", "append", [1]),
        (2, "invoke", "read", None),
        (2, "ok", "read", [1, 2]),
    ]
    p = tmp_path / "h.jsonl"
    p.write_text(
        "".join(
            json.dumps(
                {"index": i, "time": i, "process": pr, "type": t, "f": f, "key": "k", "value": v}
            )
            + "\n"  # fmt: skip
            for i, (pr, t, f, v) in enumerate(evs)
        )
    )
    r = paxlab("--model", "kv", p)
    assert_contract(r, p)
    assert r.returncode == 1, r  # the read saw a 2 nobody appended
