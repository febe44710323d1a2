"""`paxlab`: one entry point whose sub-commands live next to the code they drive.

Each sub-command is a module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only to build their own parser; heavy libraries (pandas, docker)
belong inside ``run`` so that ``paxlab check`` starts fast.

Exit codes (docs/cli.md): 0 valid / success, 1 anomaly found, 2 undecided or bad input.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `typing`'s: argparse is imported only when a parser is built
if TYPE_CHECKING:
    import argparse

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "test": ("controller.run_cli", "run a Jepsen-style test against a cluster"),
    "sim": ("controller.sim_cli", "sweep many seeds of a simulated test"),
    "validate": ("controller.validate_cli", "prove the suite finds every bug and no false alarm"),
    "explain": (
        "controller.explain_cli",
        "why a deliberate bug breaks Paxos and how small it gets",
    ),
    "check": ("checker.cli", "check history files for linearizability"),
    "report": ("controller.report_cli", "(re)build a run's HTML report"),
    "serve": ("controller.serve", "browse results/ over HTTP (localhost only by default)"),
    "cluster": ("controller.cluster_cli", "start, inspect or remove a cluster for manual work"),
    "image": ("cluster.image_cli", "build or inspect the node image"),
    "bench": ("controller.bench_cli", "throughput and latency of the store, speed of the checker"),
}


class UsageError(Exception):
    """A user's mistake: reported as one line on stderr with exit code 2."""


def _columns() -> int:
    """The terminal's width as `shutil.get_terminal_size` finds it, without importing
    shutil: argparse imports it (and with it bz2, lzma, zlib: 2 to 3 ms of CPU) to build a
    formatter at every ``add_argument``, so every ``paxlab check`` paid for it."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _parser_class() -> type:
    """argparse.ArgumentParser with one-line errors and the width above. Built here, not at
    import: `paxlab check` on a plain command line never imports argparse (with re, enum
    and gettext, a fifth of checking a 2,000-op history in its own process)."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def _get_formatter(self) -> argparse.HelpFormatter:
            return self.formatter_class(prog=self.prog, width=_columns() - 2)

        def error(self, message: str) -> None:  # argparse's default prints usage; one line
            sys.stderr.write(f"{self.prog}: error: {message}\n")
            raise SystemExit(2)

    return _Parser


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` (a sub-command's name) one that imports just that
    sub-command's module: importing all of them (the simulator, the report server, the
    store's client) took most of a quick ``paxlab check``'s wall time. The others stay
    listed, by their one-line help, in ``paxlab --help``."""
    from importlib import import_module  # here: importlib imports warnings

    _Parser = _parser_class()
    parser = _Parser(prog="paxlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (modname, help_) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if only is not None and name != only:
            continue
        mod = import_module(modname)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command. A reader that leaves early (``paxlab check ... | head``) ends it
    quietly with exit 2 (what was not printed was not decided for the reader), never a
    traceback; a command that had already finished keeps its own exit code."""
    rc: int | None = None
    try:
        try:
            rc = _main(argv)
            return rc
        finally:  # flush here, not at interpreter exit, where the error cannot be caught
            sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2 if rc is None else rc


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = None
    if argv and argv[0] == "check":  # the common case, parsed without argparse (see there)
        from checker.cli import fast_args

        args = fast_args(argv[1:])
    if args is None:
        parser = build_parser(argv[0] if argv and argv[0] in SUBCOMMANDS else None)
        args = parser.parse_args(argv)
    try:
        rc = args._run(args)
    except UsageError as e:
        sys.stderr.write(f"paxlab {args.command}: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write(f"paxlab {args.command}: interrupted\n")
        return 2
    return int(rc or 0)


if __name__ == "__main__":
    # Re-import so that sub-commands raising controller.cli.UsageError are caught: under
    # `python -m controller.cli` this module is __main__, a different module object.
    from controller.cli import main as _entry

    sys.exit(_entry())
