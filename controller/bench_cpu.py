"""CPU time per durable write, per process: the benchmark figure that transfers between machines.

Writes per second depend on the machine and its neighbours; the CPU a node spends on one
write much less so. ``CpuMeter`` reads each process's user + system time from
``/proc/<pid>/stat`` before and after a run (Linux only; elsewhere the figures are None) and
divides by the writes the run acknowledged, so a table can say "the leader spends 300 µs of
CPU per write, a follower 150 µs" for the store and etcd alike.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process so far; None if it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: fields are counted after its ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuMeter:
    """CPU seconds of named processes over an interval (``start()`` ... ``stop()``)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float | None] = {}
        self.used: dict[str, float | None] = {}

    def start(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def stop(self) -> None:
        for name, pid in self.pids.items():
            a, b = self.before.get(name), cpu_seconds(pid)
            self.used[name] = None if a is None or b is None else b - a

    def per_write(self, writes: int, leader: str) -> dict[str, float | None]:
        """Microseconds of CPU per acknowledged write: the leader's and the followers' mean."""
        if writes <= 0:
            return {"leader": None, "follower": None}
        lead = self.used.get(leader)
        rest = [v for k, v in self.used.items() if k != leader and v is not None]
        return {
            "leader": None if lead is None else lead * 1e6 / writes,
            "follower": (sum(rest) / len(rest) * 1e6 / writes) if rest else None,
        }
