"""The repository is self-contained: no file sends a reader to a design document outside it,
and every relative link in README.md and docs/ leads to a file that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.paths import REPO_ROOT as ROOT

OUTSIDE = "DESIGN" + ".md"  # spelled apart so this file does not mention it either


def tracked_text_files() -> list[Path]:
    r = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    out = []
    for name in r.stdout.splitlines():
        p = ROOT / name
        if p.suffix in {".py", ".md", ".toml", ".txt", ".html", ".cfg", ""} and p.is_file():
            out.append(p)
    return out


def test_no_file_refers_to_an_outside_design_document():
    offenders = []
    for p in tracked_text_files():
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE in line or "shared/" + "DESIGN" in line:
                offenders.append(f"{p.relative_to(ROOT)}:{n}")
    assert offenders == []


def test_relative_links_in_the_docs_resolve():
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for doc in docs:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            if not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_the_contracts_are_in_docs():
    for name in ("cli.md", "history-format.md", "results.md", "make.md"):
        assert (ROOT / "docs" / name).is_file(), name
    cli = (ROOT / "docs" / "cli.md").read_text()
    assert "## Exit codes" in cli and "--target-opt" in cli
