"""The history as it happens: every event appended to history.jsonl and flushed at once.

Nothing is held only in memory, so a crashed or interrupted controller leaves a readable
partial history (a simulated run flushes every 50 ms of wall time instead: it can be
replayed from its seed). Events get their ``index`` here, in the order the controller saw
them.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

_ORDER = ("index", "time", "process", "type", "f", "key", "value")
# json.dumps with options builds a new encoder per call; a run writes two events per operation
_encode = json.JSONEncoder(separators=(", ", ": "), default=str).encode


class HistoryWriter:
    """Appends events as JSON lines; counts client completions for progress and results."""

    def __init__(self, path: str | Path, flush_interval: float = 0.0) -> None:
        """``flush_interval`` (wall seconds): 0 flushes every event, the default for real
        runs. A simulated run passes a little more: its history is reproducible from the seed
        anyway, and a flush per event was a twentieth of a simulation's time."""
        self.path = Path(path)
        self._f = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - held open for the run
        self._flush_interval = flush_interval
        self._flushed = time.monotonic()
        self._next = 0
        self.counts: Counter[str] = Counter()  # ok / fail / info of client operations

    def append(self, event: dict[str, Any], ordered: bool = False) -> dict[str, Any]:
        """Write one event; ``ordered``: its keys already come in _ORDER (the interpreter's
        operation events do), so only the index goes in front."""
        if ordered:
            ev = {"index": self._next, **event}
        else:
            ev = {"index": self._next}
            for k in _ORDER[1:]:
                if k in event:
                    ev[k] = event[k]
            for k, v in event.items():
                if k not in ev:
                    ev[k] = v
        self._f.write(_encode(ev) + "\n")
        if not self._flush_interval:
            self._f.flush()
        elif time.monotonic() - self._flushed >= self._flush_interval:
            self._f.flush()
            self._flushed = time.monotonic()
        self._next += 1
        if isinstance(ev.get("process"), int) and ev.get("type") in ("ok", "fail", "info"):
            self.counts[ev["type"]] += 1
        return ev

    def flush(self) -> None:
        """Everything appended so far is in the file (readers are about to read it)."""
        if not self._f.closed:
            self._f.flush()
            self._flushed = time.monotonic()

    def __len__(self) -> int:
        return self._next

    def close(self) -> None:
        if self._f.closed:
            return
        self._f.flush()
        try:
            os.fsync(self._f.fileno())
        except OSError:
            pass
        self._f.close()


def read_history(path: str | Path) -> list[dict[str, Any]]:
    """Read a history, tolerating a truncated last line (a controller killed mid-write)."""
    events = []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise
    return events


def op_counts(events: list[dict[str, Any]]) -> dict[str, int]:
    """ok / fail / info completions of client operations."""
    c = Counter(
        e["type"]
        for e in events
        if isinstance(e.get("process"), int) and e.get("type") in ("ok", "fail", "info")
    )
    return {"ok": c["ok"], "fail": c["fail"], "info": c["info"]}
