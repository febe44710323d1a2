"""Damage a stopped node's log the way disks do: a flipped bit, a cut at a record boundary,
a torn tail; or fill its file system. Runs ON the node.

Why on the node and standard library only: the docker, local and ssh backends all run it the
same way, as ``python3 -c <this file> ACTION DATA_DIR KIND SEED`` through ``Cluster.exec``,
so what is damaged is the real file the real store will read. The byte-level part
(:func:`corrupt`) is also what the simulator applies to its disk, so the three kinds mean the
same bytes everywhere. The framing (12-byte header: length, CRC32 of the payload, CRC32 of
those 8 bytes) is ``paxos_impl.storage``'s; it is restated here because this file must run
alone on a node.

Before damaging, the data directory is copied aside (``<data>.disk-backup``) so the nemesis
can put the intact disk back when the fault ends: a node that refused to start on a damaged
log is then restarted on exactly the state it stopped with, which is safe; it is never
"repaired" by starting it empty, which would make it forget its promises.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import struct
import sys
import zlib
from pathlib import Path

KINDS = ("bitflip", "truncate", "torn")
_HEADER = struct.Struct(">III")
BACKUP_SUFFIX = ".disk-backup"
FILL_NAME = "paxlab-disk-fill"
MAX_FILL_BYTES = 2 << 30  # never fill more than this: the disk must be a small one


def record_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every whole, valid record from the start of ``data``."""
    spans = []
    off = 0
    while len(data) - off >= _HEADER.size:
        length, crc, hcrc = _HEADER.unpack_from(data, off)
        end = off + _HEADER.size + length
        if zlib.crc32(data[off : off + 8]) != hcrc or end > len(data):
            break
        if zlib.crc32(data[off + _HEADER.size : end]) != crc:
            break
        spans.append((off, end))
        off = end
    return spans


def corrupt(data: bytes, kind: str, rng: random.Random) -> tuple[bytes, dict]:
    """The damaged bytes and what was done. ``kind`` is one of KINDS.

    bitflip: one bit of one record (header or payload); truncate: the log ends at an earlier
    record boundary (at least one whole record gone); torn: the last record cut inside."""
    spans = record_spans(data)
    if not spans:
        return data, {"skipped": "no whole record to damage"}
    if kind == "bitflip":
        i = rng.randrange(len(spans))
        start, end = spans[i]
        at = rng.randrange(start, end)
        bit = rng.randrange(8)
        out = bytearray(data)
        out[at] ^= 1 << bit
        return bytes(out), {"record": i, "of": len(spans), "byte": at, "bit": bit}
    if kind == "truncate":
        keep = rng.randrange(len(spans))  # records kept: 0 .. n-1
        cut = spans[keep][0]
        return data[:cut], {"cut_at": cut, "records_dropped": len(spans) - keep}
    if kind == "torn":
        start, end = spans[-1]
        cut = rng.randrange(start + 1, end)
        return data[:cut], {"cut_at": cut, "record_bytes": end - start, "of": len(data)}
    raise ValueError(f"unknown disk damage {kind!r}; known: {', '.join(KINDS)}")


def _segments(data_dir: Path) -> list[Path]:
    segs = [p for p in data_dir.glob("log.*") if p.name[4:].isdigit()]
    return sorted(segs, key=lambda p: int(p.name[4:]))


def damage(data_dir: Path, kind: str, seed: int) -> dict:
    """Back the directory up, then damage its newest log segment (or, for a bit flip when
    the log is empty, the snapshot)."""
    backup = data_dir.with_name(data_dir.name + BACKUP_SUFFIX)
    if backup.exists():
        shutil.rmtree(backup)
    shutil.copytree(data_dir, backup, ignore=shutil.ignore_patterns("LOCK", FILL_NAME))
    rng = random.Random(seed)
    targets = [p for p in reversed(_segments(data_dir)) if p.stat().st_size > 0]
    snap = data_dir / "snapshot"
    if not targets and kind == "bitflip" and snap.exists():
        targets = [snap]
    for target in targets[:1]:
        data = target.read_bytes()
        new, what = corrupt(data, kind, rng)
        if new != data:
            with open(target, "r+b") as f:
                f.write(new)
                f.truncate(len(new))
                os.fsync(f.fileno())
        return {"kind": kind, "file": target.name, "bytes": len(data), **what}
    return {"kind": kind, "skipped": "the log is empty"}


def restore(data_dir: Path) -> dict:
    """Put the backed-up directory back (the disk as it was before the damage)."""
    backup = data_dir.with_name(data_dir.name + BACKUP_SUFFIX)
    if not backup.exists():
        return {"restored": False}
    for p in data_dir.iterdir():
        if p.name not in ("LOCK", FILL_NAME):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in backup.iterdir():
        shutil.copy2(p, data_dir / p.name)
    shutil.rmtree(backup)
    return {"restored": True}


def drop_backup(data_dir: Path) -> dict:
    backup = data_dir.with_name(data_dir.name + BACKUP_SUFFIX)
    existed = backup.exists()
    shutil.rmtree(backup, ignore_errors=True)
    return {"dropped": existed}


def fill(data_dir: Path) -> dict:
    """Fill the data directory's file system (refused on a big one: never fill a real disk)."""
    st = os.statvfs(data_dir)
    free = st.f_bavail * st.f_frsize
    if free > MAX_FILL_BYTES:
        raise SystemExit(
            f"refusing to fill {free >> 20} MiB: the data directory is not on a small "
            f"file system (at most {MAX_FILL_BYTES >> 20} MiB)"
        )
    written = 0
    with open(data_dir / FILL_NAME, "ab", buffering=0) as f:
        for size in (1 << 20, 4096, 1):  # big chunks, then what is left of the last block
            try:
                while True:
                    written += f.write(b"\0" * size) or 0
            except OSError:
                pass
    return {"filled_bytes": written, "free_before": free}


def unfill(data_dir: Path) -> dict:
    p = data_dir / FILL_NAME
    existed = p.exists()
    p.unlink(missing_ok=True)
    return {"freed": existed}


def main(argv: list[str]) -> int:
    action, data_dir = argv[0], Path(argv[1])
    kind = argv[2] if len(argv) > 2 else ""
    seed = int(argv[3]) if len(argv) > 3 else 0
    if not data_dir.is_dir():
        sys.stderr.write(f"no data directory {data_dir}\n")
        return 1
    if action == "damage":
        out = damage(data_dir, kind, seed)
    elif action == "restore":
        out = restore(data_dir)
    elif action == "drop-backup":
        out = drop_backup(data_dir)
    elif action == "fill":
        out = fill(data_dir)
    elif action == "unfill":
        out = unfill(data_dir)
    else:
        sys.stderr.write(f"unknown disk action {action!r}\n")
        return 2
    print(json.dumps(out))
    return 0


def run_on(cluster, node: str, data_dir: str, action: str, kind: str = "", seed: int = 0) -> dict:
    """Run one action on ``node`` through ``cluster.exec``; its JSON answer, or ClusterError."""
    from cluster.base import ClusterError

    src = Path(__file__).read_text()
    cmd = ["python3", "-c", src, action, data_dir, kind, str(seed)]
    r = cluster.exec(node, cmd, timeout=120)
    if r.exit_code != 0:
        why = (r.stderr.strip().splitlines() or [f"exit {r.exit_code}"])[-1]
        raise ClusterError(f"{node}: disk {action} failed: {why[:300]}")
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise ClusterError(f"{node}: disk {action} said {r.stdout.strip()[:200]!r}") from None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
