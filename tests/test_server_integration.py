"""Three real paxos-server processes on loopback, driven through the paxos-client script.

Every acknowledged write must survive kill -9 of one node and then of all three, and be read
back through every node after the restarts.
"""

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from controller.bench_cli import LocalServers

CLIENT = Path(sys.executable).parent / "paxos-client"


@pytest.fixture
def servers(tmp_path):
    s = LocalServers(tmp_path, 3)
    try:
        yield s
    finally:
        s.close()


def cli(servers, *args, node=None, timeout=30):
    cmd = [str(CLIENT), "--config", str(servers.config_path), "--timeout", "8"]
    if node is not None:
        cmd += ["-n", str(node)]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout)


def put(servers, acked, key, value, node=None):
    r = cli(servers, "put", key, value, node=node)
    assert r.returncode in (0, 3), r.stderr  # 3: unknown outcome, allowed but not counted
    if r.returncode == 0:
        acked[key] = value


def read_back(servers, acked, nodes):
    for node in nodes:
        for key, value in acked.items():
            r = cli(servers, "get", key, node=node)
            assert r.returncode == 0, f"get {key} via node {node}: {r.stderr}"
            assert r.stdout == value + "\n", f"get {key} via node {node}"


@pytest.mark.timeout(150)
def test_acknowledged_writes_survive_kill_9_of_one_then_all(servers):
    if not CLIENT.exists():
        pytest.fail(f"{CLIENT} is not installed (make install)")
    servers.start_all()
    leader = servers.wait_for_leader()
    acked: dict[str, str] = {}
    put(servers, acked, "a", "1")
    put(servers, acked, "b", "hello world")

    servers.kill(leader)  # the leader, mid-run: the others elect a new one
    other = (leader + 1) % 3
    put(servers, acked, "c", "3", node=other)
    put(servers, acked, "a", "4", node=other)
    servers.start(leader)
    put(servers, acked, "d", "5", node=leader)

    for i in range(3):
        servers.kill(i)
    servers.start_all()
    servers.wait_for_leader()
    assert len(acked) == 4  # all four keys were acknowledged at least once
    read_back(servers, acked, nodes=[0, 1, 2])

    # each node on its own is enough, with any one other, to serve everything acknowledged
    for down in range(3):
        servers.kill(down)
        read_back(servers, acked, nodes=[(down + 1) % 3])
        servers.start(down)


@pytest.mark.timeout(90)
def test_cli_commands_and_exit_codes(servers):
    servers.start_all()
    servers.wait_for_leader()
    assert cli(servers, "propose", "hello world").returncode == 0
    assert cli(servers, "get").stdout == "hello world\n"
    assert cli(servers, "put", "j", "[1, 2]").returncode == 0
    assert cli(servers, "append", "j", "[3]").returncode == 0
    assert cli(servers, "get", "j").stdout == "[1, 2, 3]\n"
    assert cli(servers, "cas", "j", "[1, 2, 3]", "7").returncode == 0
    r = cli(servers, "cas", "j", "8", "9")
    assert r.returncode == 1 and "another value" in r.stderr
    assert cli(servers, "get", "missing").stdout == "null\n"
    status = json.loads(cli(servers, "status", node=1).stdout)
    assert status["id"] == 1 and status["pid"] == servers.procs[1].pid and "time" in status
    r = cli(servers, "frobnicate")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = cli(servers, "get", node=9)
    assert r.returncode == 2 and "not in the configuration" in r.stderr


@pytest.mark.timeout(60)
def test_sigterm_exits_cleanly_and_restart_recovers(servers):
    servers.start_all()
    servers.wait_for_leader()
    assert cli(servers, "put", "k", "v").returncode == 0
    for i in range(3):
        assert servers.kill(i, signal.SIGTERM) == 0
        assert "stopped cleanly" in servers.log_path(i).read_text()
    servers.start_all()
    servers.wait_for_leader()
    assert cli(servers, "get", "k").stdout == "v\n"


def run_server(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "paxos_impl.server", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
    )


def test_server_usage_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("nodes = 3\n")
    for args, expect in [
        (["0", "--config", str(tmp_path / "none.toml")], "no such configuration file"),
        (["0", "--config", str(bad)], "bad configuration"),
        (["7"], "not in the configuration"),
        (["0", "--bug", "nope"], "unknown bug"),
        (["zero"], "invalid int value"),
    ]:
        r = run_server(*args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert expect in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_server_refuses_a_corrupt_log(tmp_path):
    from paxos_impl.storage import Storage

    data = tmp_path / "node0.paxos"
    s = Storage(data)
    s.recover()
    s.append([{"r": i} for i in range(3)])
    s.close()
    seg = next(data.glob("log.*"))
    raw = bytearray(seg.read_bytes())
    raw[14] ^= 0xFF  # inside the first record's payload
    seg.write_bytes(bytes(raw))
    r = run_server("0", cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(seg.name) in lines[0] and "byte offset 0" in lines[0]
