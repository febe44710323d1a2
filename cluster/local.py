"""Nodes as plain processes on this machine's loopback: the backend that needs nothing installed.

Each node ``nK`` gets its own address ``127.0.0.(10+K)`` (Linux routes all of 127/8 to the
loopback interface, so binding to it needs no privilege), two free TCP ports, and a directory
``<run_dir>/nodes/nK/`` holding its data directory, its log and (with libfaketime) its clock
offset file. The store runs as ``python -m paxos_impl.server`` in a session of its own, so
kill -9, SIGSTOP and SIGCONT reach exactly that process, and its PID is written to a file so a
later process (``paxlab cluster down``) can find it again.

Faults:

* kill, pause: signals.
* partition: only as root with a working ``iptables``. On loopback every connection leaves
  from 127.0.0.1, so nodes are told apart by the sending process instead: each store runs
  with a numeric group id of its own and the rules use iptables' owner match. They live in a
  chain of this cluster's own (``PAXLAB-LO-<hash>``) reached from OUTPUT by one jump rule on
  ``lo``; every DROP rule names a group, an address and a port of this cluster, so nothing
  else on the machine is touched, and teardown removes the jump and the chain. A program
  may also answer on connections its peer opened (etcd streams its raft messages on the
  responses of its peers' requests): those packets go to an ephemeral port, so each new
  connection is marked with the node that opened it (CONNMARK, a third chain
  ``PAXLAB-LO-<hash>-MARK`` installed before any node starts) and a partition also drops
  what a node sends on connections the nodes it is cut from opened.
* clock: when the host has libfaketime and it passes a probe (bookworm's build makes Python's
  ``time.sleep`` fail in the mode we need), each store runs under it with a per-node offset
  file that :meth:`set_clock_offset` replaces atomically.
* netem: packet loss only (root and iptables again): everything a lossy node sends and
  everything sent to its ports is dropped with the given probability, in a second chain
  (``PAXLAB-LO-<hash>-LOSS``). No delay: there is no per-node interface for tc netem.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cluster import node_agent
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
from cluster.program import PAXOS_SERVER
from cluster.user_code import machine_files
from paxos_impl.config import Config, ConfigError, NodeAddress, Timeouts

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK_BASE = 10  # node nK listens on 127.0.0.(LOOPBACK_BASE + K)
STOP_TIMEOUT_S = 10.0
MARK_MASK = 0xFF000000  # the connmark bits the partition rules use (node id + 1, shifted)
GROW_RESERVE = 16  # nodes the membership nemesis may add (certificates are made up front)
GID_BASE = 2_000_000_000  # store processes run with group ids from here (root only)


# --------------------------------------------------------------------------------------------
# host probes (cached: they do not change while we run)
# --------------------------------------------------------------------------------------------
_probe_cache: dict[str, Any] = {}


def write_offset_file(path: Path, seconds: float) -> None:
    """Replace the offset file atomically: libfaketime re-reads it on every clock call, and a
    half-written file makes the process abort."""
    node_agent.write_atomically(path, node_agent.format_offset(seconds) + "\n")


def probe_faketime() -> str | None:
    """The libfaketime path if it shifts time.time(), leaves monotonic alone and lets Python
    sleep; else None. Bookworm's 0.9.10 fails the sleep part (EINVAL), hence the probe."""
    if "faketime" in _probe_cache:
        return _probe_cache["faketime"]
    lib = node_agent.find_faketime()
    ok = None
    if lib:
        with tempfile.TemporaryDirectory(prefix="paxlab-ftprobe-") as d:
            f = Path(d) / node_agent.CLOCK_FILE
            write_offset_file(f, 1000)
            code = "import time;m=time.monotonic();time.sleep(0.02);print(time.time(),time.monotonic()-m)"
            env = {**os.environ, **node_agent.faketime_env(Path(d), lib)}
            try:
                r = subprocess.run(
                    [sys.executable, "-c", code],
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=20,
                )
                fake, mono = (float(x) for x in r.stdout.split())
                if r.returncode == 0 and abs(fake - time.time() - 1000) < 30 and 0.015 < mono < 5:
                    ok = lib
            except (subprocess.SubprocessError, ValueError, OSError):
                ok = None
    _probe_cache["faketime"] = ok
    return ok


def probe_iptables() -> str | None:
    """None if we can manage loopback iptables rules here, else the reason we cannot."""
    if "iptables" in _probe_cache:
        return _probe_cache["iptables"]
    reason = None
    if os.geteuid() != 0:
        reason = "partitions on the local backend need root (iptables on loopback)"
    elif not (shutil.which("iptables") and shutil.which("iptables-restore")):
        reason = "partitions on the local backend need iptables and iptables-restore"
    else:
        r = subprocess.run(["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True)
        if r.returncode != 0:
            reason = f"iptables does not work here: {r.stderr.strip().splitlines()[-1:] or '?'}"
    _probe_cache["iptables"] = reason
    return reason


def free_port(host: str) -> int:
    """A TCP port nobody listens on at host right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# processes we started (so nothing is left behind when the interpreter exits)
# --------------------------------------------------------------------------------------------
_live: set[LocalCluster] = set()  # strong refs: a forgotten cluster must still be cleaned up


def _teardown_live() -> None:
    for c in list(_live):
        try:
            c.teardown()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_teardown_live)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_state(pid: int) -> str | None:
    """The process state letter from /proc (R, S, T, Z...), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _pid_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
class StartsAndWaits:
    """start/start_all that return once the store serves (shared by the local and ssh
    backends); the class supplies _start(node, bugs), is_running(node), _log_tail(node)."""

    config: Config
    nodes: list[str]

    def start(self, node: str, bugs: list[str] | None = None, wait: bool = True) -> None:
        """Start the store (no-op if it runs); with wait, return once it accepts clients."""
        self._start(node, bugs)  # type: ignore[attr-defined]
        if wait:
            self.wait_serving(node)

    def start_all(self, bugs: list[str] | None = None) -> None:
        for node in self.nodes:
            self._start(node, bugs)  # type: ignore[attr-defined]
        for node in self.nodes:
            self.wait_serving(node)

    def wait_serving(self, node: str, timeout: float = 15) -> None:
        """Until node's client port accepts connections; ClusterError if it died or time ran out."""
        running = lambda: self.is_running(node)  # type: ignore[attr-defined]  # noqa: E731
        addr = getattr(self, "node_addr", None)
        where = addr(node) if addr is not None else None
        wait_serving(node, self.config, running, self._log_tail, timeout, where)  # type: ignore[attr-defined]


class LocalCluster(StartsAndWaits, Cluster):
    """N store processes on 127.0.0.(10+K), each with its own data directory and ports."""

    ANY_PROGRAM = True

    def __init__(
        self,
        name: str,
        n: int = 3,
        *,
        run_dir: str | Path | None = None,
        python: str | None = None,
        faketime: bool | None = None,
        cleanup_at_exit: bool = True,
        tls: bool = True,
        data_tmpfs_mb: int | None = None,
        program: NodeProgram | None = None,
        **config_kw: Any,
    ) -> None:
        """run_dir: where node directories go (default: a fresh temp dir, removed at teardown).
        faketime: None = use libfaketime if it works here, False = never, True = required.
        cleanup_at_exit: kill the nodes if this interpreter exits without teardown() (turn off
        for ``paxlab cluster up``, whose nodes must outlive it).
        tls: mutual TLS between nodes and from clients, with a CA made for this cluster at
        setup (cluster.certs; files in run_dir/tls). The one config serves nodes and clients.
        data_tmpfs_mb: mount a tmpfs of this size on each node's data directory (root only):
        a disk that can be filled, for the disk:full nemesis. Unmounted at teardown.
        program: what runs on each node (default: the bundled store's server).
        Other keywords go to paxos_impl.config.Config (mode, read_mode, timeouts, ...)."""
        if n < 1 or n > 240:
            raise ClusterError(f"the local backend runs 1..240 nodes, not {n}")
        self.name = name
        self.nodes = [node_name(i) for i in range(n)]
        self.program: NodeProgram = program if program is not None else PAXOS_SERVER
        self._own_run_dir = run_dir is None
        self.run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.python = python or sys.executable
        self._faketime_lib: str | None = None
        if faketime is not False:
            self._faketime_lib = probe_faketime()
            if faketime and not self._faketime_lib:
                raise Unsupported("libfaketime is missing or does not work on this host")
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()
        self._chain = "PAXLAB-LO-" + hashlib.sha1(str(self.run_dir).encode()).hexdigest()[:8]
        self._loss_chain = self._chain + "-LOSS"
        self._mark_chain = self._chain + "-MARK"
        self._hooked: set[str] = set()  # chains whose OUTPUT jump is in place
        self._loss: dict[str, float] = {}
        self._config_kw = dict(config_kw)
        self._tls = tls
        self._added: dict[str, NodeAddress] = {}  # nodes added since the config was written
        self._gone: list[str] = []  # nodes removed (their processes are reaped at teardown)
        if data_tmpfs_mb is not None and not 16 <= int(data_tmpfs_mb) <= 4096:
            raise ClusterError(f"data_tmpfs_mb must be within 16..4096, not {data_tmpfs_mb}")
        self.data_tmpfs_mb = int(data_tmpfs_mb) if data_tmpfs_mb is not None else None
        self.config = self._load_or_make_config()
        self._load_membership()  # nodes added and removed by an earlier handle on this run
        if cleanup_at_exit:
            _live.add(self)

    # -- configuration ---------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.run_dir / "cluster.toml"

    def node_dir(self, node: str) -> Path:
        if node not in self._gone:  # a removed node's directory stays until teardown
            self._check_node(node)
        return self.run_dir / "nodes" / node

    def address(self, node: str) -> str:
        return f"127.0.0.{LOOPBACK_BASE + store_id(node) + 1}"

    def _load_or_make_config(self) -> Config:
        """Reuse the config of an existing run dir (reattach), else allocate ports and write one."""
        from paxos_impl.config import load_config

        if self.config_path.exists():
            cfg = load_config(self.config_path)
            if cfg.n != len(self.nodes):
                raise ClusterError(
                    f"{self.config_path} describes {cfg.n} nodes, not {len(self.nodes)}"
                )
            return cfg
        kw = dict(self._config_kw)
        if isinstance(kw.get("timeouts"), dict):
            kw["timeouts"] = Timeouts(**kw["timeouts"])
        if self._tls and kw.get("transport") != "udp":  # datagrams carry no TLS: peers
            from cluster import certs  # over UDP make a cluster without it (docs/transport.md)

            kw["tls"] = certs.ClusterCerts(self.run_dir / "tls").settings()
        nodes = []
        for node in self.nodes:
            host = self.address(node)
            nodes.append(
                NodeAddress(
                    id=store_id(node),
                    host=host,
                    peer_port=free_port(host),
                    client_port=free_port(host),
                )
            )
        try:
            return Config(nodes=nodes, **kw).validate()
        except (ConfigError, TypeError) as e:
            raise ClusterError(f"bad cluster configuration: {e}") from None

    def node_addr(self, node: str) -> NodeAddress:
        """Where node listens: the config file's nodes, then those added since."""
        added = self._added.get(node)
        return added if added is not None else self.config.node(store_id(node))

    # -- membership (cluster.capabilities.Grow) ----------------------------------------------
    def add_node(self) -> str:
        """A new node directory and ports; its store joins the running cluster when started."""
        with self._lock:
            i = max(store_id(n) for n in [*self.config_nodes(), *self._added]) + 1
            if i >= self.config.n + GROW_RESERVE:
                raise ClusterError(f"the local backend adds at most {GROW_RESERVE} nodes")
            node = node_name(i)
            host = self.address(node)
            self._added[node] = NodeAddress(i, host, free_port(host), free_port(host))
            self.nodes.append(node)
            d = self.node_dir(node)
            (d / self.program.data_dir).mkdir(parents=True, exist_ok=True)
            if self._faketime_lib:
                write_offset_file(d / node_agent.CLOCK_FILE, 0)
            self._save_membership()
            return node

    @property
    def _membership_file(self) -> Path:
        return self.run_dir / "membership.json"

    def _save_membership(self) -> None:
        """Nodes added and removed, for another handle on this run (`paxlab cluster`)."""
        added = {n: [a.id, a.host, a.peer_port, a.client_port] for n, a in self._added.items()}
        self._membership_file.write_text(json.dumps({"added": added, "gone": self._gone}))

    def _load_membership(self) -> None:
        try:
            d = json.loads(self._membership_file.read_text())
        except (OSError, ValueError):
            return
        self._added = {n: NodeAddress(*a) for n, a in d.get("added", {}).items()}
        self._gone = list(d.get("gone", []))
        self.nodes = [n for n in self.nodes if n not in self._gone]
        self.nodes += [n for n in self._added if n not in self._gone and n not in self.nodes]

    def config_nodes(self) -> list[str]:
        return [node_name(i) for i in self.config.ids()]

    def node_address(self, node: str) -> list:
        a = self.node_addr(node)
        return [a.host, a.peer_port, a.client_port]

    def remove_node(self, node: str) -> None:
        """Stop the node (the store let it go before) and forget it; its directory stays
        until teardown, for the logs."""
        self._check_node(node)
        self._signal_and_reap(node, signal.SIGKILL, wait=5.0)
        self.nodes.remove(node)
        self._gone.append(node)
        self._save_membership()

    def _check_node(self, node: str) -> None:
        if node not in self.nodes:
            raise ClusterError(
                f"no node {node!r} in cluster {self.name} (nodes: {', '.join(self.nodes)})"
            )

    # -- capabilities ------------------------------------------------------------------------
    def capabilities(self) -> set[str]:
        caps = {"kill", "pause", "exec", "files", "disk", "membership"}
        if self.data_tmpfs_mb is not None:
            caps.add("disk-full")
        if probe_iptables() is None:
            caps |= {"partition", "netem-loss"}
        if self._faketime_lib:
            caps.add("clock")
        return caps

    # -- life cycle --------------------------------------------------------------------------
    def setup(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.config.tls.enabled and not Path(self.config.tls.ca).exists():
            from cluster import certs  # needs cryptography: only where TLS is on

            # certificates for the nodes the membership nemesis may add, too (GROW_RESERVE)
            n = self.config.n
            ids = [*self.config.ids(), *range(n, n + GROW_RESERVE)]
            certs.generate(Path(self.config.tls.ca).parent, ids, self.name)
        if not self.config_path.exists():
            self.config.save(self.config_path)
        for node in self.nodes:
            d = self.node_dir(node)
            (d / self.program.data_dir).mkdir(parents=True, exist_ok=True)
            if self.data_tmpfs_mb is not None and not os.path.ismount(d / self.program.data_dir):
                self._mount_tmpfs(d / self.program.data_dir)
            if self._faketime_lib and not (d / node_agent.CLOCK_FILE).exists():
                write_offset_file(d / node_agent.CLOCK_FILE, 0)
        if probe_iptables() is None and self._mark_chain not in self._hooked:
            with (
                self._lock
            ):  # before any node opens a connection: marks are set on the first packet
                self._restore(self._mark_chain, self._mark_rules())

    def teardown(self) -> None:
        """Kill every store process, remove the iptables chain, delete a temp run dir. Safe to
        call twice and on a half set-up cluster."""
        errors = []
        for node in [*self.nodes, *self._gone]:
            try:
                self._signal_and_reap(node, signal.SIGKILL, wait=5.0)
            except Exception as e:  # noqa: BLE001 - keep tearing down
                errors.append(f"{node}: {e}")
        try:
            self._remove_chains()
        except Exception as e:  # noqa: BLE001
            errors.append(f"iptables: {e}")
        if self.data_tmpfs_mb is not None:
            for node in self.nodes:
                data = self.run_dir / "nodes" / node / self.program.data_dir
                if os.path.ismount(data):
                    r = subprocess.run(["umount", str(data)], capture_output=True, text=True)
                    if r.returncode != 0:
                        errors.append(f"{node}: umount {data}: {r.stderr.strip()[:200]}")
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)
        _live.discard(self)
        if errors:
            raise ClusterError("teardown incomplete: " + "; ".join(errors))

    def _mount_tmpfs(self, data: Path) -> None:
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={self.data_tmpfs_mb}m", "tmpfs", str(data)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except OSError as e:
            raise ClusterError(f"data_tmpfs_mb: cannot run mount: {e}") from None
        if r.returncode != 0:
            why = (r.stderr.strip().splitlines() or [f"exit {r.returncode}"])[-1]
            raise ClusterError(f"data_tmpfs_mb: cannot mount a tmpfs on {data} (root?): {why}")

    # -- the store process ---------------------------------------------------------------------
    def _join_extra(self, node: str) -> dict[str, Any]:
        a = self._added.get(node)
        return {} if a is None else {"join": f"{a.host}:{a.peer_port}:{a.client_port}"}

    def _pid_file(self, node: str) -> Path:
        return self.node_dir(node) / "server.pid"

    def pid(self, node: str) -> int | None:
        """The PID of node's store process if it is alive (also one started by another process)."""
        with self._lock:
            p = self._procs.get(node)
            if p is not None:
                return p.pid if p.poll() is None else None
            try:
                pid = int(self._pid_file(node).read_text())
            except (OSError, ValueError):
                return None
            # the PID may have been reused: it must still be our store on our data dir
            cmd = _pid_cmdline(pid)
            if str(self.node_dir(node) / self.program.data_dir) in cmd:
                return pid if _pid_state(pid) not in (None, "Z") else None
            return None

    def _log_tail(self, node: str) -> str:
        return node_agent._last_line(self.node_dir(node) / "store.log")

    def node_status(self, node: str) -> dict[str, Any]:
        """What `paxlab cluster status` shows for a node."""
        pid = self.pid(node)
        state = "stopped" if pid is None else ("paused" if self.is_paused(node) else "running")
        return {
            "address": self.address(node),
            "state": state,
            "running": pid is not None,
            "pid": pid,
        }

    def _start(self, node: str, bugs: list[str] | None) -> None:
        self._check_node(node)
        with self._lock:
            if self.pid(node) is not None:
                return
            self.setup()
            d = self.node_dir(node)
            cmd = self.program.command(
                Launch(
                    node=node,
                    nodes=tuple(self.nodes),
                    node_dir=str(d),
                    config_path=str(self.config_path),
                    python=self.python,
                    bugs=tuple(bugs or ()),
                    extra=self._join_extra(node),
                )
            )
            env = dict(os.environ)
            found = machine_files(self.config.state_machine)  # a user's machine: its directory
            env["PYTHONPATH"] = os.pathsep.join(
                [str(PROJECT_ROOT)]
                + ([str(found[0])] if found else [])
                + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
            )
            env["PYTHONUNBUFFERED"] = "1"
            if self._faketime_lib:
                env.update(node_agent.faketime_env(d, self._faketime_lib))
            # as root, a group of its own, so partitions can tell its packets apart (see gid)
            creds: dict[str, Any] = {}
            if probe_iptables() is None:
                creds = {"group": self.gid(node), "extra_groups": []}
            log = open(d / "store.log", "ab")  # noqa: SIM115 - handed to the child
            try:
                log.write(
                    f"--- paxlab: starting {node} at {time.strftime('%FT%T')}: {cmd}\n".encode()
                )
                log.flush()
                proc = subprocess.Popen(
                    cmd,
                    cwd=d,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: signals reach only it
                    **creds,
                )
            finally:
                log.close()
            self._procs[node] = proc
            self._pid_file(node).write_text(str(proc.pid))

    def _signal_and_reap(self, node: str, sig: signal.Signals, wait: float | None) -> bool:
        """Send sig to node's store; with wait, wait that long for it to exit. True if it is gone."""
        with self._lock:
            pid = self.pid(node)
            if pid is None:
                self._procs.pop(node, None)
                return True
            try:
                os.killpg(pid, sig)  # the store leads its own session
            except ProcessLookupError:
                pass
            except PermissionError:
                os.kill(pid, sig)
            if sig in (signal.SIGTERM, signal.SIGKILL) and _pid_state(pid) == "T":
                os.killpg(pid, signal.SIGCONT)  # a stopped process would never act on SIGTERM
            if wait is None:
                return False
            deadline = time.monotonic() + wait
            proc = self._procs.get(node)
            while time.monotonic() < deadline:
                if proc is not None:
                    if proc.poll() is not None:
                        break
                elif not _pid_alive(pid) or _pid_state(pid) == "Z":
                    break
                time.sleep(0.02)
            else:
                return False
            self._procs.pop(node, None)
            self._pid_file(node).unlink(missing_ok=True)
            return True

    def stop(self, node: str) -> None:
        self._check_node(node)
        if not self._signal_and_reap(node, signal.SIGTERM, wait=STOP_TIMEOUT_S):
            self._signal_and_reap(node, signal.SIGKILL, wait=5.0)

    def kill(self, node: str) -> None:
        self._check_node(node)
        if not self._signal_and_reap(node, signal.SIGKILL, wait=5.0):
            raise ClusterError(f"{node}: the store did not die after SIGKILL")

    def pause(self, node: str) -> None:
        self._check_node(node)
        if self.pid(node) is None:
            raise ClusterError(f"{node}: the store is not running, nothing to pause")
        self._signal_and_reap(node, signal.SIGSTOP, wait=None)
        self._wait_state(node, paused=True)

    def resume(self, node: str) -> None:
        self._check_node(node)
        self._signal_and_reap(node, signal.SIGCONT, wait=None)
        self._wait_state(node, paused=False)

    def _wait_state(self, node: str, paused: bool, timeout: float = 5.0) -> None:
        """Signals are delivered asynchronously: return once the kernel shows the new state."""
        deadline = time.monotonic() + timeout
        while self.pid(node) is not None and self.is_paused(node) != paused:
            if time.monotonic() > deadline:
                raise ClusterError(f"{node}: the store did not {'stop' if paused else 'continue'}")
            time.sleep(0.01)

    def is_running(self, node: str) -> bool:
        self._check_node(node)
        return self.pid(node) is not None

    def is_paused(self, node: str) -> bool:
        pid = self.pid(node)
        return pid is not None and _pid_state(pid) == "T"

    # -- remote access (here: this machine, in the node's directory) -----------------------------
    def _resolve(self, node: str, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() else self.node_dir(node) / p

    def exec(self, node: str, cmd: list[str], timeout: float = 30) -> ExecResult:
        d = self.node_dir(node)
        d.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else e.stdout
            return ExecResult(124, out or "", f"timed out after {timeout} s")
        except OSError as e:
            return ExecResult(127, "", str(e))
        return ExecResult(r.returncode, r.stdout, r.stderr)

    def disk(self, node: str, action: str, kind: str = "", seed: int = 0) -> dict:
        """A disk fault on a stopped node's data directory (cluster.diskfault)."""
        from cluster import diskfault

        return diskfault.run_on(
            self, node, str(self.node_dir(node) / self.program.data_dir), action, kind, seed
        )

    def put_file(self, node: str, local: Path, remote: str) -> None:
        dst = self._resolve(node, remote)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local, dst)

    def get_file(self, node: str, remote: str, local: Path) -> None:
        src = self._resolve(node, remote)
        if not src.exists():
            raise ClusterError(f"{node}: no file {remote}")
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, local)

    def collect(self, node: str, dest: Path) -> None:
        d = self.node_dir(node)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for name in ("store.log", *self.program.log_files):  # its output, then its own logs
            if (d / name).is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(d / name, dest / name)
        (dest / "data-listing.txt").write_text(data_listing(d / self.program.data_dir))

    # -- partitions: iptables on loopback, in this cluster's own chain --------------------------
    def gid(self, node: str) -> int:
        """The group id node's store runs with (as root): what the iptables rules match.

        On loopback every connection leaves from 127.0.0.1 whatever address the store listens
        on, so source addresses cannot tell nodes apart; the sending socket's owner can. The
        number needs no /etc/group entry; it is derived from the run directory, so another
        handle on the same run (``cluster down``) computes the same ids."""
        h = int(hashlib.sha1(str(self.run_dir).encode()).hexdigest()[:8], 16) % 1_000_000
        return GID_BASE + h * 256 + store_id(node)

    def _partition_rules(self, grudge: dict[str, set[str]]) -> list[str]:
        """DROP rules for 'dst drops traffic from src', in OUTPUT on lo.

        TCP needs both directions, so dropping what src sends to dst cuts both connections
        between them; we drop each connection's first packet where it is sent: src's
        connection to dst (owner src, to dst's peer port) and dst's connection to src (owner
        dst, to src's peer port). Every rule names a group, an address and a port of this
        cluster's, so nothing else on the machine is touched.
        """
        rules: dict[str, None] = {}  # ordered set: symmetric grudges give the same rules twice
        for dst, srcs in sorted(grudge.items()):
            self._check_node(dst)
            for src in sorted(srcs):
                self._check_node(src)
                if src == dst:
                    continue
                for sender, receiver in ((src, dst), (dst, src)):
                    r = self.node_addr(receiver)
                    rules[
                        f"-A {self._chain} -o lo -d {r.host}/32 -p tcp --dport {r.peer_port}"
                        f" -m owner --gid-owner {self.gid(sender)} -j DROP"
                    ] = None
                if self.config.transport != "udp":
                    continue
                # peers over UDP: datagrams have no connection, so the grudge is exactly
                # one way: what src sends to dst's peer port
                r = self.config.node(store_id(dst))
                rules[
                    f"-A {self._chain} -o lo -d {r.host}/32 -p udp --dport {r.peer_port}"
                    f" -m owner --gid-owner {self.gid(src)} -j DROP"
                ] = None
        return list(rules)

    def _iptables(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["iptables", "-w", *args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise ClusterError(f"iptables {' '.join(args)}: {r.stderr.strip()}")
        return r

    def _restore(self, chain: str, rules: list[str]) -> None:
        """Replace a chain's contents in one transaction and hook it into OUTPUT on lo once
        (iptables-restore --noflush empties a chain it declares, leaves all others alone)."""
        text = "\n".join(["*filter", f":{chain} - [0:0]", *rules, "COMMIT", ""])
        r = subprocess.run(
            ["iptables-restore", "-w", "--noflush"], input=text, capture_output=True, text=True
        )
        if r.returncode != 0:
            raise ClusterError(f"iptables-restore failed: {r.stderr.strip()}")
        if chain not in self._hooked:
            if self._iptables("-C", *self._jump(chain), check=False).returncode != 0:
                self._iptables("-I", *self._jump(chain))
            self._hooked.add(chain)

    def _jump(self, chain: str) -> list[str]:
        comment = f"paxlab-local {self.name}"
        return ["OUTPUT", "-o", "lo", "-m", "comment", "--comment", comment, "-j", chain]

    def _require_iptables(self) -> None:
        reason = probe_iptables()
        if reason:
            raise Unsupported(reason)

    def _mark_rules(self) -> list[str]:
        """Mark each new connection with the node whose process opens it."""
        return [
            f"-A {self._mark_chain} -o lo -p tcp -m conntrack --ctstate NEW"
            f" -m owner --gid-owner {self.gid(n)} -j CONNMARK --set-xmark {_mark(n)}"
            for n in self.nodes
        ]

    def _answer_rules(self, grudge: dict[str, set[str]]) -> list[str]:
        """DROP what a node sends on connections opened by a node it is cut from (answers
        and streamed responses, which go to the opener's ephemeral port)."""
        rules: dict[str, None] = {}
        for dst, srcs in sorted(grudge.items()):
            for src in sorted(srcs - {dst}):
                for sender, opener in ((src, dst), (dst, src)):
                    rules[
                        f"-A {self._chain} -o lo -m owner --gid-owner {self.gid(sender)}"
                        f" -m connmark --mark {_mark(opener)} -j DROP"
                    ] = None
        return list(rules)

    def partition(self, grudge: dict[str, set[str]]) -> None:
        self._require_iptables()
        rules = self._partition_rules(grudge) + self._answer_rules(grudge)
        with self._lock:
            self._restore(self._chain, rules)

    def heal_network(self) -> None:
        self._require_iptables()
        with self._lock:
            self._restore(self._chain, [])

    # -- packet loss (no delay: there is no per-node interface for netem) ------------------------
    def _loss_rules(self) -> list[str]:
        """Each packet a lossy node sends, and each packet sent to its ports, is dropped with
        its probability (iptables' statistic match)."""
        rules = []
        for node, p in sorted(self._loss.items()):
            a = self.node_addr(node)
            stat = f"-m statistic --mode random --probability {p:.6f} -j DROP"
            rules.append(
                f"-A {self._loss_chain} -o lo -m owner --gid-owner {self.gid(node)} {stat}"
            )
            rules.append(
                f"-A {self._loss_chain} -o lo -d {a.host}/32 -p tcp -m multiport"
                f" --dports {a.peer_port},{a.client_port} {stat}"
            )
            if self.config.transport == "udp":  # datagrams from its peers
                rules.append(
                    f"-A {self._loss_chain} -o lo -d {a.host}/32 -p udp"
                    f" --dport {a.peer_port} {stat}"
                )
        return rules

    def netem(self, node: str, delay_ms: float = 0, jitter_ms: float = 0, loss: float = 0) -> None:
        self._check_node(node)
        if delay_ms or jitter_ms:
            raise Unsupported("the local backend cannot delay packets (no per-node interface)")
        if not 0 <= loss <= 1:
            raise ClusterError(f"loss must be a probability within 0..1, got {loss}")
        self._require_iptables()
        with self._lock:
            if loss > 0:
                self._loss[node] = loss
            else:
                self._loss.pop(node, None)
            self._restore(self._loss_chain, self._loss_rules())

    def heal_netem(self) -> None:
        self._require_iptables()
        with self._lock:
            self._loss.clear()
            self._restore(self._loss_chain, [])

    def _remove_chains(self) -> None:
        if probe_iptables() is not None:
            return
        with self._lock:
            for chain in (self._chain, self._loss_chain, self._mark_chain):
                for _ in range(10):  # delete every copy of the jump
                    if self._iptables("-D", *self._jump(chain), check=False).returncode != 0:
                        break
                if self._iptables("-S", chain, check=False).returncode == 0:
                    self._iptables("-F", chain)
                    self._iptables("-X", chain)
            self._hooked.clear()

    # -- clocks ----------------------------------------------------------------------------------
    def set_clock_offset(self, node: str, seconds: float) -> None:
        if not self._faketime_lib:
            raise Unsupported("the local backend shifts clocks only with a working libfaketime")
        self.node_dir(node).mkdir(parents=True, exist_ok=True)
        write_offset_file(self.node_dir(node) / node_agent.CLOCK_FILE, seconds)

    def reset_clocks(self) -> None:
        for node in self.nodes:
            self.set_clock_offset(node, 0)


def _mark(node: str) -> str:
    """The connmark of connections ``node`` opened: its id + 1 in bits this backend owns."""
    return f"0x{(store_id(node) + 1) << 24:x}/0x{MARK_MASK:x}"


def wait_serving(
    node: str,
    config: Config,
    running: Callable[[], bool],
    log_tail: Callable[[str], str],
    timeout: float = 15,
    where: NodeAddress | None = None,
) -> None:
    """Poll node's client port until it accepts a connection (shared with the ssh backend);
    ``where`` is the node's address when the config file does not have it (added later)."""
    a = where or config.node(store_id(node))
    deadline = time.monotonic() + timeout
    next_check = time.monotonic() + 0.5  # asking whether it died may cost an SSH round trip
    while True:
        try:
            with socket.create_connection((a.host, a.client_port), timeout=0.5):
                return
        except OSError:
            pass
        now = time.monotonic()
        died = False
        if now > next_check:
            died, next_check = not running(), now + 0.5
        if now > deadline or died:
            raise ClusterError(
                f"{node}: the store is not serving on {a.host}:{a.client_port}: {log_tail(node)}"
            )
        time.sleep(0.05)


def data_listing(root: Path) -> str:
    """A `ls -lR`-like listing (size, mtime, relative path) of a data directory."""
    root = Path(root)
    if not root.exists():
        return f"{root}: missing\n"
    lines = [f"# {root}"]
    for p in sorted(root.rglob("*")):
        try:
            st = p.stat()
        except OSError:
            continue
        kind = "d" if p.is_dir() else "-"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime))
        lines.append(f"{kind} {st.st_size:>12} {stamp} {p.relative_to(root)}")
    return "\n".join(lines) + "\n"
