"""``SimCluster``: the simulated world behind the :class:`~cluster.base.Cluster` interface.

The controller, workloads and nemeses run unchanged: they call ``kill``, ``partition``,
``set_clock_offset`` and friends, and their clients (``async_client``) send requests whose
replies resolve asyncio futures. The world keeps its own event heap; on a
:class:`~controller.virtual_loop.VirtualTimeLoop` this class is the loop's event source (the
loop runs the world's events whenever it would advance its clock), on any other loop it hangs
the world's next event on a timer. Either way the world and the controller share one clock,
and one seed decides everything: a failing run replays exactly.

Faults beyond what containers can do: one-way partitions (a grudge need not be symmetric),
clock drift rates (``set_clock_drift``; with ``clock_drift`` > 0 every clock offset the
nemesis sets comes with a random drift rate too), and power loss (``crash(node,
lose_unsynced=True)``; with ``power_loss`` > 0 that fraction of kills cut the power).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

from cluster.base import Cluster, ClusterError, node_name, store_id
from cluster.sim.network import LinkModel
from cluster.sim.runtime import Netem, RuntimeWorld
from cluster.sim.store_client import SimStoreClient
from cluster.sim.trace import SimTrace
from cluster.sim.zones import ZoneError, latency_matrix, zone_groups, zone_of
from paxos_impl.config import Config, ConfigError, Timeouts, local_config
from paxos_impl.storage import StorageError

# Applied slots between snapshots. The store's default (1000) means a ten-second seed at the
# default rates never takes one, so sweeps would not exercise snapshots, compaction and
# catch-up by snapshot at all; every few seconds they do. It also bounds what a restart
# replays, which is most of what a kill costs a simulation (faulty runs ~10% faster).
SIM_SNAPSHOT_EVERY = 256
# (drop, dup) of each peer message over UDP unless the backend is told otherwise: datagrams
# are lost and duplicated now and then even on a healthy network
UDP_LINK = (0.01, 0.01)


class SimCluster(Cluster):
    """N simulated nodes in this process; see the module docstring."""

    virtual_time = True  # the controller runs this backend on a virtual-time loop

    def __init__(
        self,
        name: str,
        n: int,
        *,
        seed: int = 0,
        read_mode: str = "log",
        mode: str = "leader",
        delay: tuple[float, float] = (0.0005, 0.003),
        drop: float | None = None,
        dup: float | None = None,
        fsync_latency: tuple[float, float] = (0.0005, 0.002),
        power_loss: float = 0.0,
        clock_drift: float = 0.0,
        snapshot_every: int = SIM_SNAPSHOT_EVERY,
        latency: Any = None,
        jitter: float = 0.1,
        **config_kw: Any,
    ) -> None:
        """Other keywords are store settings (paxos_impl.config.Config fields, ``timeouts`` a
        table), as every backend takes them.

        ``latency`` (a preset such as ``wan3``, or a matrix of one-way ms per pair of zones;
        cluster.sim.zones) puts the nodes in zones that far apart, each message's delay
        times 1 + U(0, ``jitter``). The zones are the store's ``zones`` setting when given,
        else as many contiguous zones as the matrix has rows."""
        config_fields = {f.name for f in fields(Config)}
        zones_spec = config_kw.get("zones")
        if "zones" not in config_fields:  # a store without the setting: the simulator's alone
            config_kw.pop("zones", None)
        elif zones_spec is not None or latency is not None:
            # the store gets the contract's lists of node ids: the ones given, or (a latency
            # matrix alone) the matrix's zones, so a zone-aware mode (wpaxos) sees the same
            # zones the network puts its nodes in
            try:
                if zones_spec is None:
                    rows = len(latency_matrix(latency))
                    zones_spec = min(rows, n) if n >= 1 else None
                if zones_spec is not None:
                    config_kw["zones"] = zone_groups(zones_spec, list(range(n)))
            except ZoneError as e:
                raise ClusterError(str(e)) from None
        unknown = sorted(set(config_kw) - (config_fields - {"nodes"}))
        if unknown:
            raise ClusterError(f"the sim backend has no option {unknown[0]!r}")
        if n < 1:
            raise ClusterError(f"a cluster needs at least one node, got {n}")
        if isinstance(config_kw.get("timeouts"), dict):
            config_kw["timeouts"] = Timeouts(**config_kw["timeouts"])
        try:
            self.config = local_config(
                n, read_mode=read_mode, mode=mode, snapshot_every=snapshot_every, **config_kw
            )
        except (ConfigError, TypeError) as e:
            raise ClusterError(f"bad cluster configuration: {e}") from None
        self.name = name
        self.nodes = [node_name(i) for i in range(n)]
        self.seed = seed
        # unset: what the peers' transport sees on a healthy network (UDP_LINK for UDP, so
        # its runs exercise the protocol's retransmission; nothing for TCP)
        lossy = self.config.transport == "udp"
        drop = (UDP_LINK[0] if lossy else 0.0) if drop is None else drop
        dup = (UDP_LINK[1] if lossy else 0.0) if dup is None else dup
        self.link = LinkModel(delay[0], delay[1], drop, dup)
        self.zones, self.matrix = self._zones(zones_spec, latency, jitter)
        self.jitter = jitter
        self.fsync_latency = tuple(fsync_latency)
        self.power_loss = power_loss
        self.clock_drift = clock_drift
        self.world: RuntimeWorld | None = None
        # every message into a trace (cluster.sim.trace); off only for runs nobody keeps
        self.record_messages = True
        self.clients: dict[str, SimStoreClient] = {}
        self._client_ids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._epoch = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._sourced = False  # the loop drives the world as an event source
        self.events: dict[str, list[str]] = {n: [] for n in self.nodes}  # per-node sim log

    def _zones(self, spec: Any, latency: Any, jitter: Any) -> tuple[list[list[int]], list]:
        """(zones, matrix in ms) from the store's zones setting and the latency option."""
        try:
            matrix = latency_matrix(latency) if latency is not None else []
            if not isinstance(jitter, int | float) or not 0 <= jitter <= 10:
                raise ZoneError(f"jitter is a fraction of the delay (0 to 10), got {jitter!r}")
            ids = self.config.ids()
            if spec is None or spec == []:
                spec = getattr(self.config, "zones", None) or None
            if spec is None:
                return (zone_groups(min(len(matrix), len(ids)), ids) if matrix else []), matrix
            groups = zone_groups(spec, ids)
        except ZoneError as e:
            raise ClusterError(str(e)) from None
        if matrix and len(groups) > len(matrix):
            raise ClusterError(f"{len(groups)} zones but a {len(matrix)}-zone latency matrix")
        return groups, matrix

    def zone_of_node(self, i: int) -> int | None:
        """The zone node i is in (None: no zones, or a node added later)."""
        return next((z for z, g in enumerate(self.zones) if i in g), None)

    def capabilities(self) -> set[str]:
        return {
            "kill",
            "pause",
            "partition",
            "clock",
            "clock-rate",
            "netem-delay",
            "netem-loss",
            "disk",
            "disk-full",
            "membership",
        }

    # -- life cycle ------------------------------------------------------------------------------
    def setup(self) -> None:
        if self.world is not None:
            return
        self.world = RuntimeWorld(self.config, self.seed, self.link, self.fsync_latency)  # type: ignore[arg-type]
        self.world.on_crash = self._on_crash
        if self.matrix:
            self.world.net.set_zones(zone_of(self.zones), self.matrix, self.jitter)
        if self.record_messages:  # the simulator sees every message: it records them all
            self.world.trace = SimTrace()
        self._attach()

    def teardown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timer_at = None
        if self._sourced and getattr(self._loop, "source", None) is self:
            self._loop.source = None  # type: ignore[union-attr]
        self._sourced = False
        for c in list(self.clients.values()):
            for fut, _ in c.pending.values():
                if not fut.done():
                    fut.cancel()
        self.clients.clear()

    def start(self, node: str, bugs: list[str] | None = None) -> None:
        w = self._world()
        i = self._id(node)
        with self._stepping():
            if w.nodes[i].up:
                return
            cfg = Config.from_dict({**self.config.to_dict(), "bugs": list(bugs or [])})
            try:
                w.restart(i, cfg)
            except StorageError as e:  # a damaged disk: the node refuses to start, as a real one
                self._log(node, f"refused to start: {e}")
                raise ClusterError(f"{node}: refused to start: {e}") from None
            # a node added later learns where every host is, as --join tells a real one
            w.nodes[i].replica.learn_addresses(  # type: ignore[union-attr]
                {str(j): self._address(j) for j in w.nodes}
            )
            self._log(node, "start" + (f" bugs={','.join(cfg.bugs)}" if cfg.bugs else ""))

    def stop(self, node: str) -> None:
        self.crash(node, lose_unsynced=False)  # a clean stop leaves the same disk as kill -9

    # -- membership (cluster.capabilities.Grow) ---------------------------------------------------
    def add_node(self) -> str:
        """A new simulated host, not running yet and unknown to the store."""
        w = self._world()
        i = max(w.nodes) + 1  # ids are never reused: a removed node's messages may linger
        name = node_name(i)
        with self._stepping():
            w.add_node(i)
        self.nodes.append(name)
        self.events[name] = []
        self._log(name, "host created")
        return name

    def node_address(self, node: str) -> list:
        return self._address(self._id(node))

    @staticmethod
    def _address(i: int) -> list:
        return [node_name(i), 7100 + i % 50000, 7200 + i % 50000]  # names only: no sockets

    def remove_node(self, node: str) -> None:
        """Stop the node and delete its host (the store let it go before)."""
        self.crash(node, lose_unsynced=False)
        self.nodes.remove(node)
        self._log(node, "host removed")

    def kill(self, node: str) -> None:
        w = self._world()
        power = self.power_loss > 0 and w.disk_rng.random() < self.power_loss
        self.crash(node, lose_unsynced=power)

    def crash(self, node: str, lose_unsynced: bool = True) -> str:
        """Crash a node. With ``lose_unsynced`` it is a power loss: what was fsync'd survives;
        what was written and not yet fsync'd is lost, kept or torn, by the seed."""
        w = self._world()
        i = self._id(node)
        with self._stepping():
            if not w.nodes[i].up:
                return "down"
            fate = w.crash(i, power_loss=lose_unsynced)
        self._log(node, f"{'power loss' if lose_unsynced else 'kill -9'}: unsynced {fate}")
        return fate

    def disk(self, node: str, action: str, kind: str = "", seed: int = 0) -> dict:
        """The disk nemesis's actions on a node's simulated disk (cluster.sim.disk)."""
        w = self._world()
        i = self._id(node)
        disk = w.nodes[i].disk
        if action in ("damage", "restore") and w.nodes[i].up:
            raise ClusterError(f"{node}: disk {action} needs the node stopped")
        if action == "damage":
            out = disk.damage(kind, random.Random(seed))  # type: ignore[attr-defined]
        elif action == "restore":
            out = disk.restore()  # type: ignore[attr-defined]
        elif action == "drop-backup":
            out = disk.drop_backup()  # type: ignore[attr-defined]
        elif action in ("fill", "unfill"):
            disk.full = action == "fill"  # type: ignore[attr-defined]
            out = {"full": disk.full}  # type: ignore[attr-defined]
        else:
            raise ClusterError(f"unknown disk action {action!r}")
        self._log(node, f"disk {action} {kind}: {out}".rstrip())
        return out

    def pause(self, node: str) -> None:
        w = self._world()
        with self._stepping():
            if not w.nodes[self._id(node)].up:
                raise ClusterError(f"{node}: the store is not running")
            w.pause(self._id(node))
        self._log(node, "pause")

    def resume(self, node: str) -> None:
        w = self._world()
        with self._stepping():
            if not w.nodes[self._id(node)].up:
                raise ClusterError(f"{node}: the store is not running")
            w.resume(self._id(node))
        self._log(node, "resume")

    def is_running(self, node: str) -> bool:
        return self._world().nodes[self._id(node)].up

    def node_up(self, i: int) -> bool:
        w = self._world()
        return i in w.nodes and w.nodes[i].up

    def collect(self, node: str, dest: Path) -> None:
        w = self._world()
        i = self._id(node)
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "sim.log").write_text("\n".join(self.events[node]) + "\n", encoding="utf-8")
        (dest / "data-listing.txt").write_text(w.nodes[i].disk.listing(), encoding="utf-8")  # type: ignore[attr-defined]
        st = w.nodes[i].replica.status() if w.nodes[i].replica else None
        (dest / "status.json").write_text(json.dumps(st, indent=1) + "\n", encoding="utf-8")
        if w.violations:
            (dest / "world-violations.txt").write_text("\n".join(w.violations) + "\n")

    # -- faults ----------------------------------------------------------------------------------
    def partition(self, grudge: dict[str, set[str]]) -> None:
        """node -> the nodes it drops traffic FROM; any grudge, symmetric or one-way."""
        w = self._world()
        with self._stepping():
            w.net.heal()
            for dst in sorted(grudge):
                for src in sorted(grudge[dst]):
                    w.net.block(self._id(src), self._id(dst))
        for dst in sorted(grudge):
            if grudge[dst]:
                self._log(dst, f"drops traffic from {','.join(sorted(grudge[dst]))}")

    def block(self, src: str, dst: str) -> None:
        """A one-way partition: ``dst`` no longer hears ``src`` (added to what is blocked)."""
        with self._stepping():
            self._world().net.block(self._id(src), self._id(dst))
        self._log(dst, f"drops traffic from {src} (one way)")

    def heal_network(self) -> None:
        with self._stepping():
            self._world().net.heal()

    def set_clock_offset(self, node: str, seconds: float) -> None:
        w = self._world()
        i = self._id(node)
        rate = None
        if self.clock_drift > 0:
            rate = self.clock_drift * (2 * w.disk_rng.random() - 1)
        with self._stepping():
            w.set_clock(i, offset=float(seconds), rate=rate)
        self._log(node, f"clock offset {seconds:+g}s" + (f" drift {rate:+.4g}" if rate else ""))

    def set_clock_drift(self, node: str, rate: float) -> None:
        """From now on the node's clock runs at (1 + rate) times real speed."""
        if not -0.5 < rate < 0.5:
            raise ClusterError(f"drift rate must be within (-0.5, 0.5), got {rate}")
        with self._stepping():
            self._world().set_clock(self._id(node), rate=float(rate))
        self._log(node, f"clock drift {rate:+g}")

    def reset_clocks(self) -> None:
        w = self._world()
        with self._stepping():
            for i in w.nodes:
                w.set_clock(i, offset=0.0, rate=0.0)

    def netem(self, node: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        if not 0 <= loss <= 1 or delay_ms < 0 or jitter_ms < 0:
            raise ClusterError(
                f"bad netem settings: delay {delay_ms} jitter {jitter_ms} loss {loss}"
            )
        with self._stepping():
            self._world().net.netem[self._id(node)] = Netem(
                delay_ms / 1000, jitter_ms / 1000, float(loss)
            )
        self._log(node, f"netem delay {delay_ms}ms jitter {jitter_ms}ms loss {loss}")

    def heal_netem(self) -> None:
        with self._stepping():
            self._world().net.netem.clear()

    # -- clients ---------------------------------------------------------------------------------
    def async_client(self, node: str, client_id: str, timeout: float = 5.0) -> SimStoreClient:
        """The workload client hook (workloads.client.store_connector looks for it)."""
        w = self._world()
        # a worker may still be bound to a node the membership nemesis removed: its client
        # finds that node refusing and goes to the members it learns, as a real one would
        gone = node not in self.nodes and node in self.events  # a host this cluster had
        i = store_id(node) if gone and store_id(node) in w.nodes else None
        return SimStoreClient(self, self._id(node) if i is None else i, client_id, timeout)

    def register_client(self, c: SimStoreClient) -> str:
        self._client_ids += 1
        name = f"client{self._client_ids}"
        self.clients[name] = c
        self._world().client_inbox[name] = c.on_reply
        self._world().net.place(name, self.zone_of_node(c.node))  # a client in its node's zone
        return name

    def unregister_client(self, c: SimStoreClient) -> None:
        self.clients.pop(c.name, None)
        if self.world is not None:
            self.world.client_inbox.pop(c.name, None)
            self.world.net.unplace(c.name)

    def send_request(self, client: str, node: int, handle: tuple, req: dict) -> None:
        with self._stepping():
            self._world().request(client, node, handle, req)

    def _on_crash(self, i: int) -> None:
        for c in list(self.clients.values()):
            c.on_node_crash(i)

    # -- time: the world's clock rides on the running loop -----------------------------------
    def now(self) -> float:
        if self._loop is not None:
            return self._loop.time() - self._epoch
        return self._world().now

    def sleep(self, seconds: float) -> None:
        """Outside an event loop: run the world forward. Inside one, await asyncio.sleep."""
        if self._running_loop() is not None:
            raise ClusterError("the sim backend runs in virtual time: use asyncio.sleep")
        self.run_for(seconds)

    def run_for(self, seconds: float) -> None:
        """Drive the world without an event loop (unit tests, scripts)."""
        self._world().run_for(seconds)

    def message_trace(self, run_t0: float = 0.0) -> list[dict]:
        """Every message sent and delivered (and each slot learned and applied), ``t`` in ns
        since ``run_t0`` (the history's clock); see cluster.sim.trace."""
        w = self.world
        return w.trace.records(run_t0) if w is not None and w.trace is not None else []

    @property
    def messages_dropped(self) -> int:
        """Trace entries the simulator's ring let go (the oldest; cluster.sim.trace)."""
        w = self.world
        return w.trace.dropped if w is not None and w.trace is not None else 0

    @property
    def violations(self) -> list[str]:
        """Safety violations the world saw inside the cores (two values for one slot, ...)."""
        return list(self.world.violations) if self.world else []

    def invariants(self, run_t0: float = 0.0, limit: int = 50) -> dict[str, Any]:
        """The simulator's invariants as a checker result: what the cores did wrong, seen
        *inside* the store (two values for one slot, a send before its fsync, ...).

        A black-box test of a real system cannot see these; they are reported next to the
        history checkers, never folded into them. Each violation says what, which node and
        when (world seconds, and seconds since the run phase began: ``run_t0``)."""
        found = self.violations
        return {
            "valid": not found,
            "seen": "store",
            "what": "the simulator's invariants, checked inside the store (not by clients)",
            "count": len(found),
            "violations": [parse_violation(v, run_t0) for v in found[:limit]],
        }

    def _attach(self) -> None:
        loop = self._running_loop()
        if loop is None or loop is self._loop:
            return
        self._loop = loop
        self._epoch = loop.time() - self._world().now
        self._timer = self._timer_at = None
        # on a VirtualTimeLoop the loop runs our events itself when it would otherwise
        # advance its clock (controller.virtual_loop.EventSource): no timer per event
        self._sourced = getattr(loop, "source", False) is None
        if self._sourced:
            loop.source = self  # type: ignore[attr-defined]

    # -- controller.virtual_loop.EventSource ----------------------------------------------------
    def next_time(self) -> float | None:
        t = self.world.next_event_time() if self.world is not None else None
        return None if t is None else self._epoch + t

    def run_due(self, limit: float) -> None:
        w, loop = self.world, self._loop
        if w is None or loop is None:
            return
        w.run_until_poked(limit - self._epoch)
        loop.advance_to(self._epoch + w.now)  # type: ignore[attr-defined]

    def _sync(self) -> None:
        """Bring the world up to the loop's present before touching it from outside."""
        self._attach()
        if self._loop is not None:
            self.world.run_until(self._loop.time() - self._epoch)  # type: ignore[union-attr]

    def _arm(self) -> None:
        """Make sure the loop wakes up for the world's next event: the timer path, for a
        loop that does not drive the world as its event source (a plain asyncio loop)."""
        if self._loop is None or self.world is None or self._sourced:
            return
        t = self.world.next_event_time()
        if t is None or (self._timer_at is not None and self._timer_at <= t):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = t
        self._timer = self._loop.call_at(self._epoch + t, self._fire, t)

    def _fire(self, t: float) -> None:
        self._timer = self._timer_at = None
        w, loop = self.world, self._loop
        if w is None or loop is None:
            return
        w.run_until(max(t, loop.time() - self._epoch))
        self._arm()

    def _stepping(self) -> _Stepping:
        return _Stepping(self)

    # -- helpers ---------------------------------------------------------------------------------
    def _world(self) -> RuntimeWorld:
        if self.world is None:
            raise ClusterError(f"sim cluster {self.name} is not set up")
        return self.world

    def _id(self, node: str) -> int:
        if node not in self.nodes:
            raise ClusterError(f"no node {node!r} in this cluster ({', '.join(self.nodes)})")
        return store_id(node)

    def _log(self, node: str, what: str) -> None:
        t = self.world.now if self.world else 0.0
        self.events[node].append(f"{t:12.6f} {node} {what}")

    @staticmethod
    def _running_loop() -> asyncio.AbstractEventLoop | None:
        # asyncio's own no-raise lookup: this runs before every request a client sends
        return asyncio.events._get_running_loop()


class _Stepping:
    """Around every outside touch of the world: catch up first, re-arm the timer after."""

    __slots__ = ("c",)

    def __init__(self, c: SimCluster) -> None:
        self.c = c

    def __enter__(self) -> None:
        self.c._sync()

    def __exit__(self, *exc: object) -> None:
        self.c._arm()


_T = re.compile(r"\bt=(-?[0-9.]+)")
_NODE = re.compile(r"\bnode (\d+)")


def parse_violation(text: str, run_t0: float = 0.0) -> dict[str, Any]:
    """{"what", "node", "t_s", "run_s"} from one world violation line (fields None if absent)."""
    t = _T.search(text)
    node = _NODE.search(text)
    t_s = float(t.group(1)) if t else None
    return {
        "what": _NODE.sub(lambda m: node_name(int(m.group(1))), _T.sub("", text, count=1)).strip(),
        "node": node_name(int(node.group(1))) if node else None,
        "t_s": t_s,
        "run_s": None if t_s is None else round(t_s - run_t0, 3),
    }
