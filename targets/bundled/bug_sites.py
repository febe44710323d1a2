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
# the example state machines carry bugs of their own (``--bug sm-nondeterministic``); they
# are found where a repository checkout has them
EXAMPLES = SOURCE.parent / "examples" / "machines"


def bug_sites(name: str) -> list[tuple[str, int, str]]:
    """``(path relative to the repository, line number, the line)`` of every test for bug
    ``name`` in the store's source and the example machines, in file order."""
    pattern = re.compile(r"has_bug\(\s*[\"']" + re.escape(name) + r"[\"']\s*\)")
    out = []
    files = sorted(SOURCE.glob("*.py")) + sorted(EXAMPLES.glob("*.py"))
    for path in files:
        for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                out.append((path.relative_to(SOURCE.parent).as_posix(), k, line.strip()))
    return out
