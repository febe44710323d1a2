"""Partition, loss and netem commands: the rule text, the shell that loads it, the probe."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cluster import iptables
from cluster.base import ClusterError, ExecResult, Unsupported


def test_partition_restore_replaces_our_chain_only():
    text = iptables.partition_restore([("10.0.0.12", None), ("10.0.0.11", "10.0.0.13")])
    assert text.splitlines() == [
        "*filter",
        ":PAXLAB - [0:0]",  # declaring the chain in a restore file empties it: a replacement
        "-A PAXLAB -s 10.0.0.11/32 -d 10.0.0.13/32 -j DROP",
        "-A PAXLAB -s 10.0.0.12/32 -j DROP",
        "COMMIT",
    ]
    assert "INPUT" not in text and "DOCKER" not in text and "-F" not in text


def test_partition_restore_dedups_and_heal_is_an_empty_chain():
    assert iptables.partition_restore([("1.2.3.4", None)] * 3).count("-j DROP") == 1
    assert iptables.partition_restore([]) == "*filter\n:PAXLAB - [0:0]\nCOMMIT\n"


def test_loss_uses_the_statistic_match_and_spares_loopback():
    text = iptables.loss_restore(0.25)
    assert (
        "-A PAXLAB-LOSS ! -i lo -m statistic --mode random --probability 0.250000 -j DROP" in text
    )
    assert "-j DROP" not in iptables.loss_restore(0)
    with pytest.raises(ClusterError, match="probability"):
        iptables.loss_restore(1.5)


def test_drops_for_maps_grudges_to_source_addresses_for_every_node():
    addrs = {"n1": "10.0.0.11", "n2": "10.0.0.12", "n3": "10.0.0.13"}
    drops = iptables.drops_for({"n1": {"n2", "n3", "n1"}, "n2": {"n1"}}, addrs)
    assert drops == {
        "n1": [("10.0.0.12", None), ("10.0.0.13", None)],  # itself never
        "n2": [("10.0.0.11", None)],
        "n3": [],  # not in the grudge: its rules are cleared
    }
    with pytest.raises(ClusterError, match="unknown nodes: n9"):
        iptables.drops_for({"n1": {"n9"}}, addrs)


def _fake_tools(tmp_path: Path) -> dict[str, str]:
    """iptables-restore and iptables stand-ins that record what they were given."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "iptables-restore").write_text(
        f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncat > {tmp_path}/restore\n'
    )
    (bin_ / "iptables").write_text(
        f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\n[ "$1" = "-C" ] && [ -e {tmp_path}/hooked ] && exit 0\n'
        f'[ "$1" = "-C" ] && exit 1\n[ "$1" = "-I" ] && touch {tmp_path}/hooked\nexit 0\n'
    )
    for f in bin_.iterdir():
        f.chmod(0o755)
    return dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}")


def test_apply_command_feeds_the_rules_verbatim_and_hooks_the_chain_once(tmp_path):
    env = _fake_tools(tmp_path)
    text = iptables.partition_restore([("10.0.0.12", None)])
    cmd = iptables.apply_command(text, iptables.CHAIN)
    for _ in range(2):
        subprocess.run(cmd, env=env, check=True, timeout=10)
    assert (tmp_path / "restore").read_text() == text  # no shell quoting damage
    assert (tmp_path / "args").read_text().split() == ["--noflush"]
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls.count("-I INPUT 1 -j PAXLAB") == 1
    assert calls.count("-C INPUT -j PAXLAB") == 2


def test_netem_probe_failure_becomes_a_clear_reason():
    unknown = ExecResult(2, "", "Error: Specified qdisc kind is unknown.\n")
    assert "no netem" in iptables.netem_unsupported_reason(unknown)
    other = ExecResult(2, "", "RTNETLINK answers: Operation not permitted\n")
    assert iptables.netem_unsupported_reason(other).endswith("Operation not permitted")
    assert iptables.netem_unsupported_reason(ExecResult(0, "", "")) is None


def test_set_delay_raises_unsupported_when_the_kernel_lacks_netem():
    ran: list[list[str]] = []

    def run(cmd):
        ran.append(cmd)
        return ExecResult(2, "", "Error: Specified qdisc kind is unknown.")

    with pytest.raises(Unsupported, match="sch_netem"):
        iptables.set_delay(run, "eth0", 50, 10)
    assert ran[0][:7] == ["tc", "qdisc", "replace", "dev", "eth0", "root", "netem"]
    assert ran[0][7:] == ["delay", "50ms", "10ms", "distribution", "normal"]


def test_failed_restore_is_a_one_line_cluster_error():
    def run(cmd):
        return ExecResult(1, "", "iptables-restore: line 3 failed\n")

    with pytest.raises(ClusterError, match="iptables partition failed: iptables-restore: line 3"):
        iptables.apply_partition(run, [("10.0.0.1", None)])
