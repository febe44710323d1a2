"""`--nodes-file FILE` for the ssh backend, as the error messages say, and PAXLAB_NODES_FILE."""

from __future__ import annotations

import json

import pytest

from controller.cli import build_parser, main
from controller.run import make_cluster_for
from controller.run_cli import spec_from_args


def nodes_file(tmp_path, hosts, name="nodes.json"):
    f = tmp_path / name
    f.write_text(json.dumps({"user": "tester", "nodes": [{"host": h} for h in hosts]}))
    return f


def spec(*argv):
    return spec_from_args(build_parser().parse_args(["test", *argv]), argv=["paxlab", "test"])


def test_the_flag_names_the_hosts(tmp_path, monkeypatch):
    monkeypatch.delenv("PAXLAB_NODES_FILE", raising=False)
    f = nodes_file(tmp_path, ["10.1.0.1", "10.1.0.2", "10.1.0.3"])
    monkeypatch.chdir(tmp_path)
    s = spec("--backend", "ssh", "--nodes", "3", "--nodes-file", "nodes.json")
    assert s.backend_opts["nodes_file"] == str(f)  # absolute: the stored spec replays anywhere
    c = make_cluster_for(s)
    assert [a.host for a in c.config.nodes] == ["10.1.0.1", "10.1.0.2", "10.1.0.3"]


def test_the_flag_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PAXLAB_NODES_FILE", str(nodes_file(tmp_path, ["10.2.0.1"], "env.json")))
    f = nodes_file(tmp_path, ["10.3.0.1"])
    c = make_cluster_for(spec("--backend", "ssh", "--nodes", "1", "--nodes-file", str(f)))
    assert c.config.nodes[0].host == "10.3.0.1"


def test_the_environment_still_works(tmp_path, monkeypatch):
    monkeypatch.setenv("PAXLAB_NODES_FILE", str(nodes_file(tmp_path, ["10.2.0.1", "10.2.0.2"])))
    c = make_cluster_for(spec("--backend", "ssh", "--nodes", "2"))
    assert [a.host for a in c.config.nodes] == ["10.2.0.1", "10.2.0.2"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backend", "ssh", "--nodes-file", "{missing}"], "cannot read the nodes file"),
        (["--backend", "ssh", "--nodes", "5", "--nodes-file", "{three}"], "names 3"),
        (["--backend", "ssh"], "needs a nodes file (--nodes-file FILE or PAXLAB_NODES_FILE)"),
        (["--backend", "sim", "--nodes-file", "{three}"], "--nodes-file is for --backend ssh"),
    ],
)
def test_bad_use_is_one_line_before_anything_starts(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PAXLAB_NODES_FILE", raising=False)
    three = nodes_file(tmp_path, ["10.4.0.1", "10.4.0.2", "10.4.0.3"])
    argv = [a.format(missing=tmp_path / "absent.toml", three=three) for a in argv]
    results = tmp_path / "results"
    rc = main(["test", "--time-limit", "1", "--results-dir", str(results), "--no-progress", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and message in err[-1], err
    assert "unrecognized arguments" not in err[-1]
    assert not results.exists()


@pytest.mark.parametrize("via", ["flag", "environment"])
def test_cluster_up_reads_the_nodes_file_from_the_flag_or_the_environment(
    via, tmp_path, monkeypatch, capsys
):
    """Port 1 on loopback refuses at once: getting as far as SSH proves the file was read."""
    f = tmp_path / "nodes.json"
    f.write_text(json.dumps({"nodes": [{"host": "127.0.0.1", "port": 1}]}))
    monkeypatch.setenv("PAXLAB_HOME", str(tmp_path / "home"))
    argv = ["cluster", "up", "--backend", "ssh", "--nodes", "1", "--name", "nf"]
    if via == "flag":
        monkeypatch.delenv("PAXLAB_NODES_FILE", raising=False)
        argv += ["--nodes-file", str(f)]
    else:
        monkeypatch.setenv("PAXLAB_NODES_FILE", str(f))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot SSH to root@127.0.0.1:1" in err[-1]
    assert not list((tmp_path / "home").rglob("*.json"))  # nothing left to take down
