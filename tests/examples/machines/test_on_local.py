"""The example machines served by real paxos-server processes on loopback: the command line
(``--state-machine``), the client's apply/query (library and ``paxos-client``), an
asynchronous machine across a crash and a catch-up by snapshot, and a bad spec at start."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.bench_cli import LocalServers
from paxos_impl.client import Client, DefiniteFailure, PaxosError, Rejected

BIN = Path(sys.executable).parent


def _serving(s: LocalServers, timeout: float = 20.0) -> None:
    """Until a query goes through the log (a leader is in place)."""
    deadline = time.monotonic() + timeout
    with Client(s.config, timeout=2.0) as c:
        while time.monotonic() < deadline:
            try:
                c.query("value")
                return
            except PaxosError:
                time.sleep(0.1)
    raise AssertionError(f"no answer within {timeout} s: {s.tail(0)}")


def _caught_up(c: Client, i: int) -> bool:
    try:
        mine = c.status(i)
    except PaxosError:  # still starting
        return False
    return mine["applied_index"] >= c.status(0)["applied_index"] and mine["snapshot_index"] > 0


@pytest.fixture
def servers(tmp_path):
    made = []

    def make(spec, **kw):
        (tmp_path / f"c{len(made)}").mkdir()
        s = LocalServers(tmp_path / f"c{len(made)}", 3, fsync=False, **kw)
        made.append(s)
        s.start_all("--state-machine", spec)
        _serving(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.mark.timeout(120)
def test_counter_served_by_processes_through_library_and_cli(servers):
    s = servers("examples.machines.counter:Counter")
    with Client(s.config, timeout=5.0) as c:
        assert [c.apply({"add": n}) for n in (1, 2, 3)] == [1, 3, 6]
        with pytest.raises(Rejected):
            c.apply({"add": "x"})
        with pytest.raises(DefiniteFailure) as e:
            c.write("k", 1)
        assert e.value.error == "bad_request"
    cli = [str(BIN / "paxos-client"), "--config", str(s.config_path)]
    out = subprocess.run([*cli, "apply", '{"add": 4}'], capture_output=True, text=True, timeout=30)
    assert (out.returncode, out.stdout.strip()) == (0, "10")
    out = subprocess.run(
        [*cli, "query", "value", "-n", "2"], capture_output=True, text=True, timeout=30
    )
    assert (out.returncode, out.stdout.strip()) == (0, "10")
    out = subprocess.run(
        [*cli, "apply", '{"add": 0.5}'], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 1 and "rejected" in out.stderr


@pytest.mark.timeout(180)
def test_async_counter_survives_a_crash_and_catches_up_by_snapshot(servers):
    s = servers("examples.machines.async_counter:AsyncCounter", snapshot_every=5)
    with Client(s.config, timeout=5.0) as c:
        for _ in range(10):
            c.apply({"add": 1})
        s.kill(2)
        for _ in range(20):
            c.apply({"add": 2})
        s.start(2, "--state-machine", "examples.machines.async_counter:AsyncCounter")
        for _ in range(5):
            c.apply({"add": 3})
        assert c.query("value") == 65
        deadline = time.monotonic() + 20
        while not _caught_up(c, 2):
            assert time.monotonic() < deadline and s.procs[2].poll() is None, s.tail(2)
            time.sleep(0.2)
    log = s.log_path(2).read_text()
    assert "state machine examples.machines.async_counter:AsyncCounter" in log


def test_a_bad_spec_stops_the_server_at_start_in_one_line(tmp_path):
    for spec, why in (("no_such_mod:X", "cannot import"), ("counter", "module:Class")):
        out = subprocess.run(
            [
                str(BIN / "paxos-server"),
                "0",
                "--data-dir",
                str(tmp_path / "d"),
                "--state-machine",
                spec,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 2 and why in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("bug", [(), ("--bug", "sm-async-early-answer")])
def test_overlapping_applies_lose_updates_only_with_the_bug(tmp_path, bug):
    """Four clients add 1 ten times each. Awaited one at a time (correct), the total is 40;
    with ``sm-async-early-answer`` the node starts the applies of a batch at once and the
    async counter, which reads before its await and writes after, loses updates."""
    import threading

    s = LocalServers(tmp_path, 3, fsync=False)
    try:
        s.start_all("--state-machine", "examples.machines.async_counter:AsyncCounter", *bug)
        _serving(s)

        def client(k: int) -> None:
            with Client(s.config, timeout=5.0, client_id=f"t{k}") as c:
                for _ in range(10):
                    c.apply({"add": 1})

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with Client(s.config, timeout=5.0) as c:
            total = c.query("value")
    finally:
        s.close()
    assert (total == 40) is (not bug), total
