"""report.html from a run directory: banner, rerun command, checkers, counts, plots,
timeline, anomaly and node links; self-contained; rebuilt by `paxlab report`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from checker.stats import classify_fault, digest, fault_windows, latency_quantiles, op_counts
from checker.timeline import timeline_data
from controller.report import build_report, rerun_command
from tests.support.runs import make_run

_built: dict[Path, str] = {}


def _page(run: Path) -> str:
    """Build a run's report once per session (building is the slow part of these tests)."""
    if run not in _built:
        _built[run] = build_report(run).read_text(encoding="utf-8")
    return _built[run]


def _no_network(page: str) -> None:
    # nothing is fetched: no external scripts, styles, images, fonts or frames
    assert not re.search(r"<(script|img|iframe|link)[^>]+(src|href)=\"(https?:)?//", page)
    assert "<link" not in page
    assert not re.search(r"<script[^>]+src=", page)
    assert "@import" not in page and "url(http" not in page


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("results")
    return {
        "valid": make_run(root, test_name="reg-ok", stamp="20260101T100000", n_ops=300),
        "invalid": make_run(root, test_name="reg-bad", stamp="20260101T110000", invalid=True),
        "set": make_run(
            root, test_name="set-bad", stamp="20260101T120000", workload="set", invalid=True
        ),
        "clock": make_run(
            root, test_name="clk", stamp="20260101T130000", nemesis=("clock", "partition")
        ),
    }


def test_valid_report_has_banner_command_checkers_counts_plots_timeline(runs):
    page = _page(runs["valid"])
    _no_network(page)
    assert 'class="banner valid"' in page and ">VALID<" in page
    assert "--seed 1" in page and "paxlab test --workload register" in page
    assert 'id="checker-linearizability"' in page
    assert page.count("data:image/png;base64,") >= 2  # latency + throughput
    assert 'id="latency"' in page and 'id="throughput"' in page
    assert 'id="timeline-canvas"' in page and 'id="timeline-data"' in page
    assert 'id="anomaly"' not in page and "show the anomaly" not in page
    for node in ("n1", "n2", "n3"):
        assert f'href="nodes/{node}/paxos.log"' in page
        assert f'href="nodes/{node}/data-listing.txt"' in page
    assert (runs["valid"] / "nodes" / "n1" / "paxos.log").exists()


def test_op_counts_in_page_match_the_history(runs):
    page = _page(runs["valid"])
    events = [json.loads(x) for x in (runs["valid"] / "history.jsonl").read_text().splitlines()]
    n_ok = sum(1 for e in events if e["process"] != "nemesis" and e["type"] == "ok")
    row = re.search(r"<th>all</th>\s*((?:<td class=\"num\">\d+</td>)+)", page)
    assert row, "the totals row of the counts table"
    nums = [int(x) for x in re.findall(r">(\d+)<", row.group(1))]
    assert nums[0] == n_ok


def test_invalid_report_links_the_banner_to_the_failing_operation(runs):
    page = _page(runs["invalid"])
    _no_network(page)
    assert 'class="banner invalid"' in page
    assert 'href="#anomaly-op"' in page and 'id="anomaly-op"' in page
    failing = json.loads((runs["invalid"] / "results.json").read_text())
    idx = failing["checkers"]["linearizability"]["op"]["index"]
    anomaly = page[page.index('id="anomaly-op"') :]
    assert f'href="#op-{idx}"' in anomaly[:2000]
    assert "424242" in anomaly  # the corrupted read's value
    data = json.loads(re.search(r'id="timeline-data">(.*?)</script>', page).group(1))
    assert data["failing"] == idx and idx in data["highlight"]


def test_set_report_lists_lost_and_duplicated_with_adding_ops(runs):
    page = _page(runs["set"])
    res = json.loads((runs["set"] / "results.json").read_text())["checkers"]["set"]
    anomaly = page[page.index('id="anomaly"') :]
    events = [json.loads(x) for x in (runs["set"] / "history.jsonl").read_text().splitlines()]
    for el in res["lost"] + res["duplicated"]:
        adder = next(e for e in events if e["f"] == "add" and e["value"] == el)
        assert f'href="#op-{adder["index"]}"' in anomaly
    assert "lost</td>" in anomaly and "duplicated</td>" in anomaly
    assert 'id="anomaly-op"' in anomaly


def test_clock_nemesis_gets_an_offset_plot(runs):
    page = _page(runs["clock"])
    assert 'id="clock"' in page and "Clock offset per node" in page
    assert 'id="clock"' not in _page(runs["valid"])


def test_rerun_command_always_carries_the_seed():
    spec = {"argv": ["/x/.venv/bin/paxlab", "test", "--workload", "kv"], "seed": 77}
    assert rerun_command(spec) == "paxlab test --workload kv --seed 77"
    spec = {"workload": "set", "nemesis": ["kill", "pause"], "nodes": 5, "seed": 3}
    spec["bugs"] = ["early-ack"]
    cmd = rerun_command(spec)
    assert "--nemesis kill,pause" in cmd and "--seed 3" in cmd and "--bug early-ack" in cmd


def test_crashed_run_still_gets_a_report(tmp_path):
    run = make_run(tmp_path, with_results=False, n_ops=60)
    with open(run / "history.jsonl", "a") as fh:
        fh.write('{"index": 99999, "time": 1, "process": 0, "type": "inv')  # torn last line
    page = _page(run)
    assert 'class="banner incomplete"' in page
    assert "results.json is missing" in page and "not JSON" in page


def test_cli_rebuilds_good_folders_updates_the_index_and_exits_2_for_a_bad_one(tmp_path):
    good = make_run(tmp_path / "results", test_name="ok", stamp="20260106T000000", n_ops=20)
    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "report", str(tmp_path / "nope"), str(good)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and (good / "report.html").exists()
    assert r.stdout.strip() == str(good / "report.html")
    assert len(r.stderr.strip().splitlines()) == 1 and "nope" in r.stderr
    assert "20260106T000000" in (tmp_path / "results" / "index.html").read_text()


def test_cli_bad_dir_is_one_line_exit_2(tmp_path):
    for bad in (tmp_path / "nope", tmp_path):
        r = subprocess.run(
            [sys.executable, "-m", "controller.cli", "report", str(bad)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 2
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


# --- the digest the page is built from ------------------------------------------------------


def _ev(i, t, p, typ, f, value=None, **kw):
    return {"index": i, "time": t, "process": p, "type": typ, "f": f, "value": value, **kw}


def test_counts_and_quantiles_from_a_hand_made_history():
    h = [
        _ev(0, 0, 0, "invoke", "write", 1),
        _ev(1, 0, 1, "invoke", "read"),
        _ev(2, 2_000_000, 0, "ok", "write", 1),
        _ev(3, 4_000_000, 1, "ok", "read", 1),
        _ev(4, 5_000_000, 0, "invoke", "cas", [1, 2]),
        _ev(5, 6_000_000, 0, "fail", "cas", [1, 2], error="mismatch"),
        _ev(6, 7_000_000, 1, "invoke", "write", 3),
        _ev(7, 9_000_000, 1, "info", "write", 3),
        _ev(8, 9_500_000, 2, "invoke", "read"),
    ]
    d = digest(h)
    c = op_counts(d.ops)
    assert c["write"] == {"ok": 1, "fail": 0, "info": 1, "pending": 0, "total": 2}
    assert c["read"]["pending"] == 1 and c["*"]["total"] == 5
    q = latency_quantiles(d.ops)
    assert q["read"]["max"] == 4.0 and q["write"]["n"] == 1 and q["*"]["n"] == 2
    assert not d.errors


def test_fault_windows_pair_start_and_stop_spellings():
    assert classify_fault("start-partition") == ("start", "partition")
    assert classify_fault("partition-stop") == ("stop", "partition")
    assert classify_fault("heal") == ("stop", "*")  # heal-all
    assert classify_fault("resume") == ("stop", "pause")
    assert classify_fault("frobnicate")[0] == "point"
    nem = [
        _ev(0, 10, "nemesis", "invoke", "start-partition"),
        _ev(1, 20, "nemesis", "info", "start-partition", {"n1": ["n2"]}),
        _ev(2, 50, "nemesis", "invoke", "stop-partition"),
        _ev(3, 60, "nemesis", "info", "stop-partition"),
        _ev(4, 70, "nemesis", "info", "kill", ["n3"]),
        _ev(5, 75, "nemesis", "info", "start-clock", {"n1": 1.5}),
    ]
    ws = fault_windows(nem)
    assert [(w.name, w.start, w.end) for w in ws] == [
        ("partition", 10, 60),
        ("kill", 70, None),
        ("clock", 75, None),
    ]
    ws = fault_windows(
        [*nem, _ev(6, 90, "nemesis", "invoke", "heal"), _ev(7, 95, "nemesis", "info", "heal")]
    )
    assert [w.end for w in ws] == [60, 95, 95]
    assert ws[0].value == {"n1": ["n2"]}


def test_timeline_lanes_never_overlap_and_indices_decode(runs):
    events = [json.loads(x) for x in (runs["valid"] / "history.jsonl").read_text().splitlines()]
    d = digest(events)
    data = timeline_data(d)
    cols = data["ops"]
    idx, t, starts = 0, 0, []
    decoded = []
    for di, ds in zip(cols["i"], cols["s"], strict=True):
        idx += di
        t += ds
        decoded.append(idx)
        starts.append(t)
    assert decoded == sorted(op.index for op in d.ops)
    last_end: dict[int, int] = {}
    for s, dur, lane in zip(starts, cols["d"], cols["l"], strict=True):
        assert s >= last_end.get(lane, -1)
        last_end[lane] = s + dur
    assert len(data["lanes"]) <= 5 + 1  # workers reuse lanes after an info


def test_append_report_lists_elements_per_key_with_adding_ops(tmp_path):
    run = tmp_path / "results" / "append" / "20260101T000000"
    run.mkdir(parents=True)
    h = [
        _ev(0, 0, 0, "invoke", "append", [1], key="a"),
        _ev(1, 1_000, 0, "ok", "append", [1], key="a"),
        _ev(2, 2_000, 1, "invoke", "append", [2], key="a"),
        _ev(3, 3_000, 1, "ok", "append", [2], key="a"),
        _ev(4, 4_000, 0, "invoke", "append", [2], key="b"),  # same element, other key
        _ev(5, 5_000, 0, "ok", "append", [2], key="b"),
        _ev(6, 6_000, 1, "invoke", "read", None, key="a"),
        _ev(7, 7_000, 1, "ok", "read", [1, 1], key="a"),
    ]
    (run / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in h))
    elements = {"valid": False, "lost_count": 1, "lost": {"a": [2]}}
    elements |= {"duplicated_count": 1, "duplicated": {"a": [1]}, "unexpected": {}}
    results = {"valid": False, "checkers": {"elements": elements}}
    (run / "results.json").write_text(json.dumps(results))
    (run / "test.json").write_text(json.dumps({"workload": "append", "seed": 5}))
    page = build_report(run).read_text()
    anomaly = page[page.index('id="anomaly"') :]
    rows = re.findall(r'<tr class="failing".*?</tr>', anomaly)
    assert len(rows) == 2 and 'id="anomaly-op"' in rows[0]
    assert "lost" in rows[0] and 'href="#op-2"' in rows[0] and 'href="#op-4"' not in rows[0]
    assert "duplicated" in rows[1] and 'href="#op-0"' in rows[1]


def test_checker_view_is_embedded_and_bounded_on_a_large_run(tmp_path):
    from controller.report import CHECKER_VIEW_AFTER, CHECKER_VIEW_BEFORE

    run = make_run(tmp_path, n_ops=3000, concurrency=8, invalid=True)
    page = build_report(run).read_text()
    anomaly = page[page.index('id="anomaly"') :]
    assert 'class="pxl-lin"' in anomaly  # checker.report.render_anomaly's fragment
    assert re.search(r'<rect class="bar[^"]*\bbad\b', anomaly), "the failing op drawn in red"
    n_bars = len(re.findall(r'<rect class="bar', anomaly))
    assert 100 < n_bars <= CHECKER_VIEW_BEFORE + CHECKER_VIEW_AFTER
    assert "anomaly view failed" not in page


def test_empty_history_still_renders(tmp_path):
    run = tmp_path / "results" / "empty" / "20260101T000000"
    run.mkdir(parents=True)
    (run / "history.jsonl").write_text("")
    (run / "test.json").write_text(json.dumps({"workload": "kv", "seed": 1}))
    page = build_report(run).read_text()
    assert "No client operations" in page and 'id="timeline-canvas"' in page
    assert 'class="banner incomplete"' in page
