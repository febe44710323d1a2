"""``paxlab bench --target etcd`` / ``--compare etcd``: real etcd members, short runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from controller import bench_etcd

pytestmark = pytest.mark.timeout(180)


def test_etcd_takes_the_same_load_as_the_store():
    r = bench_etcd.bench_etcd(nodes=3, clients=4, seconds=1.0, keys=10)
    assert r["ok"] > 0 and r["ops_per_s"] > 0
    assert 0 < r["p50_ms"] <= r["p99_ms"] <= r["max_ms"]
    assert r["version"].startswith("3.")


def test_compare_prints_one_table_with_both_sides_and_the_ratio(tmp_path):
    r = bench_etcd.compare(
        client_counts=(2,), seconds=0.5, nodes=3, keys=10, transports=("tcp", "udp")
    )
    (row,) = r["rows"]
    assert row["store"]["ops_per_s"] > 0 and row["etcd"]["ops_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["store"]["ops_per_s"] / row["etcd"]["ops_per_s"], 0.01)
    assert row["stores"]["udp"]["ops_per_s"] > 0 and row["stores"]["tcp"] == row["store"]
    for side in (row["stores"]["tcp"], row["stores"]["udp"], row["etcd"]):
        cpu = side["cpu_us_per_write"]  # read from /proc of the very processes
        assert cpu["leader"] > 0 and cpu["follower"] > 0
    text = bench_etcd.table(r)
    assert "store tcp w/s" in text and "store udp w/s" in text and "etcd w/s" in text
    assert "ratio tcp" in text and "ratio udp" in text and "leader/follower" in text
    page = bench_etcd.write_page(r, tmp_path)
    assert page.parent == tmp_path / "bench" and "<svg" in page.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["--target", "etcd", "--tls"],
        ["--target", "etcd", "--no-fsync"],
        ["--target", "etcd", "--client-counts", "1,2"],
        ["--compare", "etcd", "--client-counts", "0,2"],
        ["--transport", "tcp,udp"],
        ["--transport", "udp", "--tls"],
        ["--transport", "sctp"],
    ],
)
def test_options_that_do_not_fit_etcd_are_refused_in_one_line(args):
    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "bench", *args], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
