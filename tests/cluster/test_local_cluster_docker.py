"""The local backend on a host where libfaketime works: inside a trixie node container.

This machine's own libfaketime (bookworm's, if installed) fails the probe, so the local
backend's clock path is exercised where it can work: the test copies the cluster package into
one node container and runs a LocalCluster there (root, iptables and a working libfaketime),
checking the probe, the store's own clock under an offset, and a loopback partition.
"""

from __future__ import annotations

import json

import pytest

from tests.support.paths import REPO_ROOT as ROOT

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]


SCRIPT = r"""
import json, time
from cluster.local import LocalCluster
from paxos_impl.client import Client, PaxosError

def wait_for(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return True
        except PaxosError:
            pass
        time.sleep(0.1)
    return False

out = {}
c = LocalCluster("paxlab-test-in-container", 3, faketime=True, tls=False)  # no cryptography here
try:
    c.setup()
    out["caps"] = sorted(c.capabilities())
    c.start_all()
    with Client(c.config, node=0, timeout=3.0) as cl:
        out["write"] = wait_for(lambda: cl.write("k", 1) is None)
        c.set_clock_offset("n2", 3600)
        out["skewed"] = wait_for(lambda: abs(cl.status(1)["time"] - time.time() - 3600) < 60)
        out["others_unskewed"] = abs(cl.status(0)["time"] - time.time()) < 60
        c.reset_clocks()
        out["reset"] = wait_for(lambda: abs(cl.status(1)["time"] - time.time()) < 60)
        c.partition({"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}})
        with Client(c.config, node=1, timeout=3.0) as c2:
            out["majority_writes"] = wait_for(lambda: c2.write("k", 2) is None)
            for i in range(3):
                c2.write("j", i)
            time.sleep(0.5)  # unpartitioned, n1 would learn these commits within a heartbeat
            out["isolated_lags"] = cl.status(0)["commit_index"] < c2.status(1)["commit_index"]
        c.heal_network()
        out["healed_read"] = wait_for(lambda: cl.read("k") == 2)
finally:
    c.teardown()
import subprocess
out["left"] = subprocess.run(["pgrep", "-af", "[p]axos_impl.server"], capture_output=True,
                             text=True).stdout.strip()
out["rules"] = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
print(json.dumps(out))
"""


def test_local_backend_clock_and_partition_inside_a_trixie_container(docker_cluster):
    docker = docker_cluster(1)
    for path in sorted((ROOT / "cluster").glob("*.py")):  # the whole package, as it is here
        docker.put_file("n1", path, f"/opt/paxlab/cluster/{path.name}")
    r = docker.exec("n1", ["python3", "-c", SCRIPT], timeout=120)
    assert r.ok, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"clock", "partition", "kill", "pause"} <= set(out["caps"]), out["caps"]
    assert out["write"] and out["skewed"] and out["others_unskewed"] and out["reset"], out
    assert out["majority_writes"] and out["isolated_lags"] and out["healed_read"], out
    assert out["left"] == ""
    assert "PAXLAB-LO" not in out["rules"]
