"""Every workload's history can be re-checked offline: `paxlab check --model set` and
`--model append` give the live run's verdict on the same history (one implementation, in
checker/, which the workloads call)."""

import json
import subprocess
import sys

import pytest

from checker.set_check import check_set
from tests.support.cli import paxlab_check as paxlab


def sim_run(tmp_path, workload, *extra):
    """A simulated run (deterministic by seed): its history and its live checkers."""
    r = subprocess.run([sys.executable, "-m", "controller.cli", "test", "--backend", "sim",
                        "--workload", workload, "--time-limit", "5", "--results-dir",
                        str(tmp_path), "--no-progress", *extra],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    (run,) = [p.parent for p in tmp_path.glob(f"{workload}-*/*/results.json")]
    return run / "history.jsonl", json.loads((run / "results.json").read_text())["checkers"]


SET_FIELDS = ("valid", "attempted", "acknowledged", "lost_count", "unexpected_count",
              "duplicated_count", "recovered_count", "lost")  # fmt: skip


@pytest.mark.parametrize(
    "extra,expect",
    [
        (("--nemesis", "partition", "--seed", "1"), True),
        # a leader that acknowledges adds no quorum accepted: acknowledged adds are lost
        (
            (
                "--nemesis",
                "partition:isolate-leader",
                "--nemesis-interval",
                "1",
                "--bug",
                "early-ack",
                "--seed",
                "1",
            ),
            False,
        ),  # fmt: skip
    ],
)
def test_set_offline_verdict_is_the_live_one(tmp_path, extra, expect):
    hist, live = sim_run(tmp_path, "set", *extra)
    assert live["set"]["valid"] is expect  # the run exercises the verdict it claims to
    r = paxlab("--model", "set", "--json", hist)
    assert r.returncode == (0 if expect else 1), r.stderr
    off = json.loads(r.stdout)
    assert {k: off[k] for k in SET_FIELDS} == {k: live["set"][k] for k in SET_FIELDS}
    text = paxlab("--model", "set", hist).stdout
    assert ("set valid" if expect else "set INVALID") in text


def test_set_history_was_not_checkable_before(tmp_path):
    """`--model kv` on a set history says what is wrong in one line (f add); --model set
    is the way, and the default model says so too."""
    hist, _ = sim_run(tmp_path, "set", "--nemesis", "none", "--seed", "2")
    r = paxlab("--model", "kv", hist)
    assert r.returncode == 2 and "'add'" in r.stderr
    assert paxlab("--model", "set", hist).returncode == 0


def test_append_offline_verdict_is_the_live_one(tmp_path):
    # a store that applies a retried append twice: duplicated elements, not linearizable,
    # once a retry meets an append that did commit (the first seeds that show it)
    for seed in range(1, 9):
        hist, live = sim_run(tmp_path / str(seed), "append", "--nemesis", "kill:leader",
                             "--nemesis-interval", "0.5", "--bug", "no-dedup",
                             "--seed", str(seed))  # fmt: skip
        if live["linearizable"]["valid"] is False:
            break
    assert live["linearizable"]["valid"] is False and live["elements"]["valid"] is False
    r = paxlab("--model", "append", "--json", hist)
    assert r.returncode == 1, r.stderr
    off = json.loads(r.stdout)["checkers"]
    assert off["elements"] == live["elements"]
    assert off["linearizable"]["valid"] is False
    assert off["linearizable"]["key"] == live["linearizable"]["key"]
    assert "append INVALID" in paxlab("--model", "append", hist).stdout


def test_append_valid_run(tmp_path):
    hist, live = sim_run(tmp_path, "append", "--nemesis", "partition", "--seed", "1")
    assert live["linearizable"]["valid"] is True and live["elements"]["valid"] is True
    r = paxlab("--model", "append", hist)
    assert r.returncode == 0 and "append valid" in r.stdout


def ev(i, p, t, f, v, key="set"):
    return {"index": i, "time": i, "process": p, "type": t, "f": f, "key": key, "value": v}


def test_set_checker_categories_by_construction():
    h = [
        ev(0, 0, "invoke", "add", 1), ev(1, 0, "ok", "add", 1),
        ev(2, 1, "invoke", "add", 2), ev(3, 1, "ok", "add", 2),
        ev(4, 2, "invoke", "add", 3), ev(5, 2, "info", "add", 3),
        ev(6, 3, "invoke", "add", 4), ev(7, 3, "info", "add", 4),
        ev(8, 4, "invoke", "read", None), ev(9, 4, "ok", "read", [1, 3, 9, 9]),
    ]  # fmt: skip
    r = check_set(h)
    assert r["valid"] is False
    assert (r["lost"], r["unexpected"], r["duplicated"], r["recovered"]) == ([2], [9], [9], [3])
    assert r["acknowledged"] == 2 and r["attempted"] == 4 and r["indeterminate"] == 2
    h[9] = ev(9, 4, "ok", "read", [1, 2, 4])
    r = check_set(h)
    assert r["valid"] is True and r["recovered"] == [4]
    assert check_set(h[:8])["valid"] == "unknown"  # no final read: nothing to judge


def test_set_model_on_bad_input_is_exit_2(tmp_path):
    p = tmp_path / "h.jsonl"
    lines = [ev(0, 0, "ok", "add", 1)]  # a completion without an invocation
    p.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = paxlab("--model", "set", p)
    assert r.returncode == 2 and "line 1" in r.stderr and "without" in r.stderr
    p.write_text(json.dumps(ev(0, 0, "invoke", "write", 1)) + "\n")
    r = paxlab("--model", "set", p)
    assert r.returncode == 2 and "no add" in r.stderr


def test_set_model_reads_jepsen_edn_set_histories(tmp_path):
    """Jepsen's set workload: :add ops without a key, then a final :read of a #{...} set."""
    ops = [
        "{:process 0, :type :invoke, :f :add, :value 0}",
        "{:process 0, :type :ok, :f :add, :value 0}",
        "{:process 1, :type :invoke, :f :add, :value 1}",
        "{:process 1, :type :ok, :f :add, :value 1}",
        "{:process 2, :type :invoke, :f :add, :value 2}",
        "{:process 2, :type :info, :f :add, :value 2}",
        "{:process 3, :type :invoke, :f :read, :value nil}",
        "{:process 3, :type :ok, :f :read, :value #{0 1 2}}",
    ]
    p = tmp_path / "set.edn"
    p.write_text("\n".join(ops) + "\n")
    r = paxlab("--model", "set", "--json", p)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recovered"] == [2]
    p.write_text("\n".join(ops[:-1] + ["{:process 3, :type :ok, :f :read, :value #{0 2}}"]) + "\n")
    r = paxlab("--model", "set", "--json", p)
    assert r.returncode == 1
    assert json.loads(r.stdout)["lost"] == [1]
