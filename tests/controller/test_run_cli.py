"""`paxlab test`: flags to spec, one-line errors with exit 2, and the printed summary."""

from __future__ import annotations

import json

import pytest

from controller.cli import build_parser, main
from controller.history import HistoryWriter
from controller.interpreter import Live
from controller.progress import describe_fault, status_line
from controller.run_cli import spec_from_args


def args(*argv):
    return build_parser().parse_args(["test", *argv])


def test_flags_make_a_spec():
    s = spec_from_args(
        args("--workload", "set", "--nemesis", "partition,kill:majority", "--nodes", "3",
             "--concurrency", "7", "--time-limit", "12", "--rate", "0", "--seed", "9",
             "--nemesis-interval", "2", "--bug", "early-ack", "--read-mode", "quorum"),
        argv=["paxlab", "test"],
    )  # fmt: skip
    assert (s.workload, s.nodes, s.concurrency, s.time_limit, s.rate, s.seed) == (
        "set",
        3,
        7,
        12,
        0,
        9,
    )
    assert s.nemesis == ["partition", "kill:majority"] and s.bugs == ["early-ack"]
    assert s.nemesis_entries() == [("partition", None), ("kill", ["majority"])]
    assert s.read_mode == "quorum" and s.test_name == "set-partition+kill-majority"
    assert spec_from_args(args("--nemesis", "none")).nemesis == []
    assert isinstance(spec_from_args(args()).seed, int)  # a fresh seed, recorded in the spec


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--nemesis", "flood"], "unknown nemesis 'flood'"),
        (
            ["--nemesis", "partition:sideways", "--backend", "sim"],
            "partition has no kind 'sideways'",
        ),
        (["--nodes", "0"], "--nodes must be between 1 and 64"),
        (["--time-limit", "-1"], "--time-limit must be positive"),
        (["--bug", "gremlins"], "unknown bug 'gremlins'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, message, capsys, tmp_path):
    assert main(["test", "--results-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_progress_line_names_phase_counts_and_faults(tmp_path):
    class Env:
        def now(self):
            return 12.34

    h = HistoryWriter(tmp_path / "h.jsonl")
    for t in ("ok", "ok", "fail", "info"):
        h.append({"process": 1, "type": t, "f": "read"})
    live = Live(faults={"partition": {"kind": "isolate-leader", "nodes": ["n3"]}}, phase="run")
    line = status_line(60, h, live, Env())
    assert "[run]  12.3s / 60s  ok 2  fail 1  info 1" in line
    assert "faults: partition isolate-leader n3" in line
    assert (
        describe_fault("clock", {"kind": "bump", "nodes": ["n1"], "offsets": {"n1": -2.5}})
        == "clock bump n1 n1-2.5s"
    )


@pytest.mark.timeout(120)
def test_a_simulated_run_prints_verdict_counts_and_report(capsys, tmp_path):
    rc = main(["test", "--backend", "sim", "--nodes", "3", "--concurrency", "3", "--time-limit", "5",
               "--nemesis", "partition", "--nemesis-interval", "1", "--seed", "3",
               "--results-dir", str(tmp_path), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "verdict: VALID" in out and "linearizable: True" in out
    ok = int(out.split("ops: ok ")[1].split()[0])
    r = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert r["ops"]["ok"] == ok > 0
    assert f"report: {tmp_path / 'latest'}".split("latest")[0] in out and "report.html" in out


def test_mode_flag_runs_the_store_in_that_mode_and_records_it(capsys, tmp_path):
    rc = main(["test", "--backend", "sim", "--mode", "epaxos", "--nodes", "3",
               "--concurrency", "3", "--time-limit", "5", "--nemesis", "partition",
               "--seed", "3", "--results-dir", str(tmp_path), "--no-progress"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "verdict: VALID" in out, out
    spec = json.loads((tmp_path / "latest" / "test.json").read_text())
    assert spec["backend_opts"]["mode"] == "epaxos"
    assert json.loads((tmp_path / "latest" / "results.json").read_text())["ops"]["ok"] > 0
