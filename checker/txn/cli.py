"""The transaction models of `paxlab check`: one file's verdict (HistoryError when it
cannot be judged), for checker/cli.py."""

from __future__ import annotations

from checker.history import HistoryError
from checker.txn.check import check_txns
from checker.txn.history import read_txns


def judge(path: str, fmt: str, model: str, consistency: str) -> dict:
    """Read a JSONL or EDN transaction history and judge it against ``consistency``."""
    if fmt not in ("jsonl", "edn"):
        raise HistoryError(f"{path}: a {fmt} file: transaction histories are JSONL or EDN")
    return check_txns(read_txns(path, model, fmt), model, consistency)
