"""`paxlab serve` serves results/ and nothing else: traversal in any spelling is a 404."""

from __future__ import annotations

import http.client
import os
import threading

import pytest

from controller.serve import make_server, resolve_request


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("serve")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd").write_text("TOP SECRET")
    root = tmp_path / "results"
    run = root / "t" / "20260101T000000"
    (run / "nodes" / "n1").mkdir(parents=True)
    (run / "report.html").write_text("<html>report</html>")
    (run / "nodes" / "n1" / "paxos.log").write_text("log line")
    (root / "index.html").write_text("<html>index</html>")
    (root / "latest").symlink_to("t/20260101T000000")  # inside: allowed
    (root / "escape").symlink_to(outside)  # a folder link out of results/
    (run / "nodes" / "n1" / "leak.txt").symlink_to(outside / "passwd")  # a file link out
    server = make_server(root, "127.0.0.1", 0, quiet=True)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield server.server_address[1], root, outside
    server.shutdown()
    server.server_close()
    t.join(5)


def get(port: int, path: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        c.putrequest("GET", path, skip_accept_encoding=True)  # path sent verbatim
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.mark.timeout(30)
def test_serves_reports_logs_index_and_latest(served):
    port, _, _ = served
    assert get(port, "/") == (200, b"<html>index</html>")
    assert get(port, "/t/20260101T000000/report.html") == (200, b"<html>report</html>")
    assert get(port, "/latest/report.html") == (200, b"<html>report</html>")
    assert get(port, "/t/20260101T000000/nodes/n1/paxos.log") == (200, b"log line")
    status, body = get(port, "/t/20260101T000000/nodes/n1/")
    assert status == 200 and b"paxos.log" in body  # a directory listing
    assert get(port, "/t/20260101T000000/report%2Ehtml")[0] == 200  # encoded ordinary chars


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "path",
    [
        "/../secret/passwd",
        "/t/../../secret/passwd",
        "/%2e%2e/secret/passwd",
        "/%2E%2E/secret/passwd",
        "/t/%2e%2e/%2e%2e/secret/passwd",
        "/..%2fsecret%2fpasswd",
        "/%2e%2e%2fsecret%2fpasswd",
        "/t/..%5c..%5csecret%5cpasswd",
        "/..\\secret\\passwd",
        "/escape/passwd",
        "/escape/",
        "/t/20260101T000000/nodes/n1/leak.txt",
        "/%00",
        "/t/%ff%fe",
        "/nope.html",
        "/t/20260101T000000/../../../secret/passwd?x=1",
    ],
)
def test_traversal_and_escaping_symlinks_are_404(served, path):
    port, _, _ = served
    status, body = get(port, path)
    assert status == 404, path
    assert b"TOP SECRET" not in body


def test_resolve_request_unit(tmp_path):
    root = tmp_path / "r"
    (root / "a").mkdir(parents=True)
    assert resolve_request(root, "/a") == (root / "a").resolve()
    assert resolve_request(root, "/") == root.resolve()
    assert resolve_request(root, "/a/..") is None
    assert resolve_request(root, "/a/%2e%2e") is None
    os.symlink("/", root / "slash")
    assert resolve_request(root, "/slash/etc/passwd") is None


@pytest.mark.timeout(30)
def test_serve_cli_rejects_a_missing_results_folder(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "controller.cli", "serve", "--results", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1


def test_dotfiles_are_neither_served_nor_listed(tmp_path):
    root = tmp_path / "results"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("secret remote")
    (root / ".env").write_text("TOKEN=1")
    (root / "run").mkdir()
    (root / "run" / ".hidden").write_text("x")
    (root / "run" / "shown.txt").write_text("ok")
    server = make_server(root, "127.0.0.1", 0, quiet=True)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        port = server.server_address[1]
        for path in (
            "/.env",
            "/.git/config",
            "/.git/",
            "/run/.hidden",
            "/%2eenv",
            "/run/%2ehidden",
        ):
            assert get(port, path)[0] == 404, path
        status, body = get(port, "/run/")
        assert status == 200 and b"shown.txt" in body and b".hidden" not in body
        status, body = get(port, "/")
        assert status == 200 and b"run/" in body and b".env" not in body and b".git" not in body
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


def test_a_silent_connection_is_dropped_and_others_are_served(tmp_path):
    import socket
    import time

    from controller import serve

    assert 0 < serve.REQUEST_TIMEOUT <= 60  # the default `paxlab serve` runs with
    root = tmp_path / "results"
    root.mkdir()
    (root / "index.html").write_text("<html>index</html>")
    server = make_server(root, "127.0.0.1", 0, quiet=True, request_timeout=0.5)
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        port = server.server_address[1]
        silent = socket.create_connection(("127.0.0.1", port), timeout=10)
        silent.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n")  # never finishes
        assert get(port, "/index.html")[0] == 200
        t0 = time.monotonic()
        assert silent.recv(100) == b""  # closed by the server, not by our 10 s timeout
        assert time.monotonic() - t0 < 5
        silent.close()
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)
