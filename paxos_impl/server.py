"""``paxos-server NODE_ID``: run one node of the store until SIGTERM.

Start-up is where a user's mistakes show (a bad config file, a port in use, a damaged data
directory), so each of those is one line on stderr and exit code 2, never a traceback.
Defaults follow etcd's ``default.etcd``: the 3-node loopback cluster and the data directory
``./node<N>.paxos`` in the current directory, so three commands give a working cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
import sys
import traceback
from pathlib import Path

from .config import KNOWN_BUGS, Config, ConfigError, NodeAddress, load_config
from .machine import BUILTIN, MachineSpecError, build_user
from .membership import parse_address
from .node import Node
from .storage import Storage, StorageError
from .tls import TlsError, describe
from .trace import MessageLog

EXIT_OK, EXIT_FATAL, EXIT_USAGE = 0, 1, 2


class _OneLineFormatter(logging.Formatter):
    """Every log record on one line (tracebacks folded), so logs stay grep-able."""

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return " | ".join(line.strip() for line in traceback.format_exception(*ei) if line.strip())

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\n", " | ")


def setup_logging(node_id: int, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _OneLineFormatter(
            f"%(asctime)s.%(msecs)03d node{node_id} %(levelname)s %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%S",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="paxos-server", description="Run one node of the paxlab Multi-Paxos store.")
    p.add_argument("node_id", type=int, metavar="NODE_ID", help="this node's id (0..N-1)")
    p.add_argument("--config", metavar="FILE", help="cluster TOML (default: 3 nodes on loopback)")
    p.add_argument("--data-dir", metavar="DIR", help="default: ./node<NODE_ID>.paxos")
    p.add_argument(
        "--bug",
        action="append",
        default=[],
        metavar="NAME",
        help=f"turn on a deliberate bug ({', '.join(KNOWN_BUGS)}); repeatable",
    )
    p.add_argument(
        "--state-machine",
        metavar="SPEC",
        help="the replicated machine: kv (default), register, or module:Class (a user's "
        "machine; its module on PYTHONPATH or under the current directory)",
    )
    p.add_argument(
        "--join",
        metavar="HOST:PEER_PORT:CLIENT_PORT",
        help="this node is not in the config file: listen here and join the running cluster "
        "(then add it: paxos-client reconfig add NODE_ID HOST:PEER_PORT:CLIENT_PORT)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def joining_address(args: argparse.Namespace, config: Config) -> NodeAddress | None:
    """The address --join gives (None without it); ConfigError if it cannot be used."""
    if args.join is None:
        return None
    if args.node_id in config.ids():
        raise ConfigError(f"node {args.node_id} is in the config file: start it without --join")
    a = parse_address(args.join)
    if a is None:
        raise ConfigError(f"--join {args.join!r} is not HOST:PEER_PORT:CLIENT_PORT")
    addr = NodeAddress(args.node_id, a[0], a[1], a[2])
    return addr


def ask_members(config: Config) -> dict | None:
    """The running cluster's membership (its nodes' addresses), or None if none answers."""
    from .client import Client, PaxosError

    with Client(config, timeout=2.0) as c:
        try:
            return c.members()
        except PaxosError:
            return None


def load(args: argparse.Namespace) -> tuple[Config, Path]:
    """The node's config (with --bug added) and data directory; ConfigError if unusable."""
    config = load_config(args.config)
    for bug in args.bug:
        if bug not in config.bugs:
            config.bugs.append(bug)
    if args.state_machine is not None:
        config.state_machine = args.state_machine
    config.validate()
    if config.state_machine not in BUILTIN:  # fail now, in one line, not in the core
        try:
            build_user(config.state_machine, config.bugs, args.node_id)
        except MachineSpecError as e:
            raise ConfigError(str(e)) from None
    if args.join is None:
        config.node(args.node_id)
    data_dir = Path(args.data_dir) if args.data_dir else config.data_dir_for(args.node_id)
    return config, data_dir


def raise_open_file_limit() -> int:
    """Lift the soft open-file limit to the hard one (every client is a file descriptor:
    at the usual 1,024 an idle-connection flood could leave the node unable to accept its
    own peers). Returns the soft limit now in force (-1: unlimited or unknown)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY:
            hard = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
        if soft != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        return -1 if soft == resource.RLIM_INFINITY else soft
    except (ImportError, OSError, ValueError):
        return -1


def _fail(msg: str) -> int:
    sys.stderr.write(f"paxos-server: {msg}\n")
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config, data_dir = load(args)
        me = joining_address(args, config) or config.node(args.node_id)
    except ConfigError as e:
        return _fail(str(e))
    setup_logging(args.node_id, args.log_level)
    from .core import Replica  # here, so `--help` and config errors need no core
    from .messages import ProtocolError

    storage = Storage(data_dir, fsync=config.fsync)
    try:
        snapshot, records = storage.recover()
    except StorageError as e:
        return _fail(str(e))
    try:
        replica = Replica(args.node_id, config, random.Random(), snapshot=snapshot, records=records)
    except (ProtocolError, ValueError, KeyError, TypeError) as e:
        storage.close()
        return _fail(f"{data_dir}: cannot recover state from the log: {e!r}")
    if args.join is not None:  # learn the addresses of the nodes that joined before us
        view = ask_members(config)
        if view is None and snapshot is None and not records:
            storage.close()
            return _fail("--join: no node of the cluster answered (is it running?)")
        replica.learn_addresses((view or {}).get("nodes", {}))
    open_files = raise_open_file_limit()
    try:
        node = Node(args.node_id, config, storage, replica, protocol_error=ProtocolError, me=me)
    except TlsError as e:
        storage.close()
        return _fail(str(e))
    if config.trace_messages_bytes:
        trace_path = data_dir.parent / "messages.jsonl"
        try:
            node.runtime.trace = MessageLog(trace_path, args.node_id, config.trace_messages_bytes)
        except OSError as e:  # the trace is an aid: without it the node serves all the same
            logging.getLogger("paxos.server").error("no message trace at %s: %s", trace_path, e)
    summary = (
        f"node {args.node_id} of {config.n}: peers on {config.transport} "
        f"{me.host}:{me.peer_port}, clients on "
        f"{me.host}:{me.client_port}; mode {config.mode}, read_mode {config.read_mode}, "
        f"state machine {config.state_machine}, "
        f"data {data_dir}, fsync {'on' if config.fsync else 'off'}"
        + (f", bugs {','.join(config.bugs)}" if config.bugs else "")
        + f"; {describe(config.tls)}"
        + f"; recovered {'a snapshot and ' if snapshot is not None else ''}{len(records)} records"
        + f"; at most {node.client_cap} client connections (open files {open_files})"
    )
    try:
        return asyncio.run(_serve(node, summary))
    except OSError as e:  # a port in use
        storage.close()
        return _fail(str(e))


async def _serve(node: Node, summary: str) -> int:
    await node.listen()
    logging.getLogger("paxos.server").info("serving %s", summary)
    if not node.config.tls.enabled:
        logging.getLogger("paxos.server").warning(
            "TLS is off: peer and client connections are plain TCP and not authenticated "
            "(set [tls] in the config; paxlab's docker, local and ssh clusters do)"
        )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, node.stop)
    await node.run()
    if node.runtime.trace is not None:
        node.runtime.trace.close()
    log = logging.getLogger("paxos.server")
    if node.fatal:
        log.error("stopped: %s", node.fatal)
        return EXIT_FATAL
    log.info("stopped cleanly")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
