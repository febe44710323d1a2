"""Frames: round trip on streams and sockets; garbage, truncation and size limits are errors."""

import asyncio
import socket
import struct

import pytest

from paxos_impl import wire


def feed(data: bytes, eof: bool = True) -> asyncio.StreamReader:
    r = asyncio.StreamReader()
    r.feed_data(data)
    if eof:
        r.feed_eof()
    return r


def read(data: bytes, max_bytes: int = wire.DEFAULT_MAX_FRAME):
    async def go():
        return await wire.read_frame(feed(data), max_bytes)

    return asyncio.run(go())


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def test_round_trip_async():
    msg = {"type": "accept", "slot": 3, "value": ["é", None, 1.5, {"x": True}]}

    async def go():
        r = feed(wire.encode(msg) + wire.encode({"n": 2}))
        a = await wire.read_frame(r)
        b = await wire.read_frame(r)
        with pytest.raises(wire.ConnectionClosed):
            await wire.read_frame(r)
        return a, b

    assert asyncio.run(go()) == (msg, {"n": 2})


def test_encoding_is_length_prefixed_json():
    assert wire.encode({"a": 1}) == b'\x00\x00\x00\x07{"a":1}'


@pytest.mark.parametrize(
    "body, why",
    [
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (b"[1, 2]", "not an object"),
        (b'"s"', "not an object"),
        (b'{"x": NaN}', "not UTF-8 JSON"),
        (b"[" * 100000 + b"]" * 100000, "not"),
    ],
)
def test_garbage_bodies(body, why):
    with pytest.raises(wire.FrameError, match=why):
        read(frame(body))


def test_truncated_header_and_body():
    with pytest.raises(wire.FrameError, match="header"):
        read(b"\x00\x00")
    with pytest.raises(wire.FrameError, match="3 of 10"):
        read(struct.pack(">I", 10) + b'{"a')


def test_oversized_frame_refused_before_reading_it():
    with pytest.raises(wire.FrameError, match="exceeds"):
        read(struct.pack(">I", 2_000_000_000))
    with pytest.raises(wire.FrameError, match="exceeds"):
        read(wire.encode({"v": "x" * 100}), max_bytes=50)
    with pytest.raises(wire.FrameError, match="exceeds"):
        wire.encode({"v": "x" * 100}, max_bytes=50)


def test_unencodable_messages():
    with pytest.raises(wire.FrameError):
        wire.encode({"v": object()})
    with pytest.raises(wire.FrameError):
        wire.encode([1, 2])  # type: ignore[arg-type]
    with pytest.raises(wire.FrameError):
        wire.encode({"v": float("inf")})


def test_socket_helpers():
    a, b = socket.socketpair()
    with a, b:
        wire.send_frame(a, {"op": "read", "key": None})
        assert wire.recv_frame(b) == {"op": "read", "key": None}
        a.sendall(struct.pack(">I", 10) + b"{}")
        a.shutdown(socket.SHUT_WR)
        with pytest.raises(wire.FrameError, match="2 of 10"):
            wire.recv_frame(b)
    a, b = socket.socketpair()
    with a, b:
        a.close()
        with pytest.raises(wire.ConnectionClosed):
            wire.recv_frame(b)
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack(">I", 99))
        with pytest.raises(wire.FrameError, match="exceeds"):
            wire.recv_frame(b, max_bytes=10)
