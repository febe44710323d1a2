"""The Target seam: the registry, the bundled target behind it, refusals up front."""

from __future__ import annotations

import asyncio
import re
import textwrap
from pathlib import Path

import pytest
from test_controller_fakes import FakeCluster

import nemesis
import targets
from cluster import make_cluster
from cluster.base import ClusterError, Launch, NodeProgram, Unsupported
from controller.spec import SpecError, TestSpec
from targets.base import Primaries, Target, TargetClient, TargetError
from targets.bundled import BundledTarget


def test_bundled_target_meets_the_protocols():
    t = targets.make_target("bundled")
    assert isinstance(t, Target) and isinstance(t, NodeProgram) and isinstance(t, Primaries)
    assert isinstance(t.client(FakeCluster(3), "n1", "c", 1.0), TargetClient)


def test_unknown_target_is_one_line():
    with pytest.raises(TargetError, match="unknown target 'nope'; known: bundled"):
        targets.make_target("nope")
    with pytest.raises(SpecError, match="unknown target 'nope'"):
        TestSpec(target="nope", backend="sim").validate()


def test_bundled_options_are_checked_against_the_store_schema():
    with pytest.raises(TargetError, match="unknown store setting 'bogus'"):
        targets.make_target("bundled", {"bogus": 1})
    t = targets.make_target("bundled", {"timeouts.lease_ms": 500}, read_mode="lease")
    assert t.cluster_opts() == {"read_mode": "lease", "timeouts": {"lease_ms": 500}}


def test_parse_opts_reads_json_else_strings():
    assert targets.parse_opts(["a=2", "read=serializable", "b=true"]) == {
        "a": 2,
        "read": "serializable",
        "b": True,
    }
    with pytest.raises(TargetError, match="KEY=VALUE"):
        targets.parse_opts(["novalue"])


def test_bundled_command_line():
    launch = Launch(
        node="n2",
        nodes=("n1", "n2", "n3"),
        node_dir="/srv/n2",
        config_path="/srv/cluster.toml",
        python="/usr/bin/python3",
        bugs=("early-ack",),
    )
    assert BundledTarget().command(launch) == [
        "/usr/bin/python3",
        "-m",
        "paxos_impl.server",
        "1",
        "--config",
        "/srv/cluster.toml",
        "--data-dir",
        "/srv/n2/data",
        "--bug",
        "early-ack",
    ]


def test_bugs_are_the_targets():
    with pytest.raises(SpecError, match="unknown bug 'gremlins' for the bundled target"):
        TestSpec(backend="sim", bugs=["gremlins"]).validate()


def test_primaries_names_the_leader_of_a_fake_cluster():
    c = FakeCluster(5)
    c.start_all()
    found = asyncio.run(BundledTarget().primaries(c))
    assert found and found[0] == c.leader()


class _NoClock(BundledTarget):
    refused = {"clock": "a Go binary ignores libfaketime"}


def test_a_fault_the_target_cannot_take_is_refused_in_one_line():
    combined = nemesis.build([("partition", None), ("clock", None)])
    with pytest.raises(Unsupported, match="cannot take the clock nemesis: a Go binary"):
        combined.require(FakeCluster(3), final=False, refused=_NoClock.refused)
    combined.require(FakeCluster(3), final=False, refused={})  # the fake can do both


def test_a_backend_that_runs_only_the_bundled_store_refuses_another_program():
    class Other:
        install = BundledTarget.install
        data_dir = "data"
        log_files = ()

        def command(self, launch):
            return ["true"]

    with pytest.raises(ClusterError, match="the sim backend runs only the bundled store"):
        make_cluster("sim", "x", 3, program=Other())


def test_the_example_target_in_the_docs_meets_the_protocol():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "targets.md").read_text()
    block = re.search(r"```python\n(.*?)```", doc, re.S)
    assert block, "docs/targets.md lost its example target"
    scope: dict = {}
    exec(textwrap.dedent(block.group(1)), scope)  # noqa: S102 - our own documentation
    target = scope["MyStoreTarget"]({}, nodes=3)
    assert isinstance(target, Target)
    launch = Launch(node="n1", nodes=("n1",), node_dir="/d", config_path="", python="py")
    assert target.command(launch)[0] == "mystore-server"


def test_a_stored_spec_reruns_on_its_target():
    from controller.report import rerun_command

    spec = TestSpec(backend="sim", seed=5).to_dict()
    spec["argv"] = None
    assert "--target bundled" in rerun_command(spec)
    assert TestSpec.from_dict({**spec, "target": "bundled"}).target == "bundled"
    old = {k: v for k, v in spec.items() if k != "target"}  # a test.json from before targets
    assert TestSpec.from_dict(old).target == "bundled"


def test_the_cli_takes_a_target_and_refuses_an_unknown_one(capsys, tmp_path):
    from controller.cli import main

    with pytest.raises(SystemExit) as e:
        main(["test", "--backend", "sim", "--target", "nope"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "invalid choice: 'nope'" in err[0]
    argv = ["sim", "--seeds", "1", "--target", "bundled", "--time-limit", "2"]
    assert main([*argv, "--results-dir", str(tmp_path)]) == 0
