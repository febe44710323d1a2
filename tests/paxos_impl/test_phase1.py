"""Phase 1's adoption rule (paxos_impl.phase1.adopt), shared by the leader and masterless modes."""

from __future__ import annotations

from paxos_impl.config import local_config
from paxos_impl.phase1 import adopt

A, B, C = [{"op": "write", "v": "a"}], [{"op": "write", "v": "b"}], [{"op": "write", "v": "c"}]


def promise(*entries):
    return {"entries": [list(e) for e in entries]}


def test_the_value_of_the_highest_ballot_reported_wins_each_slot():
    promises = [
        promise((1, [1, 0], A), (2, [3, 2], B)),
        promise((1, [2, 1], C), (2, [1, 0], A)),
        promise(),
    ]
    assert adopt(promises, 0, local_config(3)) == {1: C, 2: B}


def test_ballots_compare_by_round_then_node():
    promises = [promise((1, [2, 0], A)), promise((1, [1, 4], B)), promise((1, [2, 1], C))]
    assert adopt(promises, 0, local_config(5)) == {1: C}


def test_slots_up_to_after_are_left_alone_and_unreported_slots_are_free():
    promises = [promise((1, [1, 0], A), (3, [1, 0], B)), promise((5, [2, 1], C))]
    assert adopt(promises, 1, local_config(3)) == {3: B, 5: C}


def test_the_skip_phase1_adopt_bug_adopts_nothing():
    promises = [promise((1, [1, 0], A))]
    assert adopt(promises, 0, local_config(3, bugs=["skip-phase1-adopt"])) == {}
