"""Jepsen text logs (`checker.jepsen_log`, `paxlab check --format jepsen-log`)."""

import json

import pytest

from checker.history import HistoryError
from checker.jepsen_log import events_from_log, parse_edn, read_log
from checker.linearizability import check
from tests.support.cli import paxlab_check

P = "INFO  jepsen.util - "

# Hand-written in the format of Jepsen's etcd register logs. Process 2's write times out
# (it may or may not have happened); process 1's cas fails (it saw a value other than 1).
GOOD = [
    P + "0\t:invoke\t:read\tnil",
    P + "0\t:ok\t:read\tnil",
    "INFO  jepsen.core - some unrelated line",
    P + "1\t:invoke\t:write\t3",
    P + "2\t:invoke\t:write\t4",
    P + "1\t:ok\t:write\t3",
    P + "0\t:invoke\t:cas\t[3 1]",
    P + "0\t:ok\t:cas\t[3 1]",
    P + "1\t:invoke\t:cas\t[1 2]",
    P + "2\t:info\t:write\t:timed-out",
    P + "1\t:fail\t:cas\t[1 2]",
    P + "5\t:invoke\t:read\tnil",
    P + "5\t:ok\t:read\t4",
]


def test_events_follow_the_history_format():
    evs = list(events_from_log(GOOD))
    assert len(evs) == 12  # the unrelated line is skipped
    assert evs[0] == {"index": 0, "time": 1, "process": 0, "type": "invoke", "f": "read",
                      "key": None, "value": None}  # fmt: skip
    assert evs[6]["value"] == [3, 1]
    info = evs[8]
    assert (info["type"], info["value"], info["error"]) == ("info", 4, "timed-out")
    fail = evs[9]
    assert (fail["type"], fail["f"], fail["error"]) == ("fail", "cas", "mismatch")
    assert [e["index"] for e in evs] == list(range(12))
    assert [e["time"] for e in evs] == sorted(e["time"] for e in evs)


def test_verdicts():
    # the cas mismatch saw 4 (the timed-out write took effect before it): linearizable
    assert check(list(events_from_log(GOOD)))["valid"] is True
    # without the timed-out write nobody wrote 4: the last read cannot be placed
    no_info = [x for x in GOOD if not x.startswith(P + "2\t")]
    assert check(list(events_from_log(no_info)))["valid"] is False
    # the cas [1 2] failing is only possible if something moved the state off 1 first;
    # with the timed-out write gone and the read expecting 1, it is not
    bad = no_info[:-1] + [P + "5\t:ok\t:read\t1"]
    assert check(list(events_from_log(bad)))["valid"] is False


def test_edn_values():
    assert parse_edn("nil") is None
    assert parse_edn("[1 4]") == [1, 4]
    assert parse_edn(":timed-out") == "timed-out"
    assert parse_edn('["a" [2 3]]') == ["a", [2, 3]]
    with pytest.raises(ValueError):
        parse_edn("[1 2")


def test_errors_name_the_line(tmp_path):
    with pytest.raises(HistoryError, match="line 1: :ok without an invocation"):
        list(events_from_log([P + "7\t:ok\t:read\t3"]))
    with pytest.raises(HistoryError, match="line 2: :ok :write completes a :read"):
        list(events_from_log([P + "7\t:invoke\t:read\tnil", P + "7\t:ok\t:write\t3"]))
    with pytest.raises(HistoryError, match="cannot read"):
        read_log(tmp_path / "missing.log")


def test_cli_format_flag(tmp_path):
    good = tmp_path / "good.log"
    good.write_text("\n".join(GOOD) + "\n")
    bad = tmp_path / "bad.log"
    bad.write_text("\n".join(x for x in GOOD if not x.startswith(P + "2\t")) + "\n")
    r = paxlab_check("--format", "jepsen-log", str(good), quiet=False)
    assert r.returncode == 0, r.stderr
    r = paxlab_check("--format", "jepsen-log", str(good), str(bad), "--report",
                     str(tmp_path / "r.html"), quiet=False)  # fmt: skip
    assert r.returncode == 1
    assert "NOT linearizable" in r.stdout
    assert (tmp_path / "r.html").stat().st_size > 0
    empty = tmp_path / "empty.log"
    empty.write_text("nothing to see\n")
    r = paxlab_check("--format", "jepsen-log", str(empty), quiet=False)
    assert r.returncode == 2
    assert "no Jepsen operation lines" in r.stderr
    assert "Traceback" not in r.stderr
    # without the flag the log is recognised (--format auto); read as JSONL it is a
    # one-line error, exit 2
    r = paxlab_check(str(good), quiet=False)
    assert r.returncode == 0, r.stderr
    r = paxlab_check(str(bad), quiet=False)
    assert r.returncode == 1
    r = paxlab_check("--format", "jsonl", str(good), quiet=False)
    assert r.returncode == 2
    assert "line 1" in r.stderr


def test_corpus_mode_compares_with_expected(tmp_path, capsys):
    from checker.bench import run_corpus

    (tmp_path / "good.log").write_text("\n".join(GOOD) + "\n")
    (tmp_path / "bad.log").write_text("\n".join(x for x in GOOD if not x.startswith(P + "2\t")))
    (tmp_path / "expected.json").write_text('{"good": true, "bad": false}')
    assert run_corpus(str(tmp_path), 10, as_json=True) == 0
    rows = {r["name"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["good"]["valid"] is True and rows["bad"]["valid"] is False
    assert rows["good"]["ops"] == 6 and rows["good"]["info"] == 1
    (tmp_path / "expected.json").write_text('{"good": false}')
    assert run_corpus(str(tmp_path), 10, as_json=False) == 1
    assert "MISMATCH" in capsys.readouterr().out


@pytest.mark.parametrize(
    "value,word",
    [("1e999", "non-finite"), ("9" * 30, "64 bits"), ("[" * 200 + "]" * 200, "nested")],
)
def test_log_values_a_history_may_not_hold_are_refused(tmp_path, value, word):
    log = tmp_path / "h.log"
    log.write_text(f"{P}0\t:invoke\t:write\t{value}\n{P}0\t:ok\t:write\t{value}\n")
    r = paxlab_check("--format", "jepsen-log", str(log), quiet=False)
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert "line 1" in line and word in line
