"""Each deliberate bug explained: its rule, its marked lines (found in the source as it is),
the smallest failing schedule docs/shrinking.md measured, and `paxlab explain`."""

from __future__ import annotations

import re

from controller.cli import main
from controller.explain import SHRUNK, explain, render_explanations
from paxos_impl.config import KNOWN_BUGS
from tests.support.paths import REPO_ROOT as REPO


def test_every_bug_is_explained_with_lines_that_really_test_for_it():
    assert sorted(SHRUNK) == sorted(KNOWN_BUGS)
    for bug in KNOWN_BUGS:
        x = explain(bug)
        assert x is not None and x["rule"] and x["symptom"]
        assert x["sites"], bug
        for s in x["sites"]:
            line = (REPO / s["file"]).read_text().splitlines()[s["line"] - 1]
            assert f'has_bug("{bug}")' in line
        assert (
            x["shrink_command"].startswith("paxlab sim ") and f"--bug {bug}" in x["shrink_command"]
        )
    assert explain("no-such-bug") is None


def test_the_shrink_figures_are_the_ones_docs_shrinking_md_states():
    table = (REPO / "docs" / "shrinking.md").read_text()
    rows = re.findall(
        r"^\| ([a-z0-9-]+) \| (\d+) \| (\d+) \(\d+%\) \| (\d+) \| (\d+) \|", table, re.M
    )
    assert len(rows) == len(SHRUNK)
    for name, before, after, fb, fa in rows:
        assert SHRUNK[name][1:] == (int(before), int(after), int(fb), int(fa)), name


def test_the_report_section_names_the_rule_and_the_lines():
    page = render_explanations(["early-ack", "not-a-bug"])
    assert page.count('class="bug-explained"') == 1
    assert "phase-2 quorum" in page and "paxos_impl/leader.py:" in page and "--shrink 0" in page


def test_paxlab_explain_prints_each_bug_and_refuses_an_unknown_one(capsys):
    assert main(["explain", "no-dedup"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("no-dedup\n  breaks:") and "paxos_impl/core.py:" in out
    assert main(["explain"]) == 0
    assert capsys.readouterr().out.count("  breaks:") == len(KNOWN_BUGS)
    assert main(["explain", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown bug 'nope'" in err[0]


def test_validate_summary_on_a_terminal_names_the_explain_command(capsys):
    from controller.validate_cli import print_tables

    bug = {"name": "early-ack", "status": "found", "found_by": "history checkers", "runs": 1,
           "budget_runs": 10, "seconds": 1.0, "nemesis": ["partition"], "workload": "set",
           "seed": 1, "report": None, "run": None, "reason": None, "control": None}  # fmt: skip
    summary = {"backend": "sim", "bugs": [bug], "clean": [], "valid": True, "bugs_found": 1,
               "bugs_expected": 1, "false_positives": 0, "clean_runs": 0, "undecided": 0,
               "store_violations": 0, "duration_s": 1.0}  # fmt: skip
    print_tables(summary)
    assert "paxlab explain early-ack" in capsys.readouterr().out.replace("\n", " ")
