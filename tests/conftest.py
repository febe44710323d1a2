"""Shared fixtures. Keep this small: fixtures more than one test file needs, nothing else."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--rewrite",
        action="store_true",
        help="write the actual output into tests/paxos_impl/testdata/*.txt instead of comparing",
    )


def processes_in_containers(container_ids) -> list[int]:
    """Host pids of processes running in any of these containers (found by cgroup)."""
    ids = [i for i in container_ids if i]
    pids = []
    for cg in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            text = cg.read_text()
        except OSError:
            continue
        if any(i in text for i in ids):
            pids.append(int(cg.parent.name))
    return pids


@pytest.fixture
def container_processes():
    return processes_in_containers


@pytest.fixture(scope="session")
def docker_client():
    """The Docker engine; the container tier cannot run without it, so say so and stop."""
    from cluster.base import ClusterError
    from cluster.image import docker_client as connect

    try:
        return connect()
    except ClusterError as e:
        pytest.fail(f"container tests need Docker: {e}", pytrace=False)


@pytest.fixture(scope="session")
def node_image(docker_client):
    """The node image, built (or found current) once per session; its name."""
    from cluster import image

    st = image.build(docker_client, log=lambda _msg: None)
    assert st.current, st.line()
    return image.IMAGE


@pytest.fixture
def docker_cluster(node_image, docker_client):
    """A factory of DockerClusters with unique names, each torn down after the test.

    Teardown happens even when the test fails midway, and then nothing labelled with the
    cluster's name may remain.
    """
    from cluster.docker_backend import DockerCluster, leftovers

    made: list[DockerCluster] = []

    def make(n: int = 3, **opts) -> DockerCluster:
        c = DockerCluster(f"paxlab-test-{uuid.uuid4().hex[:8]}", n, **opts)
        made.append(c)
        c.setup()
        return c

    yield make
    for c in made:
        ids = list(c._ids.values())
        c.teardown()
        left = leftovers(docker_client, c.name)
        assert left == {"containers": [], "networks": []}, f"left behind: {left}"
        assert processes_in_containers(ids) == [], "processes of removed containers live on"
