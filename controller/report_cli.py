"""`paxlab report RUN_DIR`: rebuild a run's report.html from its stored files.

Reports are derived data, so an upgrade of the report code (or a crashed run that never
wrote one) is fixed by rebuilding from history.jsonl, test.json and results.json.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir",
        metavar="RUN_DIR",
        nargs="+",
        help="a run folder results/<test>/<time>/ (or results/latest)",
    )


def run(args: argparse.Namespace) -> int:
    from controller.report import ReportError, build_report

    rc = 0
    for d in args.run_dir:  # one bad folder does not stop the others
        try:
            out = build_report(Path(d))
        except ReportError as e:
            sys.stderr.write(f"paxlab report: {e}\n")
            rc = 2
            continue
        print(out, flush=True)
    return rc
