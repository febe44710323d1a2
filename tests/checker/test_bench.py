"""`paxlab bench --checker`: a quick default that shows progress, the kv set with its
known verdicts, and options passed through `paxlab bench`."""

import checker.bench as bench
from controller.cli import main


def test_default_is_quick_and_each_case_is_announced(monkeypatch, capsys):
    ran = []

    def fake_case(name, seed=1, jobs=None):
        ran.append(name)
        return {"case": name, "model": "register", "ops": 1, "info": 0, "keys": 1,
                "bytes": 1, "valid": True, "explored": 0, "check_s": 0.0, "cpu_s": 0.0,
                "generate_s": 0.0, "peak_rss_mb": 1.0}  # fmt: skip

    monkeypatch.setattr(bench, "run_case", fake_case)
    monkeypatch.setattr(bench, "run_set", lambda name, **kw: ran.append(name) or [])
    assert main(["bench", "--checker"]) == 0
    assert ran == list(bench.QUICK)
    assert "kv-1m" not in ran and "kv-100k" not in ran
    err = capsys.readouterr().err
    assert all(f"checker bench: {n} ..." in err for n in bench.QUICK)
    ran.clear()
    assert main(["bench", "--checker", "--all"]) == 0
    assert "kv-1m" in ran and "kv-c50-set" in ran


def test_kv_set_prints_each_history_with_its_known_verdict(capsys):
    assert main(["bench", "--checker", "--case", "kv-c50-set"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("  kv-c50-")]
    assert len(rows) == 10
    assert all(line.endswith("ok") for line in rows), out
    assert "kv-c50-set     total" in out


def test_unknown_case_is_one_line_exit_2(capsys):
    assert main(["bench", "--checker", "--case", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err


def test_ticker_reports_progress(monkeypatch, capsys):
    monkeypatch.setattr(bench, "PROGRESS_EVERY_S", 0.0)
    t = bench._Ticker("kv-1m")
    t({"keys_done": 3, "keys": 10, "explored": 12345})
    assert "kv-1m: keys 3/10, 12,345 configurations" in capsys.readouterr().err
