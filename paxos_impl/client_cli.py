"""``paxos-client``: talk to the store from a shell.

Made for scripts: ``get`` prints the value alone (a string as it is, anything else as JSON)
and the exit code says what is known: 0 done, 1 it certainly did not happen (including a cas
mismatch), 2 usage error, 3 unknown outcome (timeout, lost connection). Values are parsed as
JSON when they parse (``42``, ``[1,2]``, ``"quoted"``) and taken as strings otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .client import CasMismatch, Client, DefiniteFailure, Indeterminate
from .config import ConfigError, load_config
from .membership import parse_address
from .statemachine import valid_mops

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNKNOWN = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def parse_value(text: str) -> Any:
    """JSON when it parses, else the string itself (so `put k hello` needs no quotes)."""
    try:
        return json.loads(text)
    except ValueError:
        return text


class UsageError(ValueError):
    """A command line the store would refuse anyway (exit 2, one line)."""


def _mops(text: str) -> list:
    try:
        mops = json.loads(text)
    except ValueError:
        raise UsageError(f"txn: not JSON: {text[:60]}") from None
    if not valid_mops(mops):
        raise UsageError('txn: want a list of ["r"|"w"|"append", "key", value] micro-ops')
    return mops


def format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def build_parser() -> argparse.ArgumentParser:
    # -n/--config/--timeout work before or after the sub-command
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-n", "--node", type=int, default=argparse.SUPPRESS, help="node id (0)")
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help="cluster TOML")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds (5)")
    p = _Parser(prog="paxos-client", description="Client of the paxlab store.", parents=[common])
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, help_: str, *params: str) -> None:
        sp = sub.add_parser(name, help=help_, parents=[common])
        for param in params:
            if param.endswith("?"):
                sp.add_argument(param[:-1], nargs="?", default=None)
            else:
                sp.add_argument(param)

    add("propose", "write VALUE to the single register", "VALUE")
    add("get", "print the value of KEY (default: the single register)", "KEY?")
    add("put", "write VALUE to KEY", "KEY", "VALUE")
    add("cas", "set KEY to NEW if it holds OLD", "KEY", "OLD", "NEW")
    add("append", "append VALUE to KEY (strings concatenate, lists extend)", "KEY", "VALUE")
    add("txn", 'run micro-ops atomically, e.g. \'[["append","x",1],["r","y",null]]\'', "MOPS")
    add("apply", "apply COMMAND on a user state machine, e.g. '{\"add\": 2}'", "COMMAND")
    add("query", "ask a user state machine a read-only QUERY, e.g. value", "QUERY")
    add("status", "print a node's status as JSON")
    add("members", "print the membership (voters, learners, addresses, leader) as JSON")
    rc = sub.add_parser(
        "reconfig",
        help="change the membership (add, remove, promote, replace, quorum)",
        parents=[common],
    )
    acts = rc.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    acts.required = True
    a = acts.add_parser("add", help="NODE joins as a learner", parents=[common])
    a.add_argument("NODE", type=int)
    a.add_argument("ADDR", type=_address, help="HOST:PEER_PORT:CLIENT_PORT")
    for name, help_ in (("remove", "NODE leaves"), ("promote", "learner NODE becomes a voter")):
        acts.add_parser(name, help=help_, parents=[common]).add_argument("NODE", type=int)
    r = acts.add_parser("replace", help="learner NEW takes voter OLD's place", parents=[common])
    r.add_argument("NODE", type=int, metavar="OLD")
    r.add_argument("NEW", type=int)
    q = acts.add_parser(
        "quorum", help="phase-1 and phase-2 quorum sizes of the voters", parents=[common]
    )
    q.add_argument("Q1", type=_positive)
    q.add_argument("Q2", type=_positive)
    return p


def _positive(text: str) -> int:
    """A quorum size: a positive integer."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _address(text: str) -> list:
    """HOST:PEER_PORT:CLIENT_PORT as the store's [host, peer_port, client_port]."""
    addr = parse_address(text)
    if addr is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PEER_PORT:CLIENT_PORT")
    return addr


def run(args: argparse.Namespace, client: Client) -> int:
    cmd = args.cmd
    if cmd == "propose":
        client.write(None, parse_value(args.VALUE))
    elif cmd == "get":
        print(format_value(client.read(args.KEY)))
    elif cmd == "put":
        client.write(args.KEY, parse_value(args.VALUE))
    elif cmd == "cas":
        client.cas(args.KEY, parse_value(args.OLD), parse_value(args.NEW))
    elif cmd == "append":
        client.append(args.KEY, parse_value(args.VALUE))
    elif cmd == "txn":
        print(json.dumps(client.txn(_mops(args.MOPS))))
    elif cmd == "apply":
        print(format_value(client.apply(parse_value(args.COMMAND))))
    elif cmd == "query":
        print(format_value(client.query(parse_value(args.QUERY))))
    elif cmd == "status":
        print(json.dumps(client.status(), indent=2, sort_keys=True))
    elif cmd == "members":
        print(json.dumps(client.members(), indent=2, sort_keys=True))
    elif cmd == "reconfig":
        addr = getattr(args, "ADDR", None)
        sizes = (args.Q1, args.Q2) if args.action == "quorum" else None
        node = getattr(args, "NODE", None)
        view = client.reconfig(args.action, node, addr, getattr(args, "NEW", None), sizes)
        print(json.dumps(view, indent=2, sort_keys=True))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run one command; a reader that leaves early (``| head``) ends it quietly, no traceback."""
    try:
        try:
            return _main(argv)
        finally:  # flush here, not at interpreter exit, where the error cannot be caught
            sys.stdout.flush()
    except BrokenPipeError:
        # Every command prints only after its operation completed (or it is --help), so the
        # outcome is known: done. Point stdout at /dev/null so the interpreter's final flush
        # stays quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
        node = getattr(args, "node", 0)
        client = Client(config, node=node if node in config.ids() else config.ids()[0])
        client.timeout = getattr(args, "timeout", 5.0)
    except ConfigError as e:
        sys.stderr.write(f"paxos-client: {e}\n")
        return EXIT_USAGE
    try:
        if node not in config.ids():  # a node that joined later: ask the others for it
            client.members()
            if node not in client.addrs:
                sys.stderr.write(
                    f"paxos-client: node {node} is not in the configuration {client.ids}\n"
                )
                return EXIT_USAGE
            client.node = client.preferred = node
        return run(args, client)
    except UsageError as e:
        sys.stderr.write(f"paxos-client: {e}\n")
        return EXIT_USAGE
    except CasMismatch:
        sys.stderr.write("paxos-client: cas failed: the key holds another value\n")
        return EXIT_FAILED
    except DefiniteFailure as e:
        sys.stderr.write(f"paxos-client: failed: {e}\n")
        return EXIT_FAILED
    except Indeterminate as e:
        sys.stderr.write(f"paxos-client: {e}\n")
        return EXIT_UNKNOWN
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
