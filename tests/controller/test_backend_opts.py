"""`paxlab test --backend-opt KEY=VALUE`: backend options (the simulator's power cuts, drift,
message loss...) reach the cluster from the command line, and a wrong one is a one-line
usage error. Store settings are not backend options (--target-opt, tests/targets/test_store_settings.py)."""

from __future__ import annotations

import pytest

from controller.cli import main
from controller.run_cli import parse_backend_opts


def test_values_are_json_else_strings():
    opts = parse_backend_opts(["power_loss=0.5", "clock-drift=0.1", "kind=fast", "x=true"])
    assert opts == {"power_loss": 0.5, "clock_drift": 0.1, "kind": "fast", "x": True}
    for bad in ("nokey", "=3", "two words=1"):
        with pytest.raises(ValueError):
            parse_backend_opts([bad])


def test_a_store_setting_reaches_the_simulated_store(tmp_path, capsys):
    argv = ["test", "--backend", "sim", "--nemesis", "none", "--time-limit", "3", "--seed", "2",
            "--target-opt", "snapshot_every=5", "--results-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    listings = list(tmp_path.glob("*/*/nodes/n*/data-listing.txt"))
    assert len(listings) == 5
    for f in listings:  # every node compacted its log into a snapshot
        assert f.read_text().splitlines()[0].startswith("snapshot: applied ")


@pytest.mark.parametrize("opt", ["bogus=1", "nokey"])
def test_a_wrong_option_is_a_one_line_usage_error(opt, tmp_path, capsys):
    argv = ["test", "--backend", "sim", "--time-limit", "1", "--backend-opt", opt,
            "--results-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("paxlab test: ") and "Traceback" not in "\n".join(err)
    assert not list(tmp_path.glob("*/*/history.jsonl"))  # refused before anything ran
