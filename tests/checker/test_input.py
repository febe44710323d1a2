"""`paxlab check`'s input contract: every malformed file is exit 2 and one line on stderr
naming the file and the line; each file of several is judged on its own; never a traceback,
never exit 1 (an anomaly) for bad input. Each case here is a reproduction from the issue."""

import json
import subprocess
import sys

import pytest

from checker.history import HistoryError, iter_events, load
from tests.support.cli import paxlab_check as paxlab

W1 = '{"index": 0, "process": 0, "type": "invoke", "f": "write", "value": 1}'
W1_OK = '{"index": 1, "process": 0, "type": "ok", "f": "write", "value": 1}'
GOOD = W1 + "\n" + W1_OK + "\n"


def write_then_read(written: str, read: str) -> str:
    """A sequential write then read: linearizable iff the two values are equal."""
    return "".join(
        line + "\n"
        for line in (
            f'{{"index": 0, "process": 0, "type": "invoke", "f": "write", "value": {written}}}',
            f'{{"index": 1, "process": 0, "type": "ok", "f": "write", "value": {written}}}',
            '{"index": 2, "process": 0, "type": "invoke", "f": "read", "value": null}',
            f'{{"index": 3, "process": 0, "type": "ok", "f": "read", "value": {read}}}',
        )
    )


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BAD = {
    # name: (file content, the line the error must name, a word the message must hold)
    "deep-5000": (write_then_read(nested(5000), "null"), 1, "nested"),
    "deep-900": (write_then_read(nested(900), nested(900)), 1, "nested"),
    "int-5000-digits": (write_then_read("9" * 5000, "null"), 1, "digits"),
    "int-30-digits": (
        write_then_read("123456789012345678901234567890", "123456789012345678901234567891"),
        1,
        "64 bits",
    ),
    "nan": (write_then_read("NaN", "NaN"), 1, "NaN"),
    "infinity": (write_then_read("Infinity", "Infinity"), 1, "Infinity"),
    "1e999": (write_then_read("1e999", "1e999"), 1, "finite"),
    "duplicate-index": (GOOD.replace('"index": 1', '"index": 0'), 2, "duplicate"),
    "index-gap": (GOOD.replace('"index": 1', '"index": 7'), 2, "missing"),
    "index-on-some": (GOOD.replace('"index": 1, ', ""), 2, "index"),
    "negative-index": (GOOD.replace('"index": 0', '"index": -1'), 1, "index"),
    "completion-without-invoke": (W1_OK.replace('"index": 1', '"index": 0') + "\n", 1, "without"),
    "process-list": (
        GOOD.replace('"process": 0, "type": "ok"', '"process": [0], "type": "ok"'),
        2,
        "process",
    ),  # fmt: skip
    "type-unknown": (GOOD.replace('"ok"', '"done"'), 2, "type"),
    "f-number": (GOOD.replace('"f": "write", "value": 1}\n', '"f": 3, "value": 1}\n', 1), 1, "f"),
    "time-string": (GOOD.replace('"index": 0,', '"index": 0, "time": "now",'), 1, "time"),
    "key-object": (GOOD.replace('"index": 0,', '"index": 0, "key": {"a": 1},'), 1, "key"),
    "not-an-object": ("[1, 2, 3]\n", 1, "object"),
    "truncated": (GOOD + W1[:30] + "\n", 3, "JSON"),
    "binary": ("\x00\x01\x02\xff garbage\n", 1, "line 1"),
    "empty": ("", None, "empty"),
    "blank-lines-only": ("\n\n  \n", None, "empty"),
    "only-nemesis": (
        '{"process": "nemesis", "type": "info", "f": "start", "value": null}\n',
        None,
        "empty",
    ),  # fmt: skip
}


@pytest.fixture(params=["json", "orjson"])
def parser(request, monkeypatch):
    """Both line parsers: small files are read with the strict json decoder, large ones
    with orjson (`ORJSON_MIN_BYTES`); each must refuse and accept exactly the same."""
    import checker.history

    json_only = request.param == "json"
    monkeypatch.setattr(checker.history, "ORJSON_MIN_BYTES", 1 << 40 if json_only else 0)
    monkeypatch.setattr(checker.history, "_strict_bytes", 0)
    if json_only:
        monkeypatch.setattr(checker.history, "_orjson_loads", None)
    return request.param


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_is_exit_2_and_one_line_naming_file_and_line(tmp_path, name, parser):
    content, line, word = BAD[name]
    path = tmp_path / f"{name}.jsonl"
    if name == "binary":
        path.write_bytes(b"\x00\x01\x02\xff garbage\n")
    else:
        path.write_text(content)
    r = paxlab(path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert str(path) in lines[0]
    if line is not None:
        assert f"line {line}:" in lines[0]
    assert word.lower() in lines[0].lower(), lines[0]
    assert r.stdout == ""


def test_a_30_digit_integer_is_not_silently_rounded(tmp_path, parser):
    """orjson reads integers past 64 bits as floats: two different 30-digit values became
    equal and a stale read passed as linearizable. Now such integers are refused."""
    path = tmp_path / "h.jsonl"
    path.write_text(
        write_then_read("10000000000000000000000000000", "10000000000000000000000000001")
    )
    assert paxlab(path).returncode == 2
    # the largest 64-bit integers are exact, through the slow path
    path.write_text(write_then_read(str(2**64 - 1), str(2**64 - 2)))
    assert paxlab(path).returncode == 1
    path.write_text(write_then_read(str(-(2**63)), str(-(2**63))))
    assert paxlab(path).returncode == 0


def test_floats_and_nesting_within_bounds_are_exact(tmp_path, parser):
    path = tmp_path / "h.jsonl"
    path.write_text(write_then_read("0.5", "0.5"))
    assert paxlab(path).returncode == 0
    path.write_text(write_then_read("0.5", "0.25"))
    assert paxlab(path).returncode == 1
    path.write_text(write_then_read(nested(100), nested(100)))
    assert paxlab(path).returncode == 0
    path.write_text(write_then_read(nested(101), nested(101)))
    assert paxlab(path).returncode == 2


def test_missing_file_and_directory(tmp_path):
    for p in (tmp_path / "nope.jsonl", tmp_path):
        r = paxlab(p)
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1
        assert "cannot read" in r.stderr and str(p) in r.stderr


def test_each_file_is_judged_on_its_own(tmp_path):
    """The first bad file (a deep one used to raise RecursionError) must not stop the
    others; exit 1 when any is invalid, else 2 when any is bad, else 0."""
    deep = tmp_path / "deep.jsonl"
    deep.write_text(BAD["deep-5000"][0])
    nan = tmp_path / "nan.jsonl"
    nan.write_text(BAD["nan"][0])
    good = tmp_path / "good.jsonl"
    good.write_text(write_then_read("1", "1"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(write_then_read("1", "2"))
    r = paxlab(deep, nan, good, "--json")
    assert r.returncode == 2
    objs = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["file"] for o in objs] == [str(deep), str(nan), str(good)]
    assert [o["valid"] for o in objs] == ["unknown", "unknown", True]
    assert "nested" in objs[0]["error"] and "NaN" in objs[1]["error"]
    assert len(r.stderr.strip().splitlines()) == 2
    r = paxlab(deep, bad, good, "--json")
    assert r.returncode == 1
    assert [json.loads(x)["valid"] for x in r.stdout.splitlines()] == ["unknown", False, True]
    r = paxlab(good, good)
    assert r.returncode == 0
    assert r.stdout.count("linearizable") == 2


def test_the_real_cli_never_prints_a_traceback(tmp_path):
    """The subprocess, for the cases that used to end in a traceback and exit 1."""
    files = []
    for name in ("deep-5000", "int-5000-digits", "nan"):
        p = tmp_path / f"{name}.jsonl"
        p.write_text(BAD[name][0])
        files.append(str(p))
    r = subprocess.run([sys.executable, "-m", "controller.cli", "check", *files],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 3


def test_library_loading_refuses_the_same(tmp_path, parser):
    path = tmp_path / "h.jsonl"
    path.write_text(BAD["duplicate-index"][0])
    with pytest.raises(HistoryError, match="line 2"):
        load(path)
    path.write_text(BAD["nan"][0])
    with pytest.raises(HistoryError, match="line 1"):
        list(iter_events(path))
    # the same lines given as strings (not bytes) take the same checks
    with pytest.raises(HistoryError, match="nested"):
        list(iter_events(BAD["deep-900"][0].splitlines()))


def test_histories_of_live_runs_keep_passing(tmp_path):
    """The new index rule must not refuse what the controller writes (nemesis lines, final
    reads): a simulated run's history is read without error."""
    r = subprocess.run([sys.executable, "-m", "controller.cli", "test", "--backend", "sim",
                        "--workload", "kv", "--nemesis", "partition,kill", "--time-limit", "5",
                        "--seed", "3", "--results-dir", str(tmp_path), "--no-progress"],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    (hist,) = tmp_path.glob("kv-*/*/history.jsonl")
    events = list(iter_events(hist))
    assert any(ev["process"] == "nemesis" for _, ev in events)
    assert paxlab(hist, "--model", "kv").returncode == 0
    # without --model: a keyed history is judged per key (as one register, this valid run
    # used to be reported NOT linearizable, exit 1)
    r = paxlab(hist, "--json")
    assert r.returncode == 0, r.stdout
    assert json.loads(r.stdout)["model"] == "kv"


@pytest.mark.parametrize("fmt", ["auto", "edn", "jepsen-log"])
def test_a_file_without_newlines_is_not_read_whole(fmt):
    """/dev/zero has no line end: reading "one line" used to take all memory."""
    r = paxlab("--format", fmt, "/dev/zero")
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "/dev/zero: line 1:" in line


def test_files_are_parsed_with_orjson_once_the_process_has_read_enough(tmp_path, monkeypatch):
    """The strict decoder for the first bytes a process reads (orjson's import would cost
    more), orjson once they add up to `ORJSON_MIN_BYTES`, and for streams."""
    import checker.history as h

    path = tmp_path / "h.jsonl"
    path.write_text(GOOD)
    monkeypatch.setattr(h, "ORJSON_MIN_BYTES", 2 * len(GOOD) + 1)
    monkeypatch.setattr(h, "_strict_bytes", 0)
    monkeypatch.setattr(h, "_orjson_loads", None)
    assert h._loads_for(path) is h._strict_loads
    assert h._loads_for(str(path)) is h._strict_loads
    assert h._loads_for(path) is not h._strict_loads  # the third file crosses the threshold
    monkeypatch.setattr(h, "_orjson_loads", None)
    assert h._loads_for(GOOD.splitlines()) is not h._strict_loads


@pytest.mark.parametrize(
    "line",
    [W1, W1 + "\n", W1 + "\r\n", "  " + W1, W1 + " x", W1 + "\u00a0", W1 + W1, W1[:-1],
     '{"value": NaN}', '{"value": 1e999}', '{"value": ' + "9" * 30 + "}", "", "\n", "[1]"],
)  # fmt: skip
def test_the_small_file_parser_takes_only_what_the_strict_decoder_takes(line):
    """The fast parser is the strict decoder's scanner: whatever it returns is what
    `_DECODER` returns for the line; whatever it cannot take (None) goes to the slow path,
    which gives the precise error or, for leading whitespace, the same value."""
    import checker.history as h

    got = h._strict_loads(line.encode())
    try:
        want = h._DECODER.decode(line)
    except (ValueError, h._Refused):
        want = None
    assert got is None or got == want
    if want is not None and not line.startswith(" "):
        assert got == want
