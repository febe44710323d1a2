"""The membership nemesis on the simulator: every kind changes the store's membership for
real, hosts come before and go after the store, sizes stay in bounds, and the correct store
stays valid alone and with partitions and kills."""

from __future__ import annotations

import json

import pytest

from cluster.base import ClusterError
from cluster.sim.backend import SimCluster
from controller.run import run_test
from controller.spec import TestSpec


def _events(run_dir, f: str) -> list[dict]:
    out = []
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["process"] == "nemesis" and e["f"] == f and e["type"] != "invoke":
            out.append(e)
    return out


def _run(
    tmp_path,
    seed: int,
    nemesis: list[str],
    nodes: int = 3,
    bugs: tuple[str, ...] = (),
    interval: float = 0.5,
    time_limit: float = 12,
):
    spec = TestSpec(
        workload="set",
        nemesis=nemesis,
        nodes=nodes,
        concurrency=6,
        time_limit=time_limit,
        seed=seed,
        backend="sim",
        nemesis_interval=interval,
        bugs=list(bugs),
    )
    c = SimCluster("t", nodes, seed=seed)
    out = run_test(spec, cluster=c, results_root=tmp_path, progress=False, report=False)
    return out, c


@pytest.mark.timeout(240)
def test_every_kind_changes_the_membership_and_the_store_stays_valid(tmp_path):
    kinds: dict[str, int] = {}
    for seed in range(3):
        out, c = _run(tmp_path, seed, ["membership"])
        assert out.valid is True and out.results.get("error") is None, out.results
        assert c.violations == []
        for e in _events(out.run_dir, "start-membership"):
            v = e["value"]
            assert 2 <= v["size_after"] <= 5, v  # bounds: one below, two above 3
            if "error" in v:
                continue
            kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
            if v["kind"] in ("shrink", "replace", "replace-leader"):
                assert v["removed"] not in c.nodes  # its host went after the store let it go
            if v["kind"] != "shrink":
                assert v["voter"] == v["added"]  # promoted, or took the removed voter's place
        # what the store says at the end is what the backend has
        w = c.world
        live = [i for i, n in w.nodes.items() if n.up]
        views = {tuple(w.nodes[i].replica.members.latest.voters) for i in live}
        assert len(views) == 1, views
        (voters,) = views
        assert sorted(f"n{i + 1}" for i in voters) == sorted(c.nodes), (voters, c.nodes)
    assert set(kinds) == {"grow", "shrink", "replace", "replace-leader"}, kinds


@pytest.mark.timeout(240)
def test_membership_with_partitions_and_kills_never_accuses_the_correct_store(tmp_path):
    for seed in range(3):
        out, c = _run(tmp_path, seed, ["membership", "partition", "kill"], nodes=5)
        assert out.valid is True, (seed, out.results.get("error"))
        assert c.violations == []
        assert _events(out.run_dir, "start-membership")


def test_sim_hosts_come_first_and_go_last():
    c = SimCluster("t", 3, seed=1)
    c.setup()
    for n in list(c.nodes):
        c.start(n)
    new = c.add_node()
    assert new == "n4" and new in c.nodes and not c.is_running(new)
    assert c.node_address(new) == ["n4", 7103, 7203]
    c.start(new)
    assert c.is_running(new)
    c.remove_node(new)
    assert new not in c.nodes and not c.world.nodes[3].up
    assert c.add_node() == "n5"  # ids are never reused
    with pytest.raises(ClusterError, match="no node 'n4'"):
        c.kill("n4")


@pytest.mark.timeout(120)
def test_a_seed_with_membership_changes_replays_exactly(tmp_path):
    runs = [_run(tmp_path / str(k), 7, ["membership", "kill"])[0] for k in range(2)]
    a, b = ((r.run_dir / "history.jsonl").read_text() for r in runs)
    assert '"start-membership"' in a and a == b


@pytest.mark.timeout(120)
def test_learners_cut_puts_the_leader_with_the_learners_and_catches_the_learner_quorum_bug(
    tmp_path,
):
    cut = {"interval": 2.0, "time_limit": 10}
    for seed in range(2):
        out, c = _run(tmp_path / f"ok{seed}", seed, ["membership:learners-cut"], **cut)
        assert out.valid is True, (seed, out.results.get("error"))
        starts = [e["value"] for e in _events(out.run_dir, "start-membership")]
        assert any("cut" in v for v in starts), starts
        for v in (v for v in starts if "error" not in v):
            side, rest = v["cut"]
            assert v["leader"] in side and set(v["learners"]) <= set(side)
            assert len(rest) == 2 and v["size_after"] == 5  # the two other voters
        assert all(
            e["value"]["healed"] == "network" for e in _events(out.run_dir, "stop-membership")
        )
        out, c = _run(tmp_path / f"bug{seed}", seed, ["membership:learners-cut"],
                      bugs=("learner-quorum",), **cut)  # fmt: skip
        assert out.valid is False


@pytest.mark.timeout(120)
def test_the_quorum_kind_changes_sizes_through_the_log_and_the_store_stays_valid(tmp_path):
    seen = set()
    plans = (["membership:quorum", "kill"], ["membership:quorum+grow+shrink", "partition"])
    for seed, plan in enumerate(plans):
        out, c = _run(tmp_path / str(seed), seed, plan, 5)
        assert out.valid is True and c.violations == [], (seed, out.results.get("error"))
        for e in _events(out.run_dir, "start-membership"):
            v = e["value"]
            if v["kind"] == "quorum" and "quorums" in v and "error" not in v:
                q1, q2 = v["quorums"]
                assert q1 + q2 > v["voters"] and max(q1, q2) < v["voters"]
                seen.add((q1, q2) == (v["voters"] // 2 + 1,) * 2)
    assert seen == {True, False}  # flexible sizes set, and majorities again after them


@pytest.mark.timeout(120)
def test_removed_cut_keeps_two_removed_nodes_running_and_catches_removed_node_votes(tmp_path):
    for bugs, valid in (((), True), (("removed-node-votes",), False)):
        out, c = _run(tmp_path / str(valid), 1, ["membership:removed-cut"], 5, bugs, 2.0, 10)
        assert out.valid is valid, (bugs, out.results.get("error"))
        starts = [e["value"] for e in _events(out.run_dir, "start-membership")]
        cuts = [v for v in starts if "cut" in v]
        assert cuts, starts
        for v in cuts:
            side, rest = v["cut"]
            assert v["leader"] in side and set(v["removed"]) <= set(side) and len(rest) == 2
        (heal,) = _events(out.run_dir, "heal")
        assert sorted(heal["value"]["membership"]["removed_hosts"]) == sorted(cuts[0]["removed"])
        assert not set(cuts[0]["removed"]) & set(c.nodes)  # their hosts went at the end
