"""The commands in docs/checking.md run as written (from the repository's root)."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO_ROOT as ROOT


def doc_commands() -> list[str]:
    cmds, inside = [], False
    for line in (ROOT / "docs" / "checking.md").read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside and line.strip():
            cmds.append(line)
    return cmds


def test_checking_doc_commands_run(tmp_path):
    cmds = doc_commands()
    assert any("--model set" in c for c in cmds) and any(".edn" in c for c in cmds)
    (tmp_path / "tests").symlink_to(ROOT / "tests")  # the fixtures, at the same paths
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for cmd in cmds:
        r = subprocess.run(["bash", "-ec", cmd], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, (cmd, r.stdout[-2000:], r.stderr[-2000:])
        assert "Traceback" not in r.stderr, cmd
