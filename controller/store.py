"""Where runs are kept: results/<test>/<YYYYmmddTHHMMSS>/ and results/latest.

Every file is written so a reader never sees half of it (write a temporary file, then
rename), because the report server and a person's editor may read while a run goes on.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any


def results_root(root: str | Path | None = None) -> Path:
    """The results/ folder: explicit, else $PAXLAB_RESULTS, else ./results."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("PAXLAB_RESULTS", "results"))


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


class RunDir:
    """One run's folder and the files the contract names."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def history_path(self) -> Path:
        return self.path / "history.jsonl"

    @property
    def results_path(self) -> Path:
        return self.path / "results.json"

    @property
    def spec_path(self) -> Path:
        return self.path / "test.json"

    @property
    def report_path(self) -> Path:
        return self.path / "report.html"

    def node_dir(self, node: str) -> Path:
        d = self.path / "nodes" / node
        d.mkdir(parents=True, exist_ok=True)
        return d

    def write_spec(self, spec: dict[str, Any]) -> None:
        write_json_atomic(self.spec_path, spec)

    def write_results(self, results: dict[str, Any]) -> None:
        write_json_atomic(self.results_path, results)


def create_run(
    test_name: str, root: str | Path | None = None, when: datetime | None = None
) -> RunDir:
    """Make results/<test>/<time>/ (a -N suffix if that second is taken) and point latest at it."""
    base = results_root(root)
    stamp = (when or datetime.now()).strftime("%Y%m%dT%H%M%S")
    parent = base / test_name
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / stamp
    n = 1
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:
            path = parent / f"{stamp}-{n}"
            n += 1
    (path / "nodes").mkdir()
    update_latest(base, path)
    return RunDir(path)


def update_latest(base: Path, run_path: Path) -> None:
    """results/latest -> <test>/<time>, replaced atomically (relative, so results/ can move)."""
    link = base / "latest"
    tmp = base / f".latest.{os.getpid()}"
    target = os.path.relpath(run_path, base)
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(target)
        os.replace(tmp, link)
    except OSError:
        pass  # a filesystem without symlinks: the run itself is still complete
