"""Hostile input at real nodes over loopback (issue 13, items 2-5): each numbered
reproduction as a regression test, plus the connection limits and a fuzzer.

Before the fixes: one frame holding ``1e999`` or a value nested ~980 deep stopped the node
that took it (``ValueError: Out of range float``, ``RecursionError`` while writing it); a
write just under 4 MiB wedged the cluster (its accept could never be sent); a follower that
missed 60 writes of 100 KB never caught up; and there was no cap on client connections, no
idle timeout and no bound on partial frames.
"""

import socket
import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.attacks import NEAR_LIMIT_MARGIN
from controller.bench_cli import LocalServers
from paxos_impl import wire
from paxos_impl.client import Client, DefiniteFailure, PaxosError
from paxos_impl.config import Timeouts


@pytest.fixture
def make_servers(tmp_path):
    made = []

    def make(n=3, **kw):
        kw.setdefault("fsync", False)
        (tmp_path / f"c{len(made)}").mkdir()
        s = LocalServers(tmp_path / f"c{len(made)}", n, **kw)
        made.append(s)
        s.start_all()
        return s

    yield make
    for s in made:
        s.close()


def raw_request(port, body: bytes, timeout=10.0) -> dict | None:
    """Send one frame with this exact body; the reply frame (None: closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(struct.pack(">I", len(body)) + body)
        try:
            return wire.recv_frame(s, 8 << 20)
        except wire.ConnectionClosed:
            return None


def all_running(servers):
    return {i: p.poll() for i, p in servers.procs.items() if p.poll() is not None} == {}


def healthy(servers, writes=5, key="health"):
    with Client(servers.config, timeout=8.0) as c:
        for i in range(writes):
            c.write(key, i)
        assert c.read(key) == writes - 1
        for i in servers.procs:
            assert c.status(i)["id"] == i


def nothing_unsendable(servers):
    """No node ever built a message it could not send (the old failure, logged each time)."""
    for i in range(servers.config.n):
        text = servers.log_path(i).read_text()
        assert "cannot send" not in text and "exceeds the limit" not in text, servers.tail(i)


def wait_caught_up(servers, node, timeout=30.0):
    deadline = time.monotonic() + timeout
    with Client(servers.config, timeout=3.0) as c:
        while time.monotonic() < deadline:
            try:
                sts = {i: c.status(i) for i in servers.procs}
            except Exception:  # noqa: BLE001 - a node still starting: ask again
                time.sleep(0.2)
                continue
            top = max(s["applied_index"] for s in sts.values())
            if sts[node]["applied_index"] == top and all(
                s["applied_index"] == top for s in sts.values()
            ):
                return sts
            time.sleep(0.2)
    raise AssertionError(f"node {node} did not catch up: {sts}")


# -- item 2: one frame must not stop a node ----------------------------------------------------
@pytest.mark.timeout(120)
def test_1e999_and_deep_nesting_are_refused_by_every_node_and_stop_none(make_servers):
    s = make_servers()
    s.wait_for_leader()
    bodies = [
        b'{"op":"write","key":"k","value":1e999,"client_id":"x","seq":1}',
        b'{"op":"append","key":"k","value":[-1e999],"client_id":"x","seq":2}',
        b'{"op":"write","key":"k","value":' + b"[" * 980 + b"]" * 980 + b',"client_id":"x","seq":3}',
        b'{"op":"cas","key":"k","value":[null,' + b"{" * 0 + b"[" * 900 + b"]" * 900
        + b'],"client_id":"x","seq":4}',
    ]  # fmt: skip
    for _ in range(2):  # and again, at whoever leads after
        for node in range(3):
            for body in bodies:
                rep = raw_request(s.config.node(node).client_port, body)
                assert rep is not None and rep["error"] == "bad_request", rep
        time.sleep(0.5)
        assert all_running(s)
    healthy(s)


@pytest.mark.timeout(120)
def test_unparseable_frames_get_a_definite_bad_request(make_servers):
    s = make_servers(n=1)
    s.wait_for_leader()
    port = s.config.node(0).client_port
    deep = b"[" * 5000 + b"]" * 5000  # too deep for the JSON decoder itself
    for body in (b"not json", b"[1,2]", b'{"op":"write","value":' + deep + b"}", b"\xff\xfe"):
        rep = raw_request(port, body)
        assert rep is not None and rep["error"] == "bad_request", (body[:20], rep)
    healthy(s)


# -- item 3: a write just under the frame limit ------------------------------------------------
@pytest.mark.timeout(120)
def test_write_just_under_the_frame_limit_is_refused_and_the_cluster_stays_healthy(make_servers):
    s = make_servers()
    s.wait_for_leader()
    big = "v" * (s.config.max_frame_bytes - NEAR_LIMIT_MARGIN)
    with Client(s.config, timeout=15.0) as c:
        with pytest.raises(DefiniteFailure) as e:
            c.write("big", big)
        assert e.value.error == "bad_request"
    for _ in range(3):  # the finding: 0 of 12 health checks over 60 s
        healthy(s)
        time.sleep(0.3)


@pytest.mark.timeout(180)
def test_the_largest_allowed_write_replicates_and_catches_up(make_servers):
    s = make_servers(fsync=True)
    leader = s.wait_for_leader()
    follower = (leader + 1) % 3
    s.kill(follower)
    value = "m" * (s.config.max_command_bytes - 200)
    with Client(s.config, timeout=20.0) as c:
        for i in range(6):
            c.write(f"m{i}", value)
    s.start(follower)
    wait_caught_up(s, follower)
    with Client(s.config, node=follower, timeout=20.0, follow_redirects=False) as c:
        assert c.status(follower)["applied_index"] >= 7
    nothing_unsendable(s)


# -- item 4: catch-up by bytes -------------------------------------------------------------------
@pytest.mark.timeout(180)
def test_restarted_follower_catches_up_after_60_writes_of_100kb(make_servers):
    s = make_servers(fsync=True)  # (without fsync the finding did not show: timing)
    leader = s.wait_for_leader()
    follower = (leader + 1) % 3
    s.kill(follower)
    with Client(s.config, timeout=10.0) as c:
        for i in range(60):
            c.write(f"k{i}", "x" * 100_000)
    s.start(follower)
    wait_caught_up(s, follower)
    nothing_unsendable(s)
    healthy(s)


@pytest.mark.timeout(180)
def test_snapshot_bigger_than_a_frame_reaches_a_follower_in_parts(make_servers):
    s = make_servers(snapshot_every=10, fsync=True)
    leader = s.wait_for_leader()
    follower = (leader + 1) % 3
    s.kill(follower)
    with Client(s.config, timeout=10.0) as c:
        for i in range(60):  # 6 MB of state, compacted: only a snapshot can bring it back
            c.write(f"k{i}", "y" * 100_000)
    s.start(follower)
    wait_caught_up(s, follower)
    with Client(s.config, node=follower, timeout=10.0) as c:
        assert c.status(follower)["snapshot_index"] > 0
    nothing_unsendable(s)
    s.kill(leader)  # the follower now has to serve what it caught up
    with Client(s.config, timeout=15.0) as c:
        assert c.read("k0") == "y" * 100_000 and c.read("k59") == "y" * 100_000


# -- item 5: connection limits -------------------------------------------------------------------
@pytest.mark.timeout(120)
def test_connections_beyond_the_cap_are_refused_and_the_others_served(make_servers):
    s = make_servers(n=1, max_client_conns=16)
    s.wait_for_leader()
    port = s.config.node(0).client_port
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        rep = wire.recv_frame(extra)
        assert rep["error"] == "unavailable" and "connections" in rep["reason"]
        extra.close()
        wire.send_frame(held[0], {"op": "write", "key": "a", "value": 1, "client_id": "h",
                                  "seq": 1})  # fmt: skip
        held[0].settimeout(5)
        assert wire.recv_frame(held[0]) == {"ok": True, "value": None}
    finally:
        for h in held:
            h.close()
    time.sleep(0.3)
    healthy(s, writes=2)  # room again once they are gone


@pytest.mark.timeout(120)
def test_idle_connections_and_stalled_frames_are_closed(make_servers):
    s = make_servers(n=1, timeouts=Timeouts(client_idle_ms=400, client_frame_ms=400))
    s.wait_for_leader()
    port = s.config.node(0).client_port
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    stalled = socket.create_connection(("127.0.0.1", port), timeout=5)
    stalled.sendall(struct.pack(">I", 1000) + b'{"op":')
    t0 = time.monotonic()
    assert idle.recv(100) == b""  # closed by the node
    assert stalled.recv(100) == b""
    assert time.monotonic() - t0 < 4
    idle.close()
    stalled.close()
    healthy(s, writes=2)


@pytest.mark.timeout(120)
def test_partial_frames_are_bounded_by_bytes(make_servers):
    mib = 1 << 20
    s = make_servers(
        n=1, max_frame_bytes=mib, max_command_bytes=256 * 1024, max_buffered_bytes=2 * mib
    )
    s.wait_for_leader()
    port = s.config.node(0).client_port
    holders = []
    try:
        for _ in range(2):  # these two take the whole budget ...
            h = socket.create_connection(("127.0.0.1", port), timeout=5)
            h.sendall(struct.pack(">I", 1000 * 1000) + b"x" * 1000)
            holders.append(h)
        time.sleep(0.3)
        late = socket.create_connection(("127.0.0.1", port), timeout=5)
        late.sendall(struct.pack(">I", 1000 * 1000) + b"x" * 1000)  # ... so this one is refused
        rep = wire.recv_frame(late)
        assert rep["error"] == "unavailable", rep
        late.close()
        healthy(s, writes=2)  # small frames need no budget: still served
    finally:
        for h in holders:
            h.close()


# -- fuzzing a live node -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory):
    s = LocalServers(tmp_path_factory.mktemp("fuzz"), 1, fsync=False)
    try:
        s.start_all()
        s.wait_for_leader()
        yield s
    finally:
        s.close()


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda v: st.lists(v, max_size=3) | st.dictionaries(st.text(max_size=3), v),
    max_leaves=20,
)
requests = st.fixed_dictionaries(
    {"op": st.sampled_from(["read", "write", "cas", "append", "status", "nope"])},
    optional={
        "key": st.one_of(st.none(), st.text(max_size=4), st.integers()),
        "value": values,
        "client_id": st.one_of(st.text(max_size=4), st.integers()),
        "seq": st.one_of(st.integers(min_value=-1), st.floats()),
    },
)


def _as_body(req) -> bytes:
    import json

    return json.dumps(req).encode()  # NaN/Infinity as JS literals, as a hostile client might


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    frame=st.one_of(
        requests.map(lambda r: ("req", _as_body(r))),
        st.binary(max_size=64).map(lambda b: ("raw", b)),
        st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=32)).map(
            lambda t: ("raw", struct.pack(">I", t[0]) + t[1])
        ),
    )
)
@pytest.mark.timeout(300)
def test_fuzzed_frames_never_stop_a_live_node(fuzz_node, frame):
    kind, data = frame
    port = fuzz_node.config.node(0).client_port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if kind == "req":
            sock.sendall(struct.pack(">I", len(data)) + data)
            rep = wire.recv_frame(sock, 8 << 20)  # every well-framed request gets an answer
            assert rep["ok"] in (True, False)
        else:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
    assert fuzz_node.procs[0].poll() is None
    with Client(fuzz_node.config, timeout=5.0) as c:
        assert c.status(0)["role"] == "leader"


@pytest.mark.timeout(240)
@pytest.mark.parametrize(
    "frame,command,value,writes",
    [(1 << 20, 250_000, 240_000, 5), (4 << 20, 1 << 20, 1_000_000, 4)],
    ids=["quarter-frame", "1MB"],
)
def test_many_clients_writing_big_values_at_once_all_get_through(
    make_servers, frame, command, value, writes
):
    """Issue 13 item 4's second finding: 10 clients writing big values at once. Before, a
    batch or an accept of several of them was built far over the frame limit and the cluster
    stopped answering (both cases fail on the old code). With the bytes bounded but
    retransmissions not backing off, 10 x 10 writes of 1 MB once ended in an election storm
    (28 of 100 went through); that depends on disk latency and this test does not reliably
    show it (it passed on that intermediate code when the machine was quiet)."""
    import threading

    s = make_servers(fsync=True, max_frame_bytes=frame, max_command_bytes=command)
    s.wait_for_leader()
    outcomes: list[str] = []

    def client(k):
        with Client(s.config, timeout=15.0) as c:
            for i in range(writes):
                try:
                    c.write(f"big{k}", f"{i}" * value)
                    outcomes.append("ok")
                except PaxosError as e:
                    outcomes.append(str(e.error))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["ok"] * 10 * writes, outcomes
    nothing_unsendable(s)
    healthy(s)


@pytest.mark.timeout(60)
def test_peer_port_strangers_cannot_hold_big_frames_or_many_sockets(make_servers):
    s = make_servers(n=1)
    s.wait_for_leader()
    port = s.config.node(0).peer_port
    big = socket.create_connection(("127.0.0.1", port), timeout=5)
    big.sendall(struct.pack(">I", 4 << 20) + b"x" * 1000)  # a 4 MiB "hello": closed at once
    assert big.recv(10) == b""
    big.close()
    held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
    try:
        time.sleep(0.5)
        closed = 0
        for h in held:
            h.settimeout(0.2)
            try:
                closed += h.recv(10) == b""
            except TimeoutError:
                pass
        assert closed == 40 - (4 * 1 + 16), closed  # beyond 4n+16 without a hello: refused
        healthy(s, writes=2)
    finally:
        for h in held:
            h.close()
