"""Nodes as Docker containers on a private bridge network of their own.

Why this shape (Jepsen's "the DB is a service on a host"): each container is a host whose
PID 1 idles (``sleep infinity`` under ``init=True``), and the store is a child process the
node agent starts with ``docker exec``. So the store can be killed, paused (SIGSTOP of its
process, never ``docker pause``: a paused container refuses exec, so nothing could heal it)
and restarted while the container, its iptables rules and its data directory stay.

Containers get fixed addresses on a user-defined bridge in a subnet no other network uses;
the host, where the controller and its clients run, reaches them directly. Everything is
named ``paxlab-<cluster>-...`` and labelled ``paxlab=1`` and ``paxlab.cluster=<cluster>``,
so the leftovers of a crashed run are found and removed by the next setup of that cluster
(and by ``paxlab cluster down``). Only NET_ADMIN is granted, never ``--privileged``.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import shlex
import shutil
import socket
import tarfile
import time
import tomllib
import zlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TypeVar

from cluster import certs, diskfault, iptables
from cluster.base import (
    Cluster,
    ClusterError,
    ExecResult,
    Launch,
    NodeProgram,
    Unsupported,
    node_name,
    store_id,
)
from cluster.image import IMAGE, docker_client, require_image
from cluster.user_code import shipped
from paxos_impl.config import Config, ConfigError, NodeAddress, Timeouts

LABEL = "paxlab"
CLUSTER_LABEL = "paxlab.cluster"
AGENT = "/opt/paxlab/node_agent.py"
CODE_DIR = "/opt/paxlab"
CONFIG_PATH = "/etc/paxlab/config.toml"
TLS_DIR = "/etc/paxlab/tls"  # in each container: the CA and that node's own pair only
NODE_ROOT = "/var/lib/paxlab"
DATA_DIR = f"{NODE_ROOT}/data"  # the node agent's data/ under its root
IFACE = "eth0"
PEER_PORT = 7100
CLIENT_PORT = 7200
# Candidate subnets: 10.<A>.<B>.0/24 in a block we hope nobody else uses; we still check.
_SUBNET_BLOCKS = ("10.199.0.0/16", "10.198.0.0/16", "172.29.0.0/16")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,40}$")
_BASE_CAPS = {
    "kill",
    "pause",
    "partition",
    "clock",
    "netem-loss",
    "exec",
    "files",
    "disk",
    "membership",
}
GROW_RESERVE = 16  # nodes the membership nemesis may add (certificates are made up front)

T = TypeVar("T")


def docker_name(cluster: str) -> str:
    """The prefix of every resource of `cluster`: paxlab-<cluster> (not doubled)."""
    return cluster if cluster.startswith("paxlab-") else f"paxlab-{cluster}"


def leftovers(client: Any, cluster: str | None = None) -> dict[str, list[str]]:
    """Names of containers and networks the project labelled (of one cluster, or all)."""
    filt = {"label": f"{CLUSTER_LABEL}={cluster}" if cluster else f"{LABEL}=1"}
    return {
        "containers": sorted(c.name for c in client.containers.list(all=True, filters=filt)),
        "networks": sorted(n.name for n in client.networks.list(filters=filt)),
    }


def remove_labelled(client: Any, cluster: str | None = None) -> dict[str, list[str]]:
    """Remove every container, then every network, labelled for `cluster` (or all paxlab)."""
    from docker.errors import APIError, NotFound

    filt = {"label": f"{CLUSTER_LABEL}={cluster}" if cluster else f"{LABEL}=1"}
    gone: dict[str, list[str]] = {"containers": [], "networks": []}

    def rm_container(c: Any) -> None:
        try:
            c.remove(force=True, v=True)
            gone["containers"].append(c.name)
        except NotFound:
            pass

    _parallel(rm_container, client.containers.list(all=True, filters=filt))
    for net in client.networks.list(filters=filt):
        try:
            net.remove()
            gone["networks"].append(net.name)
        except NotFound:
            pass
        except APIError as e:
            raise ClusterError(f"cannot remove network {net.name}: {_one_line(e)}") from None
    return gone


def _parallel(fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
    """Run fn over items in threads (docker calls are I/O bound); re-raise the first error."""
    items = list(items)
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        return list(pool.map(fn, items))


def _one_line(e: BaseException) -> str:
    text = getattr(e, "explanation", None) or str(e)
    return str(text).strip().splitlines()[0][:200] if str(text).strip() else type(e).__name__


class DockerCluster(Cluster):
    """n containers paxlab-<name>-n1..nN running the store, with fault injection."""

    ANY_PROGRAM = True  # another target's program runs through the agent's --command

    def __init__(
        self,
        name: str,
        n: int = 3,
        image: str = IMAGE,
        code_dir: Path | None = None,
        tls: bool = True,
        data_tmpfs_mb: int | None = None,
        program: NodeProgram | None = None,
        **config_opts: Any,
    ) -> None:
        """tls: mutual TLS between the nodes and from host clients, with a CA made for this
        cluster at setup; the host-side copies live in cluster.certs.default_dir(name).
        program: what runs on each node (default: the bundled store's server, started by the
        agent itself); another program must be in the node image (cluster.image.PACKAGES).
        data_tmpfs_mb: put each node's data directory on a tmpfs of this size (a disk that
        can be filled: the disk:full nemesis needs it; fsync costs nothing there)."""
        if data_tmpfs_mb is not None and not 16 <= int(data_tmpfs_mb) <= 4096:
            raise ClusterError(f"data_tmpfs_mb must be within 16..4096, not {data_tmpfs_mb}")
        self.data_tmpfs_mb = int(data_tmpfs_mb) if data_tmpfs_mb is not None else None
        if not _NAME_RE.match(name):
            raise ClusterError(
                f"bad cluster name {name!r}: use lower-case letters, digits, '-', '_' or '.'"
            )
        if not 1 <= n <= 50:
            raise ClusterError(f"a docker cluster has 1..50 nodes, not {n}")
        known = {f.name for f in fields(Config)} - {"nodes"}
        unknown = sorted(set(config_opts) - known)
        if unknown:
            raise ClusterError(f"unknown docker cluster options: {', '.join(unknown)}")
        self.program = program
        self.name = name
        self.prefix = docker_name(name)
        self.nodes = [node_name(i) for i in range(n)]
        self.image = image
        self.code_dir = Path(code_dir) if code_dir else Path(__file__).resolve().parent.parent
        self._config_opts = config_opts
        if config_opts.get("transport") == "udp":
            tls = False  # datagrams carry no TLS: peers over UDP make a cluster without it
        self.certs = certs.ClusterCerts(certs.default_dir(self.name)) if tls else None
        self.addresses: dict[str, str] = {}
        self.config = self._make_config(["127.0.0.1"] * n)  # real addresses at setup()
        self._client: Any = None
        self._ids: dict[str, str] = {}
        self._netem_reason: str | None = None
        self._netem_probed = False

    # -- names and config ----------------------------------------------------------------
    @property
    def network_name(self) -> str:
        return f"{self.prefix}-net"

    def container_name(self, node: str) -> str:
        return f"{self.prefix}-{node}"

    def _labels(self, node: str | None = None) -> dict[str, str]:
        labels = {LABEL: "1", CLUSTER_LABEL: self.name}
        if node:
            labels["paxlab.node"] = node
        return labels

    def _make_config(self, hosts: list[str]) -> Config:
        nodes = [
            NodeAddress(id=i, host=h, peer_port=PEER_PORT, client_port=CLIENT_PORT)
            for i, h in enumerate(hosts)
        ]
        opts = dict(self._config_opts)
        if isinstance(opts.get("timeouts"), dict):  # as read from TOML or JSON
            opts["timeouts"] = Timeouts(**opts["timeouts"])
        if self.certs is not None:  # the host's view: the CA and the client pair
            opts["tls"] = certs.client_only(self.certs.settings())
        try:
            return Config(nodes=nodes, **opts).validate()
        except (ConfigError, TypeError) as e:
            raise ClusterError(f"bad cluster configuration: {e}") from None

    def _node_config(self) -> Config:
        """The config as the nodes read it: certificate paths inside the containers."""
        if self.certs is None:
            return self.config
        return replace(self.config, tls=self.certs.settings(TLS_DIR))

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = docker_client()
        return self._client

    # -- capabilities --------------------------------------------------------------------
    def capabilities(self) -> set[str]:
        """Netem delay is probed on a live node (this kernel may lack sch_netem).

        Before setup nothing can be probed, so netem-delay is left out until it is.
        """
        caps = set(_BASE_CAPS)
        if self.data_tmpfs_mb is not None:
            caps.add("disk-full")
        if not self._netem_probed and self._ids:
            self._probe_netem()
        if self._netem_probed and self._netem_reason is None:
            caps.add("netem-delay")
        return caps

    def possible_capabilities(self) -> set[str]:
        """Netem delay stays possible until a live node was probed and lacked it."""
        caps = self.capabilities()
        if not self._netem_probed:
            caps.add("netem-delay")
        return caps

    def _probe_netem(self) -> None:
        r = self.exec(self.nodes[0], iptables.netem_probe_command(IFACE), timeout=10)
        self._netem_reason = iptables.netem_unsupported_reason(r)
        self._netem_probed = True

    def netem_unsupported_reason(self) -> str | None:
        if not self._netem_probed:
            self._probe_netem()
        return self._netem_reason

    # -- life cycle ----------------------------------------------------------------------
    def setup(self) -> None:
        """Make the network and containers (removing this cluster's leftovers first).

        A setup that fails halfway removes what it made: `with DockerCluster(...)` never
        reaches __exit__ when __enter__ raises.
        """
        try:
            self._setup()
        except BaseException:
            try:
                self.teardown()
            except Exception:  # noqa: BLE001 - the setup error is the one to report
                pass
            raise

    def _setup(self) -> None:
        from docker.errors import APIError

        client = self.client
        require_image(client, self.image)
        found = remove_labelled(client, self.name)
        if found["containers"] or found["networks"]:
            names = ", ".join(found["containers"] + found["networks"])
            print(f"paxlab: removed leftovers of cluster {self.name}: {names}")
        _subnet, _gateway, hosts = self._create_network()
        self.addresses = dict(zip(self.nodes, hosts, strict=True))
        self.config = self._make_config(hosts)
        try:
            ids = _parallel(self._create_container, self.nodes)
        except APIError as e:
            raise ClusterError(f"cannot create containers: {_one_line(e)}") from None
        self._ids = dict(zip(self.nodes, ids, strict=True))
        if self.certs is not None:
            # and for the nodes the membership nemesis may add (GROW_RESERVE)
            ids = [store_id(n) for n in self.nodes]
            ids += range(len(ids), len(ids) + GROW_RESERVE)
            certs.generate(self.certs.dir, ids, self.name)
        archive = self._code_archive()
        _parallel(
            lambda node: self.client.api.put_archive(self._ids[node], "/", archive), self.nodes
        )
        if self.certs is not None:
            _parallel(
                lambda node: self.client.api.put_archive(
                    self._ids[node], "/", self._tls_archive(node)
                ),
                self.nodes,
            )

    def _create_network(self) -> tuple[str, str, list[str]]:
        from docker.errors import APIError
        from docker.types import IPAMConfig, IPAMPool

        last = ""
        for subnet in self._free_subnets():
            hosts = list(subnet.hosts())
            gateway = str(hosts[0])
            node_ips = [str(hosts[10 + i]) for i in range(len(self.nodes))]
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet), gateway=gateway)])
            try:
                self.client.networks.create(
                    self.network_name,
                    driver="bridge",
                    ipam=ipam,
                    labels=self._labels(),
                    check_duplicate=True,
                )
                return str(subnet), gateway, node_ips
            except APIError as e:  # someone took it between our look and our create
                last = _one_line(e)
                if "overlap" not in last.lower() and "in use" not in last.lower():
                    raise ClusterError(f"cannot create network: {last}") from None
        raise ClusterError(f"no free subnet for the cluster network ({last})")

    def _free_subnets(self) -> Iterable[ipaddress.IPv4Network]:
        taken = _taken_subnets(self.client)
        candidates = [
            s
            for block in _SUBNET_BLOCKS
            for s in ipaddress.ip_network(block).subnets(new_prefix=24)
        ]
        start = zlib.crc32(self.name.encode()) % len(candidates)  # spread parallel clusters
        for s in candidates[start:] + candidates[:start]:
            if not any(s.overlaps(t) for t in taken):
                yield s

    def _create_container(self, node: str) -> str:
        api = self.client.api
        tmpfs = {DATA_DIR: f"size={self.data_tmpfs_mb}m"} if self.data_tmpfs_mb else None
        host_config = api.create_host_config(
            init=True, cap_add=["NET_ADMIN"], network_mode=self.network_name, tmpfs=tmpfs
        )
        net_config = api.create_networking_config(
            {
                self.network_name: api.create_endpoint_config(
                    ipv4_address=self.addresses[node], aliases=[node]
                )
            }
        )
        c = api.create_container(
            self.image,
            command=["sleep", "infinity"],
            name=self.container_name(node),
            hostname=node,
            labels=self._labels(node),
            host_config=host_config,
            networking_config=net_config,
            detach=True,
        )
        api.start(c["Id"])
        return c["Id"]

    def _code_archive(self) -> bytes:
        """paxos_impl, the node agent and the config, as one tar to unpack at /."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            pkg = self.code_dir / "paxos_impl"
            for f in sorted(pkg.rglob("*.py")):
                tar.add(str(f), arcname=f"{CODE_DIR[1:]}/{f.relative_to(self.code_dir)}")
            tar.add(str(Path(__file__).with_name("node_agent.py")), arcname=AGENT[1:])
            config = self._node_config()
            for f, rel in shipped(config.state_machine):  # a user's machine, beside the code
                tar.add(str(f), arcname=f"{CODE_DIR[1:]}/{rel}")
            _add_bytes(tar, CONFIG_PATH[1:], config.to_toml().encode())
        return buf.getvalue()

    def _tls_archive(self, node: str, client: bool = False) -> bytes:
        """The CA and this node's own pair (no other node's key), for TLS_DIR; ``client``
        adds the client pair (a joining node asks a running one for the membership)."""
        assert self.certs is not None
        buf = io.BytesIO()
        extra = [self.certs.client_cert, self.certs.client_key] if client else []
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for f in [*self.certs.node_files(store_id(node)), *extra]:
                mode = 0o600 if f.suffix == ".key" else 0o644
                _add_bytes(tar, f"{TLS_DIR[1:]}/{f.name}", f.read_bytes(), mode)
        return buf.getvalue()

    # -- membership (cluster.capabilities.Grow) ----------------------------------------------
    def add_node(self) -> str:
        """A new container on the cluster's network (the code and its certificate in place,
        the store not started): node nK at the subnet's host 10 + K - 1, like the others."""
        from docker.errors import APIError

        if not self._ids:
            raise ClusterError(f"cluster {self.name} is not set up")
        known = [store_id(n) for n in self.addresses]
        i = max(known) + 1  # ids are never reused: a removed node's messages may linger
        if i >= len(self.config.ids()) + GROW_RESERVE:
            raise ClusterError(f"the docker backend adds at most {GROW_RESERVE} nodes")
        node = node_name(i)
        first = ipaddress.ip_address(self.addresses[node_name(min(known))]) - min(known)
        self.addresses[node] = str(first + i)
        try:
            self._ids[node] = self._create_container(node)
        except APIError as e:
            raise ClusterError(f"cannot create a container for {node}: {_one_line(e)}") from None
        self.nodes.append(node)
        self.client.api.put_archive(self._ids[node], "/", self._code_archive())
        if self.certs is not None:  # with the client pair: it asks the cluster who is in
            self.client.api.put_archive(self._ids[node], "/", self._tls_archive(node, True))
        return node

    def node_address(self, node: str) -> list:
        return [self.addresses[node], PEER_PORT, CLIENT_PORT]

    def remove_node(self, node: str) -> None:
        """Delete the node's container (the store let it go before)."""
        cid = self._cid(node)
        try:
            self.client.api.remove_container(cid, force=True)
        except Exception as e:  # noqa: BLE001 - already gone is fine; say anything else
            if "No such container" not in str(e):
                raise ClusterError(f"cannot remove {node}: {_one_line(e)}") from None
        self.nodes.remove(node)
        self._ids.pop(node, None)

    def attach(self) -> DockerCluster:
        """Take over a running cluster of this name (made by another process)."""
        client = self.client
        conts = client.containers.list(all=True, filters={"label": f"{CLUSTER_LABEL}={self.name}"})
        if not conts:
            raise ClusterError(f"no docker cluster named {self.name} is running")
        by_node = {c.labels.get("paxlab.node"): c for c in conts}
        self.nodes = sorted((n for n in by_node if n), key=store_id)
        self._ids = {n: by_node[n].id for n in self.nodes}
        for n in self.nodes:
            nets = by_node[n].attrs["NetworkSettings"]["Networks"]
            self.addresses[n] = (nets.get(self.network_name) or {}).get("IPAddress", "")
        try:
            raw = self._read(self.nodes[0], CONFIG_PATH)
            self.config = Config.from_dict(tomllib.loads(raw.decode()))
            if self.config.tls.enabled:  # the nodes' paths -> this host's copies
                self.certs = certs.ClusterCerts(certs.default_dir(self.name))
                self.config.tls = certs.client_only(self.certs.settings())
            else:
                self.certs = None
        except (ClusterError, ValueError):
            self.config = self._make_config([self.addresses[n] for n in self.nodes])
        return self

    def teardown(self) -> None:
        """Remove this cluster's containers and network, whatever state they are in."""
        remove_labelled(self.client, self.name)
        self._ids = {}
        if self.certs is not None:
            shutil.rmtree(self.certs.dir, ignore_errors=True)

    # -- the node agent ------------------------------------------------------------------
    def _cid(self, node: str) -> str:
        if node not in self.nodes:
            raise ClusterError(f"no node {node!r} in cluster {self.name} (nodes: {self.nodes})")
        if node not in self._ids:
            raise ClusterError(f"cluster {self.name} is not set up (no container for {node})")
        return self._ids[node]

    def agent(self, node: str, *args: str, timeout: float = 30) -> dict:
        r = self.exec(node, ["python3", AGENT, "--root", NODE_ROOT, *args], timeout=timeout)
        if not r.ok:
            reason = (r.stderr.strip().splitlines() or [f"exit {r.exit_code}"])[-1]
            raise ClusterError(f"{node}: {reason}")
        try:
            return json.loads(r.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            raise ClusterError(f"{node}: node agent said {r.stdout.strip()[:200]!r}") from None

    def start(self, node: str, bugs: list[str] | None = None, wait: bool = True) -> None:
        if self.program is not None:
            self.agent(node, "start", "--no-faketime", "--command", self._program_command(node))
        else:
            args = ["start", "--id", str(store_id(node)), "--config", CONFIG_PATH]
            args += ["--pythonpath", CODE_DIR, "--require-faketime"]
            for b in bugs or []:
                args += ["--bug", b]
            if store_id(node) not in self.config.ids():  # added later: it joins
                args += ["--join", f"{self.addresses[node]}:{PEER_PORT}:{CLIENT_PORT}"]
            self.agent(node, *args)
        if wait:
            self.wait_serving(node)

    def _program_command(self, node: str) -> str:
        """Another program's command line, as the agent's shell runs it on the node. The
        layout (each node's address and ports) goes in ``extra["config"]``: the program's
        command is made here, where the node's config file cannot be read."""
        assert self.program is not None
        launch = Launch(
            node=node,
            nodes=tuple(self.nodes),
            node_dir=NODE_ROOT,
            config_path=CONFIG_PATH,
            python="python3",
            extra={"config": self._node_config(), "remote": True},
        )
        return shlex.join(self.program.command(launch))

    def start_all(self, bugs: list[str] | None = None) -> None:
        _parallel(lambda n: self.start(n, bugs, wait=False), self.nodes)
        _parallel(self.wait_serving, self.nodes)

    def wait_serving(self, node: str, timeout: float = 15) -> None:
        """Until the store accepts client connections (or it died, or time is up)."""
        addr = (self.addresses[node], CLIENT_PORT)
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + 1.0  # an exec is costly: ask whether it died now and then
        while True:
            try:
                with socket.create_connection(addr, timeout=0.5):
                    return
            except OSError:
                pass
            now = time.monotonic()
            died = now > next_check and not self.is_running(node)
            if died:
                next_check = now + 1.0
            if now > deadline or died:
                tail = self.exec(node, ["tail", "-n", "3", f"{NODE_ROOT}/store.log"]).stdout
                last = (tail.strip().splitlines() or ["(empty log)"])[-1]
                raise ClusterError(
                    f"{node}: the store is not serving on {addr[0]}:{addr[1]}: {last}"
                )
            time.sleep(0.05)

    def stop(self, node: str) -> None:
        self.agent(node, "stop", "--timeout", "10")

    def kill(self, node: str) -> None:
        self.agent(node, "kill")

    def pause(self, node: str) -> None:
        self.agent(node, "pause")

    def resume(self, node: str) -> None:
        self.agent(node, "resume")

    def is_running(self, node: str) -> bool:
        return bool(self.agent(node, "status")["running"])

    def node_status(self, node: str) -> dict:
        """What `paxlab cluster status` shows: container state and the agent's view."""
        try:
            c = self.client.containers.get(self._cid(node))
        except Exception as e:  # noqa: BLE001 - reported, not raised: status must go on
            return {"container": f"missing ({_one_line(e)})", "address": self.addresses.get(node)}
        out = {"container": c.status, "address": self.addresses.get(node)}
        if c.status == "running":
            out.update(self.agent(node, "status"))
        return out

    # -- remote access -------------------------------------------------------------------
    def exec(self, node: str, cmd: list[str], timeout: float = 30) -> ExecResult:
        """Run cmd in the node (bounded by coreutils' timeout: exit 124 when it ran out)."""
        from docker.errors import APIError, NotFound

        api = self.client.api
        full = ["timeout", "-k", "2", f"{timeout:g}", *cmd]
        try:
            ex = api.exec_create(self._cid(node), full, stdout=True, stderr=True)
            out, err = api.exec_start(ex["Id"], demux=True)
            code = api.exec_inspect(ex["Id"])["ExitCode"]
        except NotFound:
            raise ClusterError(f"{node}: container {self.container_name(node)} is gone") from None
        except APIError as e:
            raise ClusterError(f"{node}: docker exec failed: {_one_line(e)}") from None
        return ExecResult(
            code if code is not None else -1,
            (out or b"").decode(errors="replace"),
            (err or b"").decode(errors="replace"),
        )

    def disk(self, node: str, action: str, kind: str = "", seed: int = 0) -> dict:
        """A disk fault on a stopped node's data directory (cluster.diskfault)."""
        return diskfault.run_on(self, node, DATA_DIR, action, kind, seed)

    def put_file(self, node: str, local: Path, remote: str) -> None:
        parent = str(Path(remote).parent)
        self.exec(node, ["mkdir", "-p", parent])
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            _add_bytes(tar, Path(remote).name, Path(local).read_bytes())
        self.client.api.put_archive(self._cid(node), parent, buf.getvalue())

    def _read(self, node: str, remote: str) -> bytes:
        from docker.errors import NotFound

        try:
            stream, _ = self.client.api.get_archive(self._cid(node), remote)
        except NotFound:
            raise ClusterError(f"{node}: no such file {remote}") from None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.getmembers()[0]
            f = tar.extractfile(member)
            if f is None:
                raise ClusterError(f"{node}: {remote} is not a regular file")
            return f.read()

    def get_file(self, node: str, remote: str, local: Path) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        Path(local).write_bytes(self._read(node, remote))

    def collect(self, node: str, dest: Path) -> None:
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("store.log", "agent.log"):
            try:
                self.get_file(node, f"{NODE_ROOT}/{name}", dest / name)
            except ClusterError:
                (dest / name).write_text("(not written)\n")
        for name in ("messages.jsonl", "messages.jsonl.1"):  # a message trace, if asked for
            try:
                self.get_file(node, f"{NODE_ROOT}/{name}", dest / name)
            except ClusterError:
                pass
        listing = self.agent(node, "ls-data")
        lines = [f"{e['size']:>12}  {e['path']}" for e in listing["entries"]]
        (dest / "data-listing.txt").write_text(
            f"# {listing['data_dir']} on {node}\n" + "\n".join(lines) + "\n"
        )
        rules = self.exec(node, ["iptables", "-S"])
        (dest / "iptables.txt").write_text(rules.stdout + rules.stderr)

    # -- faults --------------------------------------------------------------------------
    def _runner(self, node: str) -> iptables.Runner:
        return lambda cmd: self.exec(node, cmd)

    def partition(self, grudge: dict[str, set[str]]) -> None:
        drops = iptables.drops_for(grudge, self.addresses)
        _parallel(lambda n: iptables.apply_partition(self._runner(n), drops[n]), self.nodes)

    def heal_network(self) -> None:
        _parallel(lambda n: iptables.heal(self._runner(n)), self.nodes)

    def set_clock_offset(self, node: str, seconds: float) -> None:
        self.agent(node, "set-clock", repr(float(seconds)))

    def reset_clocks(self) -> None:
        _parallel(lambda n: self.set_clock_offset(n, 0.0), self.nodes)

    def netem(self, node: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        if delay_ms or jitter_ms:
            reason = self.netem_unsupported_reason()
            if reason:
                raise Unsupported(reason)
            iptables.set_delay(self._runner(node), IFACE, delay_ms, jitter_ms)
        iptables.set_loss(self._runner(node), loss)

    def heal_netem(self) -> None:
        def heal(n: str) -> None:
            self.exec(n, iptables.netem_clear_command(IFACE))
            iptables.set_loss(self._runner(n), 0)

        _parallel(heal, self.nodes)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _taken_subnets(client: Any) -> list[ipaddress.IPv4Network]:
    """Subnets of every Docker network and every route of the host: none may be reused."""
    taken: list[ipaddress.IPv4Network] = []
    for net in client.networks.list():
        for pool in (net.attrs.get("IPAM") or {}).get("Config") or []:
            try:
                taken.append(ipaddress.ip_network(pool.get("Subnet", ""), strict=False))
            except ValueError:
                pass
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            f = line.split()
            dest, mask = int(f[1], 16), int(f[7], 16)
            if mask:
                taken.append(
                    ipaddress.ip_network(
                        (socket.inet_ntoa(dest.to_bytes(4, "little")),
                         bin(mask).count("1")),
                        strict=False,
                    )
                )  # fmt: skip
    except (OSError, ValueError, IndexError):
        pass
    return taken
