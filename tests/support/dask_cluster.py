"""A real Dask cluster on loopback for tests: one `dask scheduler`, N `dask worker` processes.

Each process runs in a session of its own, so stopping it by its pid's process group ends
whatever it started too; it is stopped on the way out of the `with`, also when the test fails.
The workers run in this interpreter's environment, where paxlab is installed (what a remote
worker needs too: docs/sweeps.md)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import REPO_ROOT
from tests.support.ports import free_port

DASK = str(Path(sys.executable).parent / "dask")


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in reversed(procs):  # workers first, then the scheduler
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in reversed(procs):
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


def _wait_listening(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dask scheduler exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"dask scheduler not listening on {port} after {timeout:g}s")


@dataclass(frozen=True)
class DaskCluster:
    address: str  # tcp://127.0.0.1:PORT
    scheduler: subprocess.Popen  # a test may stop it early, to see a sweep lose it


@contextmanager
def dask_cluster(workers: int = 2, log_dir: Path | None = None) -> Iterator[DaskCluster]:
    """Yields the cluster once all the workers have joined its scheduler."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        out = open(log_dir / f"{name}.log", "wb") if log_dir else subprocess.DEVNULL  # noqa: SIM115
        p = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        procs.append(p)
        return p

    try:
        sched = start(
            "scheduler",
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        )
        _wait_listening(port, sched)
        for k in range(workers):
            start(
                f"worker-{k}",
                [DASK, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                 "--no-nanny", "--no-dashboard", "--name", f"paxlab-test-{k}"],
            )  # fmt: skip
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as c:
            c.wait_for_workers(workers, timeout=60)
        yield DaskCluster(address, sched)
    finally:
        _stop(procs)


if __name__ == "__main__":  # a cluster by hand (measurements): prints its address
    # Ctrl-C or SIGTERM (a background job ignores SIGINT) stops the scheduler and workers too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with dask_cluster(int(sys.argv[1]) if len(sys.argv) > 1 else 2) as cluster:
        print(cluster.address, flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
