"""The tests' own layout (tests/README.md): folders are packages, modules never import each
other, and nothing under tests/ shadows the packages it tests."""

from __future__ import annotations

import ast

import cluster
import paxos_impl
from tests.support.paths import REPO_ROOT

TESTS = REPO_ROOT / "tests"
NOT_PACKAGES = {"data", "testdata", "__pycache__"}  # fixture files, not Python


def test_every_test_folder_is_a_package():
    """Without an __init__.py two test_cli.py files clash, and tests/cluster/ would be
    imported as a top-level ``cluster`` in place of the real one."""
    folders = [
        d
        for d in TESTS.rglob("*")
        if d.is_dir() and not (set(d.relative_to(TESTS).parts) & NOT_PACKAGES)
    ]
    assert folders, "no test folders found"
    missing = [
        str(d.relative_to(REPO_ROOT)) for d in [TESTS, *folders] if not (d / "__init__.py").exists()
    ]
    assert missing == []


def test_no_test_module_imports_another():
    """What two test modules share lives in tests/support (or a conftest.py)."""
    bad = []
    for f in TESTS.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            bad += [
                f"{f.relative_to(REPO_ROOT)}: {n}"
                for n in names
                if n.split(".")[-1].startswith("test_")
            ]
    assert bad == []


def test_the_real_packages_are_imported():
    assert paxos_impl.__file__.startswith(str(REPO_ROOT / "paxos_impl"))
    assert cluster.__file__.startswith(str(REPO_ROOT / "cluster"))
