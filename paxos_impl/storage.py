"""Durable storage for one node: an append-only log of CRC-framed records, plus snapshots.

Why this shape: an acceptor's promise or accepted value must be on disk before any message
that depends on it leaves the node, so the runtime appends every record of one ``Ready`` in
one write and one fsync (group commit: that single fsync is what makes batching pay off).
Snapshots bound the log: one is written atomically (temp file, fsync, rename, fsync of the
directory) and then the node starts a new log segment, so the older segments can go.

On disk, in the node's data directory::

    snapshot            one frame: {"segment": K, "snapshot": {...}}  (absent until the first)
    log.00000000K       frames appended after that snapshot, in order
    LOCK                flock'd while a node owns the directory
    clean-shutdown      written by a clean close: the last segment and where it ended


A frame is a 12-byte header (payload length, CRC32 of the payload, CRC32 of those 8 bytes)
then the payload (UTF-8 JSON). The header CRC lets recovery tell a torn tail (a crash in the
middle of the last write: truncated with a warning) from corruption in the middle of the log
(a refusal to start naming the file and byte offset: silently dropping acknowledged state is
the one thing storage must never do).

A log cut at a record boundary, or torn after the fact, looks exactly like a log that simply
ended there. So a clean close (SIGTERM) records where the last segment ended, and the next
start refuses a log that no longer ends there: a node must not vote with state it cannot
trust (a forgotten promise or accepted value is how Paxos loses chosen values). The marker
is removed once checked, before anything new is written. After a crash there is no marker
and a torn tail is taken for what a crash leaves (it was never acknowledged).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
import zlib
from pathlib import Path
from typing import Any

HEADER = struct.Struct(">III")  # length, crc32(payload), crc32(first 8 header bytes)
_LEN_CRC = struct.Struct(">II")
SNAPSHOT_NAME = "snapshot"
SEGMENT_PREFIX = "log."
CLEAN_NAME = "clean-shutdown"
MAX_RECORD_BYTES = 1 << 30

_log = logging.getLogger("paxos.storage")


class StorageError(Exception):
    """The data directory cannot be used as it is; the message is one line for a person."""


def encode_record(record: Any) -> bytes:
    """One CRC-framed record: the unit recovery either keeps whole or drops whole."""
    payload = json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
    head = _LEN_CRC.pack(len(payload), zlib.crc32(payload))
    return head + struct.pack(">I", zlib.crc32(head)) + payload


def _segment_name(number: int) -> str:
    return f"{SEGMENT_PREFIX}{number:09d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class _Scan:
    """The records of one file and where its last good frame ends."""

    def __init__(self, records: list[Any], good_end: int, torn: str | None) -> None:
        self.records = records
        self.good_end = good_end
        self.torn = torn  # why the tail after good_end is not a record (None: clean end)


def _valid_frame_at(data: bytes, off: int) -> bool:
    if len(data) - off < HEADER.size:
        return False
    length, crc, hcrc = HEADER.unpack_from(data, off)
    end = off + HEADER.size + length
    return (
        zlib.crc32(data[off : off + 8]) == hcrc
        and end <= len(data)
        and zlib.crc32(data[off + HEADER.size : end]) == crc
    )


def _intact_frame_follows(data: bytes, start: int) -> bool:
    """Is there any whole, valid frame at or after ``start``?

    This is what separates a torn tail from corruption: a crash mid-write leaves only a
    prefix of the last write (or zeros) behind the damage, while a bad sector or bit flip in
    the middle leaves intact records after it.
    """
    return any(_valid_frame_at(data, o) for o in range(start, len(data) - HEADER.size + 1))


def scan_frames(path: Path) -> _Scan:
    """Parse every frame of a file; raise StorageError on damage that is not a torn tail."""
    data = path.read_bytes()
    records: list[Any] = []
    off = 0
    size = len(data)
    while off < size:
        rest = size - off
        if rest < HEADER.size:
            return _Scan(records, off, f"{rest} bytes of an incomplete header")
        length, crc, hcrc = HEADER.unpack_from(data, off)
        end = off + HEADER.size + length
        if zlib.crc32(data[off : off + 8]) != hcrc:
            problem = "corrupt record header"
        elif end > size:
            return _Scan(records, off, f"a record cut short ({rest} of {end - off} bytes)")
        elif zlib.crc32(data[off + HEADER.size : end]) != crc:
            problem = "corrupt record (checksum mismatch)"
        else:
            try:
                records.append(json.loads(data[off + HEADER.size : end]))
            except ValueError:
                raise StorageError(f"{path}: record at byte offset {off} is not JSON") from None
            off = end
            continue
        if _intact_frame_follows(data, off + 1):
            raise StorageError(f"{path}: {problem} at byte offset {off}")
        return _Scan(records, off, f"{problem}, {rest} bytes to the end of the file")
    return _Scan(records, off, None)


class Storage:
    """A node's durable state. Use: ``recover()`` once, then ``append``/``write_snapshot``."""

    def __init__(self, path: str | Path, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._lock_fd: int | None = None
        self._segment = 0
        self.bytes_written = 0  # since start: for status and benchmarks
        self.syncs = 0
        self._write_failed = False  # then close() leaves no clean-shutdown marker

    # -- start-up ------------------------------------------------------------------------
    def recover(self) -> tuple[dict | None, list[Any]]:
        """Lock the directory; return (latest snapshot, every record persisted after it).

        Truncates a torn final record (with a warning); raises StorageError on anything that
        would otherwise lose or invent state.
        """
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"{self.path}: cannot create data directory: {e.strerror}") from None
        if not self.path.is_dir():
            raise StorageError(f"{self.path}: not a directory")
        self._lock()
        (self.path / (SNAPSHOT_NAME + ".tmp")).unlink(missing_ok=True)
        snapshot, first_segment = self._read_snapshot()
        segments = self._segments()
        for number in [n for n in segments if n < first_segment]:
            (self.path / _segment_name(number)).unlink()  # compacted before a crash
        segments = [n for n in segments if n >= first_segment]
        if segments and segments[0] != first_segment:
            raise StorageError(
                f"{self.path}: log segment {_segment_name(first_segment)} is missing "
                f"(found {_segment_name(segments[0])})"
            )
        marker = self._read_clean_marker()
        records: list[Any] = []
        if marker is not None:
            self._check_clean_marker(marker, segments)
        for i, number in enumerate(segments):
            seg = self.path / _segment_name(number)
            scan = scan_frames(seg)
            if scan.torn is not None:
                if i != len(segments) - 1:
                    raise StorageError(
                        f"{seg}: damaged record at byte offset {scan.good_end} "
                        f"({scan.torn}) before the last log segment"
                    )
                _log.warning(
                    "%s: torn final record at byte offset %d (%s): truncated",
                    seg,
                    scan.good_end,
                    scan.torn,
                )
                with open(seg, "r+b") as f:
                    f.truncate(scan.good_end)
                    os.fsync(f.fileno())
            records.extend(scan.records)
        if marker is not None:  # checked: gone before anything new is written
            (self.path / CLEAN_NAME).unlink()
            _fsync_dir(self.path)
        self._segment = segments[-1] if segments else first_segment
        self._open_segment()
        return snapshot, records

    def _read_clean_marker(self) -> dict | None:
        p = self.path / CLEAN_NAME
        if not p.exists():
            return None
        scan = scan_frames(p)
        body = scan.records[0] if len(scan.records) == 1 and scan.torn is None else None
        if not (isinstance(body, dict) and isinstance(body.get("segment"), int)):
            raise StorageError(f"{p}: damaged clean-shutdown marker")
        if not isinstance(body.get("size"), int):
            raise StorageError(f"{p}: damaged clean-shutdown marker")
        return body

    def _check_clean_marker(self, marker: dict, segments: list[int]) -> None:
        """Every byte the last clean close left must still be there, in whole records (more
        after it is a torn tail as after a crash: handled as one)."""
        want = _segment_name(marker["segment"])
        last = _segment_name(segments[-1]) if segments else None
        if last != want:
            raise StorageError(
                f"{self.path}: the log should end in {want} (clean shutdown), "
                f"but its last segment is {last or 'missing'}"
            )
        seg = self.path / want
        size = seg.stat().st_size
        scan = scan_frames(seg)
        if scan.good_end < marker["size"]:
            raise StorageError(
                f"{seg}: {size} bytes ({scan.good_end} of them whole records), but "
                f"{marker['size']} at the last clean shutdown: the log was cut or damaged "
                "while the node was stopped"
            )

    def _lock(self) -> None:
        fd = os.open(self.path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(f"{self.path}: in use by another process") from None
        self._lock_fd = fd

    def _read_snapshot(self) -> tuple[dict | None, int]:
        p = self.path / SNAPSHOT_NAME
        if not p.exists():
            return None, 0
        scan = scan_frames(p)
        if scan.torn is not None or len(scan.records) != 1:
            # written to a temp file and renamed, so a damaged snapshot is not a crash artefact
            raise StorageError(f"{p}: damaged snapshot file at byte offset {scan.good_end}")
        body = scan.records[0]
        if not isinstance(body, dict) or not isinstance(body.get("segment"), int):
            raise StorageError(f"{p}: snapshot file has no segment number")
        return body.get("snapshot"), body["segment"]

    def _segments(self) -> list[int]:
        out = []
        for p in self.path.iterdir():
            if p.name.startswith(SEGMENT_PREFIX):
                suffix = p.name[len(SEGMENT_PREFIX) :]
                if suffix.isdigit():
                    out.append(int(suffix))
        return sorted(out)

    def _open_segment(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        seg = self.path / _segment_name(self._segment)
        existed = seg.exists()
        self._fd = os.open(seg, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        if not existed and self.fsync:
            _fsync_dir(self.path)  # the new file's name must survive a crash too

    # -- the write path --------------------------------------------------------------------
    def append(self, records: list[Any]) -> None:
        """Append records in ONE write and ONE fsync: they are durable when this returns.

        An item that is ``bytes`` is a record already framed by :func:`encode_record` (the
        node encodes each event's records as they come, so one that cannot be encoded is
        refused alone instead of failing the whole batch's write)."""
        if not records:
            return
        if self._fd is None:
            raise StorageError(f"{self.path}: storage is not open (call recover() first)")
        data = b"".join(r if isinstance(r, bytes) else encode_record(r) for r in records)
        try:
            _write_all(self._fd, data)
            if self.fsync:
                os.fdatasync(self._fd)
        except OSError:
            self._write_failed = True
            raise
        self.bytes_written += len(data)
        if self.fsync:
            self.syncs += 1

    def write_snapshot(self, snapshot: dict) -> None:
        """Atomically replace the snapshot, then start a new log segment and drop older ones.

        The snapshot covers everything appended so far, so the segments before the new one
        hold nothing recovery needs.
        """
        if self._fd is None:
            raise StorageError(f"{self.path}: storage is not open (call recover() first)")
        new_segment = self._segment + 1
        tmp = self.path / (SNAPSHOT_NAME + ".tmp")
        data = encode_record({"segment": new_segment, "snapshot": snapshot})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, data)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path / SNAPSHOT_NAME)
        if self.fsync:
            _fsync_dir(self.path)
        old = self._segment
        self._segment = new_segment
        self._open_segment()
        for number in self._segments():
            if number <= old:
                (self.path / _segment_name(number)).unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd is not None:
            if not self._write_failed:
                self._write_clean_marker()
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _write_clean_marker(self) -> None:
        """Where the log ends now (atomically: temp file, fsync, rename, fsync of the dir)."""
        seg = self.path / _segment_name(self._segment)
        try:
            data = encode_record({"segment": self._segment, "size": seg.stat().st_size})
            tmp = self.path / (CLEAN_NAME + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path / CLEAN_NAME)
            _fsync_dir(self.path)
        except OSError as e:  # a full disk, say: the next start just cannot check as much
            _log.warning("%s: no clean-shutdown marker: %s", self.path, e)

    @property
    def segment(self) -> int:
        return self._segment
