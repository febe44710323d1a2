"""paxos-client's argument handling, value parsing and output format (no cluster needed)."""

import pytest

from paxos_impl import client_cli


@pytest.mark.parametrize(
    "text, value",
    [
        ("42", 42),
        ("[1, 2]", [1, 2]),
        ('"7"', "7"),
        ("hello", "hello"),
        ("null", None),
        ("hello world", "hello world"),
        ("{bad", "{bad"),
    ],
)
def test_values_are_json_when_they_parse(text, value):
    assert client_cli.parse_value(text) == value


def test_get_prints_strings_bare_and_the_rest_as_json():
    assert client_cli.format_value("hi") == "hi"
    assert client_cli.format_value(None) == "null"
    assert client_cli.format_value([1, "a"]) == '[1, "a"]'
    assert client_cli.format_value("7") == "7"


def test_options_before_or_after_the_command():
    p = client_cli.build_parser()
    a = p.parse_args(["-n", "2", "get", "k"])
    b = p.parse_args(["get", "k", "-n", "2"])
    assert a.node == b.node == 2 and a.KEY == b.KEY == "k"
    assert p.parse_args(["get"]).KEY is None


def test_usage_errors_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        client_cli.main(["put", "onlykey"])
    assert e.value.code == 2
    assert client_cli.main(["--config", str(tmp_path / "none.toml"), "get"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "no such configuration file" in err[1]


def test_nobody_listening_is_exit_1(capsys, tmp_path):
    from paxos_impl.config import local_config

    cfg = local_config(1, base_port=1)  # port 1 and 101 on loopback: nothing listens there
    path = tmp_path / "c.toml"
    cfg.save(path)
    assert client_cli.main(["--config", str(path), "--timeout", "0.3", "put", "k", "v"]) == 1
    assert "unreachable" in capsys.readouterr().err


def test_reconfig_takes_an_address_and_a_bad_one_is_a_usage_error(capsys):
    p = client_cli.build_parser()
    a = p.parse_args(["reconfig", "add", "3", "127.0.0.1:7103:7203"])
    assert (a.action, a.NODE, a.ADDR) == ("add", 3, ["127.0.0.1", 7103, 7203])
    a = p.parse_args(["reconfig", "replace", "0", "3"])
    assert (a.action, a.NODE, a.NEW) == ("replace", 0, 3)
    for bad in (["reconfig", "add", "3", "host:1"], ["reconfig", "add", "3", "h:0:99999"],
                ["reconfig", "frobnicate", "3"], ["reconfig", "promote"]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            client_cli.main(bad)
        assert e.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1, bad


def test_reconfig_quorum_takes_two_positive_sizes_and_asks_for_them(capsys):
    p = client_cli.build_parser()
    a = p.parse_args(["reconfig", "quorum", "4", "2"])
    assert (a.action, a.Q1, a.Q2) == ("quorum", 4, 2)
    asked = []

    class Fake:
        def reconfig(self, *args):
            asked.append(args)
            return {"voters": [0, 1, 2, 3, 4], "quorums": [4, 2]}

    assert client_cli.run(a, Fake()) == 0
    assert asked == [("quorum", None, None, None, (4, 2))]
    assert '"quorums"' in capsys.readouterr().out
    for bad in (["reconfig", "quorum", "0", "2"], ["reconfig", "quorum", "x", "2"],
                ["reconfig", "quorum", "3"]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            client_cli.main(bad)
        assert e.value.code == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1, bad
