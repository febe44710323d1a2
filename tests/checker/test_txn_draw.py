"""Drawing transaction anomalies: the cycle's boxes and labelled edges, in run reports and
in `paxlab check --report`, offline."""

from __future__ import annotations

import re

from checker.txn.cli import judge
from checker.txn.draw import cycle_svg, render_txn_anomalies
from controller.report import find_anomalies
from tests.support.cli import paxlab_check
from tests.support.paths import DATA

G_SINGLE = str(DATA / "txn" / "list-append-g-single.jsonl")


def _result():
    return judge(G_SINGLE, "jsonl", "list-append", "snapshot-isolation")


def test_cycle_is_boxes_and_arrows_labelled_with_kind_key_and_values():
    r = _result()
    (a,) = [a for a in r["anomalies"] if a["type"] == "G-single"]
    svg = cycle_svg(a, r["txns"])
    assert svg.count("<rect") == 2  # T2 and T0
    assert "T2  p2 ok" in svg and "T0  p0 ok" in svg and "append x 1" in svg
    texts = " ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    assert "rw: T2 read &#x27;x&#x27;=[], missing 1" in texts  # kind, key and values
    assert "wr: T2 read &#x27;y&#x27;=[1]" in texts
    assert svg.count("marker-end=") == 2  # one arrow per edge, the closing one included


def test_section_lists_each_edge_and_loads_nothing_from_the_network():
    page = render_txn_anomalies(_result(), "txn")
    assert "T2 <b>rw</b>&rarr; T0" in page and "T0 <b>wr</b>&rarr; T2" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script" not in page


def test_run_report_draws_a_txn_checker_result():
    r = _result()
    (found,) = find_anomalies({"txn": r, "stats": {"valid": True}})
    assert found[0] == "txn"


def test_check_report_draws_the_cycle(tmp_path):
    out = tmp_path / "r.html"
    r = paxlab_check(G_SINGLE, "--model", "list-append", "--consistency", "snapshot-isolation",
                     "--report", out)  # fmt: skip
    assert r.returncode == 1, r.stderr
    page = out.read_text()
    assert '<svg class="txn-cycle"' in page and "G-single" in page
