"""Reading a report's message diagram back, and a real simulated run of a catalogue bug."""

from __future__ import annotations

import json
import re
from pathlib import Path

from controller.catalogue import SIM
from controller.explain import SHRUNK, entry
from controller.run import run_test


def lamport_of(report: Path) -> dict:
    """The diagram's data as the report embeds it."""
    m = re.search(
        r'<script type="application/json" id="lamport-data">(.*?)</script>', report.read_text()
    )
    assert m, "the report has no message diagram"
    return json.loads(m.group(1).replace("<\\/", "</"))


def invalid_bug_run(bug: str, root: Path, tries: int = 4) -> Path:
    """The run directory of an invalid simulated run of ``bug``: its catalogue exposure from
    the seed docs/shrinking.md shrank, or the next ones."""
    e = entry(bug)
    assert e is not None
    ex = e.exposure(SIM)
    assert ex is not None
    first = SHRUNK[bug][0]
    for seed in range(first, first + tries):
        out = run_test(ex.spec(SIM, seed, bug, f"lp-{bug}"), results_root=root, progress=False)
        if out.results.get("history_valid") is False:
            return Path(out.run_dir)
    raise AssertionError(f"{bug}: no invalid run in seeds {first}..{first + tries - 1}")
