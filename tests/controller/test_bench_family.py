"""The family table and chart from rows whose figures are known: a row per (nodes, mode),
three columns per setting, stalls shown as such, files written side by side."""

from __future__ import annotations

import json

from controller import bench_family


def row(mode: str, nodes: int, conflict: float, locality: float | None, ops: float,
        ok: int = 100, info: int = 0, simulated: bool = True) -> dict:  # fmt: skip
    return {"mode": mode, "nodes": nodes, "conflict": conflict, "locality": locality,
            "ops_per_s": ops, "p50_ms": ops / 10, "p99_ms": ops / 5, "ok": ok, "info": info,
            "simulated": simulated}  # fmt: skip


ROWS = [
    row("leader", 3, 0.0, 0.9, 200),
    row("leader", 3, 0.5, 0.9, 210),
    row("masterless", 3, 0.0, 0.9, 0, ok=0, info=32),
    row("leader", 9, 0.0, 0.9, 190),
]


def test_one_row_per_size_and_mode_and_three_columns_per_setting():
    lines = bench_family.table(ROWS).splitlines()
    assert lines[0].count("writes per simulated s") == 2  # two settings, simulated time
    assert "conflict 0.5, locality 0.9" in lines[0]
    assert lines[2] == "| leader | 3 | 200 | 20.0 | 40.0 | 210 | 21.0 | 42.0 |"
    assert lines[3] == "| masterless | 3 | 0 (32 timed out) | - | - |  |  |  |"  # no 0 ms
    assert lines[4].startswith("| leader | 9 | 190 |") and len(lines) == 5


def test_loopback_rows_say_writes_per_second():
    head = bench_family.table([row("leader", 3, 0.1, None, 5, simulated=False)]).splitlines()[0]
    assert "conflict 0.1, locality -: writes/s |" in head


def test_the_files_go_side_by_side(tmp_path):
    folder = bench_family.write(ROWS, "HEADER LINE", "a title", tmp_path)
    assert folder.parent == tmp_path / "bench" and folder.name.startswith("family-")
    assert (folder / "table.md").read_text().startswith("HEADER LINE\n\n| mode |")
    assert json.loads((folder / "rows.json").read_text())["rows"] == ROWS
    assert (folder / "chart.png").stat().st_size > 1000
    svg = (folder / "chart.svg").read_text()
    assert "a title" in svg and "masterless" in svg  # text stays text in the SVG
