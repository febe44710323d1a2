"""Peer messages over UDP: fragments, reassembly bounds, sender checks, and a real cluster."""

import json
import random
import socket
import time

import pytest

from controller.bench_cli import LocalServers
from paxos_impl import udp, wire
from paxos_impl.client import Client
from paxos_impl.config import ConfigError, local_config
from paxos_impl.tls import TlsSettings


def fragments_of(body: bytes, sender: int = 1, mid: int = 7) -> list[tuple]:
    return [udp.parse(d) for d in udp.split(sender, mid, body)]


def test_a_large_message_is_split_into_bounded_datagrams_and_reassembled_in_any_order():
    body = wire.encode_body({"type": "accept", "entries": ["x" * 50_000]})
    datagrams = udp.split(1, 7, body)
    assert len(datagrams) == -(-len(body) // udp.CHUNK) > 30
    assert max(len(d) for d in datagrams) <= udp.MAX_DATAGRAM
    parts = [udp.parse(d) for d in datagrams]
    parts += parts[:5]  # duplicates
    random.Random(3).shuffle(parts)
    r = udp.Reassembler(1 << 20)
    out = [r.add(*p) for p in parts]
    whole = [b for b in out if b is not None]
    assert whole == [body]  # exactly once, though five fragments came twice
    assert r.held[1] == 0 and not r.partial[1]


def test_a_small_message_is_one_datagram():
    (d,) = udp.split(2, 1, b'{"type":"heartbeat"}')
    assert udp.Reassembler(1 << 20).add(*udp.parse(d)) == b'{"type":"heartbeat"}'


@pytest.mark.parametrize(
    "datagram",
    [b"", b"PX", b"XX" + bytes(20), udp.HEADER.pack(b"PX", 9, 1, 1, 0, 1) + b"{}",
     udp.HEADER.pack(b"PX", 1, 1, 1, 3, 2) + b"{}", udp.HEADER.pack(b"PX", 1, 1, 1, 0, 0)],
)  # fmt: skip
def test_garbage_datagrams_are_errors(datagram):
    with pytest.raises(udp.DatagramError):
        udp.parse(datagram)


def test_fragments_that_disagree_or_exceed_the_frame_limit_are_refused():
    r = udp.Reassembler(10_000)
    body = bytes(5000)
    first = fragments_of(body)[0]
    r.add(*first)
    sender, mid, index, _count, payload = fragments_of(body)[1]
    with pytest.raises(udp.DatagramError, match="disagree"):
        r.add(sender, mid, index, 5, payload)
    assert r.held[1] == 0  # the message was forgotten with its fragments
    with pytest.raises(udp.DatagramError, match="too large"):
        r.add(*fragments_of(bytes(50_000))[0])
    with pytest.raises(udp.DatagramError, match="frame limit"):
        r.add(1, 8, 0, 1, bytes(10_001))


def test_a_flood_of_first_fragments_holds_bounded_memory():
    r = udp.Reassembler(100_000)
    for mid in range(2000):  # never-completed messages, as a hostile or lossy peer sends
        r.add(*fragments_of(bytes(60_000), mid=mid)[0])
    assert len(r.partial[1]) <= udp.MAX_PARTIAL
    assert r.held[1] <= 2 * 100_000
    assert r.dropped >= 2000 - udp.MAX_PARTIAL


def test_an_incomplete_message_expires():
    now = [0.0]
    r = udp.Reassembler(100_000, clock=lambda: now[0])
    old = fragments_of(bytes(5000), mid=1)
    r.add(*old[0])
    now[0] = udp.REASSEMBLY_S + 1
    r.add(*fragments_of(bytes(5000), mid=2)[0])  # a newer message makes room
    assert list(r.partial[1]) == [2]
    assert r.add(*old[1]) is None  # its late fragment starts over: nothing stale completes


def test_config_refuses_unknown_transports_and_udp_with_tls():
    with pytest.raises(ConfigError, match="transport must be one of"):
        local_config(3, transport="quic")
    tls = TlsSettings(enabled=True, ca="ca.pem", cert="n.pem", key="n.key")
    with pytest.raises(ConfigError, match="cannot be combined with TLS"):
        local_config(3, transport="udp", tls=tls)
    assert 'transport = "udp"' in local_config(3, transport="udp").to_toml()


def test_a_udp_cluster_serves_writes_and_refuses_a_forged_sender(tmp_path):
    with LocalServers(tmp_path, 3, transport="udp") as servers:
        servers.start_all()
        leader = servers.wait_for_leader()
        with Client(servers.config, timeout=5.0) as c:
            big = "v" * 20_000  # a write larger than one datagram
            for i in range(20):
                c.write(f"k{i % 4}", i)
            c.write("big", big)
            assert c.read("big") == big and c.read("k3") == 19
            st = c.status(leader)
            assert st["transport"] == "udp"
            assert len(st["peers_connected"]) == 2
            refused = st["udp"]["refused"]
            # a datagram that claims to come from a peer, sent from another port
            victim = servers.config.node(leader)
            forged = udp.split(
                (leader + 1) % 3, 99, wire.encode_body({"type": "heartbeat", "ballot": [99, 1]})
            )
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                for d in forged:
                    s.sendto(d, (victim.host, victim.peer_port))
                s.sendto(b"garbage", (victim.host, victim.peer_port))
            deadline = time.monotonic() + 5
            while c.status(leader)["udp"]["refused"] == refused and time.monotonic() < deadline:
                time.sleep(0.05)
            st = c.status(leader)
            assert st["udp"]["refused"] > refused and st["udp"]["malformed"] >= 1
            assert st["role"] == "leader" and st["ballot"] != [99, 1]  # not taken for a peer
            c.write("after", 1)  # and the node goes on serving
        logs = servers.log_path(leader).read_text()
        assert "refused a datagram claiming node" in logs
        assert json.loads(json.dumps(st))["udp"]["sent"] > 0
