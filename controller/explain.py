"""Each deliberate bug explained: the rule it breaks, where it lives, its smallest failure.

One explanation serves three readers: the report of any run with ``--bug`` (a section
under the diagram), ``paxlab validate``'s summary (HTML and the line under its tables) and
``paxlab explain BUG`` on a terminal. The rule and the symptom come from the catalogue
(``controller.catalogue``), the marked lines from the store's source as it is now
(``targets.bundled.bug_sites``), and the smallest schedule from ``paxlab sim --shrink``
as measured in docs/shrinking.md (``SHRUNK``; tests/controller/test_explain.py keeps the
two in step). The shrink command reruns the search, which stores the smallest failing run
with its own report, message diagram included.
"""

from __future__ import annotations

import html
import shlex

from controller.catalogue import CATALOGUE, SIM, BugEntry
from targets.bundled.bug_sites import bug_sites

# bug -> (seed shrunk, ops before, ops after, fault events before, after): docs/shrinking.md
SHRUNK: dict[str, tuple[int, int, int, int, int]] = {
    "skip-phase1-adopt": (0, 353, 9, 10, 1),
    "early-ack": (0, 339, 9, 5, 1),
    "volatile-acceptor": (0, 191, 14, 10, 1),
    "local-read": (0, 91, 50, 5, 1),
    "no-dedup": (0, 367, 13, 10, 1),
    "accept-lower-ballot": (0, 390, 268, 10, 1),
    "commit-other-ballot": (0, 361, 124, 10, 2),
    "quorum-off-by-one": (1, 406, 32, 5, 1),
    "txn-split": (0, 334, 12, 0, 0),
    "txn-stale-read": (0, 334, 12, 0, 0),
    "learner-quorum": (0, 377, 303, 10, 3),
    "removed-node-votes": (0, 357, 13, 3, 2),
    "epaxos-small-fast-quorum": (0, 76, 12, 5, 1),
    "epaxos-execute-uncommitted": (0, 94, 28, 5, 1),
    "epaxos-recovery-ignores-preaccept": (2, 233, 113, 5, 2),
    "mencius-skip-unowned": (0, 332, 19, 5, 1),
    "mencius-revoke-no-phase1": (0, 334, 19, 5, 1),
    "wpaxos-steal-no-phase1": (1, 327, 59, 5, 1),
    "wpaxos-quorums-disjoint": (2, 295, 295, 5, 5),
    "sm-nondeterministic": (2, 209, 32, 5, 0),
    "sm-async-early-answer": (1, 4000, 117, 0, 0),
}


def entry(name: str) -> BugEntry | None:
    """The catalogue's entry for a store bug (leader mode first)."""
    found = [e for e in CATALOGUE if e.name == name and not e.setting]
    # the entry that exposes it on the simulator, leader mode first (a mode's own bugs are
    # "not on the path" of the others)
    found.sort(key=lambda e: (e.exposure(SIM) is None, e.mode != "leader"))
    return found[0] if found else None


def shrink_command(e: BugEntry) -> str | None:
    """The ``paxlab sim --shrink`` command that finds the bug's smallest failing schedule."""
    ex = e.exposure(SIM)
    if ex is None or e.name not in SHRUNK:
        return None
    argv = ["paxlab", "sim", "--workload", ex.workload, "--nemesis", ",".join(ex.nemesis) or "none"]
    argv += ["--bug", e.name, "--nemesis-interval", f"{ex.nemesis_interval:g}"]
    argv += ["--nemesis-schedule", ex.nemesis_schedule, "--time-limit", f"{ex.time_limit:g}"]
    argv += ["--op-timeout", f"{ex.op_timeout:g}", "--shrink", str(SHRUNK[e.name][0])]
    if ex.read_mode != "log":
        argv += ["--read-mode", ex.read_mode]
    if ex.nodes != 5:
        argv += ["--nodes", str(ex.nodes)]
    if ex.concurrency != 10:
        argv += ["--concurrency", str(ex.concurrency)]
    if ex.rate is not None:
        argv += ["--rate", f"{ex.rate:g}"]
    for k, v in ex.backend_opts:  # the simulator's settings by their sim flags
        argv += ["--mode" if k == "mode" else "--" + k.replace("_", "-"), str(v)]
    for k, v in ex.target_opts:
        argv += ["--target-opt", f"{k}={v}"]
    return shlex.join(argv)


def explain(name: str) -> dict | None:
    """Everything known about bug ``name`` (None: not a bug of the store)."""
    e = entry(name)
    if e is None:
        return None
    shrunk = SHRUNK.get(name)
    return {
        "name": name,
        "rule": e.rule,
        "symptom": e.symptom,
        "sites": [{"file": f, "line": n, "text": t} for f, n, t in bug_sites(name)],
        "shrunk": None
        if shrunk is None
        else dict(
            zip(
                ("seed", "ops_before", "ops_after", "faults_before", "faults_after"),
                shrunk,
                strict=True,
            )
        ),
        "shrink_command": shrink_command(e),
    }


def explain_text(name: str) -> str:
    """The explanation as lines for a terminal."""
    x = explain(name)
    if x is None:
        return f"{name}: not a deliberate bug of the bundled store"
    lines = [f"{name}", f"  breaks:  {x['rule']}", f"  symptom: {x['symptom']}"]
    lines += [f"  line:    {s['file']}:{s['line']}  {s['text']}" for s in x["sites"]]
    s = x["shrunk"]
    if s:
        lines.append(
            f"  smallest failing schedule found: {s['ops_after']} of {s['ops_before']} ops, "
            f"{s['faults_after']} of {s['faults_before']} fault events (seed {s['seed']})"
        )
    if x["shrink_command"]:
        lines.append(f"  find it again (stores it as a run with its report): {x['shrink_command']}")
    return "\n".join(lines)


def render_explanations(names: list[str]) -> str:
    """HTML: one explanation per bug ('' for none)."""
    parts = []
    for name in names:
        x = explain(name)
        if x is None:
            continue
        sites = "".join(
            f"<li><code>{html.escape(s['file'])}:{s['line']}</code> "
            f"<code>{html.escape(s['text'])}</code></li>"
            for s in x["sites"]
        )
        s = x["shrunk"]
        shrunk = (
            f"<p>Smallest failing schedule <code>paxlab sim --shrink</code> found: "
            f"{s['ops_after']} of {s['ops_before']} operations, {s['faults_after']} of "
            f"{s['faults_before']} fault events. Find it again (it is stored as a run with its "
            f'own report and message diagram):</p><pre class="cmd">'
            f"{html.escape(x['shrink_command'] or '')}</pre>"
            if s
            else ""
        )
        parts.append(
            f'<div class="bug-explained" id="bug-{html.escape(name)}">'
            f"<h3><code>--bug {html.escape(name)}</code></h3>"
            f"<p><strong>The rule it breaks:</strong> {html.escape(x['rule'])}.</p>"
            f"<p><strong>What a client sees:</strong> {html.escape(x['symptom'])}.</p>"
            f"<p>The marked lines:</p><ul>{sites}</ul>{shrunk}</div>"
        )
    return "".join(parts)
