"""Hostile input on a live node's client and peer ports: random bytes, truncated and oversized
frames, JSON that is not a request, peer messages of every type with fields of the wrong
shape. Afterwards every node is still running and node 0 still serves real clients.
"""

import random
import socket
import struct
import subprocess

import pytest

from controller.bench_cli import LocalServers
from paxos_impl import wire
from paxos_impl.client import Client

MESSAGE_TYPES = [
    "prepare",
    "promise",
    "nack",
    "accept",
    "accepted",
    "heartbeat",
    "heartbeat_ok",
    "catchup",
    "learn",
    "snapshot",
    "hello",
    "no-such-type",
]
FIELDS = ["ballot", "from", "to", "entries", "chosen", "snap", "commit", "slot", "slots", "round"]
OPS = ["read", "write", "cas", "append", "status", "drop", None, 7]


def junk(rng, depth=0):
    choices = [
        lambda: rng.randint(-(2**70), 2**70),
        lambda: rng.choice([0, -1, 1, 2**31, True, False, None]),
        lambda: rng.random() * 1e6,
        lambda: "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 12))),
    ]
    if depth < 3:
        choices += [
            lambda: [junk(rng, depth + 1) for _ in range(rng.randint(0, 4))],
            lambda: {str(junk(rng, 3)): junk(rng, depth + 1) for _ in range(rng.randint(0, 3))},
        ]
    return rng.choice(choices)()


def peer_message(rng):
    m = {"type": rng.choice(MESSAGE_TYPES)}
    for f in rng.sample(FIELDS, rng.randint(0, len(FIELDS))):
        m[f] = junk(rng)
    return m


def client_request(rng):
    req = {"op": rng.choice(OPS), "key": junk(rng), "value": junk(rng)}
    if rng.random() < 0.7:
        req.update(client_id=junk(rng), seq=junk(rng))
    return req


def payloads(rng, structured):
    """One connection's worth of bytes."""
    kind = rng.randrange(5)
    if kind == 0:  # noise
        return rng.randbytes(rng.randint(1, 300))
    if kind == 1:  # a frame cut short
        frame = wire.encode(structured())
        return frame[: rng.randint(1, len(frame) - 1)]
    if kind == 2:  # a length far over the limit
        return struct.pack(">I", rng.randint(5 * 1024 * 1024, 2**32 - 1)) + rng.randbytes(8)
    if kind == 3:  # well-framed bodies that are not JSON objects
        body = rng.choice([b"[1,2]", b"null", b"\xff\xfe\x00", b"{", b'"x"', rng.randbytes(20)])
        return struct.pack(">I", len(body)) + body
    # well-formed frames with nonsense inside
    return b"".join(wire.encode(structured()) for _ in range(rng.randint(1, 8)))


def send_and_close(port, data):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionRefusedError:
        return False  # the node is gone: the caller says why
    with s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(0.5)
            while s.recv(65536):
                pass
        except OSError:
            pass  # the node may close first: that is the point
    return True


@pytest.fixture
def cluster(tmp_path):
    with LocalServers(tmp_path, 3) as servers:
        servers.start_all()
        servers.wait_for_leader()
        yield servers


def fuzz(servers, rounds, seed, peer_messages):
    """`rounds` hostile connections to each port of node 0; stops at the first death."""
    rng = random.Random(seed)
    me = servers.config.node(0)
    hello = wire.encode({"type": "hello", "from": 1})
    for i in range(rounds):
        alive = send_and_close(me.client_port, payloads(rng, lambda: client_request(rng)))
        if peer_messages:  # past the hello, so the messages reach the core's validation
            peer = hello + payloads(rng, lambda: peer_message(rng))
        else:  # framing faults, and anything at all in place of the hello
            peer = payloads(rng, lambda: peer_message(rng))
        alive = send_and_close(me.peer_port, peer) and alive
        if not alive or servers.procs[0].poll() is not None:
            try:
                servers.procs[0].wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            pytest.fail(f"node 0 died in fuzz round {i}: {servers.tail(0, 2)}")


def still_serving(servers):
    for i, proc in servers.procs.items():
        assert proc.poll() is None, f"node {i} died: {servers.tail(i)}"
    with Client(servers.config, node=0, timeout=10) as c:
        c.write("after-fuzz", [1, 2])
        assert c.read("after-fuzz") == [1, 2]
        assert c.status(0)["id"] == 0


@pytest.mark.timeout(120)
def test_node_survives_garbage_on_both_ports(cluster):
    fuzz(cluster, 150, seed=20261127, peer_messages=False)
    still_serving(cluster)
    log = cluster.log_path(0).read_text()
    assert "client port: closing connection" in log and "peer port: closing connection" in log


@pytest.mark.timeout(120)
def test_node_survives_malformed_peer_messages(cluster):
    fuzz(cluster, 150, seed=20261127, peer_messages=True)
    still_serving(cluster)
    assert "dropped malformed peer message" in cluster.log_path(0).read_text()
