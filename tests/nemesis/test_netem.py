"""The netem nemesis: delay and loss on every node, narrowed to what the backend can do."""

from __future__ import annotations

import pytest

from controller.virtual_loop import run_virtual
from nemesis.netem import NetemNemesis
from tests.support.fakes import fault_context, started


def test_delay_is_50_to_200_ms_with_half_of_it_as_jitter_on_every_node():
    c = started(3)
    for seed in range(10):
        out = run_virtual(NetemNemesis().start("delay", fault_context(c, seed)))
        assert 50 <= out["delay_ms"] <= 200 and out["jitter_ms"] == round(out["delay_ms"] / 2, 1)
        assert out["nodes"] == c.nodes
        assert all(v == {"delay_ms": out["delay_ms"], "loss": 0} for v in c.netems.values())


def test_stop_heals_the_network_for_every_node():
    c = started(3)
    nem, fx = NetemNemesis(), fault_context(c)
    run_virtual(nem.start("loss", fx))
    assert set(c.netems) == set(c.nodes)
    assert run_virtual(nem.stop(fx)) == {"healed": "netem"}
    assert c.netems == {} and c.calls[-1] == ("heal_netem",)


@pytest.mark.parametrize(
    "caps,kinds",
    [({"netem-delay"}, ["delay"]), ({"netem-loss"}, ["loss"]), (set(), ["delay", "loss"])],
)
def test_a_bare_netem_narrows_to_the_kinds_the_backend_supports(caps, kinds):
    nem = NetemNemesis()
    need = nem.requires(caps)
    assert nem.kinds == kinds and need == {f"netem-{k}" for k in kinds}


def test_a_named_kind_is_not_narrowed_away():
    nem = NetemNemesis(["delay"])
    assert nem.requires({"netem-loss"}) == {"netem-delay"} and nem.kinds == ["delay"]
