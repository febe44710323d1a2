"""Faults: partition, kill, pause, clock, netem, their schedules and heal-all."""

from nemesis.base import FaultContext, Nemesis, NemesisError, find_leader
from nemesis.combined import REGISTRY, Combined, Schedule, build

__all__ = [
    "REGISTRY",
    "Combined",
    "FaultContext",
    "Nemesis",
    "NemesisError",
    "Schedule",
    "build",
    "find_leader",
]
