"""`paxlab bench --mode ... --sim`: the family table in the simulator over a wide-area
latency matrix: one table, one chart and the rows as JSON from one invocation; a far
client of a leader pays the round trip to the leader's zone; one seed, one table."""

from __future__ import annotations

import json

import pytest

from controller.bench_sim import bench_cell, client_node
from controller.cli import main


def test_clients_are_spread_over_the_zones_and_their_nodes():
    zones = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    got = [client_node(w, zones, 9) for w in range(9)]
    assert got[:3] == [(0, 0), (3, 1), (6, 2)] and got[3:6] == [(1, 0), (4, 1), (7, 2)]
    assert sorted(n for n, _ in got) == list(range(9))
    assert client_node(4, [], 3) == (1, None)


@pytest.mark.timeout(180)
def test_one_invocation_writes_one_table_one_chart_and_the_rows(capsys, tmp_path):
    argv = ["bench", "--mode", "leader,epaxos", "--sim", "--node-counts", "3"]
    argv += ["--conflict", "0,0.5", "--locality", "0.9", "--seconds", "1", "--clients", "6"]
    assert main([*argv, "--results-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "[4/4] epaxos 3 nodes, conflict 0.5, locality 0.9" in err  # progress per cell
    assert out.startswith("SIMULATED TIME: writes per simulated second")
    (folder,) = (tmp_path / "bench").iterdir()
    table = (folder / "table.md").read_text()
    assert "| leader | 3 |" in table and "| epaxos | 3 |" in table
    assert "conflict 0.5, locality 0.9: writes per simulated s" in table
    assert (folder / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (folder / "chart.svg").read_text()[:500]
    rows = json.loads((folder / "rows.json").read_text())["rows"]
    assert len(rows) == 4 and all(r["ok"] > 0 and r["simulated"] for r in rows)
    # the simulated figures carry the distance: no write commits in less than the round
    # trip to the nearest other zone (2 x 35 ms), which a quorum of 3 nodes in 3 zones needs
    assert all(r["p50_ms"] >= 70 for r in rows)


@pytest.mark.timeout(120)
def test_a_far_client_of_a_leader_pays_the_round_trip_to_the_leaders_zone():
    r = bench_cell("leader", 3, 6, 1.0, 0.0, 0.9, "wan3", [[0], [1], [2]])
    assert r["leader_zone"] == 0 and r["ok"] > 0
    by_zone = r["p50_ms_by_zone"]
    near = by_zone["0"]
    assert 70 <= near < 100  # the leader's own quorum: to zone 1 and back (35 ms each way)
    assert by_zone["1"] - near >= 2 * 35 * 0.9  # + client <-> leader, zone 1 <-> 0
    assert by_zone["2"] - near >= 2 * 40 * 0.9  # zone 2 <-> 0
    # EPaxos has no leader to reach: every zone commits in about one round trip of its own
    e = bench_cell("epaxos", 3, 6, 1.0, 0.0, 0.9, "wan3", [[0], [1], [2]])
    assert max(e["p50_ms_by_zone"].values()) < by_zone["2"]


@pytest.mark.timeout(120)
def test_one_seed_is_one_table_and_another_seed_differs():
    def cell(seed: int) -> tuple:
        r = bench_cell("epaxos", 3, 4, 1.0, 0.5, 0.5, "wan3", [[0], [1], [2]], seed=seed)
        return r["ok"], r["p50_ms"], r["p99_ms"]

    assert cell(3) == cell(3)
    assert cell(3) != cell(4)
