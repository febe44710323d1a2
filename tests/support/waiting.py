"""Patience for tests against real processes: poll until true, retry until acknowledged."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from cluster.base import ClusterError
from paxos_impl.client import Client, PaxosError

T = TypeVar("T")


def wait_for(pred: Callable[[], T], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll ``pred`` until it returns something true; store and transport errors mean not yet.

    A node that is starting, electing or being restarted refuses for a while; the last such
    error is in the failure message so a timeout says why.
    """
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (PaxosError, OSError, ClusterError) as e:
            last = e
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last error: {last})")


def write_acked(client: Client, key: str, value: object, acked: dict) -> None:
    """Retry definite failures (e.g. no leader yet) until the store acknowledges the write."""

    def attempt() -> bool:
        client.write(key, value)
        return True

    wait_for(attempt, what=f"write {key}={value}")
    acked[key] = value
