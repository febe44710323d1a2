"""Disk faults: damage a stopped node's log (bitflip, truncate, torn) or fill its disk (full).

What it tests: the store never votes with state it cannot trust. A damaged log must make the
node refuse to start (``paxos_impl.storage``: file and offset for damage in the middle, the
clean-shutdown marker for a log cut or torn while the node was stopped); a full disk must
make it stop (fail-stop) rather than acknowledge what it could not write. The history then
shows no acknowledged write lost, whatever the node did.

One fault at a time on one node (always a minority):

- ``bitflip`` / ``truncate`` / ``torn``: stop the node (SIGTERM), back its data directory up,
  damage the newest log segment (``cluster.diskfault``), try to start it. The event records
  whether it refused (the expected outcome) or started. A node that refused gets its intact
  directory back at once and stays down until the fault ends; then it starts on exactly the
  state it stopped with, which is safe (it is never restarted empty: that would forget its
  promises). Restoring at once also keeps another nemesis that restarts nodes (kill's heal)
  from meeting the damaged log.
- ``full``: fill the file system of a running node's data directory; its next write fails
  and it stops. When the fault ends the space is freed and the node started again. Needs a
  backend whose data directory is on a small file system (capability ``disk-full``: docker
  or local with ``data_tmpfs_mb``, the simulator); elsewhere a bare ``disk`` leaves ``full`` out and an
  explicit ``disk:full`` is refused before the run.
"""

from __future__ import annotations

from typing import Any

from cluster.base import ClusterError
from cluster.capabilities import Disk
from nemesis.base import FaultContext, Nemesis, on_each

DAMAGE = ("bitflip", "truncate", "torn")


class DiskNemesis(Nemesis):
    name = "disk"
    KINDS = (*DAMAGE, "full")
    CAPABILITY = "disk"

    def __init__(self, kinds: list[str] | None = None) -> None:
        super().__init__(kinds)
        self.active: dict[str, Any] | None = None  # {"node", "kind"}

    def requires(self, capabilities: set[str], final: bool = True) -> set[str]:
        """``full`` needs a small disk (``disk-full``); a bare ``disk`` drops it where absent."""
        if not self.explicit and "disk-full" not in capabilities:
            self.kinds = [k for k in self.kinds if k != "full"]
        return {"disk", "disk-full"} if "full" in self.kinds else {"disk"}

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        if self.active is not None:  # the schedule stops each fault first; be safe anyway
            await self.stop(fx)
        nodes = list(fx.cluster.nodes)
        running = [
            n
            for n, up in zip(nodes, await on_each(fx, fx.cluster.is_running, nodes), strict=True)
            if up
        ]
        if not running:
            return {"kind": kind, "skipped": "no node is running"}
        node = fx.rng.choice(running)
        seed = fx.rng.randrange(2**31)
        if kind == "full":
            what = await fx.call(fx.can(Disk).disk, node, "fill")
            self.active = {"node": node, "kind": kind}
            return {"kind": kind, "node": node, **what}
        await fx.call(fx.cluster.stop, node)
        what = await fx.call(fx.can(Disk).disk, node, "damage", kind, seed)
        out: dict[str, Any] = {"kind": kind, "node": node, "damage": what}
        self.active = {"node": node, "kind": kind}
        try:
            await fx.call(fx.cluster.start, node, list(fx.bugs))
        except ClusterError as e:
            out["restart"] = "refused"
            out["why"] = str(e)[-300:]
            out.update(await fx.call(fx.can(Disk).disk, node, "restore"))
        else:
            # started: the damage changed nothing it needed (e.g. an empty log), or it was
            # not detected; the history says whether that cost anything
            out["restart"] = "started"
            out.update(await fx.call(fx.can(Disk).disk, node, "drop-backup"))
        return out

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        active, self.active = self.active, None
        if active is None:
            return {}
        node = active["node"]
        out: dict[str, Any] = {"node": node, "kind": active["kind"]}
        if active["kind"] == "full":
            out.update(await fx.call(fx.can(Disk).disk, node, "unfill"))
        if not await fx.call(fx.cluster.is_running, node):
            try:
                await fx.call(fx.cluster.start, node, list(fx.bugs))
                out["restarted"] = True
            except ClusterError as e:
                out["restarted"] = False
                out["why"] = str(e)[-300:]
        return out

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        """Undo the active fault (intact disk back, space freed, node started)."""
        return await self.stop(fx)
