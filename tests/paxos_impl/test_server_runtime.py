"""The node runtime around a scripted stand-in core: persist before send, one fsync per batch,
request timeouts, ticks, and bad input contained to its own connection.

The real core is exercised by the integration tests; here a tiny fake ``Replica`` lets the
runtime's own duties be checked in-process and deterministically.
"""

import asyncio
import os
import struct
import time

import pytest

from paxos_impl import wire
from paxos_impl.config import local_config
from paxos_impl.core import Ready
from paxos_impl.node import Node
from paxos_impl.storage import Storage, scan_frames
from tests.support.ports import on_free_ports


class FakeProtocolError(Exception):
    pass


class FakeReplica:
    """Writes persist a record and answer at once; "hang" is never answered; peers echo."""

    def __init__(self, storage_dir):
        self.storage_dir = storage_dir
        self.kv = {}
        self.ticks = 0
        self.seen_messages = []
        self.durable_at_reply = []  # records on disk each time a reply was produced

    def start(self, now):
        return Ready(persist=[{"start": now}], next_tick=now + 0.02)

    def on_tick(self, now):
        self.ticks += 1
        return Ready(next_tick=now + 0.02)

    def on_message(self, src, msg, now):
        if msg["type"] == "bad":
            raise FakeProtocolError("bad message")
        if msg["type"] == "crash":
            raise KeyError("oops")
        self.seen_messages.append((src, msg))
        return Ready()

    def on_client_request(self, handle, req, now):
        op = req["op"]
        if op == "hang":
            return Ready()
        if op == "bogus":
            raise FakeProtocolError("unknown op")
        if op == "read":
            return Ready(replies=[(handle, {"ok": True, "value": self.kv.get(req["key"])})])
        self.kv[req["key"]] = req["value"]
        rec = {"set": req["key"], "value": req["value"]}
        ready = Ready(persist=[rec], replies=[(handle, {"ok": True, "value": None})])
        ready.messages = [(1, {"type": "copy", "rec": rec}), (0, {"type": "self"})]
        if op == "snap":
            ready.snapshot = {"kv": dict(self.kv)}
        return ready

    def status(self):
        return {"id": 0, "role": "leader", "leader": 0}


@pytest.fixture
def cluster_config():
    cfg = on_free_ports(local_config(2))
    cfg.timeouts.request_ms = 300
    return cfg


async def start_node(cfg, tmp_path):
    storage = Storage(tmp_path / "n0")
    storage.recover()
    replica = FakeReplica(tmp_path / "n0")
    node = Node(0, cfg, storage, replica, protocol_error=FakeProtocolError)
    task = asyncio.create_task(node.run())
    await node_ready(node)
    return node, replica, task


async def node_ready(node):
    for _ in range(100):
        if node._servers:
            return
        await asyncio.sleep(0.01)


async def request(port, req):
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(wire.encode(req))
    reply = await asyncio.wait_for(wire.read_frame(r), 5)
    w.close()
    return reply


def arun(coro_fn):
    asyncio.run(asyncio.wait_for(coro_fn(), 30))


@pytest.mark.timeout(40)
def test_write_is_durable_before_reply_and_peers_get_messages(cluster_config, tmp_path):
    cfg = cluster_config
    me, peer = cfg.node(0), cfg.node(1)
    got = []

    async def peer_server(reader, writer):
        hello = await wire.read_frame(reader)
        got.append(hello)
        while True:
            try:
                got.append(await wire.read_frame(reader))
            except (wire.ConnectionClosed, wire.FrameError):
                return

    async def go():
        srv = await asyncio.start_server(peer_server, "127.0.0.1", peer.peer_port)
        node, replica, task = await start_node(cfg, tmp_path)
        reply = await request(me.client_port, {"op": "write", "key": "a", "value": 1})
        assert reply == {"ok": True, "value": None}
        # the record was on disk when the reply went out
        seg = next((tmp_path / "n0").glob("log.*"))
        assert {"set": "a", "value": 1} in scan_frames(seg).records
        assert (await request(me.client_port, {"op": "read", "key": "a"}))["value"] == 1
        for _ in range(250):
            if len(got) >= 2 and replica.ticks >= 3:
                break
            await asyncio.sleep(0.02)
        assert got[0] == {"type": "hello", "from": 0}
        assert got[1] == {"type": "copy", "rec": {"set": "a", "value": 1}}
        assert (0, {"type": "self"}) in replica.seen_messages  # a message to itself loops back
        assert replica.ticks >= 3
        status = (await request(me.client_port, {"op": "status"}))["value"]
        assert status["role"] == "leader" and status["pid"] > 0 and status["time"] > 1e9
        node.stop()
        await task
        srv.close()

    arun(go)


@pytest.mark.timeout(40)
def test_concurrent_writes_share_fsyncs(cluster_config, tmp_path, monkeypatch):
    """While one fsync runs, requests queue up and the next batch takes them all at once."""
    cfg = cluster_config
    real_sync = os.fdatasync

    def slow_sync(fd):  # a disk whose fsync takes 20 ms, so batching cannot depend on luck
        time.sleep(0.02)
        real_sync(fd)

    monkeypatch.setattr(os, "fdatasync", slow_sync)

    async def go():
        node, replica, task = await start_node(cfg, tmp_path)
        port = cfg.node(0).client_port
        replies = await asyncio.gather(
            *(request(port, {"op": "write", "key": f"k{i}", "value": i}) for i in range(64))
        )
        assert all(r["ok"] for r in replies)
        syncs = node.storage.syncs
        node.stop()
        await task
        return syncs

    syncs = asyncio.run(go())
    assert syncs <= 64 // 4, syncs  # group commit: many writes per fsync
    s = Storage(tmp_path / "n0")
    _, records = s.recover()
    assert len([r for r in records if "set" in r]) == 64


@pytest.mark.timeout(40)
def test_unanswered_request_gets_timeout_and_bad_requests(cluster_config, tmp_path):
    cfg = cluster_config

    async def go():
        node, replica, task = await start_node(cfg, tmp_path)
        port = cfg.node(0).client_port
        assert await request(port, {"op": "hang"}) == {
            "ok": False,
            "error": "timeout",
            "leader": None,
        }
        assert (await request(port, {"op": "bogus"}))["error"] == "bad_request"
        assert (await request(port, {"no": "op"}))["error"] == "bad_request"
        node.stop()
        await task

    arun(go)


@pytest.mark.timeout(40)
def test_bad_frames_close_only_their_connection(cluster_config, tmp_path, caplog):
    cfg = cluster_config
    me = cfg.node(0)

    async def raw(port, data):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(data)
        await w.drain()
        rest = await asyncio.wait_for(r.read(), 5)  # the node closes the connection
        w.close()
        return rest

    async def go():
        node, replica, task = await start_node(cfg, tmp_path)
        for frame in (b"\x00\x00\x00\x05hello", struct.pack(">I", 1 << 31)):
            assert await raw(me.peer_port, frame) == b""
            # a client is told, definitely, before its connection closes
            rest = await raw(me.client_port, frame)
            assert wire.decode_body(rest[4:])["error"] == "bad_request", rest
        # the peer port wants a hello from a known node first
        assert await raw(me.peer_port, wire.encode({"type": "prepare"})) == b""
        assert await raw(me.peer_port, wire.encode({"type": "hello", "from": 7})) == b""
        # malformed messages after a good hello are dropped, the connection stays
        r, w = await asyncio.open_connection("127.0.0.1", me.peer_port)
        w.write(wire.encode({"type": "hello", "from": 1}))
        w.write(wire.encode({"type": "bad"}))
        w.write(wire.encode({"no": "type"}))
        w.write(wire.encode({"type": "fine", "n": 1}))
        await w.drain()
        for _ in range(250):
            if replica.seen_messages:
                break
            await asyncio.sleep(0.02)
        assert replica.seen_messages == [(1, {"type": "fine", "n": 1})]
        w.close()
        assert (await request(me.client_port, {"op": "write", "key": "x", "value": 2}))["ok"]
        node.stop()
        await task
        assert node.fatal is None

    arun(go)
    assert "closing connection" in caplog.text and "malformed" in caplog.text


@pytest.mark.timeout(40)
def test_core_crash_stops_the_node(cluster_config, tmp_path):
    cfg = cluster_config

    async def go():
        node, replica, task = await start_node(cfg, tmp_path)
        r, w = await asyncio.open_connection("127.0.0.1", cfg.node(0).peer_port)
        w.write(wire.encode({"type": "hello", "from": 1}) + wire.encode({"type": "crash"}))
        await w.drain()
        await asyncio.wait_for(task, 5)
        w.close()
        return node

    node = asyncio.run(go())
    assert "internal error" in node.fatal


@pytest.mark.timeout(40)
def test_snapshot_compacts_after_persisting(cluster_config, tmp_path):
    cfg = cluster_config

    async def go():
        node, replica, task = await start_node(cfg, tmp_path)
        port = cfg.node(0).client_port
        await request(port, {"op": "write", "key": "a", "value": 1})
        await request(port, {"op": "snap", "key": "b", "value": 2})
        await request(port, {"op": "write", "key": "c", "value": 3})
        node.stop()
        await task

    arun(go)
    snap, records = Storage(tmp_path / "n0").recover()
    assert snap == {"kv": {"a": 1, "b": 2}}
    assert records == [{"set": "c", "value": 3}]
