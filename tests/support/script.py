"""Protocol scenarios as text: commands for the sans-IO core, and what each step asked for.

In the style of etcd-io/raft's interaction tests (its ``testdata/*.txt`` run by
cockroachdb's ``datadriven``): a file is a list of steps, each a command line, a ``----``
line and the expected output, ending at a blank line. Lines between steps that are blank or
start with ``#`` are prose and are kept as they are. The runner executes each command
against real :class:`paxos_impl.core.Replica` objects, each driven by the node runtime
(:class:`paxos_impl.runtime.NodeRuntime`, as on a real node) on the hand-cranked
:class:`tests.support.bus.Bus`, and prints what every step did with the core's ``Ready``:
what it persisted, the snapshot, the messages, the client replies and when the next tick
is due. tests/README.md lists the commands.

The output is the protocol's behaviour, so a change to it shows as a diff of the page;
``PAXLAB_REWRITE=1`` (or pytest's ``--rewrite``) writes the new output into the file
instead, to be read and committed like code.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.bus import Bus, NodeStep

SEPARATOR = "----"
QUIET_STATUS = {"id", "mode", "read_mode"}  # fixed by the cluster command: noise in a status


class ScriptError(Exception):
    """A step the runner cannot execute (unknown command, bad argument): the file is wrong."""


@dataclass
class Step:
    """One command and its expected output; ``line`` is where the command is (1-based)."""

    line: int
    command: str
    expected: list[str]


@dataclass
class Script:
    """A parsed file: prose chunks and steps in order, so it can be written back."""

    parts: list[str | Step] = field(default_factory=list)

    @property
    def steps(self) -> list[Step]:
        return [p for p in self.parts if isinstance(p, Step)]


def parse(text: str) -> Script:
    """Split a file into prose lines and steps (command, ``----``, output to a blank line)."""
    lines = text.splitlines()
    script, i = Script(), 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.lstrip().startswith("#"):
            script.parts.append(line)
            i += 1
            continue
        if i + 1 >= len(lines) or lines[i + 1] != SEPARATOR:
            raise ScriptError(f"line {i + 1}: a command must be followed by a {SEPARATOR} line")
        j = i + 2
        while j < len(lines) and lines[j].strip():
            j += 1
        script.parts.append(Step(i + 1, line.strip(), lines[i + 2 : j]))
        i = j
    return script


def render(script: Script, outputs: list[list[str]]) -> str:
    """The file again, each step's output replaced by ``outputs`` (one list per step)."""
    out: list[str] = []
    it = iter(outputs)
    for part in script.parts:
        if isinstance(part, Step):
            out += [part.command, SEPARATOR, *next(it)]
        else:
            out.append(part)
    return "\n".join(out) + "\n"


# -- printing what the core asked for ---------------------------------------------------------
COMMAND_KEYS = {"client_id", "seq", "op", "key", "value"}


def short(v: Any) -> Any:
    """Client commands inside batches as one short string: ``c/1 write k=1``."""
    if isinstance(v, dict) and set(v) == COMMAND_KEYS:
        val = json.dumps(v["value"], sort_keys=True, separators=(",", ":"))
        return f"{v['client_id']}/{v['seq']} {v['op']} {v['key']}={val}"
    if isinstance(v, list):
        return [short(x) for x in v]
    if isinstance(v, dict):
        return {k: short(x) for k, x in v.items()}
    return v


def value(v: Any) -> str:
    """A JSON value on one line, keys sorted (a message's fields print the same every time);
    a string that is one word prints bare (``role=leader``)."""
    if isinstance(v, str) and v.replace("-", "_").isidentifier():
        return v
    return json.dumps(short(v), sort_keys=True, separators=(",", ":"))


def fields(d: dict, first: str) -> str:
    """``d[first]`` then the other fields as key=value, sorted by key."""
    rest = " ".join(f"{k}={value(v)}" for k, v in sorted(d.items()) if k != first)
    return f"{d.get(first)} {rest}".rstrip()


def show_ready(node: int, ready: NodeStep, now: float) -> list[str]:
    """What the runtime did with the core's Ready: persist, snapshot, send, reply, next tick."""
    out = [f"n{node} @{now:.3f}"]
    out += [f"  persist {fields(r, 't')}" for r in ready.persist]
    if ready.snapshot is not None:
        out.append(f"  snapshot applied={value(ready.snapshot.get('applied'))}")
    out += [f"  send {node}->{d} {fields(m, 'type')}" for d, m in ready.messages]
    out += [f"  reply {h} {value(r)}" for h, r in ready.replies]
    nt = "none" if ready.next_tick is None else f"{ready.next_tick:.3f}"
    out.append(f"  next tick {nt}")
    return out


# -- the commands ----------------------------------------------------------------------------
def parse_args(words: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words and key=value words (a value with "=" in it cannot be positional)."""
    pos = [w for w in words if "=" not in w]
    kw = dict(w.split("=", 1) for w in words if "=" in w)
    return pos, kw


def json_arg(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # a bare word is a string: `write k hello`


def config_arg(k: str, v: str) -> Any:
    if k == "bugs":
        return [b for b in v.split(",") if b]
    return json_arg(v)


class Runner:
    """Executes steps in order against one cluster of replicas; each returns its output."""

    def __init__(self) -> None:
        self.bus: Bus | None = None
        self.groups: list[set[int]] | None = None  # a partition: messages stay inside a group
        self.seqs: dict[str, int] = {}
        self.commands: dict[str, Callable[[list[str], dict[str, str]], list[str]]] = {
            "cluster": self.cluster,
            "tick": self.tick,
            "time": self.time,
            "propose": self.propose,
            "deliver": self.deliver,
            "stabilize": self.stabilize,
            "drop": self.drop,
            "msgs": self.msgs,
            "crash": self.crash,
            "restart": self.restart,
            "partition": self.partition,
            "heal": self.heal,
            "status": self.status,
            "disk": self.disk,
        }

    def run(self, command: str) -> list[str]:
        words = shlex.split(command)
        fn = self.commands.get(words[0])
        if fn is None:
            raise ScriptError(f"unknown command {words[0]!r}; known: {', '.join(self.commands)}")
        if fn != self.cluster and self.bus is None:
            raise ScriptError("the first command must be `cluster`")
        pos, kw = parse_args(words[1:])
        return fn(pos, kw) or ["ok"]

    @property
    def b(self) -> Bus:
        assert self.bus is not None
        return self.bus

    def node(self, word: str) -> int:
        i = int(word.removeprefix("n"))
        if i not in self.b.disk:
            raise ScriptError(f"no node {word}")
        return i

    def up(self, word: str) -> int:
        i = self.node(word)
        if i not in self.b.r:
            raise ScriptError(f"n{i} is down (restart it first)")
        return i

    def step(self, i: int, event: tuple) -> list[str]:
        return show_ready(i, self.b.event(i, event), self.b.now)

    # each command: positional words and key=value arguments in, output lines out
    def cluster(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """cluster n=3 [seed=0] [CONFIG_FIELD=VALUE...]: new replicas, each started at t=0."""
        n, seed = int(kw.pop("n", "3")), int(kw.pop("seed", "0"))
        opts = {k: config_arg(k, v) for k, v in kw.items()}
        self.bus = Bus(n, seed, wire=True, start=False, **opts)
        self.groups, self.seqs = None, {}
        out = []
        for i in self.bus.r:
            out += self.step(i, ("start",))
        return out

    def tick(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """tick NODE [+DT]: time moves to the node's next tick (or by DT), and it ticks."""
        i = self.up(pos[0])
        if len(pos) > 1:
            self.b.now += float(pos[1])
        else:
            due = self.b.ticks.get(i)
            if due is None:
                raise ScriptError(f"n{i} has no tick due")
            self.b.now = max(self.b.now, due)
        return self.step(i, ("tick",))

    def time(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """time +DT | time T: move the clock without ticking anyone."""
        t = pos[0]
        self.b.now = self.b.now + float(t) if t.startswith("+") else float(t)
        return [f"now {self.b.now:.3f}"]

    def propose(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """propose NODE OP KEY [VALUE] [client=C] [seq=N]: a client request at NODE."""
        i = self.up(pos[0])
        op, key = pos[1], pos[2]
        val = json_arg(" ".join(pos[3:])) if len(pos) > 3 else None
        cid = kw.get("client", "c")
        seq = int(kw["seq"]) if "seq" in kw else self.seqs.get(cid, 0) + 1
        self.seqs[cid] = max(seq, self.seqs.get(cid, 0))
        handle = f"{cid}/{seq}"
        req = {"op": op, "key": key, "value": val, "client_id": cid, "seq": seq}
        return self.step(i, ("client", handle, req))

    def matches(self, msg: tuple[int, int, dict], kw: dict[str, str]) -> bool:
        src, dst, m = msg
        return (
            ("from" not in kw or self.node(kw["from"]) == src)
            and ("to" not in kw or self.node(kw["to"]) == dst)
            and ("type" not in kw or m["type"] in kw["type"].split(","))
        )

    def blocked(self, src: int, dst: int) -> str | None:
        if dst not in self.b.r:
            return f"n{dst} is down"
        if self.groups and not any(src in g and dst in g for g in self.groups):
            return "partitioned"
        return None

    def deliver(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """deliver [from=N] [to=N] [type=T,...] [count=K]: messages in flight now, in order."""
        count = int(kw.get("count", "1000000"))
        picked = [m for m in self.b.net if self.matches(m, kw)][:count]
        if not picked:
            raise ScriptError(f"no message in flight matches {kw or 'anything'}")
        out = []
        for msg in picked:
            self.b.net.remove(msg)
            out += self.deliver_one(*msg)
        return out

    def deliver_one(self, src: int, dst: int, m: dict) -> list[str]:
        head = f"{src}->{dst} {fields(m, 'type')}"
        why = self.blocked(src, dst)
        if why is not None:
            return [f"lost {head} ({why})"]
        step = self.b.message(dst, src, m)
        if step.refused is not None:
            return [f"refused {head}: {step.refused}"]
        return [f"deliver {head}", *show_ready(dst, step, self.b.now)]

    def stabilize(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """stabilize: deliver until nothing is in flight (no tick fires meanwhile)."""
        out: list[str] = []
        for _ in range(10000):
            if not self.b.net:
                return out or ["nothing in flight"]
            out += self.deliver_one(*self.b.net.pop(0))
        raise ScriptError("stabilize: still messages in flight after 10000 deliveries")

    def drop(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """drop [from=N] [to=N] [type=T,...]: messages in flight that never arrive."""
        picked = [m for m in self.b.net if self.matches(m, kw)]
        for msg in picked:
            self.b.net.remove(msg)
        return [f"dropped {s}->{d} {fields(m, 'type')}" for s, d, m in picked] or ["none"]

    def msgs(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """msgs: what is in flight, oldest first."""
        return [f"{s}->{d} {fields(m, 'type')}" for s, d, m in self.b.net] or ["none"]

    def crash(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """crash NODE: it stops; what it persisted stays (messages it sent stay in flight)."""
        i = self.up(pos[0])
        self.b.crash(i)
        return [f"n{i} down", *self.disk([f"n{i}"], {})]

    def restart(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """restart NODE: a new replica from the node's snapshot and records, then started."""
        i = self.node(pos[0])
        if i in self.b.r:
            raise ScriptError(f"n{i} is up")
        ready = self.b.restart(i)
        return [*self.status([f"n{i}"], {}), *show_ready(i, ready, self.b.now)]

    def partition(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """partition 0 1 | 2: messages between the groups are lost when delivered."""
        groups, cur = [], set()
        for w in [*pos, "|"]:
            if w == "|":
                groups.append(cur)
                cur = set()
            else:
                cur.add(self.node(w))
        self.groups = groups
        return [" | ".join(" ".join(f"n{i}" for i in sorted(g)) for g in groups)]

    def heal(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """heal: no partition any more."""
        self.groups = None
        return ["healed"]

    def status(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """status [NODE...]: each node's status() (a down node says so)."""
        nodes = [self.node(w) for w in pos] or sorted(self.b.disk)
        out = []
        for i in nodes:
            if i not in self.b.r:
                out.append(f"n{i} down")
                continue
            st = {k: v for k, v in self.b.r[i].status().items() if k not in QUIET_STATUS}
            out.append(f"n{i} " + " ".join(f"{k}={value(v)}" for k, v in sorted(st.items())))
        return out

    def disk(self, pos: list[str], kw: dict[str, str]) -> list[str]:
        """disk NODE: the node's snapshot (if any) and the records persisted after it."""
        i = self.node(pos[0])
        snap = self.b.snap[i]
        out = [] if snap is None else [f"  snapshot applied={value(snap.get('applied'))}"]
        out += [f"  {fields(r, 't')}" for r in self.b.disk[i]]
        return [f"n{i} disk: {len(self.b.disk[i])} records", *out]


def run_file(path: Path) -> tuple[Script, list[list[str]]]:
    """Parse and execute one file; the script and each step's actual output."""
    script = parse(path.read_text())
    runner, outputs = Runner(), []
    for step in script.steps:
        try:
            outputs.append(runner.run(step.command))
        except (ScriptError, ValueError, IndexError, KeyError) as e:
            raise ScriptError(f"{path.name}:{step.line}: {step.command}: {e}") from e
    return script, outputs
