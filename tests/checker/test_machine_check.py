"""The generic state-machine checker: verdicts known by construction, agreement with a brute
force enumerator on thousands of small random histories, and `paxlab check --model machine`."""

import json
import random

import pytest

from checker.brute import machine_linearizable
from checker.linearizability import check
from checker.machine_check import check_machine, load_machine, machine_ops
from checker.machine_gen import corrupt, generate, swap_counter
from tests.support import machines as M
from tests.support.cli import paxlab_check
from tests.support.paths import DATA

MACHINES = [M.Counter, M.Bank, M.Register]


def ev(i, p, type_, f, value=None, **extra):
    return {"index": i, "time": i * 10, "process": p, "type": type_, "f": f, "key": None,
            "value": value, **extra}  # fmt: skip


def seq(*ops):
    """A sequential history from (f, input, completion type, result or error)."""
    out = []
    for p, (f, v, t, r) in enumerate(ops):
        out.append(ev(len(out), p, "invoke", f, v))
        extra = {"result": r} if t == "ok" else {"error": r} if t == "fail" else {}
        out.append(ev(len(out), p, t, f, v, **extra))
    return out


# --- small hand-made cases -------------------------------------------------------------------


def test_sequential_counter_valid_and_a_lost_add():
    good = seq(("apply", {"add": 2}, "ok", 2), ("query", "value", "ok", 2),
               ("apply", {"add": 1}, "ok", 3))  # fmt: skip
    assert check_machine(good, M.Counter)["valid"] is True
    bad = seq(("apply", {"add": 2}, "ok", 2), ("query", "value", "ok", 0))
    r = check_machine(bad, M.Counter)
    assert r["valid"] is False
    assert r["op"]["index"] == 2 and r["op"]["output"] == 0
    assert r["prefix"] == [{"index": 0, "state": {"total": 2}}]  # states are snapshots, as JSON
    assert r["machine"] == "examples.machines.counter:Counter"


def test_info_may_or_may_not_have_happened_and_plain_fail_did_not():
    took = seq(("apply", {"add": 5}, "info", None), ("query", "value", "ok", 5))
    never = seq(("apply", {"add": 5}, "info", None), ("query", "value", "ok", 0))
    failed = seq(("apply", {"add": 5}, "fail", "not_leader"), ("query", "value", "ok", 5))
    assert check_machine(took, M.Counter)["valid"] is True
    assert check_machine(never, M.Counter)["valid"] is True
    assert check_machine(failed, M.Counter)["valid"] is False


def test_a_rejected_command_was_executed_and_changed_nothing():
    """Bank: a refused transfer tells the funds were short at its point, like a cas
    mismatch tells the value was another."""
    short = seq(("apply", {"transfer": ["a", "b", 150]}, "fail", "rejected"),
                ("query", "balances", "ok", dict.fromkeys("abcde", 100)))  # fmt: skip
    assert check_machine(short, M.Bank)["valid"] is True
    # 100 covers 60: refusing it is impossible in every order
    wrong = seq(("apply", {"transfer": ["a", "b", 60]}, "fail", "rejected"))
    r = check_machine(wrong, M.Bank)
    assert r["valid"] is False and r["op"]["error"] == "rejected"
    # accepted where it must have been refused
    over = seq(("apply", {"transfer": ["a", "b", 150]}, "ok", "ok"))
    assert check_machine(over, M.Bank)["valid"] is False


def test_concurrent_commands_may_go_in_either_order():
    h = [ev(0, 0, "invoke", "apply", {"add": 1}), ev(1, 1, "invoke", "apply", {"add": 2}),
         ev(2, 0, "ok", "apply", {"add": 1}, result=3),
         ev(3, 1, "ok", "apply", {"add": 2}, result=2)]  # fmt: skip
    assert check_machine(h, M.Counter)["valid"] is True
    # the same two, one after the other, cannot both be right
    h2 = [ev(0, 0, "invoke", "apply", {"add": 1}), ev(1, 0, "ok", "apply", {"add": 1}, result=3),
          ev(2, 1, "invoke", "apply", {"add": 2}), ev(3, 1, "ok", "apply", {"add": 2}, result=2)]  # fmt: skip
    assert check_machine(h2, M.Counter)["valid"] is False


def test_async_machine_is_checked_as_if_serial():
    h = seq(("apply", {"add": 2}, "ok", 2), ("apply", {"add": 1}, "ok", 3))
    assert check_machine(h, M.AsyncCounter)["valid"] is True
    assert check_machine(seq(("apply", {"add": 2}, "ok", 3)), M.AsyncCounter)["valid"] is False


def test_restore_that_keeps_its_snapshot_does_not_corrupt_the_search():
    """Bank.restore keeps the object it is given: the checker must never hand it one of
    its own states (a later apply would change a memoised state behind its back)."""
    evs = generate(M.Bank, 300, 5, seed=3)
    assert check_machine(evs, M.Bank)["valid"] is True


def test_the_register_machine_agrees_with_the_register_model():
    """The same behaviour written as a machine and as the built-in model: same verdicts."""
    rng = random.Random(7)
    for seed in range(60):
        evs = generate(M.Register, 12, 3, seed=seed, info_rate=0.2)
        reads = [e for e in evs if e["f"] == "query" and e["type"] == "ok"]
        if seed % 2 and reads:  # a read of another value (the model reads only reads' outputs)
            rng.choice(reads)["result"] = rng.choice([None, 0, 1, 2, 3])
        as_model = []
        for e in evs:
            e = dict(e)
            v = e["value"]
            if e["f"] == "query":
                e["f"], e["value"] = "read", (e.get("result") if e["type"] == "ok" else None)
            elif "write" in v:
                e["f"], e["value"] = "write", v["write"]
            else:
                e["f"], e["value"] = "cas", v["cas"]
                if e["type"] == "ok" and e.get("result") is False:
                    e["type"], e["error"] = "fail", "mismatch"
            e.pop("result", None)
            as_model.append(e)
        assert check_machine(evs, M.Register)["valid"] == check(as_model, "register")["valid"]


# --- known by construction -------------------------------------------------------------------


@pytest.mark.parametrize("cls", MACHINES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("info", [0.0, 0.05])
def test_generated_histories_are_valid_and_corrupted_ones_are_not(cls, info):
    for seed in range(3):
        evs = generate(cls, 150, 5, seed=seed, info_rate=info)
        assert check_machine(evs, cls, time_limit=60)["valid"] is True, seed
        bad = corrupt(evs, random.Random(seed))
        assert check_machine(bad, cls, time_limit=60)["valid"] is False, seed


@pytest.mark.parametrize("cls", [M.Counter, M.Bank], ids=lambda c: c.__name__)
def test_a_lost_acknowledged_command_is_found(cls):
    for seed in range(3):
        evs = generate(cls, 200, 5, seed=seed, lost=True, final_query=True)
        assert check_machine(evs, cls)["valid"] is False, seed
        ok = generate(cls, 200, 5, seed=seed, final_query=True)
        assert check_machine(ok, cls)["valid"] is True, seed


def test_two_non_overlapping_counter_results_swapped_are_found():
    for seed in range(5):
        evs = swap_counter(generate(M.Counter, 200, 5, seed=seed), random.Random(seed))
        assert evs is not None
        assert check_machine(evs, M.Counter)["valid"] is False, seed


# --- brute force -----------------------------------------------------------------------------


def corrupt_plausibly(evs: list[dict], rng: random.Random) -> list[dict]:
    """One outcome changed to one the machine could give in some state (so the history may
    stay valid or not: brute force decides)."""
    out = [dict(e) for e in evs]
    done = [e for e in out if e["type"] in ("ok", "fail")]
    if not done:
        return out
    e = rng.choice(done)
    if e["type"] == "fail":
        e["type"], e["result"] = "ok", "ok"
        e.pop("error", None)
        return out
    r = e.get("result")
    if r == "ok":
        e["type"], e["error"] = "fail", "rejected"
        e.pop("result")
    elif isinstance(r, bool):
        e["result"] = not r
    elif isinstance(r, int):
        e["result"] = r + rng.choice([-2, -1, 1, 2])
    elif isinstance(r, dict):
        k1, k2 = rng.sample(sorted(r), 2)
        n = rng.randint(1, 3)
        e["result"] = {**r, k1: r[k1] - n, k2: r[k2] + n}
    else:
        e["result"] = rng.randrange(4)
    return out


@pytest.mark.parametrize("cls", MACHINES, ids=lambda c: c.__name__)
def test_agrees_with_brute_force_on_small_random_histories(cls):
    rng = random.Random(cls.__name__)
    agree = {True: 0, False: 0}
    for seed in range(700):
        n = rng.randint(2, 7)
        evs = generate(cls, n, rng.randint(2, 3), seed=seed, info_rate=0.25)
        if rng.random() < 0.6:
            evs = corrupt_plausibly(evs, rng)
        ops = machine_ops(evs)
        expected = machine_linearizable(ops, cls)
        got = check_machine(evs, cls)["valid"]
        assert got == expected, json.dumps(evs)
        agree[expected] += 1
    assert agree[True] > 100 and agree[False] > 100, agree  # both kinds were tried


# --- the command line ------------------------------------------------------------------------

COUNTER = "examples.machines.counter:Counter"


def test_cli_verdicts_and_exit_codes(tmp_path):
    r = paxlab_check(DATA / "machine" / "counter-valid.jsonl", "--model", "machine",
                     "--machine", COUNTER)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "linearizable" in r.stdout
    out = tmp_path / "r.html"
    r = paxlab_check(DATA / "machine" / "counter-lost-add.jsonl", "--machine", COUNTER,
                     "--json", "--report", out)  # fmt: skip
    assert r.returncode == 1, r.stderr
    res = json.loads(r.stdout)
    assert res["valid"] is False and res["model"] == "machine"
    assert res["op"]["f"] == "query" and res["op"]["output"] == 2
    assert res["prefix"][-1]["state"] == {"total": 3}
    page = out.read_text()
    assert "Not linearizable" in page and "query &quot;value&quot; -&gt; 2" in page


def test_cli_initial_is_a_snapshot_to_start_from():
    """The valid counter history starts from 0: from a snapshot of 10 its first add cannot
    answer 3."""
    h = DATA / "machine" / "counter-valid.jsonl"
    assert paxlab_check(h, "--machine", COUNTER, "--initial", '{"total": 0}').returncode == 0
    r = paxlab_check(h, "--machine", COUNTER, "--initial", '{"total": 10}', "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["initial"] == {"total": 10}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "machine"], "go together"),
        (["--machine", "nope_such_module:X"], "cannot import"),
        (["--machine", "examples.machines.counter:Nope"], "has no 'Nope'"),
        (["--machine", "json"], "module:Class"),
        (["--machine", "json:JSONDecoder"], "not a state machine"),
        (["--model", "kv", "--machine", COUNTER], "go together"),
    ],
)
def test_cli_bad_machine_is_one_line_and_exit_2(args, message):
    r = paxlab_check(DATA / "machine" / "counter-valid.jsonl", *args)
    assert r.returncode == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr


def test_cli_a_machine_history_without_a_machine_says_what_to_add():
    r = paxlab_check(DATA / "machine" / "counter-valid.jsonl")
    assert r.returncode == 2 and "--machine MODULE:CLASS" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_machine_errors_on_the_history_are_one_line(tmp_path):
    bad = tmp_path / "h.jsonl"
    bad.write_text(json.dumps(ev(0, 0, "invoke", "read")) + "\n"
                   + json.dumps(ev(1, 0, "ok", "read", result=1)) + "\n")  # fmt: skip
    r = paxlab_check(bad, "--machine", COUNTER)
    assert r.returncode == 2 and "unknown f 'read'" in r.stderr
    r = paxlab_check(DATA / "machine" / "counter-valid.jsonl", "--machine",
                     "tests.support.machines:NotJson")  # fmt: skip
    assert r.returncode == 2 and "not JSON" in r.stderr and "Traceback" not in r.stderr


def test_load_machine_finds_a_module_in_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "mymachine_sm_test.py").write_text(
        "class M:\n    def __init__(self): self.n = 0\n    def apply(self, c): return c\n"
        "    def query(self, q): return q\n    def snapshot(self): return self.n\n"
        "    def restore(self, s): self.n = s\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", [p for p in __import__("sys").path if p not in ("", ".")])
    assert load_machine("mymachine_sm_test:M").__name__ == "M"
