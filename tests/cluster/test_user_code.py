"""Which files of a user's state machine the backends ship to the nodes (cluster/user_code.py)."""

from __future__ import annotations

import io
import sys
import tarfile

import pytest

from cluster.ssh import _code_archive
from cluster.user_code import UserCodeError, machine_files, shipped
from tests.support.paths import REPO_ROOT


def test_builtin_machines_ship_nothing():
    assert machine_files("kv") is None and shipped("register") == []


def test_a_package_ships_whole_from_its_root():
    root, files = machine_files("examples.machines.counter:Counter")
    assert root == REPO_ROOT
    rel = [f.relative_to(root).as_posix() for f in files]
    assert "examples/machines/counter.py" in rel and "examples/__init__.py" in rel
    assert all(r.endswith(".py") and "__pycache__" not in r for r in rel)


def test_a_lone_module_ships_alone(tmp_path, monkeypatch):
    (tmp_path / "solo_machine_xyz.py").write_text("class M: pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert shipped("solo_machine_xyz:M") == [
        (tmp_path / "solo_machine_xyz.py", "solo_machine_xyz.py")
    ]


def test_a_missing_module_is_one_line():
    with pytest.raises(UserCodeError) as e:
        machine_files("surely_not_a_module_here:X")
    assert "no module surely_not_a_module_here" in str(e.value)


def test_the_ssh_archive_carries_the_machine_beside_the_code():
    data = _code_archive(b"", machine="examples.machines.bank:Bank")
    names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    assert "code/examples/machines/bank.py" in names and "code/paxos_impl/machine.py" in names
