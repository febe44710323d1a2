"""The client's promise: DefiniteFailure only when the command certainly did not take effect.

Unit tests of the retry policy, then the sync and async clients against scripted fake nodes
(real sockets on loopback) that redirect, hang, or drop the connection after a request.
"""

import asyncio
import socket
import socketserver
import threading

import pytest

from paxos_impl import wire
from paxos_impl.client import (
    AsyncClient,
    CasMismatch,
    Client,
    DefiniteFailure,
    Indeterminate,
    _Command,
    _Retry,
)
from paxos_impl.config import Config, NodeAddress
from tests.support.ports import free_port


# -- the policy alone ---------------------------------------------------------------------------
def cmd(timeout=5.0, follow=True, node=0):
    return _Command({"op": "write", "seq": 1}, 3, node, timeout, follow)


def test_ok_returns_value():
    assert cmd().on_reply({"ok": True, "value": 7}) == 7


def test_redirect_goes_to_the_named_leader_at_once():
    step = cmd().on_reply({"ok": False, "error": "not_leader", "leader": 2})
    assert step == _Retry(2, 0.0)


def test_redirect_without_leader_tries_the_next_node_after_a_pause():
    step = cmd(node=2).on_reply({"ok": False, "error": "not_leader", "leader": None})
    assert step.node == 0 and step.delay > 0


def test_a_redirect_to_a_node_that_just_refused_waits_instead_of_spinning():
    """A follower whose leader died keeps naming it until its own election timeout: the
    client must not bounce between the follower and the dead leader without a pause."""
    c = cmd(node=0)
    step = c.on_reply({"ok": False, "error": "not_leader", "leader": 1})
    assert step == _Retry(1, 0.0)
    c.target = step.node
    step = c.on_unreachable(ConnectionRefusedError())  # the named leader is down
    assert step == _Retry(2, 0.0)
    c.target = step.node
    step = c.on_reply({"ok": False, "error": "not_leader", "leader": 1})  # names it again
    assert step.node != 1 and step.delay > 0
    c.target = step.node
    # after the pause the dead node may be back: its hint is followed again at once
    assert c.on_reply({"ok": False, "error": "not_leader", "leader": 1}) == _Retry(1, 0.0)


def test_mismatch_and_bad_request_are_definite():
    with pytest.raises(CasMismatch):
        cmd().on_reply({"ok": False, "error": "mismatch"})
    with pytest.raises(DefiniteFailure) as e:
        cmd().on_reply({"ok": False, "error": "bad_request"})
    assert not isinstance(e.value, CasMismatch)


def test_no_redirects_means_not_leader_is_a_definite_failure_with_the_hint():
    with pytest.raises(DefiniteFailure) as e:
        cmd(follow=False).on_reply({"ok": False, "error": "not_leader", "leader": 1})
    assert e.value.error == "not_leader" and e.value.leader == 1


def test_never_sent_anywhere_is_definite():
    c = cmd(timeout=0.2)
    with pytest.raises(DefiniteFailure):
        while True:
            c.on_unreachable(ConnectionRefusedError("refused"))


@pytest.mark.parametrize(
    "first",
    [
        lambda c: c.on_lost(TimeoutError()),
        lambda c: c.on_lost(wire.ConnectionClosed()),
        lambda c: c.on_reply({"ok": False, "error": "timeout"}),
        lambda c: c.on_reply({"ok": False, "error": "something new"}),
    ],
)
def test_once_uncertain_later_refusals_do_not_make_it_definite(first):
    c = cmd(timeout=0.2)
    first(c)
    with pytest.raises(Indeterminate):
        while True:
            c.on_reply({"ok": False, "error": "not_leader", "leader": None})
            c.on_unreachable(ConnectionRefusedError())
            c.on_reply({"ok": False, "error": "unavailable"})


def test_uncertain_then_answered_is_ok():
    c = cmd()
    c.on_lost(TimeoutError())
    assert c.on_reply({"ok": True, "value": None}) is None


# -- against fake nodes -------------------------------------------------------------------------
class FakeNodes:
    """N scripted nodes: ``script(node, req, attempt) -> reply dict | "close" | "hang"``."""

    def __init__(self, n, script, listening=None):
        self.script = script
        self.requests = []  # (node, req)
        self.lock = threading.Lock()
        self.servers = []
        addrs = []
        for i in range(n):
            if listening is None or i in listening:
                srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler(i))
                srv.daemon_threads = True
                threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
                self.servers.append(srv)
                port = srv.server_address[1]
            else:
                port = free_port()
            addrs.append(NodeAddress(id=i, peer_port=free_port(), client_port=port))
        self.config = Config(nodes=addrs).validate()

    def _handler(self, node):
        fake = self

        class H(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                while True:
                    try:
                        req = wire.recv_frame(sock)
                    except (wire.ConnectionClosed, OSError, wire.FrameError):
                        return
                    with fake.lock:
                        fake.requests.append((node, req))
                        attempt = len(fake.requests)
                    action = fake.script(node, req, attempt)
                    if action == "close":
                        return
                    if action == "hang":
                        threading.Event().wait(3)
                        return
                    wire.send_frame(sock, action)

        return H

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()


@pytest.fixture
def fake():
    made = []

    def make(n, script, listening=None):
        f = FakeNodes(n, script, listening)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


def leader_is(leader):
    def script(node, req, attempt):
        if node != leader:
            return {"ok": False, "error": "not_leader", "leader": leader}
        if req["op"] == "read":
            return {"ok": True, "value": "v"}
        return {"ok": True, "value": None}

    return script


@pytest.mark.timeout(20)
def test_sync_client_follows_redirect_with_the_same_seq(fake):
    f = fake(3, leader_is(2))
    with Client(f.config, node=0, timeout=2) as c:
        c.write("k", 1)
        assert c.read("k") == "v"
    nodes = [n for n, _ in f.requests]
    assert nodes == [0, 2, 2]  # the client remembers nothing yet, but the redirect is direct
    assert f.requests[0][1]["seq"] == f.requests[1][1]["seq"] == 1
    assert f.requests[2][1]["seq"] == 2
    assert f.requests[0][1]["client_id"] == f.requests[2][1]["client_id"]


@pytest.mark.timeout(20)
def test_sync_lost_connection_after_sending_is_indeterminate(fake):
    f = fake(1, lambda node, req, attempt: "close")
    with Client(f.config, timeout=0.5) as c, pytest.raises(Indeterminate):
        c.write("k", 1)
    assert len(f.requests) >= 2  # it retried...
    assert {r["seq"] for _, r in f.requests} == {1}  # ...with the same sequence number


@pytest.mark.timeout(20)
def test_sync_retry_after_lost_reply_can_still_succeed(fake):
    f = fake(1, lambda node, req, attempt: "close" if attempt == 1 else {"ok": True, "value": None})
    with Client(f.config, timeout=2) as c:
        c.cas("k", 1, 2)
    assert [r["seq"] for _, r in f.requests] == [1, 1]


@pytest.mark.timeout(20)
def test_sync_no_reply_is_indeterminate(fake):
    f = fake(1, lambda node, req, attempt: "hang")
    with Client(f.config, timeout=0.5) as c, pytest.raises(Indeterminate):
        c.append("k", "x")


@pytest.mark.timeout(20)
def test_sync_nobody_listening_is_definite(fake):
    f = fake(3, leader_is(0), listening=set())
    with Client(f.config, timeout=0.5) as c, pytest.raises(DefiniteFailure) as e:
        c.write("k", 1)
    assert not isinstance(e.value, Indeterminate)


@pytest.mark.timeout(20)
def test_sync_mismatch(fake):
    f = fake(1, lambda node, req, attempt: {"ok": False, "error": "mismatch", "leader": 0})
    with Client(f.config, timeout=1) as c, pytest.raises(CasMismatch):
        c.cas("k", 1, 2)


@pytest.mark.timeout(20)
def test_sync_status_and_unencodable_value(fake):
    f = fake(1, lambda node, req, attempt: {"ok": True, "value": {"role": "leader"}})
    with Client(f.config, timeout=1) as c:
        assert c.status() == {"role": "leader"}
        with pytest.raises(DefiniteFailure, match="cannot send"):
            c.write("k", object())


@pytest.mark.timeout(20)
def test_sync_reconnects_after_the_server_closed_a_cached_connection(fake):
    """A node restart closes cached connections: that is not an unknown outcome."""

    def script(node, req, attempt):
        return {"ok": True, "value": None}

    f = fake(1, script)
    with Client(f.config, timeout=2) as c:
        c.write("k", 1)
        c._socks[0].shutdown(socket.SHUT_RD)  # make the cached socket look closed by the peer
        c.write("k", 2)
    assert [r["seq"] for _, r in f.requests] == [1, 2]


# -- async --------------------------------------------------------------------------------------
def run(coro):
    async def go():
        return await coro

    return asyncio.run(go())


@pytest.mark.timeout(20)
def test_async_client_redirect_and_outcomes(fake):
    f = fake(3, leader_is(1))

    async def go():
        async with AsyncClient(f.config, node=0, timeout=2) as c:
            await c.write(None, 5)
            return await c.read(None), await c.status(1)

    value, status = run(go())
    assert value == "v"
    assert status is None  # the fake leader answers ok/None to anything
    assert [n for n, _ in f.requests][:2] == [0, 1]


@pytest.mark.timeout(20)
def test_async_lost_and_unreachable(fake):
    lost = fake(1, lambda node, req, attempt: "close")
    down = fake(2, leader_is(0), listening=set())

    async def go():
        async with AsyncClient(lost.config, timeout=0.5) as c:
            with pytest.raises(Indeterminate):
                await c.write("k", 1)
        async with AsyncClient(down.config, timeout=0.5) as c:
            with pytest.raises(DefiniteFailure) as e:
                await c.write("k", 1)
            assert not isinstance(e.value, Indeterminate)

    run(go())


@pytest.mark.timeout(20)
def test_async_hang_is_indeterminate(fake):
    f = fake(1, lambda node, req, attempt: "hang")

    async def go():
        async with AsyncClient(f.config, timeout=0.4) as c:
            with pytest.raises(Indeterminate):
                await c.cas("k", 1, 2)

    run(go())
