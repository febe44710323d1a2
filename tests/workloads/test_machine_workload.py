"""The machine workload: a user's state machine driven through the target client's
apply/query, recorded per the history contract and judged by the generic checker."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

import targets.bundled.target as bundled_target
import workloads
from controller.history import read_history
from controller.run import run_test
from controller.spec import SpecError, TestSpec
from generator import Context
from paxos_impl.client import DefiniteFailure, Indeterminate
from targets.bundled.client import StoreClient
from tests.support.fakes import FakeCluster

COUNTER = "tests.support.machines:Counter"
BANK = "tests.support.machines:Bank"


class MachineConn:
    """A connection with only a state machine's apply/query (the store's client has both)."""

    def __init__(self, result=None, exc=None):
        self.result, self.exc, self.calls = result, exc, []

    async def _do(self, *call):
        self.calls.append(call)
        if self.exc:
            raise self.exc
        return self.result

    async def apply(self, command):
        return await self._do("apply", command)

    async def query(self, query):
        return await self._do("query", query)


def invoke(conn, op):
    return asyncio.run(StoreClient(conn).invoke(op))


def test_client_maps_apply_and_query_and_keeps_the_result_apart():
    c = MachineConn(result=7)
    assert invoke(c, {"f": "apply", "key": None, "value": {"add": 1}}) == {
        "type": "ok", "value": {"add": 1}, "result": 7}  # fmt: skip
    assert invoke(c, {"f": "query", "key": None, "value": "value"})["result"] == 7
    assert c.calls == [("apply", {"add": 1}), ("query", "value")]


@pytest.mark.parametrize(
    "exc, outcome, error",
    [
        (DefiniteFailure("short of funds", "rejected"), "fail", "rejected"),
        (DefiniteFailure("no quorum", "unavailable"), "fail", "unavailable"),
        (Indeterminate("timed out", "timeout"), "info", "timeout"),
    ],
)
def test_client_outcomes_of_commands(exc, outcome, error):
    r = invoke(MachineConn(exc=exc), {"f": "apply", "key": None, "value": {"add": 1}})
    assert r["type"] == outcome and r["error"] == error and "result" not in r


def test_workload_makes_commands_and_queries_from_the_class():
    w = workloads.make("machine", 4, {"state_machine": COUNTER})
    ctx = Context(time=0.0, worker=0, rng=random.Random(1))
    ops = [w.op(ctx) for _ in range(200)]
    fs = {o["f"] for o in ops}
    assert fs == {"apply", "query"} and all(o["key"] is None for o in ops)
    assert all(1 <= o["value"]["add"] <= 5 for o in ops if o["f"] == "apply")
    assert set(w.checkers()) == {"linearizable", "stats"}
    only = workloads.make("machine", 4, {"state_machine": "tests.support.machines:CommandsOnly"})
    assert {only.op(ctx)["f"] for _ in range(50)} == {"apply"}
    assert only.final_generator(["n1"]) is None


@pytest.mark.parametrize(
    "opts, message",
    [
        ({}, "needs --target-opt state_machine=module:Class"),
        ({"state_machine": "no_such_module_x:C"}, "cannot import"),
        ({"state_machine": "json:JSONDecoder"}, "not a state machine"),
        ({"state_machine": "tests.support.machines:NotJson"}, None),
    ],
)
def test_bad_machine_options_are_one_line(opts, message):
    if message is None:  # loads fine: snapshots are the checker's business
        workloads.make("machine", 4, opts)
        return
    with pytest.raises(ValueError, match=message):
        workloads.make("machine", 4, opts)


def test_the_spec_refuses_a_machine_workload_without_a_machine():
    with pytest.raises(SpecError, match="state_machine"):
        TestSpec(workload="machine", backend="sim").validate()


@pytest.fixture
def store_takes_state_machine(monkeypatch):
    """The store's own setting (the core's side of issue 23) may not be in this checkout:
    let the bundled target accept it here, as the merged store does."""
    real = bundled_target.check

    def check(settings, nodes, **kw):
        from targets.bundled.settings import SETTINGS

        if "state_machine" not in SETTINGS:
            settings = {k: v for k, v in settings.items() if k != "state_machine"}
        return real(settings, nodes, **kw)

    monkeypatch.setattr(bundled_target, "check", check)


def spec(machine: str, **kw) -> TestSpec:
    base = dict(workload="machine", nemesis=["partition"], nodes=3, concurrency=4,
                time_limit=15.0, seed=3, nemesis_interval=2.0, backend="sim",
                recovery_time=10.0, op_timeout=1.0, target_opts={"state_machine": machine})  # fmt: skip
    base.update(kw)
    return TestSpec(**base)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("machine", [COUNTER, BANK, "tests.support.machines:AsyncCounter"])
def test_a_run_is_recorded_and_judged_by_the_generic_checker(
    machine, tmp_path, store_takes_state_machine
):
    cls = __import__("checker.machine_check", fromlist=["x"]).load_machine(machine)
    out = run_test(spec(machine), cluster=FakeCluster(3, machine=cls), results_root=tmp_path)
    r = out.results
    assert out.valid is True and out.exit_code == 0, r
    lin = r["checkers"]["linearizable"]
    assert lin["valid"] is True and lin["model"] == "machine" and lin["machine"] == machine
    events = [e for e in read_history(out.run_dir / "history.jsonl")
              if isinstance(e["process"], int)]  # fmt: skip
    oks = [e for e in events if e["type"] == "ok"]
    assert {e["f"] for e in oks} == {"apply", "query"}
    assert all("result" in e and e["key"] is None for e in oks)
    assert any(e["type"] == "fail" for e in events)  # the partition refused some
    results = json.loads((out.run_dir / "results.json").read_text())
    assert results["valid"] is True
    assert "report_error" not in r and (out.run_dir / "report.html").exists()


@pytest.mark.timeout(120)
def test_a_store_that_loses_commands_is_caught(tmp_path, store_takes_state_machine):
    """Commands answered but never applied: the final queries see it, the checker says so,
    and the report draws the anomaly."""
    from tests.support.machines import Counter

    cluster = FakeCluster(3, machine=Counter, lose_writes=True)
    out = run_test(spec(COUNTER, nemesis=[]), cluster=cluster, results_root=tmp_path)
    lin = out.results["checkers"]["linearizable"]
    assert out.valid is False and out.exit_code == 1
    assert lin["valid"] is False and lin["op"]["f"] in ("apply", "query")
    page = (out.run_dir / "report.html").read_text()
    assert "Not linearizable" in page and "the checker's anomaly view failed" not in page
