"""The synthetic run directories of tests/support/runs.py keep the history contract."""

from __future__ import annotations

from tests.support.runs import NEVER_WRITTEN, simulate_register, simulate_set


def _check_contract(events: list[dict]) -> None:
    open_ = {}
    retired = set()
    for i, ev in enumerate(events):
        assert ev["index"] == i
        assert i == 0 or ev["time"] >= events[i - 1]["time"]
        p = ev["process"]
        if p == "nemesis":
            continue
        assert p not in retired, "a process whose op ended info never invokes again"
        if ev["type"] == "invoke":
            assert p not in open_
            open_[p] = ev
        else:
            assert open_.pop(p)["f"] == ev["f"]
            if ev["type"] == "info":
                retired.add(p)
    assert not open_


def test_register_fixture_keeps_the_history_contract():
    events, _ = simulate_register(400, concurrency=6, seed=3)
    _check_contract(events)
    types = {e["type"] for e in events if e["process"] != "nemesis"}
    assert {"invoke", "ok", "fail", "info"} <= types
    assert any(e["process"] == "nemesis" and e["f"] == "start-partition" for e in events)


def test_corrupt_fixture_has_a_read_of_a_never_written_value():
    events, facts = simulate_register(200, seed=5, corrupt=True)
    _check_contract(events)
    reads = [e for e in events if e["f"] == "read" and e["type"] == "ok"]
    assert [e["value"] for e in reads].count(NEVER_WRITTEN) == 1
    assert facts["index"] in facts["window"]


def test_set_fixture_loses_and_duplicates():
    events, facts = simulate_set(20, lost=2, dup=1)
    _check_contract(events)
    final = events[-1]["value"]
    assert all(x not in final for x in facts["lost"])
    assert all(final.count(x) == 2 for x in facts["duplicated"])
