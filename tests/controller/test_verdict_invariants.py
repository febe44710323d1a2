"""One verdict per run: the simulator's invariants are a checker of their own.

Seed 1 of ``paxlab sim --nemesis partition,kill --bug skip-phase1-adopt`` (kv) is the issue's
case: the cores choose two values for one slot, yet no client happens to read the damage, so
the history checkers call it linearizable. Before, `paxlab sim` printed INVALID while the
stored run said valid in results.json, its report and the index; now all of them agree and
say the violation was seen inside the store, not by clients.
"""

from __future__ import annotations

import json
from pathlib import Path

from controller.cli import main
from controller.index import collect_rows

# the case, with the one-at-a-time schedule it was reported under
ARGV = ["sim", "--nemesis", "partition,kill", "--nemesis-schedule", "rotate",
        "--bug", "skip-phase1-adopt", "--time-limit", "10"]  # fmt: skip
STORE_ONLY_SEED = 1  # history checkers: valid; simulator invariants: violated


def _sim(tmp_path: Path, capsys, *extra: str) -> tuple[int, list[dict]]:
    code = main([*ARGV, "--results-dir", str(tmp_path / "results"), "--json", *extra])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    return code, lines


def _stored_runs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/results.json"))


def test_sim_row_results_report_and_index_agree_on_a_store_only_violation(tmp_path, capsys):
    code, lines = _sim(tmp_path, capsys, "--seed", str(STORE_ONLY_SEED))
    row = lines[0]
    assert lines[-1]["summary"]["invalid_store_only"] == 1
    assert code == 1 and row["valid"] is False
    assert row["history_valid"] is True  # what clients saw: nothing
    runs = _stored_runs(tmp_path / "results")
    assert len(runs) == 1
    results = json.loads((runs[0] / "results.json").read_text())
    assert results["valid"] is False  # was true: only world-violations.txt knew
    assert results["history_valid"] is True
    inv = results["checkers"]["store-invariants"]
    assert inv["valid"] is False and inv["seen"] == "store" and inv["count"] >= 1
    first = inv["violations"][0]
    assert first["node"] in {f"n{i}" for i in range(1, 6)}
    assert first["run_s"] is not None and 0 <= first["run_s"] <= first["t_s"]
    assert "slot" in first["what"]
    assert inv["seed"] == STORE_ONLY_SEED
    assert inv["replay"].startswith("paxlab sim ") and f"--seed {STORE_ONLY_SEED}" in inv["replay"]
    for name, r in results["checkers"].items():
        if name != "store-invariants":
            assert r.get("seen") != "store"
    page = (runs[0] / "report.html").read_text()
    assert "INVALID: the store broke its invariants" in page
    assert "seen inside the store by the simulator, not by clients" in page
    assert inv["replay"] in page
    rows = collect_rows(tmp_path / "results")
    assert [(r["verdict"], r["seen"]) for r in rows] == [("invalid", "store")]
    index = (tmp_path / "results" / "index.html").read_text()
    assert '"seen":"store"' in index


def test_a_clean_seed_carries_a_passing_invariants_checker(tmp_path, capsys):
    code = main(
        ["sim", "--nemesis", "partition,kill", "--seed", "1", "--time-limit", "3", "--json",
         "--results-dir", str(tmp_path / "results")]
    )  # fmt: skip
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert code == 0 and row["valid"] is True and row["history_valid"] is True
    import argparse

    from controller.run import run_test
    from controller.sim_cli import add_arguments, make_spec

    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--nemesis", "partition,kill", "--time-limit", "3"])
    out = run_test(make_spec(args, 1), results_root=tmp_path / "r2", progress=False, report=False)
    inv = out.results["checkers"]["store-invariants"]
    assert inv == {**inv, "valid": True, "seen": "store", "count": 0, "violations": []}
    assert out.results["valid"] is True
