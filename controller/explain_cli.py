"""`paxlab explain BUG...`: why a deliberate bug breaks Paxos, where it is, how small it gets."""

from __future__ import annotations

import argparse

from controller.cli import UsageError
from controller.explain import entry, explain_text


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bugs", nargs="*", metavar="BUG", help="bug names (default: every one)")


def run(args: argparse.Namespace) -> int:
    from controller.catalogue import CATALOGUE

    names = args.bugs or sorted({e.name for e in CATALOGUE if not e.setting})
    unknown = [b for b in names if entry(b) is None]
    if unknown:
        known = ", ".join(sorted({e.name for e in CATALOGUE if not e.setting}))
        raise UsageError(f"unknown bug {unknown[0]!r}; known: {known}")
    print("\n\n".join(explain_text(b) for b in names))
    return 0
