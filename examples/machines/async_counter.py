"""The counter with an asynchronous apply (as a machine doing IO of its own would have).

The replica awaits each apply in log order (paxos_impl.runtime.AsyncApplier), so the
results are those of :class:`~examples.machines.counter.Counter` run serially. The state
changes only after the await: while an apply waits, the machine is still at the point the
log reached before it (so a snapshot taken then is consistent). It reads the total before
the await and writes it after, as a machine that fetches, waits on IO and stores would: two
applies that overlapped would lose an update (what bug ``sm-async-early-answer`` allows).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from examples.machines.counter import Counter, parse_add


class AsyncCounter(Counter):
    """Counter whose apply awaits ``delay`` seconds before it adds."""

    delay = 0.002

    async def apply(self, command: Any) -> int:  # type: ignore[override]
        n = parse_add(command)  # refused before the wait: nothing changes
        before = self.total  # read, wait (as for IO), then write: right only if applies
        await asyncio.sleep(self.delay)  # never overlap, which the runtime guarantees
        self.total = before + n
        return self.total

    @staticmethod
    def example_command(rng: random.Random) -> Any:
        return {"add": rng.randint(1, 5)}
