"""`paxlab cluster up|status|down`, run as a user would, with a private state directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT as REPO


def paxlab(home: Path, *args: str, env: dict | None = None, timeout: float = 120):
    e = dict(os.environ, PAXLAB_HOME=str(home), **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", "cluster", *args],
        capture_output=True,
        text=True,
        env=e,
        cwd=REPO,
        timeout=timeout,
    )


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_missing_engine_is_one_line_and_leaves_no_state(tmp_path):
    r = paxlab(tmp_path, "up", "--name", "x", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert "cannot reach the Docker engine" in one_line_error(r)
    assert not list((tmp_path / "clusters").glob("*.json"))


def test_bad_input_is_one_line(tmp_path):
    assert "--nodes must be within" in one_line_error(paxlab(tmp_path, "up", "--nodes", "0"))
    assert "no cluster named nope" in one_line_error(paxlab(tmp_path, "status", "--name", "nope"))
    assert "no cluster named nope" in one_line_error(paxlab(tmp_path, "down", "--name", "nope"))
    assert "--nodes-file" in one_line_error(paxlab(tmp_path, "up", "--backend", "ssh"))


def test_make_cluster_picks_the_backend_and_rejects_unknown_ones():
    from cluster import make_cluster
    from cluster.base import ClusterError
    from cluster.docker_backend import DockerCluster

    c = make_cluster("docker", "mk", 4, read_mode="quorum")  # no engine contact until setup
    assert isinstance(c, DockerCluster)
    assert c.nodes == ["n1", "n2", "n3", "n4"] and c.config.read_mode == "quorum"
    with pytest.raises(ClusterError, match="unknown backend 'nope'; known: docker, local"):
        make_cluster("nope", "mk", 3)


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text in cmdline.read_bytes().decode(errors="replace"):
                pids.append(int(cmdline.parent.name))
        except OSError:
            pass
    return pids


@pytest.mark.timeout(120)
def test_local_backend_up_status_down_leaves_nothing(tmp_path):
    r = paxlab(tmp_path, "up", "--backend", "local", "--name", "loc")
    assert r.returncode == 0, r.stderr
    assert "docker exec" not in r.stdout
    st = paxlab(tmp_path, "status", "--name", "loc", "--json")
    assert st.returncode == 0, st.stderr
    rows = json.loads(st.stdout)["nodes"]
    assert [r["state"] for r in rows] == ["running"] * 3
    run_dir = tmp_path / "clusters" / "loc-nodes"
    assert _processes_mentioning(str(run_dir))  # the stores run from there
    down = paxlab(tmp_path, "down", "--name", "loc")
    assert down.returncode == 0, down.stderr
    assert list((tmp_path / "clusters").iterdir()) == []
    assert _processes_mentioning(str(run_dir)) == []


@pytest.mark.timeout(180)
def test_local_add_node_then_remove_the_first_and_status_follows(tmp_path):
    assert paxlab(tmp_path, "up", "--backend", "local", "--name", "grow").returncode == 0
    try:
        r = paxlab(tmp_path, "add-node", "--name", "grow")
        assert r.returncode == 0 and "n4 joined as a voter" in r.stdout, r.stderr
        r = paxlab(tmp_path, "remove-node", "n1", "--name", "grow")
        assert r.returncode == 0 and "n1 left" in r.stdout, r.stderr
        st = json.loads(paxlab(tmp_path, "status", "--name", "grow", "--json").stdout)
        assert [row["node"] for row in st["nodes"]] == ["n2", "n3", "n4"]
        assert all(row["state"] == "running" for row in st["nodes"])
        assert one_line_error(paxlab(tmp_path, "remove-node", "n9", "--name", "grow"))
        config = tmp_path / "clusters" / "grow.toml"
        members = subprocess.run(
            [str(Path(sys.executable).parent / "paxos-client"), "--config", str(config),
             "members"], capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert json.loads(members.stdout)["voters"] == [1, 2, 3], members.stderr
    finally:
        run_dir = tmp_path / "clusters" / "grow-nodes"
        assert paxlab(tmp_path, "down", "--name", "grow").returncode == 0
        assert _processes_mentioning(str(run_dir)) == []


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_up_status_client_down(tmp_path, node_image, docker_client):
    from cluster.docker_backend import leftovers

    name = f"paxlab-test-cli-{uuid.uuid4().hex[:6]}"
    try:
        r = paxlab(tmp_path, "up", "--nodes", "3", "--name", name)
        assert r.returncode == 0, r.stderr
        config = tmp_path / "clusters" / f"{name}.toml"
        assert config.exists()
        assert f"paxos-client --config {config} get" in r.stdout
        assert f"docker exec -it {name}-n1 bash" in r.stdout

        again = paxlab(tmp_path, "up", "--name", name)
        assert "already up" in one_line_error(again)

        client = [sys.executable, "-m", "paxos_impl.client_cli", "--config", str(config)]
        put = subprocess.run(
            [*client, "put", "greeting", "hello"], capture_output=True, text=True, timeout=60
        )
        assert put.returncode == 0, put.stderr
        get = subprocess.run(
            [*client, "get", "greeting"], capture_output=True, text=True, timeout=60
        )
        assert get.returncode == 0 and "hello" in get.stdout, (get.stdout, get.stderr)

        st = paxlab(tmp_path, "status", "--name", name, "--json")
        assert st.returncode == 0, st.stderr
        rows = json.loads(st.stdout)["nodes"]
        assert [r["node"] for r in rows] == ["n1", "n2", "n3"]
        assert all(r["state"] == "running" for r in rows)
        assert sorted(r["role"] for r in rows).count("leader") == 1
        human = paxlab(tmp_path, "status", "--name", name)
        assert "leader" in human.stdout and ":7200" in human.stdout
    finally:
        down = paxlab(tmp_path, "down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / "clusters" / f"{name}.json").exists()
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


@pytest.mark.docker
@pytest.mark.timeout(120)
def test_down_removes_leftovers_that_have_no_state_file(tmp_path, node_image, docker_client):
    from cluster.docker_backend import DockerCluster, leftovers

    name = f"paxlab-test-orphan-{uuid.uuid4().hex[:6]}"
    c = DockerCluster(name, 1)
    try:
        c.setup()  # as if `up` had crashed before writing its state
        r = paxlab(tmp_path, "down", "--name", name)
        assert r.returncode == 0, r.stderr
        assert f"{name}-n1" in r.stdout and f"{name}-net" in r.stdout
    finally:
        c.teardown()
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}
