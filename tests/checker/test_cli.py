"""`paxlab check`: exit codes, one-line errors, --json lines, --report, and history loading."""

import json
import subprocess
import sys

import pytest

from checker.bench import corrupt_read, generate, stale_read, write_jsonl
from checker.history import HistoryError, load
from checker.linearizability import check, check_file
from checker.report import render_anomaly
from tests.support.cli import paxlab_check


def paxlab(*args):
    """In-process `paxlab check` (the subprocess start-up would dominate these tests)."""
    return paxlab_check(*args, quiet=False)


def paxlab_process(*args):
    return subprocess.run([sys.executable, "-m", "controller.cli", "check", *args],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hist")
    h = generate(300, clients=5, info_rate=0.05, seed=4)
    write_jsonl(h, str(d / "good.jsonl"))
    write_jsonl(corrupt_read(h, 1), str(d / "bad.jsonl"))
    small = generate(150, clients=3, info_rate=0.05, seed=4)
    write_jsonl(stale_read(small, 1), str(d / "stale.jsonl"))
    kv = generate(2000, clients=10, keys=15, info_rate=0.05, seed=4,
                  mix=("read", "write", "cas", "append"))  # fmt: skip
    write_jsonl(kv, str(d / "kv.jsonl"))
    write_jsonl(corrupt_read(kv, 2), str(d / "kvbad.jsonl"))
    return d


def test_exit_codes_and_json_lines(files):
    r = paxlab_process(str(files / "good.jsonl"))
    assert r.returncode == 0, r.stderr
    assert "linearizable" in r.stdout
    r = paxlab_process(str(files / "good.jsonl"), str(files / "bad.jsonl"), "--json")
    assert r.returncode == 1
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["file"] for x in lines] == [str(files / "good.jsonl"), str(files / "bad.jsonl")]
    assert [x["valid"] for x in lines] == [True, False]
    bad = lines[1]
    assert bad["op"]["output"] == "never-written"
    assert isinstance(bad["prefix"], list) and "window" in bad and bad["time_s"] >= 0
    assert bad["ops"]["total"] == 300


def test_kv_model(files):
    r = paxlab(str(files / "kv.jsonl"), "--model", "kv", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["keys_total"] == 15 and len(out["keys"]) == 15
    r = paxlab(str(files / "kvbad.jsonl"), "--model", "kv", "--json", "--full")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["key"] in out["keys"] and out["keys"][out["key"]]["valid"] is False


def test_time_limit_is_unknown_exit_2(tmp_path):
    from checker.bench import reorder

    p = tmp_path / "hard.jsonl"
    write_jsonl(reorder(generate(600, clients=10, info_rate=0.2, seed=1), 1), str(p))
    r = paxlab(str(p), "--time-limit", "0.3", "--json")
    out = json.loads(r.stdout)
    if out["valid"] == "unknown":  # a much faster machine might refute it in time
        assert r.returncode == 2
    else:
        assert out["valid"] is False and r.returncode == 1


@pytest.mark.parametrize(
    "lines, message",
    [
        (['{"process":0,"type":"invoke","f":"read"}', '{"process":0,"type":"ok",'],
         "line 2: malformed JSON"),
        (['{"process":0,"type":"ok","f":"read","value":1}'], "line 1: ok without an invocation"),
        (['{"process":0,"type":"invoke","f":"frob"}'], "line 1: unknown f 'frob'"),
        (['{"process":0,"type":"invoke","f":"cas","value":3}'],
         "line 1: cas value must be [expected, new]"),
        (['{"process":0,"type":"start","f":"read"}'], "line 1: unknown type"),
        (['{"process":0,"type":"invoke","f":"read"}', '{"process":0,"type":"invoke","f":"read"}'],
         "line 2: process 0 invoked again"),
        (['{"process":0,"type":"invoke","f":"read"}', "", '{"process":0,"type":"ok","f":"write"}'],
         "line 3: completion f"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2(tmp_path, lines, message):
    p = tmp_path / "h.jsonl"
    p.write_text("\n".join(lines) + "\n")
    r = paxlab_process(str(p)) if "malformed" in message else paxlab(str(p))
    assert r.returncode == 2
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and message in err[0], r.stderr
    assert "Traceback" not in r.stderr


def test_bad_arguments(files, tmp_path):
    good = str(files / "good.jsonl")
    for args in (["--initial", "{"], ["--model", "queue"], ["--time-limit", "0"]):
        r = paxlab(good, *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    r = paxlab(str(tmp_path / "missing.jsonl"))
    assert r.returncode == 2 and "missing.jsonl" in r.stderr
    # a bad file among good ones: 2, and the good one is still checked
    r = paxlab(good, str(tmp_path / "missing.jsonl"), "--json")
    assert r.returncode == 2 and json.loads(r.stdout.splitlines()[0])["valid"] is True


def test_append_type_mismatch(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"process":0,"type":"invoke","f":"append","key":"a","value":3}\n')
    r = paxlab(str(p), "--model", "kv")
    assert r.returncode == 2 and "line 1: append value must be" in r.stderr


def test_report_shows_failing_op_and_prefix(files, tmp_path):
    out = tmp_path / "r.html"
    r = paxlab(str(files / "stale.jsonl"), str(files / "good.jsonl"), str(files / "bad.jsonl"),
               "--report", str(out))  # fmt: skip
    assert r.returncode == 1
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    res = check_file(files / "stale.jsonl")
    assert res["op"]["output"] == "stale-A"
    assert f"index {res['op']['index']}" in page and "stale-A" in page
    n = len(res["prefix"])
    assert n > 100 and f"The longest linearizable prefix has {n} operations" in page
    assert res["prefix"][-1]["state"] == "stale-B"
    assert 'class="bar' in page and "bad" in page and "<circle" in page
    assert "Linearizable: 300 operations" in page  # the good file's section


def test_static_refutation_when_the_search_is_too_slow(files, monkeypatch):
    import checker.linearizability as lin

    monkeypatch.setattr(lin, "PREFIX_BUDGET_S", 0.0)
    monkeypatch.setattr(lin, "CHECK_EVERY", 1)
    h = load(files / "stale.jsonl")
    r = check(h)
    assert r["valid"] is False and r["prefix"] == []
    assert (
        r["op"]["output"] == "stale-A" and r["keys"][None]["overwritten_by"]["value"] == "stale-B"
    )
    assert "overwritten" in r["reason"]
    page = render_anomaly(r, h)
    assert "can never be linearized" in page and "overwritten by <b>&quot;stale-B&quot;" in page
    r = check(load(files / "bad.jsonl"))
    assert r["valid"] is False and "no operation" in r["reason"]
    assert r["op"]["output"] == "never-written"


def test_render_anomaly_fragment_for_kv(files):
    h = load(files / "kvbad.jsonl")
    res = check(h, model="kv")
    frag = render_anomaly(res, h)
    assert frag.startswith("<style>") or frag.startswith('<div class="pxl-lin"')
    assert f"key <code>{res['key']}</code>" in frag
    # only the failing key's ops are drawn
    n_key_ops = sum(1 for o in h if o.key == res["key"])
    assert frag.count("<rect ") == n_key_ops
    # two fragments in one page do not clash
    assert render_anomaly(res, h).split('id="')[1][:6] != frag.split('id="')[1][:6]


def test_spilled_check_matches_in_memory(files):
    for name in ("kv.jsonl", "kvbad.jsonl"):
        a = check_file(files / name, model="kv", full=True)
        b = check_file(files / name, model="kv", full=True, spill_min_bytes=0, jobs=1)
        assert a["valid"] == b["valid"] and a["ops"] == b["ops"]
        assert {k: v["valid"] for k, v in a["keys"].items()} == {
            k: v["valid"] for k, v in b["keys"].items()
        }


def test_load_errors_name_the_line(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"process":0,"type":"invoke","f":"read"}\n[1]\n')
    with pytest.raises(HistoryError, match="^line 2: expected a JSON object"):
        load(p)


def test_check_imports_only_what_it_needs(files):
    """A user's `paxlab check FILE.jsonl` pays for the checker alone: not for the other
    sub-commands' modules (the simulator, the report server, the store's client), not for
    the EDN library, not for the spill machinery. They were most of its wall time. Nor,
    for a file under `ORJSON_MIN_BYTES`, for orjson (its import outweighs its speed there),
    nor for the HTML escaping only a report needs, nor for typing, nor for shutil (which
    argparse imports for the terminal's width)."""
    probe = (
        "import sys\n"
        "from controller.cli import main\n"
        f"rc = main(['check', '--quiet', {str(files / 'good.jsonl')!r}])\n"
        "heavy = ['controller.sim_cli', 'controller.run_cli', 'controller.serve',"
        " 'controller.bench_cli', 'paxos_impl.client', 'multiprocessing', 'edn_format',"
        " 'checker.edn', 'tempfile', 'pickle', 'orjson', 'html', 'typing', 'shutil']\n"
        "print(rc, [m for m in heavy if m in sys.modules])\n"
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert p.stdout.strip().splitlines()[-1] == "0 []", p.stdout + p.stderr


def test_help_still_lists_every_sub_command():
    from controller.cli import SUBCOMMANDS

    p = subprocess.run([sys.executable, "-m", "controller.cli", "--help"],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert p.returncode == 0
    for name in SUBCOMMANDS:
        assert name in p.stdout


# --- the command line without argparse ---------------------------------------------------

TAKEN = [
    ["h.jsonl"],
    ["a.jsonl", "b.jsonl", "--quiet"],
    ["--model", "kv", "h.jsonl", "--json", "--full"],
    ["--model=register", "--initial", "0", "--time-limit", "2.5", "h.jsonl"],
    ["--jobs", "3", "--format", "jsonl", "--report", "r.html", "h.jsonl"],
    ["--model", "list-append", "--consistency", "strict-serializable", "h.jsonl"],
    ["--initial=-1", "h.jsonl", "--quiet", "--quiet"],
]
LEFT_TO_ARGPARSE = [
    [],
    ["--help"],
    ["-h"],
    ["--mod", "kv", "h.jsonl"],  # an abbreviation
    ["a.jsonl", "--quiet", "b.jsonl"],  # two runs of files: argparse refuses it
    ["--format", "xml", "h.jsonl"],
    ["--time-limit", "soon", "h.jsonl"],
    ["--initial", "-1", "h.jsonl"],
    ["--json=yes", "h.jsonl"],
    ["--", "h.jsonl"],
    ["--model"],
]


def test_fast_args_parse_what_argparse_parses_and_leave_it_the_rest():
    from checker.cli import DEFAULTS, fast_args
    from controller.cli import build_parser

    parser = build_parser("check")
    for argv in TAKEN:
        fast = fast_args(argv)
        assert fast is not None, argv
        ns = parser.parse_args(["check", *argv])
        for name in [*DEFAULTS, "histories", "command"]:
            assert getattr(fast, name) == getattr(ns, name), (argv, name)
        assert fast._run is ns._run
    for argv in LEFT_TO_ARGPARSE:
        assert fast_args(argv) is None, argv
