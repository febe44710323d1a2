"""Jepsen's EDN histories: the fixtures under tests/data/edn/ (in the shapes of Jepsen's
history.edn, Knossos's test data and Elle's list-append histories) have verdicts that hold
by construction; each invalid one differs from its valid twin in one read."""

import json

import pytest

from checker.cli import detect_format
from checker.edn import forms, read_events
from checker.history import HistoryError
from tests.support.cli import paxlab_check as paxlab
from tests.support.paths import DATA as SHARED_DATA

DATA = SHARED_DATA / "edn"


@pytest.mark.parametrize(
    "name,ops,keys",
    [
        ("register", 6, 1),
        ("cas-register", 7, 1),
        ("independent", 6, 2),
        ("list-append-single", 4, 1),
    ],
)
def test_fixture_verdicts(name, ops, keys):
    good = paxlab(DATA / f"{name}-valid.edn")
    assert good.returncode == 0, good.stderr
    assert f"linearizable ({ops} ops, {keys} key" in good.stdout
    bad = paxlab(DATA / f"{name}-invalid.edn", "--json")
    assert bad.returncode == 1, bad.stderr
    r = json.loads(bad.stdout)
    assert r["valid"] is False and r["op"]["f"] == "read"
    # the same file under another name is recognised by its content
    assert paxlab("--format", "edn", DATA / f"{name}-invalid.edn").returncode == 1


def test_invalid_fixtures_differ_from_valid_ones_in_one_read():
    for name in ("register", "cas-register", "independent", "list-append-single"):
        a = (DATA / f"{name}-valid.edn").read_text().splitlines()
        b = (DATA / f"{name}-invalid.edn").read_text().splitlines()
        diff = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
        assert len(diff) == 1, name
        x, y = diff[0]
        assert (":read" in x and ":read" in y) or (":r " in x and ":r " in y), name


def test_fields_map_to_history_events():
    evs, keyed = read_events(DATA / "register-valid.edn")
    assert not keyed
    line, first = evs[0]
    assert line == 1
    assert first == {"index": 0, "time": 1000, "type": "invoke", "process": 0, "f": "write",
                     "value": 1}  # fmt: skip
    nemesis = [ev for _, ev in evs if ev["process"] == "nemesis"]
    assert [ev["f"] for ev in nemesis] == ["start", "stop"]
    info = [ev for _, ev in evs if ev["type"] == "info" and ev["process"] == 2][0]
    assert info["error"] == "timeout"
    evs, keyed = read_events(DATA / "independent-valid.edn")
    assert keyed
    assert evs[4][1]["key"] == 0 and evs[4][1]["value"] == [5, 6]  # cas [0 [5 6]]
    evs, keyed = read_events(DATA / "list-append-single-valid.edn")
    assert keyed and evs[0][1]["f"] == "append" and evs[0][1]["value"] == [1]
    assert evs[0][1]["key"] == "x"


def test_knossos_shape_without_time_orders_by_position():
    """A Knossos file has no :time; several ops on one line must stay in order."""
    evs, _ = read_events(DATA / "cas-register-valid.edn")
    assert [ev["time"] for _, ev in evs] == list(range(len(evs)))
    assert evs[0][0] == 2  # the line of the first op (after a comment line)


def test_sequential_ops_on_one_line_are_not_concurrent(tmp_path):
    p = tmp_path / "one-line.edn"
    p.write_text("[{:process 0 :type :invoke :f :write :value 1} {:process 0 :type :ok :f :write "
                 ":value 1} {:process 1 :type :invoke :f :read :value nil} {:process 1 :type :ok "
                 ":f :read :value nil}]\n")  # fmt: skip
    assert paxlab(p).returncode == 1  # the read began after the write ended: nil is stale


def test_list_append_transactions_are_refused_clearly():
    r = paxlab(DATA / "list-append-txn.edn")
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "line 1" in line and "transactional checker" in line and "list-append" in line


def test_auto_detection(tmp_path):
    assert detect_format(str(DATA / "register-valid.edn")) == "edn"
    p = tmp_path / "history.txt"
    p.write_text((DATA / "cas-register-valid.edn").read_text())
    assert detect_format(str(p)) == "edn"
    p.write_text('{"index": 0, "process": 0, "type": "invoke", "f": "read", "value": null}\n')
    assert detect_format(str(p)) == "jsonl"
    p.write_text("INFO  jepsen.util - 0\t:invoke\t:read\tnil\n")
    assert detect_format(str(p)) == "jepsen-log"
    assert detect_format(str(tmp_path / "missing")) == "jsonl"


OP = "{:process 0, :type :invoke, :f :write, :value %s}\n"
OK = "{:process 0, :type :ok, :f :write, :value %s}\n"

BAD_EDN = {
    "unbalanced": ("{:process 0, :type :invoke, :f :write, :value [1 2}\n", "line 1"),
    "unclosed-vector": ("[" + OP % 1, "never closed"),
    "unterminated-string": (OP % '"abc', "line 1"),
    "extra-close": (OP % 1 + "}\n", "line 2"),
    "after-wrapper": ("[" + OP % 1 + "]\n" + OP % 1, "line 3"),
    "deep": (OP % ("[" * 500 + "]" * 500), "nested"),
    "nan": (OP % "##NaN" + OK % "##NaN", "non-finite"),
    "inf": (OP % "##Inf", "non-finite"),
    "huge-int": (OP % ("9" * 30 + "N"), "64 bits"),
    "ratio": (OP % "1/2", "ratio"),
    "unknown-tag": (OP % "#foo/bar 3", "line 1"),
    "uuid-of-a-bool": (OP % "#uuid true", "malformed"),  # edn_format: AttributeError
    "not-a-map": (":invoke\n", "operation map"),
    "no-type": ("{:process 0, :f :read, :value nil}\n", ":type"),
    "bad-type": ("{:process 0, :type :started, :f :read, :value nil}\n", "type"),
    "process-vector": ("{:process [0], :type :invoke, :f :read, :value nil}\n", "process"),
    "dup-index": ("{:index 0, " + OP[1:] % 1 + "{:index 0, " + OK[1:] % 1, "duplicate"),
    "completion-without-invoke": (OK % 1, "without"),
    "binary": ("\x00\x01{:a", "NUL"),
    "empty": ("", "empty"),
    "independent-untupled": (
        "{:process 0, :type :invoke, :f :read, :value [1 nil]}\n"
        "{:process 0, :type :ok, :f :read, :value [1 nil]}\n"
        "{:process 1, :type :invoke, :f :write, :value 3}\n",
        "tuple",
    ),
    "multi-op-txn-no-f": ("{:index 0 :type :invoke :value [[:append 1 2] [:r 1 nil]]}\n", "Elle"),
}


@pytest.mark.parametrize("name", sorted(BAD_EDN))
def test_bad_edn_is_exit_2_and_one_line(tmp_path, name):
    text, word = BAD_EDN[name]
    p = tmp_path / f"{name}.edn"
    p.write_text(text)
    r = paxlab(p)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(p) in lines[0]
    assert word.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in r.stderr


def test_forms_splitter_handles_strings_comments_and_chars():
    text = '; c [\n{:a "x]{" :b \\] :c #{1 2}} ; ]\n#_{:gone 1} {:d [1 (2)]}\n'
    assert [ln for ln, _ in forms(text)] == [2, 3]
    with pytest.raises(HistoryError, match="line 1"):
        list(forms("{:a 1]"))


def test_many_ops_are_parsed_in_batches(tmp_path):
    """More ops than one parser batch, with an error in the second batch named by line."""
    lines = []
    for i in range(300):
        lines.append(f"{{:process {i}, :type :invoke, :f :write, :value {i}}}")
        lines.append(f"{{:process {i}, :type :ok, :f :write, :value {i}}}")
    p = tmp_path / "many.edn"
    p.write_text("\n".join(lines) + "\n")
    evs, _ = read_events(p)
    assert len(evs) == 600 and evs[-1][0] == 600
    lines[449] = "{:process 224, :type :ok, :f :write, :value 1/3}"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError, match="line 450"):
        read_events(p)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from checker.edn import _NOT_PLAIN, read_plain, to_json  # noqa: E402

edn_scalar = st.sampled_from(
    ["nil", "true", "false", "0", "-0", "7", "-42", "123456789012345678", "1.5", "3N", "007",
     ":a", ":invoke", ":foo/bar", ":a-b?", ":x.y", '"s"', '"two words"', '""', '"a\\nb"',
     "sym", "\\c", "#{1 2}", "##Inf", "1/2", '#inst "2020-01-01T00:00:00Z"']
)  # fmt: skip


def _edn_form(depth=3):
    if depth == 0:
        return edn_scalar
    inner = _edn_form(depth - 1)
    return st.one_of(
        edn_scalar,
        st.lists(inner, max_size=4).map(lambda xs: "[" + " ".join(xs) + "]"),
        st.lists(inner, max_size=4).map(lambda xs: "(" + ", ".join(xs) + ")"),
        st.lists(
            st.tuples(st.sampled_from([":a", ":b", ":type", ":value", '"k"', "1"]), inner),
            max_size=4,
        ).map(lambda kv: "{" + ", ".join(f"{k} {v}" for k, v in kv) + "}"),  # fmt: skip
    )


@settings(max_examples=300, deadline=None)
@given(text=_edn_form())
def test_plain_reader_agrees_with_edn_format(text):
    """The fast reader of the plain subset gives what edn_format gives, or steps aside."""
    import edn_format

    fast = read_plain(text)
    if fast is _NOT_PLAIN:
        return
    assert fast == to_json(edn_format.loads(text), 1)


def test_plain_reader_covers_jepsen_op_maps():
    for path in DATA.glob("*.edn"):
        for _, form in forms(path.read_text()):
            if not form.startswith("#"):
                assert read_plain(form) is not _NOT_PLAIN, form


def test_line_reader_and_full_reader_give_the_same_events(tmp_path):
    """Jepsen's one-map-per-line files take the line path; a comment line sends the same
    ops through the form splitter: both readings must be identical (that the plain reader
    agrees with edn_format is tested above)."""
    for path in DATA.glob("*.edn"):
        text = path.read_text()
        if text.lstrip().startswith(("[", "(", ";")) or "txn" in path.name:
            continue
        slow = tmp_path / path.name
        slow.write_text("; force the full reader\n" + text)
        fast_evs, fast_keyed = read_events(path)
        slow_evs, slow_keyed = read_events(slow)
        assert fast_keyed == slow_keyed
        assert [ev for _, ev in fast_evs] == [ev for _, ev in slow_evs], path.name
        assert [ln + 1 for ln, _ in fast_evs] == [ln for ln, _ in slow_evs]
