"""Every command in README.md and docs/ runs as written, so the documentation cannot drift.

What counts as a command:

* every fenced code block without a language or marked ``sh``/``shell``/``bash``/``console``:
  the whole block is one script, run line by line in one shell (``text``, ``json``, ``toml``,
  ``python`` blocks are synopses and examples of data, not commands);
* every inline code span that starts with ``paxlab``, ``paxos-server``, ``paxos-client`` or
  ``make`` followed by at least one argument (a lone program name is a name).

Each runs in a fresh temporary directory with ``.venv/bin`` first on PATH (as after the
README's ``. .venv/bin/activate``), ``PAXLAB_RESULTS`` and ``PAXLAB_HOME`` inside it, and
shortened where it measures or waits: ``TIME_LIMIT``/``--time-limit`` 2 s, ``--seeds`` at most
2, ``paxlab validate`` one bug and one clean nemesis with one run each, ``paxlab bench`` one
second. ``make`` runs against this checkout (``make -C``); a server runs on a free port until
it answers. Quick-start nodes get a configuration with free ports only if the default ones
are taken. A run needing a stored run (``results/latest``) gets a short simulated one first.
Whatever a command leaves running (background jobs, ``paxlab cluster up``) is stopped after.

A command passes when every line exits 0, or 0 or 1 for a line that gives a verdict (1: an
anomaly was found, which a deliberate bug may well do), with no traceback. Commands that use
docker run in the docker tier. The few that cannot run in a test are in EXCLUDED, each with
the reason; an exclusion no document mentions any more fails too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT as ROOT
from tests.support.ports import free_port

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PROGRAMS = ("paxlab", "paxos-server", "paxos-client", "make")
SCRIPT_LANGS = {"", "sh", "shell", "bash", "console"}
RUN_TARGETS = {
    "test-partition",
    "test-kill",
    "test-clock",
    "test-pause",
    "test-netem",
    "test-membership",
    "test-all",
}
SHORT_S = "2"  # seconds of a real run
SHORT_SIM_S = "10"  # simulated seconds (virtual time: about a second of wall time)
SHORT_ETCD_S = "8"  # etcd members elect and answer later: a 2 s kill run can see no ok at all

EXCLUDED = {
    "make test": "runs the whole suite, this test included",
    "make bench": "measures for minutes by design; its commands run short in docs/cli.md",
    "paxlab check": "the command's name in prose (it needs a HISTORY argument; the commands "
    "that follow it in docs/checking.md give one)",
    "make bench-checker": "measures for minutes by design (paxlab bench --checker)",
    "paxlab bench --mode all --sim --node-counts 3,5,9 --conflict 0,0.5 --locality 0.5,0.9 "
    "--seconds 5 --seed 1": "the whole family table, minutes by design (the small one after it "
    "in docs/modes.md runs; tests/controller/test_bench_sim.py checks the table, chart and rows)",
    "paxlab test --backend ssh --nodes-file nodes.toml": "needs SSH hosts of your own "
    "(tests/controller/test_nodes_file_cli.py checks the flag, tests/cluster/test_ssh_cluster_docker.py the backend)",
    # docs/sweeps.md: a Dask scheduler on a fixed port and its workers
    (
        "dask scheduler --host 127.0.0.1 --port 8786 --no-dashboard &\n"
        "dask worker tcp://127.0.0.1:8786 --nthreads 1 --no-dashboard &\n"
        "dask worker tcp://127.0.0.1:8786 --nthreads 1 --no-dashboard &\n"
        "paxlab sim --seeds 200 --time-limit 1 --scheduler tcp://127.0.0.1:8786"
    ): "starts a Dask scheduler on a fixed port and workers that outlive the script "
    "(tests/controller/test_sim_dask.py starts them on free ports, runs a sweep through them and "
    "compares it with a local sweep row for row)",
}


@dataclass(frozen=True)
class DocCommand:
    source: str  # file:line where it first appears
    text: str  # as written; a block's lines joined by newlines
    block: bool


def extract(path: Path) -> list[DocCommand]:
    """The commands of one markdown file, in order."""
    rel = path.relative_to(ROOT).as_posix()
    out: list[DocCommand] = []
    fence: str | None = None
    body: list[str] = []
    start = 0
    para: list[tuple[int, str]] = []

    def flush_paragraph() -> None:
        if not para:
            return
        text = " ".join(line for _, line in para)
        for span in re.findall(r"`([^`]+)`", text):
            words = span.split()
            if len(words) >= 2 and words[0] in PROGRAMS:
                line = next((n for n, t in para if f"`{span}" in t), para[0][0])
                out.append(DocCommand(f"{rel}:{line}", span.strip(), False))
        para.clear()

    for i, line in enumerate(path.read_text().splitlines(), 1):
        m = re.match(r"^\s*```\s*([\w-]*)\s*$", line)
        if m and fence is None:
            flush_paragraph()
            fence, body, start = m.group(1).lower(), [], i
            continue
        if m and fence is not None:
            if fence in SCRIPT_LANGS and any(b.strip() for b in body):
                out.append(DocCommand(f"{rel}:{start}", "\n".join(body).strip(), True))
            fence = None
            continue
        if fence is not None:
            body.append(line)
        elif line.strip():
            para.append((i, line))
        else:
            flush_paragraph()
    flush_paragraph()
    return out


def all_commands() -> list[DocCommand]:
    """Every documented command once (the first place it appears)."""
    seen: dict[str, DocCommand] = {}
    for doc in DOCS:
        for c in extract(doc):
            seen.setdefault(c.text, c)
    return list(seen.values())


# -- shortening ----------------------------------------------------------------------------
def logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined; blank and comment-only lines dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        if line.rstrip().endswith("\\"):
            cur += line.rstrip()[:-1] + " "
            continue
        cur += line
        if cur.strip() and not cur.strip().startswith("#"):
            out.append(cur.strip())
        cur = ""
    return out


def strip_comment(line: str) -> str:
    return re.split(r"\s+#\s", line, maxsplit=1)[0].rstrip()


def set_opt(line: str, flag: str, value: str) -> str:
    """Give ``flag`` this value, replacing the one written or appending it."""
    pat = re.compile(rf"(?<!\S){re.escape(flag)}([ =])\S+")
    if pat.search(line):
        return pat.sub(lambda m: f"{flag}{m.group(1)}{value}", line)
    return f"{line} {flag} {value}"


def words_of(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def is_verdict(line: str) -> bool:
    """A line whose exit 1 means "an anomaly was found", not a failure."""
    w = words_of(line)
    if w[:1] == ["paxlab"] and len(w) > 1:
        return w[1] in ("test", "sim", "validate", "check")
    return w[:1] == ["make"] and any(x in RUN_TARGETS | {"validate"} for x in w[1:])


def needs_docker(line: str) -> bool:
    w = words_of(strip_comment(line))
    if "--help" in w:
        return False
    backend = next((w[i + 1] for i, x in enumerate(w[:-1]) if x == "--backend"), None)
    if w[:1] == ["make"]:
        targets = set(w[1:])
        env_backend = next((x.split("=", 1)[1] for x in w if x.startswith("BACKEND=")), "docker")
        runs = targets & (RUN_TARGETS | {"cluster-up"})
        return bool(targets & {"image", "test-docker"}) or (bool(runs) and env_backend == "docker")
    if w[:2] == ["paxlab", "test"] or w[:3] == ["paxlab", "cluster", "up"]:
        return (backend or "docker") == "docker"  # docker is the default backend
    if w[:2] == ["paxlab", "image"] and "build" in w:
        return True
    return w[:2] == ["paxlab", "validate"] and backend == "docker"


def shorten(line: str, cfg: Path | None) -> str:
    """The line as the test runs it (see the module docstring)."""
    line = strip_comment(line)
    line = re.sub(r"(?<![\w/])\.venv/", f"{ROOT}/.venv/", line)
    if cfg is not None:
        line = re.sub(r"\b(paxos-server \d+)", rf"\1 --config {cfg}", line)
        line = re.sub(r"\bpaxos-client\b(?! --config)", f"paxos-client --config {cfg}", line)
    w = words_of(line)
    sim = (
        "sim" in w[1:2]
        or "BACKEND=sim" in w
        or any(a == "--backend" and b == "sim" for a, b in zip(w, w[1:], strict=False))
    )
    etcd = "TARGET=etcd" in w or any(
        a == "--target" and b == "etcd" for a, b in zip(w, w[1:], strict=False)
    )
    limit = SHORT_SIM_S if sim else SHORT_ETCD_S if etcd else SHORT_S
    if w[:1] == ["make"]:
        line = re.sub(r"^make\b", f"make --no-print-directory -C {ROOT}", line)
        if set(w[1:]) & RUN_TARGETS:
            line = re.sub(r"\s*\bTIME_LIMIT=\S+", "", line) + f" TIME_LIMIT={limit}"
        return line
    if w[:2] == ["paxlab", "test"]:
        return set_opt(line, "--time-limit", limit)
    if w[:2] == ["paxlab", "sim"]:
        m = re.search(r"--seeds[ =](\d+)", line)
        if m and int(m.group(1)) > 2:
            line = set_opt(line, "--seeds", "2")
        return set_opt(line, "--time-limit", limit)
    if w[:2] == ["paxlab", "validate"]:
        for flag, value in (("--runs", "1"), ("--max-runs", "1"), ("--time-limit", SHORT_S)):
            line = set_opt(line, flag, value)
        if "--bugs" not in w:
            line += " --bugs early-ack"
        if "--nemeses" not in w:
            line += " --nemeses partition"
        return line
    if w[:2] == ["paxlab", "bench"] and "--checker" not in w:
        return set_opt(line, "--seconds", "1")
    return line


def is_server(line: str) -> bool:
    w = words_of(strip_comment(line))
    return w[:2] == ["paxlab", "serve"] or (w[:1] == ["make"] and "serve" in w[1:])


# -- running -------------------------------------------------------------------------------
def port_busy(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def quick_start_config(tmp: Path) -> Path | None:
    """A configuration with free ports if the default 3-node ports are taken, else None."""
    from paxos_impl.config import local_config

    default = local_config(3)
    ports = [p for a in default.nodes for p in (a.peer_port, a.client_port)]
    if not any(port_busy(p) for p in ports):
        return None
    cfg = local_config(3)
    for a in cfg.nodes:
        a.peer_port, a.client_port = free_port(), free_port()
    path = tmp / "quickstart.toml"
    cfg.save(path)
    return path


def environment(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    path = [str(ROOT / ".venv" / "bin"), str(Path(sys.executable).parent), env.get("PATH", "")]
    env["PATH"] = os.pathsep.join(path)
    env["PAXLAB_RESULTS"] = str(tmp / "results")
    env["PAXLAB_HOME"] = str(tmp / "home")
    env.pop("PAXLAB_NODES_FILE", None)
    return env


def script_for(cmd: DocCommand, cfg: Path | None) -> str:
    lines = logical_lines(cmd.text) if cmd.block else [cmd.text]
    out = []
    for line in lines:
        run = shorten(line, cfg)
        if run.endswith("&"):
            out.append(run)
            continue
        allowed = "0|1" if is_verdict(line) else "0"
        if run.startswith("make ") and is_verdict(line):
            # make exits 2 whenever a recipe fails; its "Error N" line carries paxlab's code
            run = (
                f"__out=$({run} 2>&1); __rc=$?; printf '%s\\n' \"$__out\"; "
                'if [ $__rc = 2 ] && grep -q "Error 1$" <<<"$__out"; then __rc=1; fi; '
                "(exit $__rc)"
            )
        out.append(run)
        out.append(
            f'__rc=$?; case $__rc in {allowed}) ;; *) echo "doc command exited $__rc: "'
            f"{shlex.quote(line)} >&2; exit 97;; esac"
        )
    return "\n".join(out) + "\n"


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the script's process group: its background jobs (quick-start nodes, a server)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            continue
        time.sleep(0.2)  # let the group's other members go too


def clusters_down(tmp: Path, env: dict[str, str]) -> None:
    """Remove whatever `paxlab cluster up` (or make cluster-up) left running."""
    for state in (tmp / "home" / "clusters").glob("*.json"):
        name = json.loads(state.read_text())["name"]
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "paxlab"), "cluster", "down", "--name", name],
            env=env,
            capture_output=True,
            timeout=300,
        )


def prepare(tmp: Path, env: dict[str, str]) -> None:
    """A stored run, for commands that read results/latest."""
    subprocess.run(
        [str(ROOT / ".venv" / "bin" / "paxlab"), "test", "--backend", "sim", "--nemesis",
         "none", "--time-limit", SHORT_S, "--seed", "1", "--no-progress"],
        cwd=tmp, env=env, capture_output=True, timeout=300, check=True,
    )  # fmt: skip


def run_doc_command(cmd: DocCommand, tmp: Path) -> subprocess.CompletedProcess:
    env = environment(tmp)
    (tmp / "tests").symlink_to(ROOT / "tests")  # docs name the repo's fixtures by tests/...
    (tmp / "examples").symlink_to(ROOT / "examples")  # and its example machines by examples.
    if "results/" in cmd.text or is_server(cmd.text) or "paxlab report" in cmd.text:
        prepare(tmp, env)
    if is_server(cmd.text):
        return run_server(cmd, tmp, env)
    script = script_for(cmd, quick_start_config(tmp) if "paxos-server" in cmd.text else None)
    # output to files, not pipes: a background job (`paxos-server 0 &`) keeps a pipe open
    # after the script ends, and reading it to its end would wait for that job
    out_path, err_path = tmp / "doc-command.out", tmp / "doc-command.err"
    with out_path.open("w") as out_f, err_path.open("w") as err_f:
        proc = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp,
            env=env,
            stdout=out_f,
            stderr=err_f,
            text=True,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=900)
        finally:
            stop_group(proc)
            clusters_down(tmp, env)
    out, err = out_path.read_text(errors="replace"), err_path.read_text(errors="replace")
    return subprocess.CompletedProcess(script, proc.returncode, out, err)


def run_server(cmd: DocCommand, tmp: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Start it on a free port, wait until it serves the results index, stop it."""
    port = free_port()
    line = shorten(cmd.text, None)
    line = f"{line} PORT={port}" if line.startswith("make") else set_opt(line, "--port", str(port))
    proc = subprocess.Popen(
        ["bash", "-c", line], cwd=tmp, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    status, deadline = None, time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.2)
    finally:
        stop_group(proc)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(line, 0 if status == 200 else 98, out, err)


# -- the tests -----------------------------------------------------------------------------
def _params():
    out = []
    for c in all_commands():
        if c.text in EXCLUDED:
            continue
        lines = logical_lines(c.text) if c.block else [c.text]
        marks = (
            [pytest.mark.docker, pytest.mark.timeout(1800)]
            if any(needs_docker(x) for x in lines)
            else [pytest.mark.timeout(600)]
        )
        out.append(pytest.param(c, marks=marks, id=f"{c.source} {c.text.splitlines()[0][:60]}"))
    return out


EXPECT = {  # documented output that the command must print
    "paxos-client get greeting": "hello",
}


@pytest.mark.parametrize("cmd", _params())
def test_documented_command_runs(cmd: DocCommand, tmp_path):
    r = run_doc_command(cmd, tmp_path)
    detail = (
        f"{cmd.source}: {cmd.text}\n--- stdout\n{r.stdout[-3000:]}\n--- stderr\n{r.stderr[-3000:]}"
    )
    assert r.returncode == 0, detail
    assert "Traceback" not in r.stderr, detail
    for needle, printed in EXPECT.items():
        if needle in cmd.text:
            assert printed in r.stdout.split(), detail


def test_every_exclusion_is_still_documented():
    documented = {c.text for c in all_commands()}
    assert set(EXCLUDED) <= documented, set(EXCLUDED) - documented


def test_the_extractor_finds_blocks_and_inline_commands():
    cmds = {c.text: c for c in all_commands()}
    quick = [c for c in cmds.values() if c.block and "paxos-server 0" in c.text]
    assert quick and quick[0].source.startswith("README.md:")
    assert (
        "paxlab validate --backend sim" in cmds and not cmds["paxlab validate --backend sim"].block
    )
    assert not any(c.text.startswith("paxlab-node") for c in cmds.values())
    assert not any(c.text.startswith("paxos-server NODE_ID") for c in cmds.values())  # a synopsis


def test_shortening():
    assert shorten("make test-kill TIME_LIMIT=30 WORKLOAD=set  # kill -9", None).endswith(
        "test-kill WORKLOAD=set TIME_LIMIT=2"
    )
    assert shorten("paxlab sim --seeds 200 --jobs 0", None) == (
        "paxlab sim --seeds 2 --jobs 0 --time-limit 10"
    )
    assert shorten("paxlab test --time-limit=60 --backend sim", None) == (
        "paxlab test --time-limit=10 --backend sim"
    )
    assert (
        shorten("paxlab test --backend local", None) == "paxlab test --backend local --time-limit 2"
    )
    assert shorten("make test-kill TARGET=etcd BACKEND=local", None).endswith("TIME_LIMIT=8")
    assert shorten("paxlab test --target etcd --time-limit 20", None).endswith("--time-limit 8")
    assert needs_docker("make test-partition BUG=early-ack")
    assert not needs_docker("make test-kill BACKEND=sim")
    assert needs_docker("paxlab test --nemesis kill")  # docker is the default backend
    assert not needs_docker("paxlab cluster status --name demo")
    assert not needs_docker("paxlab cluster up --backend local")
    assert needs_docker("make cluster-up")
    assert not needs_docker("paxlab test --help")


def test_the_readme_power_loss_command_cuts_power(tmp_path):
    """README's backend-option example must do what it says: with no kill nemesis nothing
    ever lost power. Some simulated node's log records a power loss."""
    readme = [c for c in extract(ROOT / "README.md") if "power_loss" in c.text]
    assert readme, "README shows a power_loss example"
    for cmd in readme:
        run = tmp_path / str(readme.index(cmd))
        run.mkdir()
        r = run_doc_command(cmd, run)
        assert r.returncode == 0, r.stderr[-2000:]
        logs = list((run / "results").glob("*/*/nodes/*/sim.log"))
        assert logs, "the run kept its nodes' logs"
        assert any("power loss" in f.read_text() for f in logs), cmd.text


def test_a_job_left_in_the_background_ends_with_its_command(tmp_path):
    """An inline `paxos-server 0 &` once held this test for its whole timeout: the server
    kept the script's output pipe open. The command ends when its script does, and the
    server goes with it."""
    r = run_doc_command(DocCommand("x.md:1", "paxos-server 0 &\nsleep 1", False), tmp_path)
    assert r.returncode == 0, r.stderr
    assert processes_in(tmp_path) == []  # nothing it started still runs there


def processes_in(folder: Path) -> list[int]:
    """Pids of the processes whose working directory is ``folder`` (what a doc command
    starts runs there)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and Path(os.readlink(proc / "cwd")) == folder:
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids
