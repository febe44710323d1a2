"""A simulated disk with the store's own on-disk framing, a page cache and power loss.

Why bytes and not a list of records: a power cut can leave half a record behind, and the
interesting question is whether recovery treats that exactly as ``paxos_impl.storage`` does
(truncate a torn tail, refuse on damage in the middle). So records are framed with
``storage.encode_record`` and recovered with ``storage.scan_frames``, the real code.

The model follows the runtime's write path (one write + one fsync per ``Ready``, then the
snapshot written atomically):
- :meth:`write` puts a frame batch in the page cache (``unsynced``);
- :meth:`sync` makes it durable; a snapshot is applied atomically at that point;
- :meth:`crash` with ``power_loss=False`` (kill -9) keeps the page cache: the kernel still
  writes it out. With ``power_loss=True`` the unsynced bytes are lost, kept, or torn at a
  random byte (possibly followed by zeroed garbage), by the given random stream.
"""

from __future__ import annotations

import random
from typing import Any

from cluster.sim.codec import copy, decode, encode
from paxos_impl.storage import StorageError, encode_record, scan_frames


class _Bytes:
    """What scan_frames needs of a path: read_bytes() and a name for error messages."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def read_bytes(self) -> bytes:
        return self.data

    def __str__(self) -> str:
        return self.name


class SimDisk:
    """One node's data directory: the latest snapshot and the log records written after it.

    Log records are kept as the objects the core handed over: the core never changes a record
    (or a value in one) after it leaves a step, so the object is as good as its bytes, and a
    simulation writes tens of thousands of them (encoding each, then parsing it back at every
    restart, was a twentieth of a faulty run). A test checks, after kill-heavy runs, that
    every record still equals its encoding at write time. Only a power cut turns the
    unsynced batch into real frames, cuts them, and leaves that residue for recovery to scan
    with storage's own code; the snapshot is kept as JSON text."""

    def __init__(self, name: str = "disk") -> None:
        self.name = name
        # JSON text (cluster.sim.codec): immutable like bytes on a disk
        self._snapshot: bytes | str | None = None
        self.durable: list[dict[str, Any]] = []  # fsync'd records since the snapshot
        self.residue = b""  # frames a power cut left behind the durable log, maybe torn
        self.unsynced: list[dict[str, Any]] = []  # written, not yet fsync'd
        self._pending_snapshot: bytes | str | None = None
        self.writes = 0  # write batches (one fsync each in the real node)
        self.syncs = 0
        self.power_losses: list[str] = []  # what each power loss did: "lost", "kept", "torn@N"
        self.torn_recoveries = 0  # recoveries that truncated a torn tail
        # the disk nemesis (cluster.diskfault's bytes): the damaged log while the node is
        # stopped, where a clean shutdown left it, and the intact disk to put back
        self.damaged: bytes | None = None
        self.clean_size = 0
        self._backup: tuple[list[dict[str, Any]], bytes | str | None] | None = None
        self.full = False  # every write fails (ENOSPC): the node stops, as a real one does
        self.damage_log: list[str] = []

    # -- the write path --------------------------------------------------------------------
    def write(self, records: list[dict], snapshot: dict | None = None) -> None:
        """One batch into the page cache; the snapshot (if any) waits for the fsync.

        OSError when the disk is full: nothing of the batch is kept."""
        if self.full:
            raise OSError(28, "No space left on device (simulated)")
        self.unsynced += records
        if snapshot is not None:
            self._pending_snapshot = encode(snapshot)
        self.writes += 1

    def sync(self) -> None:
        """fsync: the page cache is durable; then the snapshot replaces the log atomically."""
        self.durable += self.unsynced
        self.unsynced = []
        if self._pending_snapshot is not None:
            self._snapshot, self._pending_snapshot = self._pending_snapshot, None
            self.durable = []  # a new log segment: the old ones are compacted away
        self.syncs += 1

    @property
    def dirty(self) -> bool:
        return bool(self.unsynced) or self._pending_snapshot is not None

    # -- crashes ---------------------------------------------------------------------------
    def crash(self, power_loss: bool, rng: random.Random) -> str:
        """The process dies (kill -9: the page cache survives) or the power goes."""
        if not power_loss:
            if self.dirty:
                self.sync()  # the kernel writes the page cache out in its own time
            return "kept"
        tail, self.unsynced = self.unsynced, []
        self._pending_snapshot = None  # its temp file never got renamed into place
        if not tail:
            fate = "clean"
        else:
            x = rng.random()
            if x < 1 / 3:
                fate = "lost"
            elif x < 2 / 3:
                fate = "kept"
                self.durable += tail
            else:
                frames = b"".join(encode_record(r) for r in tail)
                cut = rng.randrange(1, len(frames))
                junk = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 8)))
                if rng.random() < 0.5:
                    junk = bytes(len(junk))  # a zero-filled block end
                self.residue += frames[:cut] + junk
                fate = f"torn@{cut}"
        self.power_losses.append(fate)
        return fate

    # -- recovery ----------------------------------------------------------------------------
    @property
    def snapshot(self) -> dict | None:
        return None if self._snapshot is None else decode(self._snapshot)

    @property
    def records(self) -> list[dict[str, Any]]:
        """Recover the log as storage.Storage.recover does (a torn tail is truncated), as
        fresh copies.

        Damage followed by an intact frame raises StorageError, as the real node refuses to
        start on it (that would be a simulator bug here: we only ever tear the tail)."""
        return [copy(r) for r in self.durable_records()]

    def durable_records(self) -> list[dict[str, Any]]:
        """The records themselves, shared: for reading, never for changing."""
        self._truncate_residue()
        return self.durable

    def mark(self) -> tuple[int, object]:
        """Where the durable log ends now, for :meth:`durable_since`."""
        self._truncate_residue()
        return len(self.durable), self._snapshot

    def durable_since(self, mark: tuple[int, object]) -> list[dict[str, Any]] | None:
        """Records that became durable after ``mark`` (None: a snapshot replaced the log)."""
        self._truncate_residue()
        length, snapshot = mark
        if self._snapshot is not snapshot or len(self.durable) < length:
            return None
        return self.durable[length:]

    def _truncate_residue(self) -> None:
        if self.residue:
            scan = scan_frames(_Bytes(f"{self.name}/log", self.residue))  # type: ignore[arg-type]
            if scan.torn is not None:
                self.torn_recoveries += 1
            self.durable += scan.records
            self.residue = b""  # truncated: what was whole is now plain log

    # -- the disk nemesis ------------------------------------------------------------------
    def damage(self, kind: str, rng: random.Random) -> dict[str, Any]:
        """Damage the log of a stopped node the way cluster.diskfault damages a real one.

        The node stopped cleanly, so (as paxos_impl.storage does) the disk remembers where
        its log ended; recovery then refuses a log that lost any of those bytes."""
        from cluster.diskfault import corrupt

        self._truncate_residue()
        frames = b"".join(encode_record(r) for r in self.durable)
        self._backup = (list(self.durable), self._snapshot)
        if not frames:
            if kind == "bitflip" and self._snapshot is not None:
                self.damaged, self.clean_size = b"", 0
                self.damage_log.append("bitflip: snapshot")
                return {"kind": kind, "file": "snapshot"}
            return {"kind": kind, "skipped": "the log is empty"}
        new, what = corrupt(frames, kind, rng)
        self.damaged, self.clean_size = new, len(frames)
        self.damage_log.append(f"{kind}: {what}")
        return {"kind": kind, "file": "log", "bytes": len(frames), **what}

    def restore(self) -> dict[str, Any]:
        """The intact disk back (the backup taken before the damage)."""
        if self._backup is None:
            return {"restored": False}
        self.durable, self._snapshot = self._backup
        self._backup, self.damaged = None, None
        return {"restored": True}

    def drop_backup(self) -> dict[str, Any]:
        dropped, self._backup = self._backup is not None, None
        return {"dropped": dropped}

    def _check_damage(self) -> None:
        """Recovery of a damaged disk: storage's scan, then its clean-shutdown check."""
        if self.damaged is None:
            return
        if self.damaged == b"" and self.clean_size == 0:  # the snapshot's frame was hit
            raise StorageError(f"{self.name}/snapshot: damaged snapshot file at byte offset 0")
        scan = scan_frames(_Bytes(f"{self.name}/log", self.damaged))  # type: ignore[arg-type]
        if scan.good_end < self.clean_size:
            raise StorageError(
                f"{self.name}/log: {len(self.damaged)} bytes ({scan.good_end} of them whole "
                f"records), but {self.clean_size} at the last clean shutdown"
            )
        self.durable, self.damaged = scan.records, None  # nothing lost: start on it

    def recover(self) -> tuple[dict | None, list[dict[str, Any]]]:
        """What a restarting node reads. The log records are the ones this disk keeps, shared
        with the node, not fresh copies: a node restarts every few seconds under a kill
        nemesis, and copying its whole log each time was a fifth of a faulty run. That is
        safe because the core never changes a record or a value it recovered (it builds new
        objects for every change); see the class docstring for the test that checks it.

        StorageError if the disk nemesis damaged the log (the node refuses to start)."""
        self._check_damage()
        return self.snapshot, self.durable_records()

    def listing(self) -> str:
        """What a data-directory listing would show, for the run's nodes/ folder."""
        snap = self.snapshot
        lines = [
            f"snapshot: {'none' if snap is None else 'applied ' + str(snap.get('applied'))}",
            f"log: {len(self.durable)} records durable, {len(self.unsynced)} unsynced",
            f"writes: {self.writes}  fsyncs: {self.syncs}",
            f"power losses: {', '.join(self.power_losses) or 'none'}",
            f"torn tails truncated at recovery: {self.torn_recoveries}",
            f"disk nemesis: {'; '.join(self.damage_log) or 'none'}"
            + ("  (damaged now)" if self.damaged is not None else "")
            + ("  (full now)" if self.full else ""),
        ]
        return "\n".join(lines) + "\n"


__all__ = ["SimDisk", "StorageError"]
