"""`paxlab sim` sweeps for tests that compare two of them (--jobs, --scheduler): short
arguments, an aimed failing schedule, and the rows with what may differ between sweeps left out."""

from __future__ import annotations

import argparse
import json
from typing import Any

from controller.cli import main

SHORT = ["--nodes", "3", "--concurrency", "3", "--time-limit", "2"]
# tests/controller/test_sim_sweep.py's aimed schedule for local-read: seed 0 passes, seed 1 is caught
LOCAL_READ = ["--bug", "local-read", "--nodes", "3", "--concurrency", "5", "--workload", "register",
              "--nemesis", "partition:isolate-one", "--nemesis-interval", "0.5",
              "--time-limit", "3"]  # fmt: skip
TIMING = {"wall_s", "run"}  # what may differ between two sweeps of the same seeds


def sim_args(*argv: str) -> argparse.Namespace:
    """`paxlab sim ARGV`'s parsed arguments, for calling sim_cli's functions directly."""
    from controller import sim_cli

    p = argparse.ArgumentParser()
    sim_cli.add_arguments(p)
    return p.parse_args(list(argv))


def sweep_json(capsys: Any, *argv: str) -> tuple[int, list[dict], dict]:
    """`paxlab sim ARGV --json` in this process: exit code, rows without TIMING, summary."""
    rc = main(["sim", *argv, "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    *rows, last = lines
    return rc, [{k: v for k, v in r.items() if k not in TIMING} for r in rows], last["summary"]
