"""A run's message trace on disk: ``messages.jsonl`` beside the history (docs/results.md).

One JSON object a line, in the order recorded: ``dir`` ``send`` / ``recv`` (with ``from``,
``to``, ``type``, ``ballot``, ``slots``, ``cmds``, ``size`` and the send's ``id``, which its
deliveries repeat) or ``chosen`` / ``apply`` (``node`` learned / applied ``slot``); ``t`` is
ns on the history's clock, ``clock`` the recording node's own clock in seconds. The report
reads it back with :func:`read_trace`, which skips what it cannot parse (a trace explains a
verdict, it never makes one).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

TRACE_FILE = "messages.jsonl"


def write_trace(path: Path, records: list[dict]) -> int:
    """Write ``records`` (atomically); how many."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")))
            f.write("\n")
    os.replace(tmp, path)
    return len(records)


def read_trace(path: Path, problems: list[str] | None = None) -> list[dict]:
    """The records of ``path`` (none if it is missing); a bad line is skipped and noted."""
    if not path.exists():
        return []
    out: list[dict] = []
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(r, dict) and isinstance(r.get("t"), int) and "dir" in r:
                out.append(r)
            else:
                bad += 1
    if bad and problems is not None:
        problems.append(f"{path.name}: {bad} unreadable line(s) skipped")
    return out
