"""Real hosts over SSH (paramiko): the same tests on your own servers.

Each host gets a work directory ``<workdir>/<cluster name>/`` holding the store's code
(``paxos_impl``, uploaded by SFTP at set-up, so the hosts need only ``python3``), the node agent
(``cluster/node_agent.py``, the same script the Docker backend runs inside its containers), the
cluster's configuration and the node's data directory and log. Every operation on the store
(start under libfaketime, stop, kill -9, pause, resume, clock offset, data listing) is one
``python3 node_agent.py ...`` call over SSH, so a host is supervised exactly like a container.
Partitions are iptables rules in the project's own chain on each host (``cluster/iptables.py``).

The nodes file (TOML or JSON, chosen by the file's extension; ``.json`` is JSON, anything else
TOML) names the hosts. Top-level keys are defaults for every node; each ``[[nodes]]`` entry may
override them. Node ``nK`` is the K-th entry::

    user = "root"                  # SSH user (default: root); faults need root or sudo
    key = "~/.ssh/id_ed25519"      # private key file (default: paramiko's agent/default keys)
    port = 22                      # SSH port
    workdir = "/tmp/paxlab"        # where code, config, data and logs go on each host
    python = "python3"             # interpreter on the hosts (3.11 or later)
    sudo = false                   # prefix agent and iptables calls with `sudo -n`
    known_hosts = "~/.ssh/known_hosts"  # verify host keys against this file; without it, an
                                        # unknown host key is accepted (and logged at INFO)
    peer_port = 7100               # the store's ports on every host
    client_port = 7200

    [[nodes]]
    host = "10.0.0.11"             # where SSH connects (required)
    address = "192.168.1.11"       # where peers AND clients reach the store (default: host)

    [[nodes]]
    host = "10.0.0.12"
    port = 2222

``paxlab test --backend ssh`` and ``paxlab cluster up --backend ssh`` take it as ``--nodes-file
FILE``; without that flag, ``$PAXLAB_NODES_FILE`` names it.

The same as JSON: ``{"user": "root", "nodes": [{"host": "10.0.0.11"}, {"host": "10.0.0.12"}]}``.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shlex
import shutil
import tarfile
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import paramiko

from cluster import certs, diskfault, iptables
from cluster.base import Cluster, ClusterError, ExecResult, Unsupported, node_name, store_id
from cluster.local import StartsAndWaits
from cluster.user_code import shipped
from paxos_impl.config import Config, ConfigError, NodeAddress, Timeouts

log = logging.getLogger(__name__)
T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------------------------
# the nodes file
# --------------------------------------------------------------------------------------------
@dataclass
class SSHHost:
    """One host of the nodes file, defaults filled in."""

    host: str
    port: int = 22
    user: str = "root"
    key: str | None = None
    address: str | None = None
    workdir: str = "/tmp/paxlab"
    python: str = "python3"
    sudo: bool = False
    known_hosts: str | None = None
    peer_port: int = 7100
    client_port: int = 7200

    @property
    def store_address(self) -> str:
        return self.address or self.host


_HOST_KEYS = {f.name for f in fields(SSHHost)}


def parse_nodes(raw: dict[str, Any], source: str = "nodes file") -> list[SSHHost]:
    """Validate a parsed nodes file; ClusterError with a one-line reason on bad input."""
    if not isinstance(raw, dict):
        raise ClusterError(f"{source}: expected a table/object with a 'nodes' list")
    defaults = {k: v for k, v in raw.items() if k != "nodes"}
    unknown = set(defaults) - _HOST_KEYS - {"host"}
    if unknown:
        raise ClusterError(f"{source}: unknown keys {', '.join(sorted(unknown))}")
    entries = raw.get("nodes")
    if not isinstance(entries, list) or not entries:
        raise ClusterError(f"{source}: no nodes (add one [[nodes]] entry per host)")
    hosts = []
    for i, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise ClusterError(f"{source}: node {i} is not a table/object")
        merged = {**defaults, **entry}
        bad = set(merged) - _HOST_KEYS
        if bad:
            raise ClusterError(f"{source}: node {i}: unknown keys {', '.join(sorted(bad))}")
        if not isinstance(merged.get("host"), str) or not merged["host"]:
            raise ClusterError(f"{source}: node {i} has no host")
        for k in ("port", "peer_port", "client_port"):
            v = merged.get(k)
            if v is not None and (not isinstance(v, int) or not 0 < v < 65536):
                raise ClusterError(f"{source}: node {i}: {k} must be a port number, got {v!r}")
        hosts.append(SSHHost(**merged))
    return hosts


def load_nodes_file(path: str | Path) -> list[SSHHost]:
    p = Path(path).expanduser()
    try:
        text = p.read_text()
    except OSError as e:
        raise ClusterError(f"{p}: cannot read the nodes file: {e.strerror}") from None
    try:
        raw = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ClusterError(
            f"{p}: not valid {'JSON' if p.suffix == '.json' else 'TOML'}: {e}"
        ) from None
    return parse_nodes(raw, str(p))


# --------------------------------------------------------------------------------------------
# one SSH connection per host
# --------------------------------------------------------------------------------------------
class _AcceptAndLog(paramiko.MissingHostKeyPolicy):
    """Accept an unknown host key with one log line (not paramiko's multi-line warning)."""

    def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
        log.info("accepting the %s host key of %s unverified", key.get_name(), hostname)


class _Conn:
    """A lazily opened paramiko connection to one host, safe to share between threads."""

    def __init__(self, h: SSHHost, connect_timeout: float) -> None:
        self.h = h
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._sftp: Any = None
        self._lock = threading.RLock()

    def client(self) -> Any:
        with self._lock:
            if self._client is not None and self._client.get_transport() is not None:
                if self._client.get_transport().is_active():
                    return self._client
            c = paramiko.SSHClient()
            if self.h.known_hosts:
                c.load_host_keys(str(Path(self.h.known_hosts).expanduser()))
                c.set_missing_host_key_policy(paramiko.RejectPolicy())
            else:
                c.set_missing_host_key_policy(_AcceptAndLog())
            try:
                c.connect(
                    self.h.host,
                    port=self.h.port,
                    username=self.h.user,
                    key_filename=str(Path(self.h.key).expanduser()) if self.h.key else None,
                    timeout=self.connect_timeout,
                    banner_timeout=self.connect_timeout,
                    auth_timeout=self.connect_timeout,
                    allow_agent=self.h.key is None,
                    look_for_keys=self.h.key is None,
                )
            except (paramiko.SSHException, OSError) as e:
                raise ClusterError(
                    f"cannot SSH to {self.h.user}@{self.h.host}:{self.h.port}: {e}"
                ) from None
            c.get_transport().set_keepalive(15)
            self._client, self._sftp = c, None
            return c

    def sftp(self) -> Any:
        with self._lock:
            client = self.client()
            if self._sftp is None or self._sftp.get_channel().closed:
                self._sftp = client.open_sftp()
            return self._sftp

    def run(self, command: str, timeout: float, stdin: bytes | None = None) -> ExecResult:
        """Run a shell command line; output of both streams read as it comes (no deadlock)."""
        try:
            chan = self.client().get_transport().open_session()
        except paramiko.SSHException as e:
            raise ClusterError(f"{self.h.host}: cannot open an SSH session: {e}") from None
        try:
            chan.settimeout(1.0)
            chan.exec_command(command)
            if stdin is not None:
                chan.sendall(stdin)
                chan.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            while True:
                drained = False
                while chan.recv_ready():
                    out += chan.recv(65536)
                    drained = True
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                    drained = True
                if (
                    chan.exit_status_ready()
                    and not chan.recv_ready()
                    and not chan.recv_stderr_ready()
                ):
                    break
                if time.monotonic() > deadline:
                    return ExecResult(
                        124, out.decode(errors="replace"), f"timed out after {timeout} s"
                    )
                if not drained:
                    time.sleep(0.01)
            return ExecResult(
                chan.recv_exit_status(), out.decode(errors="replace"), err.decode(errors="replace")
            )
        except (TimeoutError, OSError, paramiko.SSHException) as e:
            raise ClusterError(f"{self.h.host}: SSH command failed: {e}") from None
        finally:
            chan.close()

    def close(self) -> None:
        with self._lock:
            for x in (self._sftp, self._client):
                try:
                    if x is not None:
                        x.close()
                except Exception:  # noqa: BLE001 - closing is best effort
                    pass
            self._client = self._sftp = None


# --------------------------------------------------------------------------------------------
class SSHCluster(StartsAndWaits, Cluster):
    """The store on real hosts, supervised by the node agent over SSH."""

    def __init__(
        self,
        name: str,
        n: int | None = None,
        *,
        nodes_file: str | Path | None = None,
        hosts: list[SSHHost] | None = None,
        connect_timeout: float = 10.0,
        tls: bool = True,
        **config_kw: Any,
    ) -> None:
        """Hosts come from nodes_file or hosts; n (if given) uses the first n of them.
        tls: mutual TLS with a CA made for this cluster at setup (cluster.certs); each host
        gets the CA and its own pair in <workdir>/tls, this host keeps the client pair.
        Other keywords go to paxos_impl.config.Config (mode, read_mode, timeouts, ...)."""
        if hosts is None:
            nodes_file = nodes_file or os.environ.get("PAXLAB_NODES_FILE")
            if not nodes_file:
                raise ClusterError(
                    "the ssh backend needs a nodes file (--nodes-file FILE or PAXLAB_NODES_FILE)"
                )
            hosts = load_nodes_file(nodes_file)
        if n is not None:
            if n > len(hosts):
                raise ClusterError(f"{n} nodes asked for, but the nodes file names {len(hosts)}")
            hosts = hosts[:n]
        self.name = name
        self.hosts = {node_name(i): h for i, h in enumerate(hosts)}
        self.nodes = list(self.hosts)
        self._conns = {node: _Conn(h, connect_timeout) for node, h in self.hosts.items()}
        kw = dict(config_kw)
        if isinstance(kw.get("timeouts"), dict):
            kw["timeouts"] = Timeouts(**kw["timeouts"])
        if kw.get("transport") == "udp":
            tls = False  # datagrams carry no TLS: peers over UDP make a cluster without it
        self.certs = certs.ClusterCerts(certs.default_dir(name)) if tls else None
        if self.certs is not None:
            kw["tls"] = certs.client_only(self.certs.settings())
        nodes = [
            NodeAddress(
                id=store_id(n),
                host=h.store_address,
                peer_port=h.peer_port,
                client_port=h.client_port,
            )
            for n, h in self.hosts.items()
        ]
        try:
            self.config = Config(nodes=nodes, **kw).validate()
        except (ConfigError, TypeError) as e:
            raise ClusterError(f"bad cluster configuration: {e}") from None
        self._caps: set[str] | None = None
        self._caps_lock = threading.Lock()  # one probe, however many threads ask at once
        self._installed = False
        self._ifaces: dict[str, str] = {}
        self._delayed: set[str] = set()  # nodes whose interface carries our netem qdisc

    # -- paths on a host ---------------------------------------------------------------------
    def workdir(self, node: str) -> str:
        return f"{self.hosts[node].workdir.rstrip('/')}/{self.name}"

    def _check_node(self, node: str) -> None:
        if node not in self.hosts:
            raise ClusterError(
                f"no node {node!r} in cluster {self.name} (nodes: {', '.join(self.nodes)})"
            )

    def _sudo(self, node: str) -> str:
        return "sudo -n " if self.hosts[node].sudo else ""

    def _sh(self, node: str, command: str, timeout: float = 60) -> ExecResult:
        self._check_node(node)
        return self._conns[node].run(command, timeout)

    def _sh_ok(self, node: str, command: str, timeout: float = 60) -> str:
        r = self._sh(node, command, timeout)
        if not r.ok:
            raise ClusterError(
                f"{node}: `{command}` failed ({r.exit_code}): {r.stderr.strip()[-300:]}"
            )
        return r.stdout

    # -- life cycle --------------------------------------------------------------------------
    def _each(self, fn: Callable[[str], T]) -> list[T]:
        """fn(node) on every host at once (SSH round trips dominate); the first error wins."""
        with ThreadPoolExecutor(max_workers=min(16, len(self.nodes))) as pool:
            futures = [pool.submit(fn, node) for node in self.nodes]
            return [f.result() for f in futures]

    def setup(self) -> None:
        """Upload the store, the node agent and the config to every host (idempotent): one
        tar stream per host, unpacked by the host's tar."""
        if self.certs is not None and not self.certs.ca.exists():
            certs.generate(self.certs.dir, self.config.ids(), self.name)

        def install(node: str) -> None:
            wd = shlex.quote(self.workdir(node))
            archive = self._archive(node)
            r = self._conns[node].run(
                f"mkdir -p {wd}/code {wd}/data && tar -xzf - -C {wd}", 60, stdin=archive
            )
            if not r.ok:
                raise ClusterError(f"{node}: cannot install the store: {r.stderr.strip()[-300:]}")

        self._each(install)
        self._installed = True

    def _archive(self, node: str) -> bytes:
        """The code, the node's config and (TLS on) the CA and the node's own pair."""
        if self.certs is None:
            return _code_archive(self.config.to_toml().encode(), machine=self.config.state_machine)
        tls_dir = f"{self.workdir(node)}/tls"
        config = replace(self.config, tls=self.certs.settings(tls_dir))
        files = {f"tls/{f.name}": f.read_bytes() for f in self.certs.node_files(store_id(node))}
        return _code_archive(config.to_toml().encode(), files, config.state_machine)

    def teardown(self) -> None:
        """Kill the store, drop our iptables chains, remove the work directory, close SSH."""

        def clean(node: str) -> str | None:
            sudo = self._sudo(node)
            try:
                self._agent(node, "kill", check=False)
                self._sh(node, sudo + shlex.join(iptables.remove_command()))
                if node in self._delayed:
                    clear = iptables.netem_clear_command(self.iface(node))
                    self._sh(node, sudo + shlex.join(clear))
                self._sh(node, f"{sudo}rm -rf {shlex.quote(self.workdir(node))}")
                return None
            except ClusterError as e:
                return str(e)
            finally:
                self._conns[node].close()

        errors = [e for e in self._each(clean) if e]
        if self.certs is not None:
            shutil.rmtree(self.certs.dir, ignore_errors=True)
        if errors:
            raise ClusterError("teardown incomplete: " + "; ".join(errors))

    def close(self) -> None:
        """Close the SSH connections, leaving the nodes as they are."""
        for c in self._conns.values():
            c.close()

    def capabilities(self) -> set[str]:
        """What every host can do; probed once over SSH and cached.

        "clock" is probed for real (a shifted time.time(), an unshifted monotonic clock and a
        working time.sleep under the host's libfaketime), because some builds (Debian
        bookworm's) load fine and then make Python's sleep fail."""
        with self._caps_lock:
            return self._capabilities()

    def _capabilities(self) -> set[str]:
        if self._caps is None:
            if not self._installed:
                self.setup()  # the probes run the node agent, so it must be there

            def probe(node: str) -> set[str]:
                caps = {"kill", "pause", "exec", "files", "disk"}
                if self._sh(node, f"{self._sudo(node)}iptables -w -S INPUT >/dev/null").ok:
                    caps.add("partition")
                    caps.add("netem-loss")
                    try:
                        probe = iptables.netem_probe_command(self.iface(node))
                        if self._sh(node, self._sudo(node) + shlex.join(probe)).ok:
                            caps.add("netem-delay")
                    except ClusterError:  # no `ip` to name the interface: no delay
                        pass
                if self._clock_works(node):
                    caps.add("clock")
                return caps

            self._caps = set.intersection(*self._each(probe))
        return set(self._caps)

    def _clock_works(self, node: str) -> bool:
        probe = f"{self.workdir(node)}/clock-probe"
        code = (
            "import time;m=time.monotonic();time.sleep(0.02);print(time.time(),time.monotonic()-m)"
        )
        try:
            self._agent(node, "set-clock", "1000", root=probe)
            r = self._agent(
                node, "run", "--", self.hosts[node].python, "-c", code, root=probe, check=False
            )
            fake, mono = (float(x) for x in r.stdout.split())
            now = float(
                self._sh_ok(
                    node,
                    f"{shlex.quote(self.hosts[node].python)} -c 'import time;print(time.time())'",
                )
            )
            return r.ok and abs(fake - now - 1000) < 30 and 0.015 < mono < 5
        except (ClusterError, ValueError):
            return False
        finally:
            self._sh(node, f"{self._sudo(node)}rm -rf {shlex.quote(probe)}")

    def start_all(self, bugs: list[str] | None = None) -> None:
        self.capabilities()  # probe once, before the parallel starts consult it
        self._each(lambda node: self._start(node, bugs))
        self._each(self.wait_serving)

    def _log_tail(self, node: str) -> str:
        r = self._sh(node, f"tail -n 3 {shlex.quote(self.workdir(node))}/store.log")
        return (r.stdout.strip().splitlines() or ["(no log)"])[-1][:300]

    def node_status(self, node: str) -> dict[str, Any]:
        """What `paxlab cluster status` shows for a node."""
        return {"address": self.config.node(store_id(node)).host, **self.status(node)}

    def _start(self, node: str, bugs: list[str] | None) -> None:
        wd = self.workdir(node)
        h = self.hosts[node]
        args = ["start", "--id", str(store_id(node)), "--config", f"{wd}/cluster.toml"]
        args += ["--python", h.python, "--pythonpath", f"{wd}/code"]
        if "clock" not in self.capabilities():
            args.append("--no-faketime")  # a broken libfaketime must not take the store down
        for b in bugs or []:
            args += ["--bug", b]
        self._agent(node, *args)

    def stop(self, node: str) -> None:
        self._agent(node, "stop")

    def kill(self, node: str) -> None:
        self._agent(node, "kill")

    def pause(self, node: str) -> None:
        self._agent(node, "pause")

    def resume(self, node: str) -> None:
        self._agent(node, "resume")

    def status(self, node: str) -> dict[str, Any]:
        """The agent's view: {"running", "state": running|paused|stopped, "pid", "clock_offset"}."""
        return self._agent_json(node, "status")

    def is_running(self, node: str) -> bool:
        return bool(self.status(node).get("running"))

    # -- remote access -----------------------------------------------------------------------
    def _remote_path(self, node: str, path: str) -> str:
        return path if path.startswith("/") else f"{self.workdir(node)}/{path}"

    def exec(self, node: str, cmd: list[str], timeout: float = 30) -> ExecResult:
        """Run cmd on the host, in the cluster's work directory, as the SSH user."""
        wd = shlex.quote(self.workdir(node))
        bounded = f"timeout -k 2 {timeout:g} {shlex.join(cmd)}"  # the command dies with us
        return self._sh(node, f"mkdir -p {wd} && cd {wd} && {bounded}", timeout + 5)

    def disk(self, node: str, action: str, kind: str = "", seed: int = 0) -> dict:
        """A disk fault on a stopped node's data directory (cluster.diskfault)."""
        return diskfault.run_on(self, node, f"{self.workdir(node)}/data", action, kind, seed)

    def put_file(self, node: str, local: Path, remote: str) -> None:
        dst = self._remote_path(node, remote)
        self._sh_ok(node, f"mkdir -p {shlex.quote(str(Path(dst).parent))}")
        self._conns[node].sftp().put(str(local), dst)

    def get_file(self, node: str, remote: str, local: Path) -> None:
        src = self._remote_path(node, remote)
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conns[node].sftp().get(src, str(local))
        except OSError as e:
            raise ClusterError(f"{node}: cannot copy {src}: {e}") from None

    def collect(self, node: str, dest: Path) -> None:
        """The store's log, the agent's log and a listing of the data directory."""
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("store.log", "agent.log"):
            try:
                self.get_file(node, name, dest / name)
            except ClusterError as e:
                (dest / name).write_text(f"(not collected: {e})\n")
        for name in ("messages.jsonl", "messages.jsonl.1"):  # a message trace, if asked for
            try:
                self.get_file(node, name, dest / name)
            except ClusterError:
                pass
        try:
            listing = self._agent_json(node, "ls-data")
            text = format_listing(listing)
        except ClusterError as e:
            text = f"(no listing: {e})\n"
        (dest / "data-listing.txt").write_text(text)
        rules = self._sh(node, f"{self._sudo(node)}iptables -S")
        (dest / "iptables.txt").write_text(rules.stdout + rules.stderr)

    # -- clocks --------------------------------------------------------------------------------
    def set_clock_offset(self, node: str, seconds: float) -> None:
        if "clock" not in self.capabilities():
            raise Unsupported(
                "the ssh backend shifts clocks only where a working libfaketime is installed"
            )
        self._agent(node, "set-clock", "--", repr(float(seconds)))

    def reset_clocks(self) -> None:
        for node in self.nodes:
            self.set_clock_offset(node, 0.0)

    # -- partitions: iptables in the project's chain on each host ------------------------------
    def _runner(self, node: str) -> iptables.Runner:
        return lambda cmd: self._sh(node, self._sudo(node) + shlex.join(cmd))

    def partition(self, grudge: dict[str, set[str]]) -> None:
        if "partition" not in self.capabilities():
            raise Unsupported("the ssh backend partitions only where iptables works (root or sudo)")
        addresses = {node: self.config.node(store_id(node)).host for node in self.nodes}
        for node, drops in iptables.drops_for(grudge, addresses).items():
            iptables.apply_partition(self._runner(node), drops)

    def heal_network(self) -> None:
        if "partition" not in self.capabilities():
            raise Unsupported("the ssh backend partitions only where iptables works (root or sudo)")
        for node in self.nodes:
            iptables.heal(self._runner(node))

    # -- a slow or lossy network ----------------------------------------------------------------
    def iface(self, node: str) -> str:
        """The interface node reaches its peers through (what tc netem shapes)."""
        if node not in self._ifaces:
            peers = [self.config.node(store_id(n)).host for n in self.nodes if n != node]
            target = peers[0] if peers else "1.1.1.1"  # only asked, never contacted
            out = self._sh(node, f"ip -o route get {shlex.quote(target)}").stdout
            m = re.search(r"\bdev (\S+)", out)
            if not m:
                raise ClusterError(f"{node}: cannot tell which interface reaches {target}")
            self._ifaces[node] = m.group(1)
        return self._ifaces[node]

    def _loss_text(self, node: str, probability: float) -> str:
        """The iptables module's loss rules, with this host's SSH port exempt first: losing
        our own control connection could leave nobody able to heal."""
        text = iptables.loss_restore(probability)
        head = f":{iptables.LOSS_CHAIN} - [0:0]\n"
        keep = f"-A {iptables.LOSS_CHAIN} -p tcp --dport {self.hosts[node].port} -j RETURN\n"
        return text.replace(head, head + keep, 1) if probability > 0 else text

    def netem(self, node: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        self._check_node(node)
        caps = self.capabilities()
        if (delay_ms or jitter_ms) and "netem-delay" not in caps:
            raise Unsupported("tc netem does not work on these hosts (no sch_netem, or no root)")
        if "netem-loss" not in caps:
            raise Unsupported("the ssh backend drops packets only where iptables works")
        run = self._runner(node)
        if delay_ms or jitter_ms:
            iptables.set_delay(run, self.iface(node), delay_ms, jitter_ms)
            self._delayed.add(node)
        elif node in self._delayed:  # back to the interface's default queueing
            iptables.set_delay(run, self.iface(node), 0, 0)
            self._delayed.discard(node)
        r = run(iptables.apply_command(self._loss_text(node, loss), iptables.LOSS_CHAIN))
        if not r.ok:
            raise ClusterError(f"{node}: iptables loss failed: {r.stderr.strip()[-200:]}")

    def heal_netem(self) -> None:
        """Loss rules off everywhere; a qdisc removed only where we put one (never an admin's)."""
        self._each(lambda node: self.netem(node))

    # -- the store, through the node agent -------------------------------------------------------
    def _agent(
        self,
        node: str,
        *args: str,
        check: bool = True,
        timeout: float = 60,
        root: str | None = None,
    ) -> ExecResult:
        """One node-agent call on node's host (root: the agent's directory, default the
        cluster's work directory); the agent prints one JSON object on stdout."""
        wd = self.workdir(node)
        cmd = (
            f"{self._sudo(node)}env PYTHONDONTWRITEBYTECODE=1 {shlex.quote(self.hosts[node].python)} "
            f"{shlex.quote(wd)}/code/node_agent.py --root {shlex.quote(root or wd)} {shlex.join(args)}"
        )
        r = self._sh(node, cmd, timeout)
        if check and not r.ok:
            msg = (r.stderr.strip() or r.stdout.strip()).splitlines()[-1:] or [
                f"exit {r.exit_code}"
            ]
            raise ClusterError(f"{node}: {msg[0]}")
        return r

    def _agent_json(self, node: str, *args: str) -> dict[str, Any]:
        out = self._agent(node, *args).stdout.strip().splitlines()
        try:
            return json.loads(out[-1]) if out else {}
        except json.JSONDecodeError:
            raise ClusterError(f"{node}: the node agent printed no JSON: {out[-1][:200]}") from None


def format_listing(listing: dict[str, Any]) -> str:
    """The agent's ls-data JSON as text: size, UTC mtime, path."""
    lines = [f"# {listing.get('data_dir', '?')}"]
    for e in listing.get("entries", []):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(e.get("mtime", 0)))
        lines.append(f"{e.get('size', 0):>12} {stamp} {e.get('path')}")
    return "\n".join(lines) + "\n"


def _code_archive(
    config_toml: bytes, extra: dict[str, bytes] | None = None, machine: str = "kv"
) -> bytes:
    """code/paxos_impl/*.py, code/node_agent.py, cluster.toml (and ``extra`` files, private
    to their owner: TLS keys) as one gzipped tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for p in sorted((PROJECT_ROOT / "paxos_impl").rglob("*.py")):
            if "__pycache__" not in p.parts:
                tar.add(str(p), arcname=f"code/{p.relative_to(PROJECT_ROOT)}")
        tar.add(str(PROJECT_ROOT / "cluster" / "node_agent.py"), arcname="code/node_agent.py")
        for f, rel in shipped(machine):  # a user's state machine, beside the store's code
            tar.add(str(f), arcname=f"code/{rel}")
        info = tarfile.TarInfo("cluster.toml")
        info.size = len(config_toml)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(config_toml))
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
