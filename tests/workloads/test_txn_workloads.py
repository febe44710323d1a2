"""The transactional workloads (list-append, rw-register), bank and counter: the operations
they make, the client mapping of txn, and whole simulated runs checked by their checkers."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import pytest

import workloads
from controller.cli import main
from generator import Context
from targets.bundled.client import StoreClient


def _ops(name: str, n: int = 400, seed: int = 1) -> list[dict]:
    w = workloads.make(name, 4)
    gen, rng = w.generator(), random.Random(seed)
    return [gen.next(Context(time=0, worker=i % 4, rng=rng)) for i in range(n)]


@pytest.mark.parametrize("name, write_f", [("list-append", "append"), ("rw-register", "w")])
def test_txn_shapes_unique_values_and_rotating_keys(name, write_f):
    ops = _ops(name)
    writes = Counter()
    values = []
    for op in ops:
        assert op["f"] == "txn" and 1 <= len(op["value"]) <= 4
        for f, k, v in op["value"]:
            assert f in ("r", write_f)
            if f == write_f:
                writes[k] += 1
                values.append(v)
            else:
                assert v is None
    assert len(values) == len(set(values))  # a read names the write it saw
    assert max(writes.values()) <= 32 and len(writes) > 10  # keys retire and new ones come


def test_bank_transfers_conserve_money_and_reads_cover_every_account():
    for op in _ops("bank"):
        mops = op["value"]
        if mops[0][0] == "r":
            assert [m[1] for m in mops] == [f"acct{i}" for i in range(5)]
        else:
            assert len(mops) == 2 and mops[0][2] == -mops[1][2] and mops[0][1] != mops[1][1]


class TxnConn:
    def __init__(self):
        self.calls = []

    async def txn(self, mops):
        self.calls.append(mops)
        return [[f, k, [7] if f == "r" else v] for f, k, v in mops]


def test_client_maps_txn_and_returns_the_filled_in_reads():
    conn = TxnConn()
    op = {"f": "txn", "key": None, "value": [["append", "x", 1], ["r", "y", None]]}
    out = asyncio.run(StoreClient(conn).invoke(op))
    assert out == {"type": "ok", "value": [["append", "x", 1], ["r", "y", [7]]]}
    assert conn.calls == [op["value"]]


def _run(tmp_path, capsys, workload, nemesis="partition", bug=None, seed=1):
    argv = ["test", "--backend", "sim", "--workload", workload, "--nemesis", nemesis,
            "--time-limit", "6", "--seed", str(seed), "--no-progress", "--json",
            "--results-dir", str(tmp_path)]  # fmt: skip
    if bug:
        argv += ["--bug", bug]
    rc = main(argv)
    return rc, json.loads(capsys.readouterr().out)


CHECKER = {"list-append": "txn", "rw-register": "txn", "bank": "bank", "counter": "counter"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workload", list(CHECKER))
def test_simulated_run_under_partitions_is_checked_and_valid(tmp_path, capsys, workload):
    rc, res = _run(tmp_path, capsys, workload)
    c = res["checkers"][CHECKER[workload]]
    assert rc == 0 and res["valid"] is True and c["valid"] is True, c
    if workload in ("list-append", "rw-register"):
        assert c["consistency"] == "strict-serializable" and c["ops"]["ok"] > 50
        assert c["verdict"].startswith(f"{workload} strict-serializable: valid")
    else:
        assert c["reads"] > 20


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workload, bug", [("bank", "txn-split"), ("list-append", "txn-split"),
                                           ("list-append", "txn-stale-read")])  # fmt: skip
def test_transaction_bugs_are_found(tmp_path, capsys, workload, bug):
    rc, res = _run(tmp_path, capsys, workload, nemesis="none", bug=bug)
    c = res["checkers"][CHECKER[workload]]
    assert rc == 1 and res["valid"] is False and c["valid"] is False
    if workload == "list-append":
        assert c["verdict"].startswith("list-append NOT strict-serializable: ")
    rc, res = _run(tmp_path, capsys, workload, nemesis="none")  # same seed, no bug
    assert rc == 0 and res["checkers"][CHECKER[workload]]["valid"] is True


class NoTxnConn:
    async def read(self, key):
        return None


def test_client_without_transactions_fails_definitely_without_sending():
    op = {"f": "txn", "key": None, "value": [["r", "x", None]]}
    out = asyncio.run(StoreClient(NoTxnConn()).invoke(op))
    assert out["type"] == "fail" and "no transactions" in out["error"]
