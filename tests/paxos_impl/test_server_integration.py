"""Three real paxos-server processes on loopback, driven through the paxos-client script.

Every acknowledged write must survive kill -9 of one node and then of all three, and be read
back through every node after the restarts.
"""

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from controller.bench_cli import LocalServers
from paxos_impl.client import Client, PaxosError
from paxos_impl.client_cli import parse_value
from tests.support.ports import on_free_ports

CLIENT = Path(sys.executable).parent / "paxos-client"


@pytest.fixture
def servers(tmp_path):
    s = LocalServers(tmp_path, 3, snapshot_every=3)  # snapshots and compaction happen too
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
    """`paxos-client get` of every key through every node (run side by side: it is slow)."""
    procs = {}
    for node in nodes:
        for key in acked:
            cmd = [str(CLIENT), "--config", str(servers.config_path), "--timeout", "8"]
            procs[node, key] = subprocess.Popen(
                [*cmd, "-n", str(node), "get", key], stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
    for (node, key), proc in procs.items():
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, f"get {key} via node {node}: {err.decode()}"
        assert out.decode() == acked[key] + "\n", f"get {key} via node {node}"


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
    assert any((servers.data_dir(i) / "snapshot").exists() for i in range(3))
    read_back(servers, acked, nodes=[0, 1, 2])

    # any two nodes are enough to serve everything acknowledged (read with the library)
    for down in range(3):
        servers.kill(down)
        with Client(servers.config, node=(down + 1) % 3, timeout=10) as c:
            assert {k: c.read(k) for k in acked} == {k: parse_value(v) for k, v in acked.items()}
            servers.start(down)
            wait_until_caught_up(c, down)
    for i in range(3):
        assert " CRITICAL " not in servers.log_path(i).read_text(), servers.tail(i)


def wait_until_caught_up(client, node, timeout=15):
    """Until `node` answers status and has applied what the others had when it came back."""
    deadline = time.monotonic() + timeout
    target = None
    while time.monotonic() < deadline:
        try:
            if target is None:
                target = max(client.status(n)["commit_index"] for n in range(3) if n != node)
            if client.status(node)["applied_index"] >= target:
                return
        except PaxosError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"node {node} did not catch up within {timeout} s")


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

    # SIGTERM: a clean exit, and the state is there after the restart
    for i in range(3):
        assert servers.kill(i, signal.SIGTERM) == 0
        assert "stopped cleanly" in servers.log_path(i).read_text()
    servers.start_all()
    servers.wait_for_leader()
    assert cli(servers, "get", "j").stdout == "7\n"


@pytest.mark.timeout(90)
def test_txn_through_real_nodes_is_atomic_and_fills_in_reads(servers):
    servers.start_all()
    servers.wait_for_leader()
    r = cli(servers, "txn", '[["append","x",1],["w","y",5],["r","x",null]]')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == [["append", "x", 1], ["w", "y", 5], ["r", "x", [1]]]
    # through another node, it sees the first one whole
    r = cli(servers, "txn", '[["r","x",null],["r","y",null],["append","x",2]]', node=2)
    assert json.loads(r.stdout) == [["r", "x", [1]], ["r", "y", 5], ["append", "x", 2]]
    # a refused micro-op (y holds an int: nothing appends to it) refuses the whole txn
    r = cli(servers, "txn", '[["append","x",3],["append","y",1]]')
    assert r.returncode == 1 and "malformed" in r.stderr
    assert cli(servers, "get", "x").stdout == "[1, 2]\n"
    for bad in ('[["x","k",1]]', "not json", "[]"):
        r = cli(servers, "txn", bad)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr


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


def test_port_in_use_is_a_one_line_error(tmp_path):
    from paxos_impl.config import local_config

    cfg = on_free_ports(local_config(3))
    path = tmp_path / "c.toml"
    cfg.save(path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", cfg.nodes[0].client_port))
        s.listen()
        r = run_server("0", "--config", str(path), cwd=tmp_path)
    assert r.returncode == 2
    assert (
        r.stderr
        == f"paxos-server: cannot listen on 127.0.0.1:{cfg.nodes[0].client_port}: Address already in use\n"
    )
