"""The bundled target's client with a user state machine: apply/query operations become
history completions (the machine's answer as ``result``), and the readiness probe works on
a machine that takes no reads."""

from __future__ import annotations

import pytest

from controller.virtual_loop import run_virtual
from targets.base import TargetError
from targets.bundled.client import StoreClient
from targets.bundled.target import BundledTarget
from tests.support.sim.booted import booted


def test_apply_and_query_complete_with_the_machine_s_answers():
    c = booted(3, seed=1, state_machine="examples.machines.bank:Bank")

    async def main():
        sc = StoreClient(c.async_client(c.nodes[0], client_id="t", timeout=3.0))
        await sc.ready("probe")
        ok = await sc.invoke({"f": "apply", "key": None, "value": {"transfer": ["a", "b", 5]}})
        short = await sc.invoke({"f": "apply", "key": None, "value": {"transfer": ["a", "b", 999]}})
        q = await sc.invoke({"f": "query", "key": None, "value": "balances"})
        w = await sc.invoke({"f": "write", "key": "k", "value": 1})
        await sc.close()
        return ok, short, q, w

    ok, short, q, w = run_virtual(main())
    assert ok == {"type": "ok", "value": {"transfer": ["a", "b", 5]}, "result": {"a": 95, "b": 105}}
    assert short["type"] == "fail" and short["error"] == "rejected" and "95" in short["detail"]
    assert q["type"] == "ok" and q["result"]["b"] == 105 and sum(q["result"].values()) == 500
    assert w == {"type": "fail", "error": "bad_request"}


def test_the_target_refuses_a_machine_it_cannot_load_in_one_line():
    with pytest.raises(TargetError) as e:
        BundledTarget({"state_machine": "examples.machines.counter:Nope"})
    assert "has no class Nope" in str(e.value)
    BundledTarget({"state_machine": "examples.machines.counter:Counter"})  # loads
