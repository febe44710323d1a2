"""Length-prefixed JSON frames, the one wire format of peers and clients alike.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON whose top level is
an object. Anything else (garbage, a frame cut short, a length over the limit) is a
:class:`FrameError`: the receiver closes that one connection and goes on serving the rest,
so a confused or hostile peer can never take a node down or make it allocate unbounded
memory. Both asyncio stream helpers (the node, AsyncClient) and blocking-socket helpers
(Client) live here so every side enforces the same limits.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

LENGTH = struct.Struct(">I")
DEFAULT_MAX_FRAME = 4 * 1024 * 1024


class FrameError(Exception):
    """A frame that is not one: the connection it came on must be closed."""


class ConnectionClosed(Exception):
    """The other side closed the connection cleanly between two frames."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def encode(obj: dict, max_bytes: int = DEFAULT_MAX_FRAME) -> bytes:
    """Serialise one message as a frame; refuse what the other side would refuse."""
    body = encode_body(obj, max_bytes)
    return LENGTH.pack(len(body)) + body


def encode_body(obj: dict, max_bytes: int = DEFAULT_MAX_FRAME) -> bytes:
    """A frame's body alone (UTF-8 JSON object), for a transport that carries the length
    itself (datagrams, paxos_impl.udp); FrameError as :func:`encode`."""
    if not isinstance(obj, dict):
        raise FrameError(f"a frame must hold a JSON object, not {type(obj).__name__}")
    try:
        body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as e:
        raise FrameError(f"cannot encode message as JSON: {e}") from None
    if len(body) > max_bytes:
        raise FrameError(f"frame of {len(body)} bytes exceeds the limit of {max_bytes}")
    return body


def check_length(length: int, max_bytes: int) -> None:
    if length > max_bytes:
        raise FrameError(f"frame length {length} exceeds the limit of {max_bytes} bytes")


def decode_body(body: bytes) -> dict:
    """Parse a frame body; FrameError unless it is a UTF-8 JSON object."""
    try:
        obj = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise FrameError(f"frame body is not UTF-8 JSON: {str(e)[:80]}") from None
    if not isinstance(obj, dict):
        raise FrameError(f"frame body is a JSON {type(obj).__name__}, not an object")
    return obj


# -- asyncio streams --------------------------------------------------------------------------
async def read_frame(reader: asyncio.StreamReader, max_bytes: int = DEFAULT_MAX_FRAME) -> dict:
    """Read one frame. ConnectionClosed on a clean EOF between frames, FrameError otherwise."""
    length = await read_length(reader, max_bytes)
    return decode_body(await read_body(reader, length))


async def read_length(reader: asyncio.StreamReader, max_bytes: int = DEFAULT_MAX_FRAME) -> int:
    """The first half of :func:`read_frame`: a frame's header (its body's length, checked),
    so that a caller can decide whether to hold that many bytes before reading them."""
    try:
        head = await reader.readexactly(LENGTH.size)
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            raise ConnectionClosed() from None
        raise FrameError(
            f"connection closed inside a frame header ({len(e.partial)} bytes)"
        ) from None
    (length,) = LENGTH.unpack(head)
    check_length(length, max_bytes)
    return length


async def read_body(reader: asyncio.StreamReader, length: int) -> bytes:
    """The second half of :func:`read_frame`: ``length`` bytes of body."""
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError as e:
        raise FrameError(
            f"connection closed inside a frame ({len(e.partial)} of {length} bytes)"
        ) from None


def write_frame(
    writer: asyncio.StreamWriter, obj: dict, max_bytes: int = DEFAULT_MAX_FRAME
) -> None:
    """Queue one frame on the stream (the caller decides when to ``await writer.drain()``)."""
    writer.write(encode(obj, max_bytes))


# -- blocking sockets -------------------------------------------------------------------------
def _recv_exactly(sock: socket.socket, n: int, what: str) -> bytes:
    chunks = []
    got = 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 16))
        if not chunk:
            if got == 0 and what == "header":
                raise ConnectionClosed()
            raise FrameError(f"connection closed inside a frame {what} ({got} of {n} bytes)")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send_frame(sock: socket.socket, obj: dict, max_bytes: int = DEFAULT_MAX_FRAME) -> None:
    sock.sendall(encode(obj, max_bytes))


def recv_frame(sock: socket.socket, max_bytes: int = DEFAULT_MAX_FRAME) -> dict:
    """Blocking read of one frame (socket timeouts propagate as ``TimeoutError``)."""
    (length,) = LENGTH.unpack(_recv_exactly(sock, LENGTH.size, "header"))
    check_length(length, max_bytes)
    return decode_body(_recv_exactly(sock, length, "body"))
