"""results/index.html: every run, newest first, with the fields people filter on; cached."""

from __future__ import annotations

import json
import re
import time

from controller.index import collect_rows, write_index
from tests.support.runs import make_run


def _rows(page: str) -> list[dict]:
    return json.loads(re.search(r'id="runs-data">(.*?)</script>', page, re.S).group(1))


def test_index_lists_every_run_newest_first(tmp_path):
    root = tmp_path / "results"
    make_run(root, test_name="a", stamp="20260101T100000", n_ops=20)
    make_run(root, test_name="b", stamp="20260103T100000", n_ops=20, invalid=True)
    make_run(root, test_name="a", stamp="20260102T100000", n_ops=20, nemesis=("kill",))
    make_run(root, test_name="c", stamp="20260104T100000", n_ops=20, with_results=False)
    (root / "latest").symlink_to("a/20260102T100000")
    page = write_index(root).read_text()
    rows = _rows(page)
    assert [(r["test"], r["run"]) for r in rows] == [
        ("c", "20260104T100000"),
        ("b", "20260103T100000"),
        ("a", "20260102T100000"),
        ("a", "20260101T100000"),
    ]
    by = {r["run"]: r for r in rows}
    assert by["20260103T100000"]["verdict"] == "invalid"
    assert by["20260103T100000"]["bugs"] == "skip-phase1-adopt"
    assert by["20260102T100000"]["nemesis"] == "kill"
    assert by["20260101T100000"]["verdict"] == "valid"
    assert by["20260104T100000"]["verdict"] == "incomplete"
    assert by["20260101T100000"]["workload"] == "register"
    assert by["20260101T100000"]["date"] == "2026-01-01 10:00:00"
    assert by["20260101T100000"]["href"] == "a/20260101T100000/"  # no report yet: the folder
    assert "<script src" not in page and "http" not in page.split("<body>")[1].split("<script")[0]


def test_index_reuses_cached_rows_and_sees_changes(tmp_path):
    root = tmp_path / "results"
    run = make_run(root, test_name="a", stamp="20260101T100000", n_ops=20)
    assert collect_rows(root)[0]["verdict"] == "valid"
    res = json.loads((run / "results.json").read_text())
    res["valid"] = False
    time.sleep(0.01)
    (run / "results.json").write_text(json.dumps(res))
    assert collect_rows(root)[0]["verdict"] == "invalid"


def test_index_of_a_thousand_runs_is_small(tmp_path):
    root = tmp_path / "results"
    for i in range(1000):
        d = root / f"t{i % 7}" / f"2026{1 + i % 12:02d}{1 + i % 28:02d}T{i % 24:02d}0000-{i}"
        d.mkdir(parents=True)
        (d / "test.json").write_text(json.dumps({"workload": "kv", "nemesis": ["partition"]}))
        (d / "results.json").write_text(json.dumps({"valid": i % 3 != 0, "ops": {"ok": i}}))
    t0 = time.perf_counter()
    page = write_index(root).read_text()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    write_index(root)
    again = time.perf_counter() - t0
    assert len(_rows(page)) == 1000
    assert len(page) < 400_000
    print(f"index of 1000 runs: {first:.2f} s cold, {again:.2f} s cached, {len(page)} bytes")
