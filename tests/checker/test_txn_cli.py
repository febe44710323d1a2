"""`paxlab check --model list-append|rw-register`: verdicts, exit codes, JSON and one-line
errors, on the fixtures under tests/data/ (verdicts known by construction)."""

from __future__ import annotations

import json

import pytest

from checker.edn import read_events
from tests.support.cli import paxlab_check as paxlab
from tests.support.paths import DATA
from tests.support.txn import events, write_jsonl

VALID = DATA / "txn" / "list-append-valid.jsonl"
G_SINGLE = DATA / "txn" / "list-append-g-single.jsonl"
G2_EDN = DATA / "edn" / "list-append-txn-g2.edn"


def test_valid_history_exits_0_under_every_model() -> None:
    for c in ("serializable", "strict-serializable", "snapshot-isolation"):
        r = paxlab(VALID, "--model", "list-append", "--consistency", c)
        assert r.returncode == 0, r.stderr
        assert f"list-append {c}: valid (40 txns" in r.stdout


def test_anomaly_exits_1_with_the_cycle_and_each_edge_reason() -> None:
    r = paxlab(G_SINGLE, "--model", "list-append", "--consistency", "snapshot-isolation")
    assert r.returncode == 1
    assert "NOT snapshot-isolation: G-single" in r.stdout
    assert "T2 -rw-> T0" in r.stdout and "T0 -wr-> T2" in r.stdout


def test_edn_write_skew_json() -> None:
    r = paxlab(G2_EDN, "--model", "list-append", "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["valid"] is False and out["anomaly_types"] == ["G2-item"]
    (a,) = out["anomalies"]
    assert [s["type"] for s in a["cycle"]] == ["rw", "rw"]
    assert {out["txns"][str(i)]["line"] for i in a["txns"]} == {1, 2}
    si = json.loads(paxlab(G2_EDN, "--model", "list-append", "--json", "--consistency",
                           "snapshot-isolation").stdout)  # fmt: skip
    assert si["valid"] is True and si["allowed_anomalies"][0]["type"] == "G2-item"


def test_edn_transactions_stay_whole_only_when_asked() -> None:
    evs, _ = read_events(G2_EDN, keep_txn=True)
    assert evs[0][1]["f"] == "txn" and evs[0][1]["value"] == [["r", "x", None], ["append", "y", 1]]
    r = paxlab(G2_EDN)  # the default (kv) model cannot judge transactions: one line
    assert r.returncode == 2 and "--model list-append" in r.stderr


@pytest.mark.parametrize("text,msg", [
    ('{"process": 0, "type": "invoke", "f": "read", "value": null}\n'
     '{"process": 0, "type": "ok", "f": "read", "value": 1}\n', "a list-append history holds txn"),
    ('{"process": 0, "type": "invoke", "f": "txn", "value": [["w", "x", 1]]}\n',
     "not one of list-append"),
    ('{"process": 0, "type": "invoke", "f": "txn", "value": 3}\n', "list of [f key value]"),
    ('{"process": 0, "type": "invoke", "f": "txn", "value": [["r", "x", null]]}\n'
     '{"process": 0, "type": "ok", "f": "txn", "value": [["r", "x", 5]]}\n', "must return a list"),
    ('{"process": 0, "type": "invoke", "f": "txn", "value": [["r", "x", null]]}\n'
     '{"process": 0, "type": "ok", "f": "txn", "value": [["r", "y", []]]}\n', "differ"),
    ("", "no transactions"),
    ("{not json\n", "line 1"),
])  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(tmp_path, text, msg) -> None:
    p = tmp_path / "h.jsonl"
    p.write_text(text)
    r = paxlab(p, VALID, "--model", "list-append", "--json")
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert msg in line and str(p) in line and "Traceback" not in line
    first, second = (json.loads(x) for x in r.stdout.splitlines())
    assert first["valid"] == "unknown" and second["valid"] is True  # the next file is judged


def test_rw_register_and_option_errors(tmp_path) -> None:
    skew = [("ok", [["r", "x", None], ["w", "y", 1]]), ("ok", [["r", "y", None], ["w", "x", 1]])]
    p = write_jsonl(tmp_path / "skew.jsonl", events(skew))
    r = paxlab(p, "--model", "rw-register")
    assert r.returncode == 1 and "G2-item" in r.stdout
    assert (
        paxlab(p, "--model", "rw-register", "--consistency", "snapshot-isolation").returncode == 0
    )
    r = paxlab(p, "--consistency", "serializable")
    assert r.returncode == 2 and "--consistency is for" in r.stderr
    r = paxlab(p, "--model", "list-append", "--format", "jepsen-log")
    assert r.returncode == 2 and "JSONL or EDN" in r.stderr


def test_report_section(tmp_path) -> None:
    out = tmp_path / "r.html"
    r = paxlab(G_SINGLE, "--model", "list-append", "--report", out)
    assert r.returncode == 1
    assert "G-single" in out.read_text()
