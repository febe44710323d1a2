"""TLS as a user meets it: clusters made by paxlab have it on, the quick start says it is off.

`paxlab cluster up` writes the host-side client config; it must carry the CA and the client
pair, so that `paxos-client --config NAME.toml` works against the TLS cluster, while the same
config without its [tls] table gets nowhere.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import pytest

from paxos_impl.config import local_config
from tests.support.paths import REPO_ROOT as REPO
from tests.support.ports import on_free_ports


def _paxlab(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "controller.cli", "cluster", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ, PAXLAB_HOME=str(home)),
        cwd=REPO,
        timeout=timeout,
    )


def _client(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "paxos_impl.client_cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


def _without_tls(config: Path, dest: Path) -> Path:
    text = config.read_text()
    dest.write_text(re.sub(r"\n\[tls\]\n(?:[^\[\n][^\n]*\n)*", "\n", text))
    assert "[tls]" not in dest.read_text()
    return dest


def _up_put_get_down(home: Path, name: str, *up_args: str) -> None:
    try:
        r = _paxlab(home, "up", "--name", name, *up_args)
        assert r.returncode == 0, r.stderr
        config = home / "clusters" / f"{name}.toml"
        tls = tomllib.loads(config.read_text())["tls"]
        assert tls["enabled"] is True
        for key in ("ca", "client_cert", "client_key"):
            assert Path(tls[key]).is_file(), (key, tls[key])
        put = _client(config, "put", "greeting", "hello")
        assert put.returncode == 0, put.stderr
        get = _client(config, "get", "greeting")
        assert get.returncode == 0 and "hello" in get.stdout, (get.stdout, get.stderr)
        plain = _client(_without_tls(config, home / "plain.toml"), "get", "greeting")
        assert plain.returncode != 0 and "hello" not in plain.stdout, plain.stdout
    finally:
        down = _paxlab(home, "down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert not (home / "tls" / name).exists()  # the host-side keys go with the cluster


@pytest.mark.timeout(180)
def test_local_cluster_up_gives_a_tls_client_config(tmp_path):
    _up_put_get_down(tmp_path, "tlsloc", "--backend", "local")


@pytest.mark.docker
@pytest.mark.timeout(240)
def test_docker_cluster_up_gives_a_tls_client_config(tmp_path, node_image, docker_client):
    from cluster.docker_backend import leftovers

    name = f"paxlab-test-tls-{uuid.uuid4().hex[:6]}"
    _up_put_get_down(tmp_path, name, "--nodes", "3")
    assert leftovers(docker_client, name) == {"containers": [], "networks": []}


@pytest.mark.timeout(60)
def test_plain_quick_start_says_tls_is_off_once(tmp_path):
    """`paxos-server 0` without [tls]: one warning line, and it serves."""
    cfg = on_free_ports(local_config(3))
    path = tmp_path / "plain.toml"
    cfg.save(path)
    log = tmp_path / "node0.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paxos_impl.server", "0", "--config", str(path)],
            cwd=tmp_path,
            stdout=out,
            stderr=out,
            env=dict(os.environ, PYTHONPATH=str(REPO)),
        )
    try:
        deadline = time.monotonic() + 20
        while "serving" not in log.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert "TLS off" in text  # in the start-up summary
    warnings = [line for line in text.splitlines() if "TLS is off" in line]
    assert len(warnings) == 1, text


@pytest.mark.timeout(60)
def test_bad_certificate_path_is_one_line_exit_2(tmp_path):
    from paxos_impl.tls import TlsSettings

    cfg = local_config(3, tls=TlsSettings(enabled=True, ca=str(tmp_path / "nope.pem")))
    cfg.tls.cert, cfg.tls.key = str(tmp_path / "n{id}.pem"), str(tmp_path / "n{id}.key")
    path = tmp_path / "bad.toml"
    cfg.save(path)
    r = subprocess.run(
        [sys.executable, "-m", "paxos_impl.server", "0", "--config", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot load the TLS CA" in lines[0], r.stderr
