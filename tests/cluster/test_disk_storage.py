"""A node whose log was damaged while it was stopped refuses to start, for every kind.

The damage is cluster.diskfault's, applied to a real data directory written by the real
Storage; recovery is the real Storage.recover. Before the clean-shutdown marker, a log cut at
a record boundary or torn while stopped was taken as a log that simply ended there: the node
started having forgotten promises and accepted values (the truncate and torn cases below
failed then). After a crash (no marker) a torn tail is still what a crash leaves: truncated.
"""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from cluster import diskfault
from paxos_impl.storage import CLEAN_NAME, Storage, StorageError


def _records(n: int, start: int = 0) -> list[dict]:
    return [
        {"type": "accept", "slot": i, "ballot": [3, 1], "v": "x" * (i % 7)}
        for i in range(start, start + n)
    ]


def _write(path, n: int = 12, snapshot_after: int | None = None) -> list[dict]:
    s = Storage(path, fsync=False)
    s.recover()
    recs = _records(n)
    if snapshot_after:
        s.append(recs[:snapshot_after])
        s.write_snapshot({"applied": snapshot_after})
        s.append(recs[snapshot_after:])
        recs = recs[snapshot_after:]
    else:
        for r in recs:
            s.append([r])
    s.close()
    return recs


def _recover(path):
    s = Storage(path, fsync=False)
    try:
        return s.recover()
    finally:
        s.close()


@pytest.mark.parametrize("kind", diskfault.KINDS)
@pytest.mark.parametrize("seed", range(12))
def test_damaged_log_refuses_to_start_and_the_backup_restores_it(tmp_path, kind, seed):
    data = tmp_path / "data"
    recs = _write(data, snapshot_after=5 if seed % 3 == 0 else None)
    what = diskfault.damage(data, kind, seed)
    assert "skipped" not in what, what
    with pytest.raises(StorageError) as e:
        _recover(data)
    assert "log." in str(e.value)  # names the file
    with pytest.raises(StorageError):  # and keeps refusing: the marker is not consumed
        _recover(data)
    assert diskfault.restore(data) == {"restored": True}
    snap, got = _recover(data)
    assert got == recs


def test_a_torn_tail_after_a_crash_is_still_truncated(tmp_path):
    """No clean shutdown (kill -9, power loss): a torn tail is the crash's, not damage."""
    data = tmp_path / "data"
    recs = _write(data)
    (data / CLEAN_NAME).unlink()  # as if the node had been killed
    diskfault.damage(data, "torn", 1)
    _, got = _recover(data)
    assert got == recs[:-1]


def test_the_marker_is_gone_once_checked_and_the_log_goes_on(tmp_path):
    data = tmp_path / "data"
    recs = _write(data)
    s = Storage(data, fsync=False)
    _, got = s.recover()
    assert got == recs and not (data / CLEAN_NAME).exists()
    s.append(_records(2, start=100))
    s.close()
    assert _recover(data)[1] == recs + _records(2, start=100)


def test_corrupt_changes_the_bytes_as_named():
    rng = random.Random(3)
    from paxos_impl.storage import encode_record

    frames = [encode_record(r) for r in _records(5)]
    data = b"".join(frames)
    cut, what = diskfault.corrupt(data, "truncate", rng)
    assert (
        len(diskfault.record_spans(cut)) == 5 - what["records_dropped"]
        and what["records_dropped"] >= 1
    )
    torn, what = diskfault.corrupt(data, "torn", rng)
    assert len(data) - len(frames[-1]) < len(torn) < len(data)
    flip, what = diskfault.corrupt(data, "bitflip", rng)
    assert len(flip) == len(data) and sum(a != b for a, b in zip(flip, data, strict=True)) == 1
    assert diskfault.corrupt(b"", "torn", rng)[1] == {"skipped": "no whole record to damage"}


def test_runs_alone_as_a_script_and_refuses_to_fill_a_big_disk(tmp_path, monkeypatch):
    """What the backends do on a node: python3 -c <the file> ACTION DIR ..."""
    data = tmp_path / "data"
    _write(data)
    src = open(diskfault.__file__).read()
    r = subprocess.run(
        [sys.executable, "-c", src, "damage", str(data), "torn", "5"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and '"kind": "torn"' in r.stdout, r.stderr
    with pytest.raises(StorageError):
        _recover(data)
    # fill is never run against this machine's disk: only its refusal is checked here
    monkeypatch.setattr(diskfault, "MAX_FILL_BYTES", 0)
    with pytest.raises(SystemExit, match="refusing to fill"):
        diskfault.fill(data)
    assert not (data / diskfault.FILL_NAME).exists()
