"""Protocol scenarios as pages: tests/paxos_impl/testdata/*.txt run against the real core.

Each file is a story (election, a write through phase 2, a lower ballot refused, a crash and
recovery, catch-up, a deliberate bug); after every command it shows the ``Ready`` the core
returned. The test fails when the core now asks for something else, with the difference as a
diff of the page. ``PAXLAB_REWRITE=1`` or ``--rewrite`` writes the new output instead
(tests/README.md).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from tests.support.script import ScriptError, Step, parse, render, run_file

TESTDATA = Path(__file__).parent / "testdata"
FILES = sorted(TESTDATA.glob("*.txt"))


def rewriting(config: pytest.Config) -> bool:
    return bool(config.getoption("rewrite")) or os.environ.get("PAXLAB_REWRITE") == "1"


def diff_of(path: Path, rewrite: bool = False) -> str:
    """Run one file; the unified diff between its text and the actual output ("" if none).

    With ``rewrite`` the file gets the actual output instead, and the diff is what changed.
    """
    script, outputs = run_file(path)
    old, new = path.read_text(), render(script, outputs)
    if rewrite and new != old:
        path.write_text(new)
    lines = difflib.unified_diff(
        old.splitlines(True), new.splitlines(True), f"{path.name} (expected)", "actual"
    )
    return "".join(lines)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: Path, request: pytest.FixtureRequest) -> None:
    rewrite = rewriting(request.config)
    diff = diff_of(path, rewrite)
    if diff and not rewrite:
        pytest.fail(f"{path.name}: the core's output changed\n{diff}", pytrace=False)


def test_there_are_scenarios() -> None:
    assert len(FILES) >= 6, FILES


def test_parse_keeps_prose_and_steps_in_order() -> None:
    text = "# a story\n\ncluster n=3\n----\nold line\n\n# then\nstatus\n----\nx\n"
    script = parse(text)
    assert [s.command for s in script.steps] == ["cluster n=3", "status"]
    assert script.steps[1] == Step(8, "status", ["x"])
    assert render(script, [["a", "b"], ["c"]]) == (
        "# a story\n\ncluster n=3\n----\na\nb\n\n# then\nstatus\n----\nc\n"
    )


def test_a_command_without_separator_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("cluster n=3\nstatus\n")
    with pytest.raises(ScriptError, match="line 1: a command must be followed by a ----"):
        run_file(f)


def test_an_unknown_command_names_the_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.txt"
    f.write_text("cluster n=3\n----\n\nfrobnicate n1\n----\n")
    with pytest.raises(ScriptError, match=r"bad.txt:4: frobnicate n1: unknown command"):
        run_file(f)


def test_a_changed_output_is_a_diff_and_rewrite_restores_it(tmp_path: Path) -> None:
    f = tmp_path / "election.txt"
    good = (TESTDATA / "election.txt").read_text()
    f.write_text(good.replace("role=leader", "role=candidate", 1))
    diff = diff_of(f)
    assert "-n0 applied_index=0 ballot=[1,0] commit_index=0 leader=0 role=candidate" in diff
    assert "+n0 applied_index=0 ballot=[1,0] commit_index=0 leader=0 role=leader" in diff
    diff_of(f, rewrite=True)
    assert f.read_text() == good
