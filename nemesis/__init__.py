"""Faults: partition, kill, pause, clock, netem, their schedules and heal-all."""

from nemesis.base import FaultContext, Nemesis, NemesisError, find_leader
from nemesis.combined import (
    REGISTRY,
    Combined,
    ExplicitSchedule,
    Recording,
    Schedule,
    build,
    check_events,
)

__all__ = [
    "REGISTRY",
    "Combined",
    "FaultContext",
    "Nemesis",
    "NemesisError",
    "ExplicitSchedule",
    "Recording",
    "Schedule",
    "build",
    "check_events",
    "find_leader",
]
