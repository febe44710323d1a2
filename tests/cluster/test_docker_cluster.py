"""The docker backend for real: containers, the store in them, and every fault primitive.

Each test gets fresh containers from the `docker_cluster` fixture, which tears them down
even when the test fails and then checks that nothing labelled for that cluster is left.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from cluster.base import ClusterError, Unsupported
from cluster.docker_backend import (
    AGENT,
    CLIENT_PORT,
    NODE_ROOT,
    PEER_PORT,
    DockerCluster,
    leftovers,
)
from paxos_impl.client import Client, PaxosError
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(180)]


def status(c: DockerCluster, node: str) -> dict:
    i = c.nodes.index(node)
    client = Client(c.config, node=i, timeout=2.0, follow_redirects=False)
    try:
        return client.status(i)
    finally:
        client.close()


def leader_of(c: DockerCluster) -> str:
    def find():
        for n in c.nodes:
            try:
                if status(c, n).get("role") == "leader":
                    return n
            except PaxosError:
                pass
        return None

    return wait_for(find, 20, "a leader")


def can_connect(c: DockerCluster, src: str, dst: str, port: int = PEER_PORT) -> bool:
    """A TCP connect from inside src to dst (one second: a dropped SYN times out)."""
    code = (
        "import socket,sys\n"
        "try:\n"
        f"    socket.create_connection(('{c.addresses[dst]}', {port}), timeout=1).close()\n"
        "except OSError:\n"
        "    sys.exit(1)\n"
    )
    return c.exec(src, ["python3", "-c", code], timeout=10).ok


@pytest.fixture
def store3(docker_cluster):
    """Three containers with the store started and a leader elected."""
    c = docker_cluster(3)
    c.start_all()
    client = Client(c.config, timeout=5.0)
    wait_for(lambda: client.write("warmup", 1) is None, 30, "a first write")
    client.close()
    return c


def test_setup_makes_labelled_containers_on_a_private_network(docker_cluster, docker_client):
    c = docker_cluster(3)
    conts = {
        x.name: x
        for x in docker_client.containers.list(filters={"label": f"paxlab.cluster={c.name}"})
    }
    assert sorted(conts) == [f"{c.name}-n{i}" for i in (1, 2, 3)]
    for node in c.nodes:
        attrs = conts[c.container_name(node)].attrs
        host = attrs["HostConfig"]
        assert host["Init"] is True and host["Privileged"] is False
        assert host["CapAdd"] == ["NET_ADMIN"]
        assert attrs["Config"]["Labels"]["paxlab"] == "1"
        assert (
            attrs["NetworkSettings"]["Networks"][c.network_name]["IPAddress"] == c.addresses[node]
        )
        # PID 1 is docker's init, its child idles; the store is not started yet
        ps = c.exec(node, ["ps", "-e", "-o", "pid=,args="]).stdout.splitlines()
        assert "init" in ps[0].split(None, 1)[1] and ps[0].split()[0] == "1"
        assert any(line.split(None, 1)[1] == "sleep infinity" for line in ps)
        assert not any("paxos_impl.server" in line for line in ps)
        assert c.is_running(node) is False
    assert [a.host for a in c.config.nodes] == [c.addresses[n] for n in c.nodes]
    net = docker_client.networks.get(c.network_name)
    assert net.attrs["Labels"]["paxlab.cluster"] == c.name
    # the code and the config went in at setup
    r = c.exec(
        "n1", ["sh", "-c", f"ls /opt/paxlab/paxos_impl/server.py {AGENT} /etc/paxlab/config.toml"]
    )
    assert r.ok, r.stderr


def test_write_read_kill_restart_pause_resume(store3, container_processes):
    c = store3
    # the store runs as a child process inside the containers (seen from the host by cgroup)
    assert len(container_processes(c._ids.values())) >= 3 * 3  # init, sleep, store per node
    client = Client(c.config, timeout=5.0)
    client.write("k", "v1")
    assert client.read("k") == "v1"

    victim = next(n for n in c.nodes if n != leader_of(c))
    c.kill(victim)
    assert c.is_running(victim) is False
    agent_log = c.exec(victim, ["cat", f"{NODE_ROOT}/agent.log"]).stdout
    assert "killed by signal 9" in agent_log
    client.write("k", "v2")  # a majority is still there
    c.start(victim)
    assert c.is_running(victim)
    # the restarted node recovers its log and catches up
    wait_for(
        lambda: status(c, victim)["applied_index"] >= status(c, leader_of(c))["applied_index"],
        20,
        "catch-up",
    )

    paused = next(n for n in c.nodes if n != leader_of(c))
    c.pause(paused)
    assert c.node_status(paused)["state"] == "paused"
    assert c.node_status(paused)["container"] == "running"  # SIGSTOP, not docker pause
    with pytest.raises(PaxosError):
        status(c, paused)  # a stopped process answers nothing
    # the other two still serve (the leader may move off the paused node: retry until so)
    live = [n for n in c.nodes if n != paused]

    def write_v3() -> bool:
        for n in live:
            w = Client(c.config, node=c.nodes.index(n), timeout=3.0)
            try:
                w.write("k", "v3")
                return True
            except PaxosError:
                continue
            finally:
                w.close()
        return False

    wait_for(write_v3, 30, "a write while a node is paused")
    c.resume(paused)
    wait_for(lambda: status(c, paused)["applied_index"] >= 3, 20, "the resumed node to answer")
    assert client.read("k") == "v3"
    client.close()


def test_partition_cuts_and_heal_restores_a_link(store3):
    c = store3
    leader = leader_of(c)
    lone = next(n for n in c.nodes if n != leader)
    others = set(c.nodes) - {lone}
    assert can_connect(c, lone, leader)

    c.partition({lone: others, **{o: {lone} for o in others}})
    assert not can_connect(c, lone, leader)
    assert not can_connect(c, leader, lone)
    third = next(iter(others - {leader}))
    assert can_connect(c, third, leader)  # the majority side still talks
    rules = c.exec(lone, ["iptables", "-S", "PAXLAB"]).stdout
    assert all(f"-s {c.addresses[o]}/32" in rules for o in others)
    # the store sees it: the majority commits, the isolated node falls behind
    client = Client(c.config, node=c.nodes.index(leader), timeout=5.0)
    for i in range(5):
        client.write("p", i)
    behind = status(c, lone)["applied_index"]
    assert behind < status(c, leader)["applied_index"]

    c.heal_network()
    assert c.exec(lone, ["iptables", "-S", "PAXLAB"]).stdout.strip() == "-N PAXLAB"
    assert can_connect(c, lone, leader)
    wait_for(lambda: status(c, lone)["applied_index"] > behind, 30, "the healed node to catch up")
    client.close()


def test_clock_offset_reaches_the_store_and_spares_the_monotonic_clock(store3):
    c = store3
    assert abs(status(c, "n2")["time"] - time.time()) < 5
    c.set_clock_offset("n2", 3600)
    wait_for(lambda: abs(status(c, "n2")["time"] - time.time() - 3600) < 5, 10, "the store's clock")
    assert abs(status(c, "n1")["time"] - time.time()) < 5  # only n2 moved

    probe = "import time; print(time.time(), time.monotonic())"
    faked = c.exec(
        "n2", ["python3", AGENT, "--root", NODE_ROOT, "run", "--", "python3", "-c", probe]
    )
    real = c.exec("n2", ["python3", "-c", probe])
    (ft, fm), (rt, rm) = (map(float, r.stdout.split()) for r in (faked, real))
    assert abs(ft - rt - 3600) < 5  # time.time() moved
    assert abs(fm - rm) < 5  # time.monotonic() did not

    c.reset_clocks()
    wait_for(lambda: abs(status(c, "n2")["time"] - time.time()) < 5, 10, "the clock reset")


def test_netem_is_honest_about_delay_and_loss_uses_iptables(docker_cluster):
    c = docker_cluster(2)
    caps = c.capabilities()
    assert {"kill", "pause", "partition", "clock", "netem-loss", "exec", "files"} <= caps
    probe = c.exec(
        "n1",
        ["sh", "-c", "tc qdisc add dev eth0 root netem delay 0ms && tc qdisc del dev eth0 root"],
    )
    assert ("netem-delay" in caps) == probe.ok
    if probe.ok:
        c.netem("n1", delay_ms=50)
        assert "netem" in c.exec("n1", ["tc", "qdisc", "show", "dev", "eth0"]).stdout
    else:
        with pytest.raises(Unsupported, match="netem"):
            c.netem("n1", delay_ms=50)
    c.netem("n1", loss=0.3)
    rules = c.exec("n1", ["iptables", "-S", "PAXLAB-LOSS"]).stdout
    assert "--probability 0.2999" in rules and "-j DROP" in rules
    c.heal_netem()
    assert "DROP" not in c.exec("n1", ["iptables", "-S", "PAXLAB-LOSS"]).stdout
    assert "netem" not in c.exec("n1", ["tc", "qdisc", "show", "dev", "eth0"]).stdout


def test_exec_files_and_collect(docker_cluster, tmp_path):
    c = docker_cluster(1)
    r = c.exec("n1", ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (r.exit_code, r.stdout, r.stderr) == (3, "out\n", "err\n")
    t0 = time.monotonic()
    assert c.exec("n1", ["sleep", "30"], timeout=1).exit_code == 124
    assert time.monotonic() - t0 < 10
    src = tmp_path / "in.txt"
    src.write_text("hello node\n")
    c.put_file("n1", src, "/tmp/deep/dir/file.txt")
    c.get_file("n1", "/tmp/deep/dir/file.txt", tmp_path / "back.txt")
    assert (tmp_path / "back.txt").read_text() == "hello node\n"
    with pytest.raises(ClusterError, match="no such file"):
        c.get_file("n1", "/nope", tmp_path / "x")
    c.start("n1")
    c.collect("n1", tmp_path / "nodes" / "n1")
    got = {p.name for p in (tmp_path / "nodes" / "n1").iterdir()}
    assert {"store.log", "agent.log", "data-listing.txt", "iptables.txt"} <= got
    assert "started store pid" in (tmp_path / "nodes" / "n1" / "agent.log").read_text()
    with pytest.raises(ClusterError, match="no node 'n7'"):
        c.kill("n7")


def test_leftovers_of_a_crashed_run_are_removed_at_the_next_setup(node_image, docker_client):
    name = f"paxlab-test-crash-{uuid.uuid4().hex[:6]}"
    first = DockerCluster(name, 2)
    second = DockerCluster(name, 2)
    try:
        first.setup()
        old_ids = set(first._ids.values())
        # the first run "crashes": no teardown; the next setup of that name cleans up
        second.setup()
        now = {
            x.id
            for x in docker_client.containers.list(
                all=True, filters={"label": f"paxlab.cluster={name}"}
            )
        }
        assert len(now) == 2 and not (now & old_ids)
    finally:
        second.teardown()
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


def test_a_failure_midway_still_tears_down(node_image, docker_client):
    name = f"paxlab-test-fail-{uuid.uuid4().hex[:6]}"
    with pytest.raises(RuntimeError, match="midway"):
        with DockerCluster(name, 2) as c:
            c.start("n1", wait=False)
            raise RuntimeError("a test failing midway")
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


def test_a_setup_failing_halfway_removes_what_it_made(node_image, docker_client, monkeypatch):
    name = f"paxlab-test-half-{uuid.uuid4().hex[:6]}"
    c = DockerCluster(name, 2)

    def broken() -> bytes:
        assert leftovers(docker_client, name)["containers"]  # the containers exist by now
        raise RuntimeError("copying the code failed")

    monkeypatch.setattr(c, "_code_archive", broken)
    with pytest.raises(RuntimeError, match="copying the code failed"):
        c.setup()
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


def test_five_nodes_up_and_serving(node_image, docker_client):
    name = f"paxlab-test-five-{uuid.uuid4().hex[:6]}"
    t0 = time.monotonic()
    with DockerCluster(name, 5) as c:
        c.start_all()
        client = Client(c.config, timeout=5.0)
        wait_for(lambda: client.write("x", 1) is None, 30, "a first write")
        took = time.monotonic() - t0
        client.close()
        print(f"five-node cluster up and serving in {took:.1f} s")
        assert took < 30  # target is < 10 s on an idle machine; this one is shared
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


def test_a_missing_image_is_an_error_before_anything_is_made(docker_client):
    name = f"paxlab-test-noimg-{uuid.uuid4().hex[:6]}"
    c = DockerCluster(name, 1, image="paxlab-node:does-not-exist")
    with pytest.raises(
        ClusterError, match="paxlab-node:does-not-exist is not built: run `make image`"
    ):
        c.setup()
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


def test_bad_names_and_sizes_are_one_line_errors():
    with pytest.raises(ClusterError, match="bad cluster name"):
        DockerCluster("Bad Name!", 3)
    with pytest.raises(ClusterError, match="1..50 nodes"):
        DockerCluster("ok", 0)
    with pytest.raises(ClusterError, match="unknown docker cluster options: colour"):
        DockerCluster("ok", 3, colour="blue")
    with pytest.raises(ClusterError, match="bad cluster configuration"):
        DockerCluster("ok", 3, read_mode="psychic")
    c = DockerCluster("ok", 3, timeouts={"heartbeat_ms": 20, "election_min_ms": 100})
    assert c.config.timeouts.heartbeat_ms == 20 and c.config.timeouts.election_min_ms == 100


def test_config_options_reach_the_nodes(docker_cluster):
    c = docker_cluster(1, read_mode="quorum")
    assert c.config.read_mode == "quorum"
    assert 'read_mode = "quorum"' in c.exec("n1", ["cat", "/etc/paxlab/config.toml"]).stdout
    assert json.loads(json.dumps(c.node_status("n1")))["container"] == "running"
    assert CLIENT_PORT == c.config.node(0).client_port
