"""The node agent on this host: it supervises a stand-in store, signals it, shifts its clock.

These run the real script as a subprocess (as docker exec and ssh do), with a tiny
stand-in process instead of the store, so they need neither Docker nor the store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster import node_agent

AGENT = Path(node_agent.__file__)
# A stand-in store: prints a line, then sleeps (so it can be paused, killed, stopped).
STAND_IN = f"{sys.executable} -c 'import time; print(\"up\", flush=True); time.sleep(60)'"
STUBBORN = (
    f"{sys.executable} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    ' print("up", flush=True); time.sleep(60)\''
)

pytestmark = pytest.mark.timeout(60)


def agent(root: Path, *args: str, check: bool = True) -> dict | subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, str(AGENT), "--root", str(root), *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if not check:
        return r
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def root(tmp_path):
    """A node root whose store is always killed afterwards, even if the test failed."""
    yield tmp_path
    pid = node_agent.store_pid(tmp_path)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def proc_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def wait_for(pred, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_start_records_pid_and_second_start_is_a_no_op(root):
    r = agent(root, "start", "--command", STAND_IN, "--no-faketime")
    assert r["started"] is True
    pid = r["pid"]
    assert os.path.exists(f"/proc/{pid}")
    assert (root / "store.pid").read_text().split()[0] == str(pid)
    again = agent(root, "start", "--command", STAND_IN, "--no-faketime")
    assert again == {"started": False, "pid": pid, "reason": "already running"}
    assert agent(root, "status")["state"] == "running"
    assert wait_for(lambda: "up" in (root / "store.log").read_text())


def test_pause_resume_kill_are_seen_by_the_kernel_and_logged(root):
    pid = agent(root, "start", "--command", STAND_IN, "--no-faketime")["pid"]
    agent(root, "pause")
    assert proc_state(pid) in "Tt"  # stopped by the time the command returns
    assert agent(root, "status")["state"] == "paused"
    agent(root, "resume")
    assert proc_state(pid) not in "Tt"
    assert agent(root, "status")["state"] == "running"
    assert agent(root, "kill") == {"killed": True, "pid": pid}
    assert not os.path.exists(f"/proc/{pid}") or proc_state(pid) in "ZX"
    st = agent(root, "status")
    assert st["running"] is False and st["pid"] is None
    # the supervisor reaped it and said how it ended
    assert wait_for(lambda: "killed by signal 9" in (root / "agent.log").read_text())


def test_signals_to_a_stopped_store_are_a_one_line_error(root):
    r = agent(root, "pause", check=False)
    assert r.returncode == 1
    assert r.stderr.strip() == "node_agent pause: the store is not running"
    assert agent(root, "kill") == {"killed": False, "reason": "not running"}


def test_stop_terms_then_kills_a_store_that_ignores_sigterm(root):
    agent(root, "start", "--command", STAND_IN, "--no-faketime")
    assert agent(root, "stop")["signal"] == "TERM"
    assert agent(root, "start", "--command", STUBBORN, "--no-faketime")["started"]
    assert wait_for(lambda: (root / "store.log").read_text().count("up") >= 2)
    r = agent(root, "stop", "--timeout", "0.5")
    assert r["signal"] == "KILL"
    assert agent(root, "status")["running"] is False


def test_stop_wakes_a_paused_store(root):
    agent(root, "start", "--command", STAND_IN, "--no-faketime")
    agent(root, "pause")
    assert agent(root, "stop", "--timeout", "5")["signal"] == "TERM"


def test_a_store_that_dies_at_once_is_reported_with_its_last_log_line(root):
    t0 = time.monotonic()
    r = agent(root, "start", "--command", "echo boom-reason; exit 3", "--no-faketime", check=False)
    assert r.returncode == 1
    assert "boom-reason" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert time.monotonic() - t0 < 5  # noticed, not waited out


def test_start_needs_an_id_or_a_command(root):
    r = agent(root, "start", check=False)
    assert r.returncode == 1 and "--id" in r.stderr


def test_store_command_line_carries_id_config_data_dir_and_bugs(tmp_path):
    args = node_agent.build_parser().parse_args(
        ["start", "--id", "2", "--config", "/c.toml", "--bug", "early-ack", "--bug", "no-dedup"]
    )
    cmd = node_agent.store_command(args, tmp_path)
    assert cmd == [
        "python3",
        "-m",
        "paxos_impl.server",
        "2",
        "--config",
        "/c.toml",
        "--data-dir",
        str(tmp_path / "data"),
        "--bug",
        "early-ack",
        "--bug",
        "no-dedup",
    ]


def test_a_recycled_pid_is_not_mistaken_for_the_store(root):
    # a pid file naming a live process (this one) with another start time
    (root / "store.pid").write_text(f"{os.getpid()} 1\n")
    assert node_agent.store_pid(root) is None
    assert agent(root, "status")["running"] is False


def test_set_clock_writes_libfaketime_syntax_atomically(root):
    assert agent(root, "set-clock", "2.5") == {"clock_offset": 2.5}
    assert (root / "clock-offset").read_text() == "+2.5\n"
    agent(root, "set-clock", "--", "-3600")
    assert (root / "clock-offset").read_text() == "-3600\n"
    assert agent(root, "status")["clock_offset"] == -3600
    agent(root, "set-clock", "0")
    assert (root / "clock-offset").read_text() == "+0\n"
    assert not [p for p in root.iterdir() if p.name.endswith(".tmp")]


def test_faketime_env_names_the_offset_file_and_keeps_monotonic_real(tmp_path):
    env = node_agent.faketime_env(tmp_path, "/lib/libfaketimeMT.so.1")
    assert env == {
        "LD_PRELOAD": "/lib/libfaketimeMT.so.1",
        "FAKETIME_TIMESTAMP_FILE": str(tmp_path / "clock-offset"),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }
    assert (tmp_path / "clock-offset").read_text() == "+0\n"  # made before the preload
    assert node_agent.faketime_env(tmp_path, None) == {}


def test_ls_data_lists_the_data_directory(root):
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "log.bin").write_bytes(b"x" * 10)
    listing = agent(root, "ls-data")
    entries = {e["path"]: e["size"] for e in listing["entries"]}
    assert entries["log.bin"] == 10 and "sub" in entries


def test_run_executes_a_command_in_the_node_environment(root):
    r = agent(root, "run", "--", sys.executable, "-c", "print('ran')", check=False)
    assert r.returncode == 0 and r.stdout.strip() == "ran"
