"""The pause nemesis: SIGSTOP/SIGCONT, and what it does when a kill got to its victim first."""

from __future__ import annotations

import pytest

from controller.virtual_loop import run_virtual
from nemesis.base import NemesisError
from nemesis.pause import PauseNemesis
from tests.support.fakes import fault_context, started


def test_pause_then_resume_the_same_nodes():
    c = started(5)
    nem, fx = PauseNemesis(), fault_context(c, 2)
    out = run_virtual(nem.start("minority", fx))
    assert len(out["nodes"]) == 2 and c.paused == set(out["nodes"])
    back = run_virtual(nem.stop(fx))
    assert back == {"resumed": out["nodes"]} and c.paused == set()


def test_a_killed_victim_is_replaced_by_a_running_node():
    c = started(3)
    for seed in range(10):
        c.start_all()
        c.paused.clear()
        nem, fx = PauseNemesis(), fault_context(c, seed)
        c.kill("n2")
        c.kill("n3")  # whoever "one" picks, only n1 runs
        out = run_virtual(nem.start("one", fx))
        assert out["nodes"] == ["n1"] and c.paused == {"n1"}
        if out.get("instead_of_not_running"):
            assert set(out["instead_of_not_running"]) <= {"n2", "n3"}


def test_nothing_running_is_a_clear_error():
    c = started(3)
    for n in c.nodes:
        c.kill(n)
    with pytest.raises(NemesisError, match="no node is running: nothing to pause"):
        run_virtual(PauseNemesis().start("one", fault_context(c)))


def test_a_node_killed_while_paused_is_not_resumed_and_the_stop_says_so():
    c = started(3)
    nem, fx = PauseNemesis(), fault_context(c, 0)
    victim = run_virtual(nem.start("one", fx))["nodes"][0]
    c.kill(victim)
    out = run_virtual(nem.stop(fx))
    assert out == {"resumed": [], "not_running": [victim]}
    assert ("resume", victim) not in c.calls
