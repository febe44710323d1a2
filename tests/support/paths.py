"""Where things are, for tests at any depth of tests/ (no test counts ``parent`` hops)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: the folder with the Makefile, README.md and docs/."""

DATA = REPO_ROOT / "tests" / "data"
"""Fixture files shared by tests and named by docs (``tests/data/edn/...``)."""
