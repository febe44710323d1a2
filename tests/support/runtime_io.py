"""A host for NodeRuntime in unit tests: its transport and timer, recording what they get."""

from __future__ import annotations


class RecordingIO:
    """Transport and timer in one: messages sent, replies, armed ticks and timers, in order;
    a handle in ``dead`` is no longer waiting for its answer."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, dict]] = []
        self.replies: list[tuple[object, dict]] = []
        self.armed: list[float | None] = []
        self.dead: set[object] = set()
        self.timers: list[tuple[float, object, object]] = []

    def send(self, messages):
        self.sent += messages

    def reply(self, replies):
        self.replies += replies

    def live(self, handle):
        return handle not in self.dead

    def arm(self, at):
        self.armed.append(at)

    def later(self, delay, fn, arg):
        self.timers.append((delay, fn, arg))
        return "timer"
