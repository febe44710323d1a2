"""etcd as a node program: Debian's ``etcd`` binary, one member per node.

Every backend that runs any program (the local backend; docker once its image has etcd)
starts ``command(launch)`` in the foreground in the node's directory. The member's
addresses come from the cluster's layout file (``launch.config_path``: the same
``cluster.toml`` the backend writes for every program, with each node's host, peer port and
client port): its client URL on the client port, its peer URL on the peer port, the whole
cluster as ``--initial-cluster``. Its data directory is ``<node>/data`` and etcd's own
defaults stay as they are (the WAL is fsync'd before a write is acknowledged): the suite
tests etcd as it ships.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from cluster.base import ClusterError, Install, Launch, store_id
from paxos_impl.config import Config, load_config

ETCD_BINARY = "etcd"


def etcd_binary() -> str:
    """The etcd executable; a one-line ClusterError saying how to install it if missing."""
    path = shutil.which(ETCD_BINARY)
    if path is None and os.access("/usr/bin/etcd", os.X_OK):
        path = "/usr/bin/etcd"
    if path is None:
        raise ClusterError("etcd is not installed here: apt-get install -y etcd-server")
    return path


def etcd_version(binary: str | None = None) -> str:
    """'3.4.23' from ``etcd --version``; '' when it cannot be told."""
    try:
        out = subprocess.run(
            [binary or etcd_binary(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired, ClusterError):
        return ""
    for line in out.splitlines():
        if line.startswith("etcd Version:"):
            return line.split(":", 1)[1].strip()
    return ""


def member_args(config: Config, member: int, data_dir: str, token: str) -> list[str]:
    """etcd's flags for member id ``member`` of a cluster laid out by ``config``."""
    me = config.node(member)
    peers = ",".join(f"n{a.id + 1}=http://{a.host}:{a.peer_port}" for a in config.nodes)
    client = f"http://{me.host}:{me.client_port}"
    peer = f"http://{me.host}:{me.peer_port}"
    return [
        f"--name=n{member + 1}",
        f"--data-dir={data_dir}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster={peers}",
        f"--initial-cluster-token={token}",
        "--initial-cluster-state=new",  # ignored once the data directory has a WAL
        "--logger=zap",
        "--log-outputs=stderr",
    ]


class EtcdProgram:
    """What a backend needs to run etcd on a node (cluster.base.NodeProgram)."""

    install = Install(debian_packages=("etcd-server",))
    data_dir = "data"
    log_files: tuple[str, ...] = ()  # it logs to stderr: the backend's store.log

    def command(self, launch: Launch) -> list[str]:
        """The member's command line. The layout is ``launch.extra["config"]`` where the
        backend has it at hand (docker: the file is inside the container), else read from
        ``launch.config_path``; on a remote node (``extra["remote"]``) etcd is found on its
        PATH, here it must be installed."""
        config = launch.extra.get("config")
        if config is None:
            if not launch.config_path:
                raise ClusterError("etcd needs the cluster's layout (member addresses)")
            config = load_config(Path(launch.config_path))
        # one token per cluster (its member URLs): another cluster's members never join ours
        urls = ",".join(f"{a.host}:{a.peer_port}" for a in config.nodes)
        token = "paxlab-" + hashlib.sha1(urls.encode()).hexdigest()[:12]
        binary = ETCD_BINARY if launch.extra.get("remote") else etcd_binary()
        data_dir = f"{launch.node_dir}/{self.data_dir}"
        return [binary, *member_args(config, store_id(launch.node), data_dir, token)]
