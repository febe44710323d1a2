"""Where each deliberate bug of the bundled store lives: the lines that test for it.

A bug is a few isolated lines behind ``cfg.has_bug("name")`` (paxos_impl/config.py); an
explanation of a bug points a reader at those lines, found by reading the store's source
as it is now (not a list kept by hand that would drift as the code moves).
"""

from __future__ import annotations

import re
from pathlib import Path

import paxos_impl

SOURCE = Path(paxos_impl.__file__).parent


def bug_sites(name: str) -> list[tuple[str, int, str]]:
    """``(path relative to the repository, line number, the line)`` of every test for bug
    ``name`` in the store's source, in file order."""
    pattern = re.compile(r"has_bug\(\s*[\"']" + re.escape(name) + r"[\"']\s*\)")
    out = []
    for path in sorted(SOURCE.glob("*.py")):
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                out.append((f"paxos_impl/{path.name}", k, line.strip()))
    return out
