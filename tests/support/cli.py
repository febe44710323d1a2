"""`paxlab check` in-process: a subprocess per case would dominate the checker's tests."""

from __future__ import annotations

import contextlib
import io
import subprocess


def paxlab_check(*args: object, quiet: bool = True) -> subprocess.CompletedProcess:
    """Run `paxlab check ARGS` in this process; its exit code, stdout and stderr as a run's."""
    from controller.cli import main

    argv = ["check", *(["--quiet"] if quiet else []), *[str(a) for a in args]]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:
            rc = e.code
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())
