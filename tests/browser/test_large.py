"""A 100,000-operation report: build time, size, and timeline redraw time in Chromium.

Prints figures rather than asserting times (the machine is shared); asserts the size
budget (10 MB) and that the page works. Also runnable as a script for the build figures:
    .venv/bin/python -m tests.browser.test_large [N_OPS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from controller.report import build_report
from tests.support.browser import console_errors, open_page
from tests.support.runs import make_run

N_OPS = 100_000
MAX_BYTES = 10 * 1024 * 1024


def build_big(root: Path, n_ops: int = N_OPS) -> tuple[Path, dict]:
    run = make_run(
        root,
        test_name="big",
        n_ops=n_ops,
        concurrency=20,
        invalid=True,
        nemesis=("partition", "clock"),
    )
    t, c = time.perf_counter(), time.process_time()
    out = build_report(run)
    figures = {
        "ops": n_ops,
        "history_mb": (run / "history.jsonl").stat().st_size / 1e6,
        "build_wall_s": time.perf_counter() - t,
        "build_cpu_s": time.process_time() - c,
        "report_mb": out.stat().st_size / 1e6,
    }
    return out, figures


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_100k_op_report_builds_small_and_stays_responsive(browser, tmp_path):
    out, fig = build_big(tmp_path / "results")
    print(
        f"\n100k-op report: build {fig['build_wall_s']:.2f} s wall / {fig['build_cpu_s']:.2f} s "
        f"CPU, report {fig['report_mb']:.2f} MB (history {fig['history_mb']:.1f} MB)"
    )
    assert out.stat().st_size < MAX_BYTES
    t = time.perf_counter()
    open_page(browser, out)
    load_s = time.perf_counter() - t
    per_frame = browser.execute_script(
        """const tl = window.paxlabTimeline, end = tl.end, out = {};
           for (const [name, span] of [["whole run", end], ["1% of run", end / 100]]) {
             tl.setView(end / 3, end / 3 + span);
             const t0 = performance.now();
             for (let i = 0; i < 20; i++) tl.setView(end / 3 + i * span / 50, end / 3 + span + i * span / 50);
             out[name] = (performance.now() - t0) / 20;
           }
           return out;"""
    )
    print(
        f"Chromium: page ready {load_s:.2f} s; timeline redraw "
        + ", ".join(f"{k} {v:.1f} ms/frame" for k, v in per_frame.items())
    )
    browser.save_screenshot(str(tmp_path / "big.png"))
    assert console_errors(browser) == []
    assert all(v > 0 for v in per_frame.values())


if __name__ == "__main__":
    import tempfile

    n = int(sys.argv[1]) if len(sys.argv) > 1 else N_OPS
    with tempfile.TemporaryDirectory() as d:
        _, fig = build_big(Path(d), n)
        print(
            " ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in fig.items())
        )
