"""The layer check in `make lint` (import-linter) holds on this tree and fails on a tree
with one import pointing the wrong way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("paxos_impl", "generator", "targets", "cluster", "nemesis", "workloads")
PACKAGES += ("checker", "controller")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def copy_tree(dest: Path) -> Path:
    """The packages' Python sources and pyproject.toml (the contracts) in ``dest``."""
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_its_layers(tmp_path):
    r = lint_imports(copy_tree(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


@pytest.mark.parametrize(
    "module, line, broken",
    [
        ("generator/core.py", "import controller.run", "generator imports nothing of ours"),
        ("nemesis/kill.py", "import controller.spec", "dependencies point down"),
        ("cluster/local.py", "import targets", "dependencies point down"),
        ("workloads/kv.py", "import paxos_impl.client", "only targets/ reach the bundled store"),
        ("checker/models.py", "import cluster.base", "checker imports nothing of ours"),
    ],
)
def test_an_import_the_wrong_way_breaks_the_check(tmp_path, module, line, broken):
    tree = copy_tree(tmp_path)
    path = tree / module
    path.write_text(path.read_text() + f"\n{line}  # the violation under test\n")
    r = lint_imports(tree)
    assert r.returncode != 0
    assert f"{broken}" in r.stdout and "BROKEN" in r.stdout, r.stdout
