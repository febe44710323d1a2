"""etcd members as processes on this machine's loopback, with the local backend's faults.

It is the local backend (cluster.local.LocalCluster) with etcd in place of the bundled
store: the same addresses (member nK on 127.0.0.(10+K)), node directories, pid files,
signals for kill and pause, and iptables owner-match rules for partitions and packet loss
(each member runs with a group id of its own as root). Only the process differs: Debian's
``etcd`` binary with a client URL on the node's client port and a peer URL on its peer port,
its data directory under the node's directory, and etcd's default durable settings (fsync of
the WAL before every acknowledgement).

Partitions need one rule more than the bundled store's. etcd's peers talk over long-lived
HTTP streams, and a member *receives* its peer's messages on the response of a stream it
opened to that peer: the data flows from the peer's port to an ephemeral port of the
dialler, which the local backend's "drop what is sent to a peer port" rules never see. So
every connection a member opens is marked with that member (CONNMARK, in a chain of this
cluster's installed before any member starts), and a partition also drops what the sender
writes on connections the receiver opened.

What it cannot do: shift clocks. etcd is a Go binary, and Go reads the time through the
vDSO, never through the libc calls libfaketime replaces, so a clock fault would silently do
nothing; it is refused up front instead (see :data:`CLOCK_REFUSAL`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cluster.base import ClusterError, Unsupported
from cluster.local import LocalCluster, free_port, probe_iptables
from paxos_impl.config import Config, ConfigError, NodeAddress

ETCD_BINARY = "etcd"
CLOCK_REFUSAL = (
    "etcd cannot take the clock nemesis: a Go binary reads time through the vDSO, "
    "so libfaketime cannot shift its clock"
)
START_TIMEOUT_S = 20.0
MARK_MASK = 0x7F000000  # the connmark bits these rules use: member index + 1, shifted


def member_mark(index: int) -> str:
    return f"0x{(index + 1) << 24:x}/0x{MARK_MASK:x}"


def etcd_binary() -> str:
    """The etcd executable; a one-line ClusterError saying how to install it if missing."""
    path = shutil.which(ETCD_BINARY) or (
        "/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None
    )
    if path is None:
        raise ClusterError("etcd is not installed here: apt-get install -y etcd-server etcd-client")
    return path


def etcd_version(binary: str | None = None) -> str:
    """'3.4.23' from ``etcd --version``; '' when it cannot be told."""
    try:
        out = subprocess.run(
            [binary or etcd_binary(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in out.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return ""


def member_args(config: Config, member: int, data_dir: Path, token: str) -> list[str]:
    """etcd's flags for member id ``member`` of a cluster laid out by ``config``."""
    me = config.node(member)
    peers = ",".join(f"n{a.id + 1}=http://{a.host}:{a.peer_port}" for a in config.nodes)
    client = f"http://{me.host}:{me.client_port}"
    peer = f"http://{me.host}:{me.peer_port}"
    return [
        "--name",
        f"n{member + 1}",
        "--data-dir",
        str(data_dir),
        "--listen-client-urls",
        client,
        "--advertise-client-urls",
        client,
        "--listen-peer-urls",
        peer,
        "--initial-advertise-peer-urls",
        peer,
        "--initial-cluster",
        peers,
        "--initial-cluster-token",
        token,
        "--initial-cluster-state",
        "new",  # ignored once the data directory holds a WAL: a restart rejoins
        "--logger",
        "zap",
    ]


class EtcdLocalCluster(LocalCluster):
    """N etcd members on 127.0.0.(10+K); ``port_base`` pins the ports (member K: base+2K-2
    for peers, base+2K-1 for clients), else the kernel picks free ones."""

    def __init__(self, name: str, n: int = 3, *, port_base: int | None = None, **kw: Any) -> None:
        if port_base is not None and not 1024 <= int(port_base) <= 65535 - 2 * n:
            raise ClusterError(f"port_base must leave room for {2 * n} ports, not {port_base}")
        self.port_base = int(port_base) if port_base is not None else None
        self.binary = etcd_binary()
        kw.pop("read_mode", None)  # a bundled-store setting; etcd has none
        super().__init__(name, n, faketime=False, tls=False, **kw)

    def _load_or_make_config(self) -> Config:
        """The member addresses (reused from an existing run dir, like the local backend)."""
        from paxos_impl.config import load_config

        if self.config_path.exists():
            return load_config(self.config_path)
        nodes = []
        for i, node in enumerate(self.nodes):
            host = self.address(node)
            if self.port_base is not None:
                peer, client = self.port_base + 2 * i, self.port_base + 2 * i + 1
            else:
                peer, client = free_port(host), free_port(host)
            nodes.append(NodeAddress(id=i, host=host, peer_port=peer, client_port=client))
        try:
            return Config(nodes=nodes).validate()
        except ConfigError as e:
            raise ClusterError(f"bad etcd cluster layout: {e}") from None

    def capabilities(self) -> set[str]:
        caps = {"kill", "pause", "exec", "files"}
        if probe_iptables() is None:
            caps |= {"partition", "netem-loss"}
        return caps

    def set_clock_offset(self, node: str, seconds: float) -> None:
        raise Unsupported(CLOCK_REFUSAL)

    def reset_clocks(self) -> None:
        raise Unsupported(CLOCK_REFUSAL)

    def _mark_rules(self) -> list[str]:
        """Mark each new connection with the member that opens it."""
        return [
            f"-A {self._mark_chain} -o lo -p tcp -m conntrack --ctstate NEW"
            f" -m owner --gid-owner {self.gid(n)} -j CONNMARK --set-xmark {member_mark(i)}"
            for i, n in enumerate(self.nodes)
        ]

    def _partition_rules(self, grudge: dict[str, set[str]]) -> list[str]:
        """The local backend's rules, plus: what the sender writes on a connection the
        receiver opened (a stream's responses) is dropped too."""
        rules = super()._partition_rules(grudge)
        extra: dict[str, None] = {}
        for dst, srcs in sorted(grudge.items()):
            for src in sorted(srcs):
                if src == dst:
                    continue
                for sender, receiver in ((src, dst), (dst, src)):
                    mark = member_mark(self.nodes.index(receiver))
                    extra[
                        f"-A {self._chain} -o lo -m owner --gid-owner {self.gid(sender)}"
                        f" -m connmark --mark {mark} -j DROP"
                    ] = None
        return rules + list(extra)

    def _remove_chains(self) -> None:
        super()._remove_chains()
        if probe_iptables() is not None:
            return
        with self._lock:
            chain = self._mark_chain
            for _ in range(10):
                if self._iptables("-D", *self._jump(chain), check=False).returncode != 0:
                    break
            if self._iptables("-S", chain, check=False).returncode == 0:
                self._iptables("-F", chain)
                self._iptables("-X", chain)
            self._hooked.discard(chain)

    def client_url(self, node: str) -> str:
        a = self.config.node(self.nodes.index(node))
        return f"http://{a.host}:{a.client_port}"

    def client_urls(self) -> list[str]:
        return [self.client_url(n) for n in self.nodes]

    def _store_command(self, node: str, bugs: list[str] | None) -> tuple[list[str], dict[str, str]]:
        if bugs:
            raise Unsupported("etcd has no deliberate bugs; its weak settings are target options")
        args = member_args(
            self.config, self.nodes.index(node), self.node_dir(node) / "data", self.name
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD")}
        return [self.binary, *args], env

    @property
    def _mark_chain(self) -> str:
        return self._chain + "-MARK"

    def setup(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not self.config_path.exists():
            self.config.save(self.config_path)
        if probe_iptables() is None and self._mark_chain not in self._hooked:
            with self._lock:
                self._restore(self._mark_chain, self._mark_rules())
        for node in self.nodes:
            self.node_dir(node).mkdir(parents=True, exist_ok=True)
            # etcd creates its data dir itself (0700) and refuses a pre-made one of other mode

    def wait_serving(self, node: str, timeout: float = START_TIMEOUT_S) -> None:
        """Until the member answers on its client URL. Not /health: a member that has not
        yet met a quorum (the first of three to start) is unhealthy but serving."""
        url = self.client_url(node) + "/version"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=0.5) as r:  # noqa: S310 - loopback
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            if not self.is_running(node) or time.monotonic() > deadline:
                raise ClusterError(f"{node}: etcd is not serving on {url}: {self._log_tail(node)}")
            time.sleep(0.05)

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until some member reports the cluster healthy (a leader and a quorum)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                try:
                    with urllib.request.urlopen(  # noqa: S310 - loopback
                        self.client_url(node) + "/health", timeout=0.5
                    ) as r:
                        if b'"true"' in r.read():
                            return
                except (OSError, urllib.error.URLError):
                    pass
            time.sleep(0.1)
        raise ClusterError(f"etcd cluster {self.name} has no leader after {timeout:.0f}s")
