"""`paxlab sim --scheduler tcp://HOST:PORT`: a sweep's seeds run on a Dask cluster.

Seeds are independent and each is a pure function of the arguments and the seed, so a sweep is
the textbook job for an existing distributed engine (dask.distributed) rather than one of our
own. The workers only compute rows; everything else stays here, in the caller: rows come out in
seed order (exactly what a serial sweep prints), a failing seed is run again into the local
results store by `controller.sim_cli.sweep` as it always is, and the replay command works on
this machine. Results that arrive before their turn wait in a buffer; a progress line on
stderr says how many have arrived.

Workers must be able to import this project (the task is `controller.sim_dask._run_on_worker`,
sent by reference, not by value): on each worker host, install the same commit of paxlab into
the Python environment that runs ``dask worker``. The simulator is CPU-bound Python, so a
worker runs one seed at a time (``--nthreads 1``; more threads only queue on a lock here).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures as cf
import logging
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Rows = Iterator[tuple[argparse.Namespace, dict[str, Any]]]  # as controller.sim_cli's

CONNECT_TIMEOUT_S = 10.0  # reaching the scheduler
WORKERS_TIMEOUT_S = 30.0  # waiting for a first worker to join it
PROGRESS_EVERY_S = 2.0  # at most one progress line per this many seconds


def _bad(msg: str) -> None:
    from controller.cli import UsageError

    raise UsageError(msg)


class DaskSweep:
    """A connection to a Dask scheduler, made before any seed runs, that computes sweep rows."""

    def __init__(self, address: str, *, connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
        try:
            from distributed import Client
        except ImportError:
            _bad("--scheduler needs dask.distributed: pip install 'paxlab[dask]' (make install)")
        self.address = address
        # Dask logs a lost scheduler as tracebacks; the sweep says it in one line instead.
        self._levels = _quiet("distributed")
        try:
            self.client = Client(address, timeout=connect_timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            _restore(self._levels)
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            _bad(f"cannot reach the Dask scheduler at {address}: {first}")
        try:
            self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
        except (OSError, TimeoutError):
            self.close()
            _bad(f"the Dask scheduler at {address} has no workers (waited {WORKERS_TIMEOUT_S:g}s)")

    @property
    def workers(self) -> int:
        """Seeds that can run at once: the cluster's worker threads."""
        info = self.client.scheduler_info()
        return sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1

    def close(self) -> None:
        try:
            self.client.close(timeout=5)
        except (OSError, TimeoutError):
            pass  # a scheduler already gone: nothing left to tell it
        finally:
            _restore(self._levels)

    def rows(self, args: argparse.Namespace, seeds: list[int]) -> Rows:
        """The rows of `controller.sim_cli._rows_serial`, in seed order, computed on the cluster.

        Every seed is submitted at once (the scheduler balances them); a stop (an invalid seed
        under --stop-at-first, Ctrl-C, closing this generator) cancels what has not finished."""
        from distributed import as_completed

        from controller.sim_cli import for_seed

        per_seed = [for_seed(args, seed, i) for i, seed in enumerate(seeds)]
        sweep_id = uuid.uuid4().hex[:8]
        futures = [
            self.client.submit(_run_on_worker, a, seed, key=f"paxlab-sim-{sweep_id}-{seed}")
            for a, seed in zip(per_seed, seeds, strict=True)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        done: dict[int, dict[str, Any]] = {}
        limit = len(seeds)  # seeds from this index on are not reported (past a stopping failure)
        emitted = arrived = 0
        last_note = time.monotonic()
        pending = as_completed(futures, loop=self.client.loop)
        try:
            for fut in pending:
                i = index[fut.key]
                arrived += 1
                if i >= limit:
                    continue
                row = _result(fut, self.address)
                done[i] = row
                if args.stop_at_first and row["valid"] is False:
                    limit = i + 1
                    self.client.cancel([f for f in futures[limit:] if not f.done()])
                if time.monotonic() - last_note >= PROGRESS_EVERY_S:
                    last_note = time.monotonic()
                    print(
                        f"paxlab sim: {arrived}/{len(seeds)} seeds done on {self.address}",
                        file=sys.stderr,
                        flush=True,
                    )
                while emitted in done:
                    yield per_seed[emitted], done.pop(emitted)
                    emitted += 1
                if emitted >= limit:
                    break
        finally:
            try:
                self.client.cancel([f for f in futures if not f.done()])
            except OSError:
                pass  # the scheduler is gone, and what it was running with it


def _result(fut: Any, address: str) -> dict[str, Any]:
    """A seed's row; a lost worker is one line, a seed's own exception propagates as locally."""
    from distributed.scheduler import KilledWorker

    try:
        return fut.result()
    except KilledWorker:
        _bad(f"Dask workers of {address} died running a seed (out of memory?); --jobs runs here")
    except (asyncio.CancelledError, cf.CancelledError, OSError) as e:  # the scheduler went away
        why = getattr(e, "reason", None) or (str(e).splitlines() or [type(e).__name__])[0]
        _bad(f"the Dask scheduler at {address} dropped the sweep ({why}); rows so far are above")
    return {}  # pragma: no cover - _bad raises


def _quiet(package: str) -> dict[str, int]:
    """Silence a package's loggers (Dask sets levels on some children); their old levels."""
    from distributed import Client  # noqa: F401 - configures Dask's loggers first

    names = [package, *(n for n in logging.root.manager.loggerDict if n.startswith(package + "."))]
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.CRITICAL)
    return levels


def _restore(levels: dict[str, int]) -> None:
    for n, level in levels.items():
        logging.getLogger(n).setLevel(level)


_ONE_AT_A_TIME = threading.Lock()  # a worker with several threads still runs one seed at a time


def _run_on_worker(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """`run_seed` on a Dask worker, in a scratch results dir of its own that it removes."""
    from controller.sim_cli import run_seed

    with _ONE_AT_A_TIME, tempfile.TemporaryDirectory(prefix="paxlab-sim-dask-") as scratch:
        return run_seed(args, seed, Path(scratch))
