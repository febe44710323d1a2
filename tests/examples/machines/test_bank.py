"""The example bank: transfers keep the total at 500; its deliberate bug breaks determinism."""

import json
import random

import pytest

from examples.machines.bank import Bank
from paxos_impl.machine import MachineError


def test_transfers_move_money_and_keep_the_total():
    b = Bank()
    assert b.apply({"transfer": ["a", "b", 30]}) == {"a": 70, "b": 130}
    assert b.query("balances") == {"a": 70, "b": 130, "c": 100, "d": 100, "e": 100}
    rng = random.Random(2)
    for _ in range(200):
        try:
            b.apply(Bank.example_command(rng))
        except MachineError:
            pass
    bal = b.query(Bank.example_query(rng))
    assert sum(bal.values()) == 500 and min(bal.values()) >= 0


@pytest.mark.parametrize(
    "bad",
    [
        {"transfer": ["a", "b", 101]},  # short of funds
        {"transfer": ["a", "a", 1]},
        {"transfer": ["a", "z", 1]},
        {"transfer": ["a", "b", 0]},
        {"transfer": ["a", "b", 1.5]},
        {"transfer": ["a", "b"]},
        {"pay": 1},
    ],
)
def test_a_refused_transfer_changes_nothing(bad):
    b = Bank()
    with pytest.raises(MachineError):
        b.apply(bad)
    assert b.snapshot() == Bank().snapshot()


def test_snapshot_round_trip_and_foreign_state_refused():
    b = Bank()
    b.apply({"transfer": ["e", "a", 55]})
    back = Bank()
    back.restore(json.loads(json.dumps(b.snapshot())))
    assert back.query("balances") == b.query("balances")
    for bad in ({"a": 1}, {k: "1" for k in "abcde"}, [], None):
        with pytest.raises(ValueError):
            back.restore(bad)


def test_the_nondeterministic_bug_makes_replicas_disagree_on_a_short_transfer():
    short = {"transfer": ["a", "b", 150]}
    even, odd = (Bank(bugs=frozenset({"sm-nondeterministic"}), node_id=i) for i in (0, 1))
    with pytest.raises(MachineError):
        even.apply(short)
    assert odd.apply(short) == {"a": 0, "b": 200}
    assert even.snapshot() != odd.snapshot()
    # without the bug every replica refuses it
    with pytest.raises(MachineError):
        Bank(node_id=1).apply(short)
