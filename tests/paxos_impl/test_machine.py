"""The state-machine interface: loading "module:Class", and a user machine behind the
client protocol (MachineError is a definite refusal; anything else a bad_request)."""

import asyncio

import pytest

from paxos_impl.config import ConfigError, local_config
from paxos_impl.machine import (
    MachineError,
    MachineSpecError,
    UserMachine,
    build_user,
    check_spec,
    load_class,
)


class Broken:
    def apply(self, command):
        if command == "refuse":
            raise MachineError("no thanks")
        return command["x"]

    def query(self, q):
        return {"asked": q}

    def snapshot(self):
        return None

    def restore(self, s):
        pass


class NoQuery:
    def apply(self, command):
        return None


class Slow(Broken):
    async def apply(self, command):
        await asyncio.sleep(0)
        return super().apply(command)


def cmd(op, value):
    return {"op": op, "key": None, "value": value, "client_id": "c", "seq": 1}


def test_specs_are_checked_before_anything_is_imported():
    assert check_spec("kv") is None and check_spec("register") is None
    assert check_spec("examples.machines.counter:Counter") is None
    for bad in ("counter", "a:", ":B", "a:B.c", 3):
        assert check_spec(bad) is not None
    with pytest.raises(ConfigError):
        local_config(3, state_machine="nope")


@pytest.mark.parametrize(
    "spec, why",
    [
        ("no_such_module_xyz:A", "cannot import"),
        ("examples.machines.counter:Nope", "has no class"),
        ("tests.paxos_impl.test_machine:NoQuery", "lacks query, snapshot, restore"),
    ],
)
def test_a_bad_spec_is_one_line(spec, why):
    with pytest.raises(MachineSpecError) as e:
        load_class(spec)
    assert why in str(e.value) and "\n" not in str(e.value)


def test_the_wrapper_turns_results_and_refusals_into_replies():
    m = UserMachine(Broken())
    assert m.ops == {"apply", "query"} and not m.is_async
    assert m.apply(cmd("apply", {"x": 5})) == {"ok": True, "value": 5}
    assert m.apply(cmd("apply", "refuse")) == {
        "ok": False,
        "error": "rejected",
        "detail": "no thanks",
    }
    bad = m.apply(cmd("apply", 7))  # a TypeError inside the machine: answered, not raised
    assert bad["error"] == "bad_request" and "TypeError" in bad["reason"]
    assert m.query(cmd("query", "q")) == {"ok": True, "value": {"asked": "q"}}
    assert m.apply(cmd("query", "q")) == {"ok": True, "value": {"asked": "q"}}  # via the log


def test_an_async_machine_is_recognised_and_awaited():
    m = UserMachine(Slow())
    assert m.is_async
    assert asyncio.run(m.apply_async(cmd("apply", {"x": 1}))) == {"ok": True, "value": 1}
    assert asyncio.run(m.apply_async(cmd("apply", "refuse")))["error"] == "rejected"


def test_the_node_s_bugs_reach_only_a_machine_that_asks_for_them():
    bank = build_user("examples.machines.bank:Bank", ["sm-nondeterministic"], 3).machine
    assert bank.bugs == {"sm-nondeterministic"} and bank.node_id == 3
    counter = build_user("examples.machines.counter:Counter", ["sm-nondeterministic"], 3)
    assert counter.query(cmd("query", "value"))["value"] == 0
