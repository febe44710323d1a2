#!/usr/bin/env python3
"""The node agent: runs ON a node and owns its store process, its clock and its files.

Why a script on the node: the docker backend (through ``docker exec``), the ssh backend
(over SSH) and the local backend (as a plain subprocess) all need the same few things done
to a store -- start it under libfaketime, signal it, ask whether it runs, shift its clock --
and doing them on the node itself keeps them identical and avoids racing a remote shell.
Standard library only: it runs inside the node image with a bare python3.

Everything lives under one root directory (``--root``, default /var/lib/paxlab):

    store.pid       "PID STARTTIME" of the running store (start time guards against reuse)
    store.log       the store's stdout/stderr
    agent.log       what the agent did and how the store ended
    clock-offset    libfaketime's timestamp file, e.g. "+2.5" (rewritten atomically)
    data/           the store's data directory

Each command prints one JSON object on stdout and exits 0, or prints a one-line reason on
stderr and exits 1 (2 for bad usage). ``start`` forks a supervisor that becomes the
store's parent, records its pid, waits for it and logs how it ended (exit code or signal),
so a kill -9 leaves a line in agent.log and no zombie.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_ROOT = "/var/lib/paxlab"
PID_FILE = "store.pid"
STORE_LOG = "store.log"
AGENT_LOG = "agent.log"
CLOCK_FILE = "clock-offset"
DATA_DIR = "data"
# Where Debian puts the multi-threaded libfaketime (the single-threaded one can deadlock a
# threaded process); the glob covers every architecture's multiarch directory.
FAKETIME_GLOBS = (
    "/usr/lib/*/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)


class AgentError(Exception):
    """A one-line reason the command could not be done."""


# -- small helpers -------------------------------------------------------------------------
def log(root: Path, msg: str) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    with open(root / AGENT_LOG, "a") as f:
        f.write(f"{stamp} agent[{os.getpid()}] {msg}\n")


def find_faketime() -> str | None:
    for pattern in FAKETIME_GLOBS:
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[0]
    return None


def write_atomically(path: Path, text: str) -> None:
    """Write then rename: libfaketime re-reads the file constantly, a torn read would hurt."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def format_offset(seconds: float) -> str:
    """libfaketime's relative syntax: a signed number of seconds."""
    return f"{seconds:+.6f}".rstrip("0").rstrip(".") if seconds else "+0"


def read_offset(root: Path) -> float:
    try:
        text = (root / CLOCK_FILE).read_text().strip()
    except FileNotFoundError:
        return 0.0
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def faketime_env(root: Path, lib: str | None) -> dict[str, str]:
    """The environment that puts a process on this node's (possibly shifted) clock."""
    if lib is None:
        return {}
    clock = root / CLOCK_FILE
    if not clock.exists():
        write_atomically(clock, "+0\n")
    return {
        "LD_PRELOAD": lib,
        "FAKETIME_TIMESTAMP_FILE": str(clock),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
    }


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state letter, start time in clock ticks) of a live pid, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    after = raw[raw.rindex(")") + 2 :].split()  # comm may contain spaces and parentheses
    return after[0], after[19]


def store_pid(root: Path) -> int | None:
    """The store's pid if that very process (same start time) is alive and not a zombie."""
    try:
        pid_s, start = (root / PID_FILE).read_text().split()
        pid = int(pid_s)
    except (FileNotFoundError, ValueError):
        return None
    st = _proc_stat(pid)
    if st is None or st[1] != start or st[0] in ("Z", "X"):
        return None
    return pid


def store_state(root: Path) -> dict:
    pid = store_pid(root)
    if pid is None:
        return {"running": False, "state": "stopped", "pid": None}
    st = _proc_stat(pid)
    paused = st is not None and st[0] in ("T", "t")
    return {"running": True, "state": "paused" if paused else "running", "pid": pid}


# -- commands ------------------------------------------------------------------------------
def store_command(args: argparse.Namespace, root: Path) -> list[str]:
    if args.command_override:
        return ["/bin/sh", "-c", "exec " + args.command_override]
    cmd = [args.python, "-m", "paxos_impl.server", str(args.id), "--config", args.config]
    cmd += ["--data-dir", str(root / DATA_DIR)]
    for b in args.bug or []:
        cmd += ["--bug", b]
    if getattr(args, "join", None):  # a node added while the cluster runs (membership)
        cmd += ["--join", args.join]
    return cmd


def cmd_start(args: argparse.Namespace, root: Path) -> dict:
    running = store_pid(root)
    if running is not None:
        return {"started": False, "pid": running, "reason": "already running"}
    if args.id is None and not args.command_override:
        raise AgentError("start needs --id (the store's node id) or --command")
    lib = None if args.no_faketime else find_faketime()
    if lib is None and not args.no_faketime and args.require_faketime:
        raise AgentError("libfaketimeMT is not installed on this node (apt install libfaketime)")
    (root / DATA_DIR).mkdir(parents=True, exist_ok=True)
    (root / PID_FILE).unlink(missing_ok=True)
    cmd = store_command(args, root)
    env = dict(os.environ, **faketime_env(root, lib))
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    supervisor = _fork_supervisor(root, cmd, env)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        pid = store_pid(root)
        if pid is not None:
            return {"started": True, "pid": pid, "faketime": lib is not None}
        if os.waitpid(supervisor, os.WNOHANG) != (0, 0):  # the store came and went already
            break
        time.sleep(0.02)
    raise AgentError(f"the store did not start; last log line: {_last_line(root / STORE_LOG)}")


def _fork_supervisor(root: Path, cmd: list[str], env: dict[str, str]) -> int:
    """Fork (no second interpreter to start: it is the slow part on a busy node) a child
    that leaves the caller's session, so it outlives the exec/ssh call, and supervises."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.chdir(root)
        supervise(root, cmd, env)
    except BaseException:  # noqa: BLE001 - a forked child must never return into the agent
        code = 1
    finally:
        os._exit(code)


def _last_line(path: Path) -> str:
    try:
        lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()]
    except FileNotFoundError:
        return "(no log)"
    return lines[-1][:300] if lines else "(empty log)"


def supervise(root: Path, cmd: list[str], env: dict[str, str]) -> None:
    """Parent of the store: records its pid, reaps it and logs how it ended."""
    with open(root / STORE_LOG, "ab") as out:
        out.write(f"--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} {cmd}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, cwd=str(root), env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=out)  # fmt: skip
    # Only the store is ours to signal: the supervisor ignores a hang-up of its session.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    st = _proc_stat(proc.pid)
    write_atomically(root / PID_FILE, f"{proc.pid} {st[1] if st else 0}\n")
    log(root, f"started store pid {proc.pid}: {' '.join(cmd)}")
    rc = proc.wait()
    how = f"killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
    log(root, f"store pid {proc.pid} {how}")
    try:
        if (root / PID_FILE).read_text().split()[0] == str(proc.pid):
            (root / PID_FILE).unlink()
    except (FileNotFoundError, IndexError):
        pass


def _signal(root: Path, sig: int) -> int:
    pid = store_pid(root)
    if pid is None:
        raise AgentError("the store is not running")
    os.kill(pid, sig)
    return pid


def _send(pid: int, sig: int) -> None:
    """Signal a process that may have just ended on its own (then there is nothing to do)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(root: Path, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store_pid(root) != pid:
            return True
        time.sleep(0.02)
    return False


def cmd_stop(args: argparse.Namespace, root: Path) -> dict:
    pid = store_pid(root)
    if pid is None:
        return {"stopped": False, "reason": "not running"}
    _send(pid, signal.SIGTERM)
    _send(pid, signal.SIGCONT)  # a paused store must wake up to handle SIGTERM
    if _wait_gone(root, pid, args.timeout):
        log(root, f"stopped store pid {pid} with SIGTERM")
        return {"stopped": True, "pid": pid, "signal": "TERM"}
    _send(pid, signal.SIGKILL)
    _wait_gone(root, pid, 5)
    log(root, f"store pid {pid} ignored SIGTERM for {args.timeout}s: SIGKILL")
    return {"stopped": True, "pid": pid, "signal": "KILL"}


def cmd_kill(args: argparse.Namespace, root: Path) -> dict:
    pid = store_pid(root)
    if pid is None:
        return {"killed": False, "reason": "not running"}
    _send(pid, signal.SIGKILL)
    _wait_gone(root, pid, 5)
    log(root, f"kill -9 store pid {pid}")
    return {"killed": True, "pid": pid}


def _wait_state(pid: int, stopped: bool, timeout: float = 5.0) -> None:
    """Signals arrive when the kernel next schedules the target: wait for the state to show,
    so that "paused" means paused when the command returns (a busy node may take a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = _proc_stat(pid)
        if st is None or (st[0] in ("T", "t")) == stopped:
            return
        time.sleep(0.005)


def cmd_pause(args: argparse.Namespace, root: Path) -> dict:
    pid = _signal(root, signal.SIGSTOP)
    _wait_state(pid, stopped=True)
    log(root, f"SIGSTOP store pid {pid}")
    return {"paused": True, "pid": pid}


def cmd_resume(args: argparse.Namespace, root: Path) -> dict:
    pid = _signal(root, signal.SIGCONT)
    _wait_state(pid, stopped=False)
    log(root, f"SIGCONT store pid {pid}")
    return {"resumed": True, "pid": pid}


def cmd_status(args: argparse.Namespace, root: Path) -> dict:
    return {**store_state(root), "clock_offset": read_offset(root), "faketime": find_faketime()}


def cmd_set_clock(args: argparse.Namespace, root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    write_atomically(root / CLOCK_FILE, format_offset(args.seconds) + "\n")
    log(root, f"clock offset set to {args.seconds:+}s")
    return {"clock_offset": args.seconds}


def cmd_ls_data(args: argparse.Namespace, root: Path) -> dict:
    data = root / DATA_DIR
    entries = []
    if data.exists():
        for p in sorted(data.rglob("*")):
            st = p.lstat()
            entries.append(
                {"path": str(p.relative_to(data)), "size": st.st_size, "mtime": st.st_mtime}
            )
    return {"data_dir": str(data), "entries": entries}


def cmd_run(args: argparse.Namespace, root: Path) -> dict:
    """Run a command on this node's clock (what the store sees); replaces the agent."""
    cmd = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not cmd:
        raise AgentError("run needs a command after --")
    env = dict(os.environ, **faketime_env(root, find_faketime()))
    os.execvpe(cmd[0], cmd, env)
    return {}  # pragma: no cover


COMMANDS = {
    "start": cmd_start,
    "stop": cmd_stop,
    "kill": cmd_kill,
    "pause": cmd_pause,
    "resume": cmd_resume,
    "status": cmd_status,
    "set-clock": cmd_set_clock,
    "ls-data": cmd_ls_data,
    "run": cmd_run,
}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="node_agent", description=__doc__.splitlines()[0])
    p.add_argument("--root", default=os.environ.get("PAXLAB_NODE_ROOT", DEFAULT_ROOT))
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start", help="start the store under libfaketime")
    s.add_argument("--id", type=int, help="the store's node id")
    s.add_argument("--config", default="/etc/paxlab/config.toml")
    s.add_argument("--bug", action="append", help="a deliberate bug to turn on (repeatable)")
    s.add_argument("--join", help="HOST:PEER_PORT:CLIENT_PORT of a node not in the config")
    s.add_argument("--python", default="python3")
    s.add_argument("--pythonpath", help="PYTHONPATH for the store (where paxos_impl is)")
    s.add_argument("--command", dest="command_override", help="run this shell command instead")
    s.add_argument("--no-faketime", action="store_true", help="do not preload libfaketime")
    s.add_argument("--require-faketime", action="store_true", help="fail if libfaketime is missing")
    s.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the pid")
    st = sub.add_parser("stop", help="SIGTERM, then SIGKILL after --timeout")
    st.add_argument("--timeout", type=float, default=10.0)
    for name in ("kill", "pause", "resume", "status", "ls-data"):
        sub.add_parser(name)
    c = sub.add_parser("set-clock", help="shift this node's clock by SECONDS (0 resets)")
    c.add_argument("seconds", type=float)
    r = sub.add_parser("run", help="run a command on this node's clock: run -- CMD...")
    r.add_argument("argv", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    root = Path(args.root)
    try:
        root.mkdir(parents=True, exist_ok=True)
        result = COMMANDS[args.cmd](args, root)
    except AgentError as e:
        sys.stderr.write(f"node_agent {args.cmd}: {e}\n")
        return 1
    except OSError as e:
        sys.stderr.write(f"node_agent {args.cmd}: {e}\n")
        return 1
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
