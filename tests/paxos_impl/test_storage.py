"""Durable storage: what was appended comes back, a torn tail is cut, corruption is refused."""

import logging
import os

import pytest

from paxos_impl.storage import HEADER, Storage, StorageError, encode_record


def records(n, start=0):
    return [
        {"type": "accept", "slot": i, "value": {"k": "x" * (i % 7)}}
        for i in range(start, start + n)
    ]


def open_store(path, fsync=True):
    s = Storage(path, fsync=fsync)
    snap, recs = s.recover()
    return s, snap, recs


def only_segment(path):
    segs = sorted(p for p in path.iterdir() if p.name.startswith("log."))
    assert len(segs) == 1
    return segs[0]


def test_round_trip(tmp_path):
    s, snap, recs = open_store(tmp_path / "d")
    assert (snap, recs) == (None, [])
    s.append(records(3))
    s.append(records(2, start=3))
    s.close()
    s, snap, recs = open_store(tmp_path / "d")
    assert snap is None
    assert recs == records(5)
    s.append(records(1, start=5))
    s.close()
    assert open_store(tmp_path / "d")[2] == records(6)


def test_one_fsync_per_batch(tmp_path, monkeypatch):
    calls = []
    real = os.fdatasync
    monkeypatch.setattr(os, "fdatasync", lambda fd: (calls.append(fd), real(fd)))
    s, _, _ = open_store(tmp_path)
    writes = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, b: (writes.append(len(b)), real_write(fd, b))[1])
    s.append(records(50))
    assert len(calls) == 1 and len(writes) == 1 and s.syncs == 1
    s.close()


def test_fsync_off_skips_sync(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fdatasync", lambda fd: pytest.fail("fsync with fsync off"))
    s, _, _ = open_store(tmp_path, fsync=False)
    s.append(records(3))
    s.close()
    assert open_store(tmp_path)[2] == records(3)


@pytest.mark.parametrize("cut", [1, 5, HEADER.size, HEADER.size + 3])
def test_torn_tail_is_truncated_with_warning(tmp_path, caplog, cut):
    s, _, _ = open_store(tmp_path)
    s.append(records(4))
    s.close()
    seg = only_segment(tmp_path)
    good = seg.stat().st_size
    with open(seg, "ab") as f:  # the first `cut` bytes of a record that never finished
        f.write(encode_record({"type": "promise", "ballot": [9, 1]})[:cut])
    with caplog.at_level(logging.WARNING):
        s, _, recs = open_store(tmp_path)
    assert recs == records(4)
    assert "torn final record" in caplog.text and str(good) in caplog.text
    assert seg.stat().st_size == good
    s.append(records(1, start=4))  # and the log goes on cleanly after the cut
    s.close()
    assert open_store(tmp_path)[2] == records(5)


def test_zero_filled_tail_is_torn(tmp_path, caplog):
    s, _, _ = open_store(tmp_path)
    s.append(records(2))
    s.close()
    with open(only_segment(tmp_path), "ab") as f:
        f.write(b"\0" * 100)
    with caplog.at_level(logging.WARNING):
        assert open_store(tmp_path)[2] == records(2)
    assert "torn" in caplog.text


def test_torn_final_batch_with_bad_checksum(tmp_path):
    s, _, _ = open_store(tmp_path)
    s.append(records(2))
    s.close()
    seg = only_segment(tmp_path)
    frame = bytearray(encode_record({"last": "batch"}))
    frame[-1] ^= 0xFF  # final record complete in length but its content never hit the disk
    with open(seg, "ab") as f:
        f.write(frame)
    assert open_store(tmp_path)[2] == records(2)


@pytest.mark.parametrize("where", ["payload", "header"])
def test_corruption_in_the_middle_is_refused_with_file_and_offset(tmp_path, where):
    s, _, _ = open_store(tmp_path)
    s.append(records(3))
    s.close()
    seg = only_segment(tmp_path)
    data = bytearray(seg.read_bytes())
    second = len(encode_record(records(1)[0]))  # byte offset of record #1
    data[second + (HEADER.size + 2 if where == "payload" else 1)] ^= 0x40
    seg.write_bytes(bytes(data))
    with pytest.raises(StorageError) as e:
        open_store(tmp_path)
    msg = str(e.value)
    assert str(seg) in msg and f"byte offset {second}" in msg
    assert "\n" not in msg
    assert seg.read_bytes() == bytes(data)  # refused: nothing truncated


def test_snapshot_compacts_and_recovers(tmp_path):
    s, _, _ = open_store(tmp_path)
    s.append(records(10))
    first = only_segment(tmp_path)
    s.write_snapshot({"applied": 9, "kv": {"a": 1}})
    assert not first.exists()  # compacted
    s.append(records(2, start=10))
    s.close()
    s, snap, recs = open_store(tmp_path)
    assert snap == {"applied": 9, "kv": {"a": 1}}
    assert recs == records(2, start=10)
    s.write_snapshot({"applied": 11})
    s.close()
    s, snap, recs = open_store(tmp_path)
    assert (snap, recs) == ({"applied": 11}, [])
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("log.")]) == 1
    s.close()


def test_crash_between_snapshot_and_compaction(tmp_path):
    """The snapshot is renamed in, but the old segment was not yet deleted: it is ignored."""
    s, _, _ = open_store(tmp_path)
    s.append(records(3))
    old = only_segment(tmp_path)
    saved = old.read_bytes()
    s.write_snapshot({"applied": 2})
    s.close()
    old.write_bytes(saved)
    (tmp_path / "snapshot.tmp").write_bytes(b"half a snapshot")
    s, snap, recs = open_store(tmp_path)
    assert (snap, recs) == ({"applied": 2}, [])
    assert not old.exists() and not (tmp_path / "snapshot.tmp").exists()
    s.close()


def test_damaged_snapshot_is_refused(tmp_path):
    s, _, _ = open_store(tmp_path)
    s.write_snapshot({"applied": 1})
    s.close()
    snap = tmp_path / "snapshot"
    data = bytearray(snap.read_bytes())
    data[-2] ^= 1
    snap.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="snapshot"):
        open_store(tmp_path)


def test_missing_segment_is_refused(tmp_path):
    s, _, _ = open_store(tmp_path)
    s.write_snapshot({"applied": 1})
    s.append(records(1))
    s.write_snapshot({"applied": 2})
    s.append(records(1))
    s.close()
    # pretend the snapshot is older than the segments on disk
    (tmp_path / "snapshot").unlink()
    with pytest.raises(StorageError, match="missing"):
        open_store(tmp_path)


def test_two_processes_cannot_share_a_directory(tmp_path):
    s, _, _ = open_store(tmp_path)
    with pytest.raises(StorageError, match="in use"):
        Storage(tmp_path).recover()
    s.close()
    open_store(tmp_path)[0].close()


def test_not_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(StorageError):
        Storage(f).recover()
