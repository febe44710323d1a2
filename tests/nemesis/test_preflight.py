"""Every nemesis and kind is checked against the backend before anything starts.

A fault the backend can never do must be refused before set-up, with a one-line error and no
run left behind (an UNKNOWN run in results/ is a lie about what was tested). Only what must be
probed on a live node (docker's netem delay) may wait for the check after set-up.
"""

from __future__ import annotations

import pytest

import nemesis
from cluster.base import Unsupported

ENTRIES = [(name, [kind]) for name, cls in nemesis.REGISTRY.items() for kind in cls.KINDS]
ENTRIES += [(name, None) for name in nemesis.REGISTRY]  # bare names: every kind that fits


def refused(entry, cluster, final: bool) -> bool:
    try:
        nemesis.build([entry]).require(cluster, final=final)
    except Unsupported:
        return True
    return False


@pytest.fixture(params=["sim", "local"])
def cluster(request):
    from cluster import make_cluster

    c = make_cluster(request.param, "paxlab-preflight", 3)  # made, never set up
    yield c
    c.teardown()


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: f"{e[0]}:{'+'.join(e[1] or ['*'])}")
def test_the_check_before_setup_decides_what_the_check_after_would(entry, cluster):
    """On a backend that knows its capabilities up front, nothing is left for after set-up."""
    assert refused(entry, cluster, final=False) == refused(entry, cluster, final=True)


def test_local_netem_delay_is_refused_before_anything_starts(tmp_path, capsys):
    from controller.cli import main

    results = tmp_path / "results"
    rc = main(["test", "--backend", "local", "--nemesis", "netem:delay", "--time-limit", "1",
               "--nodes", "3", "--results-dir", str(results), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert "netem" in err[-1] and "netem-delay" in err[-1]
    assert not results.exists()  # no run dir: refused before set-up


def test_docker_keeps_netem_delay_possible_until_a_live_node_says_no():
    from cluster.docker_backend import DockerCluster

    c = DockerCluster("paxlab-preflight", 3)  # no engine contact before setup
    assert "netem-delay" not in c.capabilities()
    assert "netem-delay" in c.possible_capabilities()
    assert not refused(("netem", ["delay"]), c, final=False)
    c._netem_probed, c._netem_reason = True, "no sch_netem in this kernel"
    assert "netem-delay" not in c.possible_capabilities()
    assert refused(("netem", ["delay"]), c, final=False)
    assert not refused(("netem", None), c, final=False)  # a bare netem narrows to loss
