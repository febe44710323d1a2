"""Cluster configuration for the store: members, addresses, quorums, timeouts, read route, bugs.

One TOML file describes a whole cluster; every node and every client reads the same file,
so the cluster layer (which writes it) and the store (which reads it) share this module as
their contract. Standard library only: it runs inside the node image.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .machine import check_spec
from .tls import TlsError, TlsSettings

MODES = ("leader", "masterless", "epaxos", "mencius", "wpaxos")
READ_MODES = ("log", "quorum", "lease")
TRANSPORTS = ("tcp", "udp")  # between peers; clients always use TCP
KNOWN_BUGS = (
    "skip-phase1-adopt",
    "early-ack",
    "volatile-acceptor",
    "local-read",
    "no-dedup",
    "accept-lower-ballot",
    "commit-other-ballot",
    "quorum-off-by-one",
    "txn-split",
    "txn-stale-read",
    "learner-quorum",
    "removed-node-votes",
    "epaxos-small-fast-quorum",
    "epaxos-execute-uncommitted",
    "epaxos-recovery-ignores-preaccept",
    "mencius-skip-unowned",
    "mencius-revoke-no-phase1",
    "sm-nondeterministic",
    "sm-async-early-answer",
    "wpaxos-steal-no-phase1",
    "wpaxos-quorums-disjoint",
)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line meant for a person."""


@dataclass
class NodeAddress:
    """Where one node listens: peers connect to peer_port, clients to client_port."""

    id: int
    host: str = "127.0.0.1"
    peer_port: int = 7100
    client_port: int = 7200


@dataclass
class Timeouts:
    """Every timer of the protocol and the runtime, in milliseconds."""

    heartbeat_ms: int = 50
    election_min_ms: int = 300
    election_max_ms: int = 600
    request_ms: int = 3000  # a node gives up on a client request and answers "unknown"
    lease_ms: int = 1000  # leader lease length (read_mode = "lease")
    connect_backoff_min_ms: int = 20
    connect_backoff_max_ms: int = 1000
    catchup_ms: int = 200  # how often a lagging replica asks peers for missing slots
    client_idle_ms: int = 300_000  # a client connection that completes no frame for this long
    client_frame_ms: int = 30_000  # ... or takes this long to send one frame: closed


@dataclass
class Config:
    """A whole cluster. Node ids are 0..N-1; quorum sizes of 0 mean "a majority"."""

    nodes: list[NodeAddress]
    mode: str = "leader"
    read_mode: str = "log"
    # the replicated state machine: "kv" (the bundled key-value map), "register", or a
    # user's "module:Class" (paxos_impl.machine; the module must be on the nodes' path)
    state_machine: str = "kv"
    phase1_quorum: int = 0
    phase2_quorum: int = 0
    max_clock_drift_ms: int = 100  # the lease read route assumes drift below this bound
    fsync: bool = True
    transport: str = "tcp"  # peer messages: "tcp" streams or "udp" datagrams (paxos_impl/udp.py)
    snapshot_every: int = 1000  # applied slots between snapshots (then the log is compacted)
    max_batch: int = 64  # client commands per accept round
    max_inflight: int = 256  # slots in phase 2 at once
    max_frame_bytes: int = 4 * 1024 * 1024
    # -- hardening: what a client may send and hold (see paxos_impl/limits.py) --------------
    max_command_bytes: int = 1024 * 1024  # one encoded client command; bigger: bad_request
    max_value_depth: int = 64  # nesting of a client value (lists/objects); deeper: bad_request
    max_client_conns: int = 1024  # open client connections per node; more are refused
    max_buffered_bytes: int = 64 * 1024 * 1024  # partial client frames held at once, per node
    data_dir: str | None = None  # default: ./node<id>.paxos
    # record every protocol message sent and received in messages.jsonl beside the data
    # directory, at most this many bytes (the oldest half goes first); 0: off (trace.py)
    trace_messages_bytes: int = 0
    # Permit phase-1 and phase-2 quorums that need not meet (Q1 + Q2 <= N): unsafe, for
    # watching on purpose what the intersection rule protects.
    unsafe_quorums: bool = False
    # -- zones (WPaxos's grid quorums; other modes accept and ignore them) -------------------
    # Lists of node ids, every node in exactly one zone; an integer Z (Z contiguous zones of
    # equal size, the first ones get the remainder) or "0,1,2/3,4,5" are accepted too and
    # normalised by validate(). Empty: one zone of every node.
    zones: Any = field(default_factory=list)
    zone_faults: int = 0  # f_z: zones that may fail (Q1 spans Z - f_z zones, Q2 f_z + 1)
    node_faults: int = -1  # f_n per zone (Q1 takes l - f_n of a zone's l, Q2 f_n + 1); -1: (l-1)//2
    # explicit grid sizes [z1, n1, z2, n2] instead of the ones f_z and f_n give (checked)
    grid_sizes: list = field(default_factory=list)
    bugs: list[str] = field(default_factory=list)
    timeouts: Timeouts = field(default_factory=Timeouts)
    tls: TlsSettings = field(default_factory=TlsSettings)  # [tls]: off unless a cluster sets it

    # -- derived ---------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.nodes)

    @property
    def q1(self) -> int:
        """Phase-1 quorum size."""
        return self.phase1_quorum or self.n // 2 + 1

    @property
    def q2(self) -> int:
        """Phase-2 quorum size."""
        return self.phase2_quorum or self.n // 2 + 1

    def node(self, node_id: int) -> NodeAddress:
        for a in self.nodes:
            if a.id == node_id:
                return a
        raise ConfigError(f"node {node_id} is not in the configuration (ids: {self.ids()})")

    def ids(self) -> list[int]:
        return [a.id for a in self.nodes]

    def has_bug(self, name: str) -> bool:
        return name in self.bugs

    def data_dir_for(self, node_id: int) -> Path:
        if self.data_dir:
            return Path(self.data_dir)
        return Path(f"node{node_id}.paxos")

    # -- checks ----------------------------------------------------------------------------
    def validate(self) -> Config:
        if not self.nodes:
            raise ConfigError("the configuration names no nodes")
        ids = self.ids()
        if sorted(ids) != list(range(len(ids))):
            raise ConfigError(f"node ids must be 0..{len(ids) - 1}, got {ids}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.read_mode not in READ_MODES:
            raise ConfigError(
                f"read_mode must be one of {', '.join(READ_MODES)}, got {self.read_mode!r}"
            )
        if self.transport not in TRANSPORTS:
            raise ConfigError(
                f"transport must be one of {', '.join(TRANSPORTS)}, got {self.transport!r}"
            )
        if self.transport == "udp" and self.tls.enabled:
            # UDP datagrams carry no TLS: peers authenticated by certificate need TCP
            raise ConfigError('transport = "udp" cannot be combined with TLS (use tcp)')
        why = check_spec(self.state_machine)
        if why is not None:
            raise ConfigError(why)
        for b in self.bugs:
            if b not in KNOWN_BUGS:
                raise ConfigError(f"unknown bug {b!r}; known: {', '.join(KNOWN_BUGS)}")
        if not (1 <= self.q1 <= self.n and 1 <= self.q2 <= self.n):
            raise ConfigError(f"quorum sizes must be within 1..{self.n}")
        if self.q1 + self.q2 <= self.n and not self.unsafe_quorums:
            raise ConfigError(
                f"phase-1 and phase-2 quorums must overlap: {self.q1} + {self.q2} <= {self.n}"
                " (unsafe_quorums = true permits it on purpose)"
            )
        self.zones = zone_lists(self.zones, self.ids())
        if self.mode == "wpaxos":
            self.grid()  # refuses quorums that could miss each other
        self._validate_limits()
        t = self.timeouts
        if not (0 < t.heartbeat_ms < t.election_min_ms <= t.election_max_ms):
            raise ConfigError(
                "timeouts must satisfy 0 < heartbeat_ms < election_min_ms <= election_max_ms"
            )
        if t.client_idle_ms <= 0 or t.client_frame_ms <= 0:
            raise ConfigError("timeouts.client_idle_ms and client_frame_ms must be positive")
        try:
            self.tls.validate()
        except TlsError as e:
            raise ConfigError(str(e)) from None
        return self

    def grid(self) -> Grid:
        """WPaxos's grid quorums over the zones (the standard sizing of Ailijiang et al.):
        Q1 = l - f_n nodes (l: the zone's size) in each of Z - f_z zones; Q2 = f_n + 1
        nodes in each of f_z + 1 zones. Why they always meet: Z - f_z + f_z + 1 > Z zones, so
        one zone holds a row of each, and l - f_n + f_n + 1 > l nodes, so those rows share a
        node. A zone smaller than a row counts when all its nodes answered."""
        zones = self.zones or [self.ids()]
        nz, least = len(zones), min(len(z) for z in zones)
        fz = self.zone_faults
        fn = (least - 1) // 2 if self.node_faults < 0 else self.node_faults
        if not 0 <= fz < nz:
            raise ConfigError(f"zone_faults must be within 0..{nz - 1} for {nz} zones, got {fz}")
        if fn >= least:
            raise ConfigError(
                f"node_faults must be below the smallest zone's size {least}, got {fn}"
            )
        g = Grid(zones, nz - fz, max(len(z) for z in zones) - fn, fz + 1, fn + 1)
        if self.grid_sizes:
            gs = self.grid_sizes
            if len(gs) != 4 or not all(isinstance(x, int) and not isinstance(x, bool) for x in gs):
                raise ConfigError(f"grid_sizes must be [z1, n1, z2, n2] (integers), got {gs!r}")
            g = Grid(zones, *gs)
        if not g.intersect():
            raise ConfigError(f"WPaxos quorums can miss each other: {g.describe()}")
        return g

    def _validate_limits(self) -> None:
        """Sizes must nest: a command fits in one accept, an accept in one frame, and one
        whole frame in the partial-frame budget (or a legitimate big write could never be
        read)."""
        from .limits import ENTRY_OVERHEAD, batch_budget  # limits imports nothing of ours

        if self.max_frame_bytes < 64 * 1024:
            raise ConfigError(f"max_frame_bytes must be at least 65536, got {self.max_frame_bytes}")
        most = batch_budget(self.max_frame_bytes) - 2 * ENTRY_OVERHEAD
        if not 1024 <= self.max_command_bytes <= most:
            raise ConfigError(
                f"max_command_bytes must be within 1024..{most} (below max_frame_bytes with "
                f"room for a message around it), got {self.max_command_bytes}"
            )
        if not 1 <= self.max_value_depth <= 500:
            raise ConfigError(f"max_value_depth must be within 1..500, got {self.max_value_depth}")
        if self.trace_messages_bytes < 0:
            raise ConfigError(f"trace_messages_bytes must be >= 0, got {self.trace_messages_bytes}")
        if self.max_client_conns < 1:
            raise ConfigError(f"max_client_conns must be at least 1, got {self.max_client_conns}")
        if self.max_buffered_bytes < self.max_frame_bytes:
            raise ConfigError(
                "max_buffered_bytes must be at least max_frame_bytes "
                f"({self.max_frame_bytes}), got {self.max_buffered_bytes}"
            )

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Config:
        d = dict(d)
        try:
            nodes = [NodeAddress(**n) for n in d.pop("nodes", [])]
            timeouts = Timeouts(**d.pop("timeouts", {}))
            tls = d.pop("tls", {})
            tls = tls if isinstance(tls, TlsSettings) else TlsSettings(**tls)
            known = {f.name for f in fields(cls)}
            unknown = set(d) - known
            if unknown:
                raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
            return cls(nodes=nodes, timeouts=timeouts, tls=tls, **d).validate()
        except TypeError as e:  # wrong or missing field in a node or timeouts table
            raise ConfigError(f"bad configuration: {e}") from None

    def to_toml(self) -> str:
        """Serialise as TOML (tomllib only reads, so the writer is here)."""
        d = self.to_dict()
        nodes = d.pop("nodes")
        timeouts = d.pop("timeouts")
        tls = d.pop("tls")
        lines = ["# paxlab cluster configuration"]
        for k, v in d.items():
            if v is None:
                continue
            lines.append(f"{k} = {_toml_value(v)}")
        lines.append("")
        lines.append("[timeouts]")
        for k, v in timeouts.items():
            lines.append(f"{k} = {_toml_value(v)}")
        if tls != asdict(TlsSettings()):
            lines += ["", "[tls]"] + [f"{k} = {_toml_value(v)}" for k, v in tls.items()]
        for n in nodes:
            lines.append("")
            lines.append("[[nodes]]")
            for k, v in n.items():
                lines.append(f"{k} = {_toml_value(v)}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml())


@dataclass(frozen=True)
class Grid:
    """Grid quorums: phase 1 needs ``n1`` nodes (or all of a smaller zone) in each of
    ``z1`` zones, phase 2 ``n2`` nodes in each of ``z2`` zones."""

    zones: list[list[int]]
    z1: int
    n1: int
    z2: int
    n2: int

    def rows(self, acks: set[int] | dict, z: int, per_zone: int) -> bool:
        """Do ``acks`` fill ``z`` zone rows of ``per_zone`` nodes each?"""
        full = sum(
            1
            for zone in self.zones
            if sum(1 for i in zone if i in acks) >= min(per_zone, len(zone))
        )
        return full >= z

    def q1(self, acks: set[int] | dict) -> bool:
        return self.rows(acks, self.z1, self.n1)

    def q2(self, acks: set[int] | dict) -> bool:
        return self.rows(acks, self.z2, self.n2)

    def intersect(self) -> bool:
        """Every Q1 meets every Q2: they share a zone, and in every zone their rows meet."""
        nz = len(self.zones)
        if not (1 <= self.z1 <= nz and 1 <= self.z2 <= nz and self.n1 >= 1 and self.n2 >= 1):
            return False
        rows_meet = all(min(self.n1, len(z)) + min(self.n2, len(z)) > len(z) for z in self.zones)
        return self.z1 + self.z2 > nz and rows_meet

    def describe(self) -> str:
        return (f"Q1 = {self.n1} nodes in {self.z1} of {len(self.zones)} zones, "
                f"Q2 = {self.n2} nodes in {self.z2}")  # fmt: skip


def zone_lists(spec: Any, ids: list[int]) -> list[list[int]]:
    """The zones as lists of node ids, from a list of lists, an integer Z (contiguous zones
    of equal size, the first ones taking the remainder) or "0,1,2/3,4,5"; [] stays []."""
    if isinstance(spec, bool):
        raise ConfigError(
            f"zones must be lists of node ids, a zone count or 'a,b/c,d', got {spec!r}"
        )
    if isinstance(spec, int):
        if not 1 <= spec <= len(ids):
            raise ConfigError(
                f"zones must be within 1..{len(ids)} for {len(ids)} nodes, got {spec}"
            )
        size, extra = divmod(len(ids), spec)
        out, at = [], 0
        for z in range(spec):
            k = size + (1 if z < extra else 0)
            out.append(ids[at : at + k])
            at += k
        return out
    if isinstance(spec, str):
        try:
            spec = [[int(x) for x in part.split(",")] for part in spec.split("/")]
        except ValueError:
            raise ConfigError(f"zones: want 'a,b/c,d' (node ids), got {spec!r}") from None
    if not isinstance(spec, list) or not all(
        isinstance(z, list) and z and all(isinstance(i, int) and not isinstance(i, bool) for i in z)
        for z in spec
    ):
        raise ConfigError(f"zones must be non-empty lists of node ids, got {spec!r}")
    flat = [i for z in spec for i in z]
    if spec and sorted(flat) != sorted(ids):
        raise ConfigError(f"zones must hold every node exactly once (nodes {ids}), got {spec}")
    return [list(z) for z in spec]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def local_config(n: int = 3, base_port: int = 7100, host: str = "127.0.0.1", **kw: Any) -> Config:
    """The default loopback cluster: node i listens on base_port+i (peers) and base_port+100+i."""
    nodes = [
        NodeAddress(id=i, host=host, peer_port=base_port + i, client_port=base_port + 100 + i)
        for i in range(n)
    ]
    return Config(nodes=nodes, **kw).validate()


def load_config(path: str | Path | None) -> Config:
    """Read a TOML config file; None gives the default 3-node loopback cluster."""
    if path is None:
        return local_config()
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such configuration file") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None
    try:
        return Config.from_dict(raw)
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None
