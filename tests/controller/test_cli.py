"""The paxlab entry point: every sub-command is wired, and usage errors exit 2 in one line."""

import subprocess
import sys


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", *args], capture_output=True, text=True
    )


def test_help_lists_subcommands():
    r = run("--help")
    assert r.returncode == 0
    for name in ("test", "check", "report", "serve", "cluster", "validate", "sim", "bench"):
        assert name in r.stdout


def test_unknown_subcommand_is_a_one_line_error():
    r = run("frobnicate")
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1
