"""Nemeses against the fake cluster: grudges, victims, start/stop/heal, capability checks."""

from __future__ import annotations

import asyncio
import random

import pytest
from test_controller_fakes import FakeCluster

import nemesis
from cluster.base import Unsupported
from controller.virtual_loop import run_virtual
from generator import Context, Sleep
from nemesis.base import FaultContext, NemesisError, find_leader
from nemesis.partition import bridge, halves, majorities_ring
from targets.bundled import BundledTarget

NODES = ["n1", "n2", "n3", "n4", "n5"]


def visible(grudge, node, nodes=NODES):
    return {m for m in nodes if m not in grudge.get(node, set())}


def test_halves_split_into_two_sides():
    gr = halves(NODES, random.Random(1))
    sides = {frozenset(visible(gr, n)) for n in NODES}
    assert sorted(len(s) for s in sides) == [2, 3]


@pytest.mark.parametrize("n", [3, 4, 5, 7])
def test_majorities_ring_every_node_sees_a_distinct_majority(n):
    nodes = [f"n{i + 1}" for i in range(n)]
    gr = majorities_ring(nodes, random.Random(n))
    views = [frozenset(visible(gr, x, nodes)) for x in nodes]
    assert all(x in v and len(v) == n // 2 + 1 for x, v in zip(nodes, views, strict=True))
    assert len(set(views)) == n


def test_bridge_has_one_node_seeing_both_halves():
    gr = bridge(NODES, random.Random(2))
    middle = [n for n in NODES if not gr[n]]
    assert len(middle) == 1
    others = [n for n in NODES if n not in middle]
    for a in others:
        assert len(visible(gr, a)) == 3  # its half and the bridge


def fx_for(cluster, seed=0):
    async def call(fn, *a, **kw):
        return fn(*a, **kw)

    return FaultContext(
        cluster=cluster,
        call=call,
        rng=random.Random(seed),
        target=BundledTarget(),
        bugs=["early-ack"],
    )


def started(n=5, **kw):
    c = FakeCluster(n, **kw)
    c.start_all()
    return c


def test_isolate_leader_isolates_the_node_that_leads():
    c = started()
    c.partition(
        {"n1": {"n2", "n3", "n4", "n5"}, "n2": {"n1"}, "n3": {"n1"}, "n4": {"n1"}, "n5": {"n1"}}
    )
    assert run_virtual(find_leader(fx_for(c))) == "n2"  # n1 is cut off, n2 leads the rest
    c.heal_network()
    nem = nemesis.build([("partition", ["isolate-leader"])]).nemeses["partition"]
    out = run_virtual(nem.start("isolate-leader", fx_for(c)))
    assert out["nodes"] == ["n1"] and out["leader_known"] is True
    assert c.grudge["n1"] == {"n2", "n3", "n4", "n5"} and c.grudge["n3"] == {"n1"}
    run_virtual(nem.stop(fx_for(c)))
    assert c.grudge == {}


def test_kill_majority_takes_the_leader_and_restarts_with_the_bugs():
    c = started()
    nem = nemesis.build([("kill", ["majority"])]).nemeses["kill"]
    fx = fx_for(c, seed=4)
    out = run_virtual(nem.start("majority", fx))
    assert len(out["nodes"]) == 3 and "n1" in out["nodes"]
    assert not any(c.is_running(n) for n in out["nodes"])
    back = run_virtual(nem.stop(fx))
    assert back["restarted"] == out["nodes"]
    assert all(c.is_running(n) for n in NODES)
    assert ("start", out["nodes"][0], ("early-ack",)) in c.calls


def test_kill_heal_restarts_anything_down():
    c = started(3)
    c.kill("n2")
    nem = nemesis.build([("kill", None)]).nemeses["kill"]
    run_virtual(nem.heal(fx_for(c)))
    assert c.is_running("n2")


def test_pause_and_clock_and_netem_start_stop():
    c = started(3)
    fx = fx_for(c)
    comb = nemesis.build([("pause", ["minority"]), ("clock", ["bump"]), ("netem", ["loss"])])
    out = run_virtual(comb.nemeses["pause"].start("minority", fx))
    assert c.paused == set(out["nodes"]) and len(out["nodes"]) == 1
    run_virtual(comb.nemeses["pause"].stop(fx))
    assert c.paused == set()
    out = run_virtual(comb.nemeses["clock"].start("bump", fx))
    assert c.offsets == out["offsets"] and all(0.005 <= abs(v) <= 300 for v in c.offsets.values())
    out = run_virtual(comb.nemeses["netem"].start("loss", fx))
    assert set(c.netems) == {"n1", "n2", "n3"} and 0.1 <= out["loss"] <= 0.3
    healed = run_virtual(comb.heal(fx))
    assert set(healed) == {"pause", "clock", "netem"}
    assert c.offsets == {} and c.netems == {} and c.paused == set()


def test_clock_strobe_flips_until_stopped():
    c = started(3)
    fx = fx_for(c)
    nem = nemesis.build([("clock", ["strobe"])]).nemeses["clock"]

    async def go():
        out = await nem.start("strobe", fx)
        await asyncio.sleep(2.0)
        await nem.stop(fx)
        n = len([x for x in c.calls if x[0] == "clock"])
        await asyncio.sleep(2.0)
        return out, n, len([x for x in c.calls if x[0] == "clock"])

    out, n1, n2 = run_virtual(go())
    assert n1 >= 2 * 2.0 / out["period_s"] * len(out["nodes"]) * 0.5
    assert n1 == n2 and c.offsets == {}  # nothing after stop; clocks reset


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(NemesisError, match="partition has no kind 'sideways'"):
        nemesis.build([("partition", ["sideways"])])


def test_capabilities_are_checked_and_netem_narrows_to_what_works():
    comb = nemesis.build([("netem", None)])
    c = FakeCluster(3, caps={"netem-loss"})
    comb.require(c, final=False)
    comb.require(c)
    assert comb.nemeses["netem"].kinds == ["loss"]
    with pytest.raises(Unsupported, match="netem.*netem-delay"):
        nemesis.build([("netem", ["delay"])]).require(c)
    with pytest.raises(Unsupported, match="pause"):
        nemesis.build([("pause", None)]).require(FakeCluster(3, caps={"kill"}), final=False)


def test_rotation_interleaves_nemeses_and_every_kind_comes_in_turn():
    comb = nemesis.build([("partition", None), ("kill", ["one", "all"])])
    rot = comb.rotation()
    assert rot[:4] == [
        ("partition", "halves"),
        ("kill", "one"),
        ("partition", "isolate-one"),
        ("kill", "all"),
    ]
    assert {k for n, k in rot if n == "partition"} == set(comb.nemeses["partition"].KINDS)


def test_schedule_alternates_start_and_stop_at_the_interval():
    sched = nemesis.build([("pause", None)]).schedule(2.0)
    rng = random.Random(0)
    c = lambda t: Context(time=t, worker="nemesis", rng=rng)  # noqa: E731
    assert sched.next(c(0)) == Sleep(2.0)
    assert sched.next(c(2.0)) == {"f": "start", "nemesis": "pause", "kind": "one"}
    assert sched.next(c(2.5)) == Sleep(4.5)  # the start took 0.5 s: the interval counts from then
    assert sched.next(c(4.5)) == {"f": "stop", "nemesis": "pause"}
    assert sched.next(c(4.5)) == Sleep(6.5)
    assert sched.next(c(6.5))["kind"] == "minority"


def test_all_leader_last_silences_followers_then_brings_the_old_leader_back_last():
    c = started(3)
    fx = fx_for(c)
    nem = nemesis.build([("kill", ["all-leader-last"])]).nemeses["kill"]
    out = run_virtual(nem.start("all-leader-last", fx))
    assert out["leader"] == "n1" and out["nodes"] == ["n1", "n2", "n3"]
    part = next(x[1] for x in c.calls if x[0] == "partition")
    assert part == {"n2": {"n1", "n3"}, "n3": {"n1", "n2"}}  # followers deaf, the leader not
    assert c.calls.index(("kill", "n1")) > c.calls.index(("partition", part))
    back = run_virtual(nem.stop(fx))
    assert back["new_leader"] == "n2" and c.grudge == {}
    starts = [x[1] for x in c.calls if x[0] == "start"][3:]  # after started()
    assert starts[-1] == "n1" and set(starts) == {"n1", "n2", "n3"}


def test_bare_kill_drops_the_aimed_kind_without_partitions():
    comb = nemesis.build([("kill", None)])
    comb.require(FakeCluster(3, caps={"kill"}), final=False)
    assert "all-leader-last" not in comb.nemeses["kill"].kinds
    with pytest.raises(Unsupported, match="partition"):
        nemesis.build([("kill", ["all-leader-last"])]).require(FakeCluster(3, caps={"kill"}))
