"""Live progress of a run: phase, elapsed / time limit, ops ok / fail / info, current faults.

On a terminal it is a rich live line; otherwise (CI logs, pipes) a plain line every few
seconds. It reads the interpreter's counters and sleeps on the event loop, like everything
else in a run; the simulator simply leaves it off.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from controller.history import HistoryWriter
from controller.interpreter import Env, Live


def describe_fault(name: str, value: Any) -> str:
    """'partition isolate-leader n3' from what a nemesis recorded."""
    if not isinstance(value, dict):
        return name
    parts = [name, str(value.get("kind", ""))]
    if value.get("nodes"):
        parts.append(",".join(value["nodes"]))
    if "offsets" in value:
        parts.append(" ".join(f"{n}{o:+g}s" for n, o in value["offsets"].items()))
    return " ".join(p for p in parts if p)


def status_line(spec_time_limit: float, history: HistoryWriter, live: Live, env: Env) -> str:
    c = history.counts
    elapsed = max(0.0, env.now())
    faults = "; ".join(describe_fault(n, v) for n, v in live.faults.items()) or "none"
    clock = f"{elapsed:5.1f}s / {spec_time_limit:g}s" if live.phase == "run" else f"{elapsed:5.1f}s"
    return (
        f"[{live.phase or '-'}] {clock}  ok {c['ok']}  fail {c['fail']}  info {c['info']}"
        f"  faults: {faults}"
    )


async def show_progress(
    time_limit: float,
    history: HistoryWriter,
    live: Live,
    env: Env,
    *,
    stream: Any = None,
    interval: float | None = None,
) -> None:
    """Refresh until cancelled."""
    stream = stream or sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    if not tty:
        every = interval or 5.0
        try:
            while True:
                await asyncio.sleep(every)
                print(status_line(time_limit, history, live, env), file=stream, flush=True)
        except asyncio.CancelledError:
            return
    from rich.console import Console
    from rich.live import Live as RichLive
    from rich.text import Text

    console = Console(file=stream)
    with RichLive(console=console, refresh_per_second=4, transient=True) as view:
        try:
            while True:
                view.update(Text(status_line(time_limit, history, live, env)))
                await asyncio.sleep(interval or 0.25)
        except asyncio.CancelledError:
            return
