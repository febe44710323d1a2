"""One simulated test run: a world, clients, a random fault schedule, then the checks.

This is the reusable driver the unit tests (and later the ``sim`` backend) use: give it a
configuration, a seed and a :class:`FaultPlan`, get back the world, the history and the
list of property violations. Faults stop ``settle`` seconds before the end; then the network
heals, every node restarts and the clients stop, so the final state is comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.sim.network import LinkModel
from cluster.sim.world import World
from paxos_impl.config import Config, local_config
from tests.support.sim.checks import check_all
from tests.support.sim.clients import History, KvWorkload, SimClient


def sim_config(n: int = 3, **kw: object) -> Config:
    """A store configuration with timeouts scaled down for simulation (heartbeat 20 ms,
    elections 100-200 ms, leases 300 ms): more protocol happens per virtual second."""
    cfg = local_config(n, **kw)  # type: ignore[arg-type]
    t = cfg.timeouts
    t.heartbeat_ms, t.election_min_ms, t.election_max_ms = 20, 100, 200
    t.lease_ms, t.catchup_ms, t.request_ms = 300, 50, 1000
    cfg.max_clock_drift_ms = 30
    return cfg.validate()


@dataclass
class FaultPlan:
    """What the random nemesis may do, and how often (virtual seconds)."""

    drop: float = 0.0
    dup: float = 0.0
    delay: tuple[float, float] = (0.001, 0.005)
    partitions: bool = False
    one_way: bool = False
    crashes: bool = False
    bounces: bool = False  # kill -9 and restart at once (loses memory, keeps the disk)
    majority_bounces: bool = False  # kill -9 a majority together, restart them one by one
    clock_jumps: float = 0.0  # set a node's clock offset to +-this many seconds
    crash_leader: bool = False  # aim crashes, isolation and clock jumps at the leader
    max_down: int = 1  # nodes down at once
    interval: tuple[float, float] = (0.2, 0.8)
    client_drop: float = 0.0


@dataclass
class RunResult:
    world: World
    history: list[dict]
    violations: list[str]
    ops: dict[str, int] = field(default_factory=dict)


def run(
    config: Config,
    seed: int,
    plan: FaultPlan | None = None,
    clients: int = 3,
    duration: float = 4.0,
    settle: float = 3.0,
    workload: KvWorkload | None = None,
    attempt_timeout: float = 0.3,
    op_timeout: float = 1.5,
    spread: bool = False,
) -> RunResult:
    plan = plan or FaultPlan()
    link = LinkModel(plan.delay[0], plan.delay[1], plan.drop, plan.dup)
    world = World(config, seed, link)
    wl = workload or KvWorkload()
    hist = History()
    cs = [
        SimClient(
            world,
            c,
            clients,
            wl,
            hist,
            attempt_timeout=attempt_timeout,
            op_timeout=op_timeout,
            spread=spread,
        )
        for c in range(clients)
    ]
    _client_links(world, cs, plan)
    for c in cs:
        c.start()
    nem = Nemesis(world, plan, hist)
    nem.schedule(until=duration)
    world.run_until(duration)
    nem.heal_all()
    for c in cs:
        c.stop()
    world.run_for(settle)
    violations = check_all(world, hist.events, wl.append_keys)
    ops: dict[str, int] = {}
    for ev in hist.events:
        if ev.get("process") != "nemesis" and ev["type"] != "invoke":
            ops[ev["type"]] = ops.get(ev["type"], 0) + 1
    return RunResult(world, hist.events, violations, ops)


def _client_links(world: World, cs: list[SimClient], plan: FaultPlan) -> None:
    m = LinkModel(plan.delay[0], plan.delay[1], plan.client_drop, 0.0)
    for c in cs:
        for i in world.nodes:
            world.net.set_link(c.name, i, m)
            world.net.set_link(i, c.name, m)


class Nemesis:
    """Random faults from a plan, each logged to the history as a nemesis event."""

    def __init__(self, world: World, plan: FaultPlan, hist: History) -> None:
        self.world, self.plan, self.hist = world, plan, hist
        self.rng = world.rng
        self.down: set[int] = set()

    def log(self, f: str, value: object) -> None:
        self.hist.add(self.world, {"process": "nemesis", "type": "info", "f": f, "value": value})

    def schedule(self, until: float) -> None:
        t = self.world.now
        while True:
            t += self.rng.uniform(*self.plan.interval)
            if t >= until:
                return
            self.world.at(t, self._act)

    def _target(self) -> int:
        ids = list(self.world.nodes)
        if self.plan.crash_leader:
            leaders = [i for i in self.world.leaders() if i not in self.down]
            if leaders and self.rng.random() < 0.7:
                return leaders[0]
        return self.rng.choice(ids)

    def _act(self) -> None:
        p, w = self.plan, self.world
        acts = ["heal"]
        if p.partitions:
            acts += ["partition", "isolate"]
        if p.one_way:
            acts += ["one-way"]
        if p.crashes:
            acts += ["crash", "crash", "restart"]
        if p.bounces:
            acts += ["bounce", "bounce"]
        if p.majority_bounces:
            acts += ["bounce-majority", "bounce-majority"]
        if p.clock_jumps:
            acts += ["clock", "clock"]
        a = self.rng.choice(acts)
        ids = list(w.nodes)
        if a == "heal":
            w.net.heal()
            self.log("heal", None)
        elif a == "partition":
            shuffled = ids[:]
            self.rng.shuffle(shuffled)
            k = self.rng.randint(1, len(ids) - 1)
            groups = [shuffled[:k], shuffled[k:]]
            w.net.heal()
            w.net.partition(groups)
            self.log("partition", groups)
        elif a == "isolate":
            n = self._target()
            w.net.heal()
            w.net.isolate(n, ids)
            self.log("isolate", n)
        elif a == "one-way":
            src = self._target()
            dst = self.rng.choice([i for i in ids if i != src])
            w.net.block(src, dst)
            self.log("block", [src, dst])
        elif a == "clock":
            n = self._target()
            off = self.rng.uniform(-p.clock_jumps, p.clock_jumps)
            w.set_clock_offset(n, off)
            self.log("clock", {"node": n, "offset": round(off, 3)})
        elif a == "bounce-majority":
            up = [i for i in ids if i not in self.down]
            group = self.rng.sample(up, min(len(up), len(ids) // 2 + 1))
            for n in group:
                w.crash(n)
                w.after(self.rng.uniform(0.0, 0.1), lambda n=n: w.restart(n))
            self.log("bounce", sorted(group))
            return
        elif a == "bounce":
            n = self._target()
            if n not in self.down:
                w.crash(n)
                w.after(self.rng.uniform(0.0, 0.05), lambda: w.restart(n))
                self.log("bounce", n)
            return
        elif a == "crash":
            if len(self.down) >= p.max_down:
                a = "restart"
            else:
                n = self._target()
                if n not in self.down:
                    w.crash(n)
                    self.down.add(n)
                    self.log("crash", n)
                return
        if a == "restart" and self.down:
            n = self.rng.choice(sorted(self.down))
            self.down.discard(n)
            w.restart(n)
            self.log("restart", n)

    def heal_all(self) -> None:
        w = self.world
        w.net.heal()
        for n in sorted(self.down):
            w.restart(n)
        self.down.clear()
        self.log("heal-all", None)
