"""The cluster configuration is the contract between the cluster layer and the store."""

import pytest

from paxos_impl.config import Config, ConfigError, load_config, local_config


def test_round_trip_through_toml(tmp_path):
    cfg = local_config(5, read_mode="quorum", bugs=["early-ack"])
    cfg.timeouts.heartbeat_ms = 25
    path = tmp_path / "c.toml"
    cfg.save(path)
    back = load_config(path)
    assert back == cfg
    assert back.q1 == 3 and back.q2 == 3


def test_flexible_quorums_must_overlap():
    cfg = local_config(4)
    cfg.phase1_quorum, cfg.phase2_quorum = 2, 2
    with pytest.raises(ConfigError, match="overlap"):
        cfg.validate()
    cfg.phase1_quorum, cfg.phase2_quorum = 3, 2
    assert cfg.validate().q2 == 2


def test_bad_files_give_one_line_errors(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("mode = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)
    p.write_text('mode = "chaos"\n[[nodes]]\nid = 0\n')
    with pytest.raises(ConfigError, match="mode must be"):
        load_config(p)
    p.write_text("bogus = 1\n[[nodes]]\nid = 0\n")
    with pytest.raises(ConfigError, match="unknown configuration keys"):
        load_config(p)
    with pytest.raises(ConfigError, match="no such"):
        load_config(tmp_path / "missing.toml")


def test_unknown_bug_is_refused():
    with pytest.raises(ConfigError, match="unknown bug"):
        Config(nodes=local_config(3).nodes, bugs=["nope"]).validate()
