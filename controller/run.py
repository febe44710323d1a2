"""One test run, phase by phase, each saved as it completes.

setup (cluster + store) -> run (clients + nemesis under the time limit) -> heal (every fault
undone) -> recover (wait until every node answers) -> final (the workload's final reads) ->
collect (node logs and data listings) -> teardown -> check -> results.json -> report.html.

The cluster is torn down on every exit path, Ctrl-C included; a teardown error is recorded
next to the verdict, never instead of it. The first SIGINT stops the current phase and goes
to the clean-up phases (the verdict is then "unknown"); each further SIGINT skips the
clean-up step in progress; teardown always happens.

Everything between setup and collect runs on one asyncio loop (see controller.interpreter);
on a backend with the VirtualTime capability (the simulator) that loop is the virtual-time loop
and blocking calls are made directly, so the same phases run deterministically.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import generator as g
import nemesis as nemesis_pkg
import workloads
from cluster.base import Cluster, ClusterError
from cluster.capabilities import Inspect, in_virtual_time
from controller.history import HistoryWriter, op_counts, read_history
from controller.interpreter import Env, Live, ProcessIds, nemesis_step, run_nemesis, run_workers
from controller.progress import show_progress
from controller.spec import TestSpec
from controller.store import RunDir, create_run
from controller.traces import TRACE_FILE, merge_node_traces, write_trace
from nemesis.combined import coverage
from targets.base import Target, TargetClient
from workloads.base import CheckInput

PROBE_KEY = "paxlab-probe"


class Interrupted(Exception):
    """SIGINT arrived during a phase."""


@dataclass
class RunOutcome:
    valid: bool | str
    exit_code: int
    run_dir: Path
    results: dict[str, Any]

    @property
    def report(self) -> Path | None:
        p = self.run_dir / "report.html"
        return p if p.exists() else None


INVARIANTS = "store-invariants"  # the checker seen inside the store (simulator), not by clients


def history_verdict(checkers: dict[str, Any]) -> bool | str:
    """The verdict of the history checkers alone: what a black-box test of a real system sees."""
    return combine(
        [
            r.get("valid")
            for r in checkers.values()
            if isinstance(r, dict) and r.get("seen") != "store"
        ]
    )


def exit_code(valid: Any) -> int:
    return 0 if valid is True else 1 if valid is False else 2


def combine(results: list[Any]) -> bool | str:
    """Any False -> False; else any non-True -> "unknown"; else True (no checker: unknown)."""
    if any(r is False for r in results):
        return False
    if not results or any(r is not True for r in results):
        return "unknown"
    return True


def cluster_name(spec: TestSpec) -> str:
    """Lower-case letters, digits and '-' (what every backend accepts), unique per run."""
    base = re.sub(r"[^a-z0-9]+", "-", spec.test_name.lower())[:24].strip("-") or "test"
    return f"{base}-{secrets.token_hex(3)}"


def make_cluster_for(spec: TestSpec) -> Cluster:
    from cluster import make_cluster

    opts = spec.cluster_opts()
    if spec.target != "bundled":
        opts["program"] = spec.make_target()
    if spec.backend == "sim":
        opts.setdefault("seed", spec.seed)  # the simulated world is part of the seeded plan
    return make_cluster(spec.backend, cluster_name(spec), spec.nodes, **opts)


def run_test(
    spec: TestSpec,
    *,
    cluster: Cluster | None = None,
    results_root: str | Path | None = None,
    progress: bool | None = None,
    runner: Callable[[Coroutine[Any, Any, Any]], Any] | None = None,
    report: bool = True,
) -> RunOutcome:
    """Run a test end to end and store it. Errors in the spec or an impossible nemesis raise
    (SpecError, NemesisError, Unsupported) before anything is created."""
    spec.validate()
    workload = workloads.make(spec.workload, spec.concurrency, spec.target_opts)
    combined = nemesis_pkg.build(spec.nemesis_entries())
    target = spec.make_target()
    if cluster is None:
        cluster = make_cluster_for(spec)
    combined.require(cluster, final=False, refused=target.refused)
    run_dir = create_run(spec.test_name, results_root)
    run_dir.write_spec(spec.to_dict())
    run = Run(spec, cluster, workload, combined, run_dir, progress=progress, target=target)
    run.build_report = report
    return run.go(runner)


class Run:
    """The state of one run; :meth:`go` drives it."""

    def __init__(
        self, spec, cluster, workload, combined, run_dir: RunDir, progress=None, target=None
    ):
        self.spec: TestSpec = spec
        self.target: Target = target if target is not None else spec.make_target()
        self.cluster: Cluster = cluster
        self.workload = workload
        self.combined = combined
        self.fault_events: list[dict[str, Any]] = []  # the fault steps as the schedule gave them
        self.run_dir = run_dir
        self.virtual = in_virtual_time(cluster)
        self.progress = (not self.virtual) if progress is None else progress
        self.history = HistoryWriter(run_dir.history_path, 0.05 if self.virtual else 0.0)
        self.live = Live()
        self.processes = ProcessIds()
        self.interrupted = False
        self.sigints = 0
        self.current: asyncio.Future | None = None
        self.env: Env | None = None
        self.fx: nemesis_pkg.FaultContext | None = None
        self.started_run = False
        self.build_report = True
        self.run_t0 = 0.0  # the cluster's clock when the run phase began
        self.wall_t0_ns = time.time_ns()
        self.wall0 = time.monotonic()
        self.results: dict[str, Any] = {
            "valid": "unknown",
            "test": spec.test_name,
            "workload": spec.workload,
            "nemesis": spec.nemesis,
            "seed": spec.seed,
            "start": datetime.now().isoformat(timespec="seconds"),
            "end": None,
            "duration_s": None,
            "test_time_s": None,
            "ops": {"ok": 0, "fail": 0, "info": 0},
            "checkers": {},
            "error": None,
            "phase": None,
            "phases": [],
            "interrupted": False,
            "cluster": cluster.name,
            "backend": spec.backend,
        }
        self.save()

    # -- bookkeeping ---------------------------------------------------------------------
    def save(self) -> None:
        self.results["ops"] = {k: self.history.counts[k] for k in ("ok", "fail", "info")}
        self.results["duration_s"] = round(time.monotonic() - self.wall0, 3)
        self.run_dir.write_results(self.results)

    def note_error(self, msg: str) -> None:
        if not self.results["error"]:
            self.results["error"] = msg[:500]

    # -- driving -------------------------------------------------------------------------
    def go(self, runner=None) -> RunOutcome:
        try:
            if runner is None:
                if self.virtual:
                    from controller.virtual_loop import run_virtual as runner
                else:
                    runner = _run_real
            try:
                runner(self.execute())
            except KeyboardInterrupt:  # arrived outside our handler (before/after the loop)
                self.interrupted = True
                self.note_error("interrupted by SIGINT")
            except Exception as e:
                self.note_error(f"controller error: {type(e).__name__}: {e}")
        finally:
            with _sigint_deferred():
                self.teardown()
        self.history.flush()
        try:
            self.check()
        except Exception as e:  # a history we cannot read back: say so, keep what we have
            self.results["valid"] = "unknown"
            self.note_error(f"check failed: {type(e).__name__}: {e}")
        self.history.close()
        self.finish()
        return RunOutcome(
            self.results["valid"], exit_code(self.results["valid"]), self.run_dir.path, self.results
        )

    async def execute(self) -> None:
        self.env = Env(direct_calls=self.virtual)
        self._install_sigint()
        self.fx = nemesis_pkg.FaultContext(
            cluster=self.cluster,
            call=self.env.call,
            rng=_rng(self.spec.seed, "nemesis"),
            target=self.target,
            bugs=list(self.spec.bugs),
        )
        progress = None
        if self.progress:
            progress = asyncio.ensure_future(
                show_progress(self.spec.time_limit, self.history, self.live, self.env)
            )
        try:
            await self._main_phases()
            await self._cleanup_phases()
        finally:
            if progress is not None:
                progress.cancel()
                await asyncio.gather(progress, return_exceptions=True)
            self._remove_sigint()

    async def _main_phases(self) -> None:
        try:
            await self._phase("setup", self._setup())
            self.env.restart_clock()
            self.run_t0 = self.cluster.now()
            self.wall_t0_ns = time.time_ns()  # real nodes' traces are stamped by wall clock
            self.started_run = True
            await self._phase("run", self._run())
        except Interrupted as e:
            self.note_error(f"interrupted by SIGINT during {e}")
        except Exception as e:
            self.note_error(f"{self.live.phase} failed: {type(e).__name__}: {e}")

    async def _cleanup_phases(self) -> None:
        steps = [("heal", self._heal)] if self.started_run else []
        if self.started_run and not self.interrupted and not self.results["error"]:
            steps += [("recover", self._recover), ("final", self._final)]
        steps.append(("collect", self._collect))
        for name, step in steps:
            try:
                await self._phase(name, step())
            except Interrupted:
                self.note_error(f"interrupted by SIGINT during {name}")
            except Exception as e:
                self.note_error(f"{name} failed: {type(e).__name__}: {e}")

    async def _phase(self, name: str, coro) -> None:
        self.live.phase = name
        if self.interrupted and name in ("setup", "run", "recover", "final"):
            coro.close()
            raise Interrupted(name)
        task = asyncio.ensure_future(coro)
        self.current = task
        t0 = self.env.loop.time()
        try:
            await task
        except asyncio.CancelledError:
            if self.interrupted:
                raise Interrupted(name) from None
            raise
        finally:
            self.current = None
        self.results["phase"] = name
        self.results["phases"].append(name)
        self.results.setdefault("phase_s", {})[name] = round(self.env.loop.time() - t0, 3)
        self.save()

    # -- SIGINT ------------------------------------------------------------------------------
    def _install_sigint(self) -> None:
        self._sig_installed = False
        if self.virtual or threading.current_thread() is not threading.main_thread():
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._on_sigint)
            self._sig_installed = True
        except (NotImplementedError, RuntimeError, ValueError):
            pass

    def _remove_sigint(self) -> None:
        if getattr(self, "_sig_installed", False):
            try:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _on_sigint(self) -> None:
        self.sigints += 1
        self.interrupted = True
        self.results["interrupted"] = True
        print(
            f"\npaxlab: interrupted ({self.live.phase}); healing and tearing down"
            " (Ctrl-C again skips the current clean-up step)",
            file=sys.stderr,
            flush=True,
        )
        if self.live.phase == "setup" and self.sigints == 1:
            return  # let the cluster finish starting (a docker call cannot be cut short) then stop
        if self.current is not None and not self.current.done():
            self.current.cancel()

    # -- phases ------------------------------------------------------------------------------
    async def _setup(self) -> None:
        await self.env.call(self.cluster.setup)
        # what only a live node tells
        await self.env.call(self.combined.require, self.cluster, True, self.target.refused)
        await self.env.call(self.cluster.start_all, list(self.spec.bugs))
        if not await self._wait_ready(self.spec.recovery_time + 30, every_node=True):
            raise ClusterError(
                f"the cluster did not answer within {self.spec.recovery_time + 30:g}s of starting"
            )

    async def _run(self) -> None:
        spec = self.spec
        rate = spec.rate if spec.rate is not None else self.workload.default_rate
        main = g.time_limit(spec.time_limit, g.rate(rate, self.workload.generator()))
        tasks = [
            asyncio.ensure_future(
                run_workers(
                    main,
                    env=self.env,
                    history=self.history,
                    nodes=list(self.cluster.nodes),
                    concurrency=spec.concurrency,
                    open_client=self._open_client,
                    seed=spec.seed,
                    phase="run",
                    processes=self.processes,
                    op_timeout=spec.op_timeout,
                    live=self.live,
                )
            )
        ]
        if self.combined:
            plan = self.combined.schedule(
                spec.nemesis_interval,
                spec.time_limit,
                spec.nemesis_schedule,
                _rng(spec.seed, "nemesis-schedule"),
                spec.nemesis_events,
            )
            # the schedule as it ran, for results.json (what paxlab sim --shrink starts from)
            sched = nemesis_pkg.Recording(g.time_limit(spec.time_limit, plan), self.fault_events)
            tasks.append(
                asyncio.ensure_future(
                    run_nemesis(
                        sched,
                        self.combined,
                        self.fx,
                        env=self.env,
                        history=self.history,
                        live=self.live,
                    )
                )
            )
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        self.results["test_time_s"] = round(self.env.now(), 3)

    async def _heal(self) -> None:
        if not self.combined:
            return
        value = await nemesis_step(
            "heal", None, self.combined.heal(self.fx), env=self.env, history=self.history
        )
        self.live.faults.clear()
        errors = {
            k: v["error"] for k, v in (value or {}).items() if isinstance(v, dict) and "error" in v
        }
        if errors:
            raise ClusterError(f"heal failed: {errors}")

    async def _recover(self) -> None:
        ok = await self._wait_ready(self.spec.recovery_time, every_node=True)
        self.results["recovered"] = ok

    async def _final(self) -> None:
        nodes = list(self.cluster.nodes)
        final = self.workload.final_generator(nodes)
        if final is None:
            return
        await run_workers(
            g.time_limit(self.spec.final_time_limit, final),
            env=self.env,
            history=self.history,
            nodes=nodes,
            concurrency=self.workload.final_concurrency(nodes),
            open_client=self._open_client,
            seed=self.spec.seed,
            phase="final",
            processes=self.processes,
            op_timeout=self.spec.op_timeout,
            live=self.live,
        )

    async def _collect(self) -> None:
        async def one(node: str) -> str | None:
            try:
                await self.env.call(self.cluster.collect, node, self.run_dir.node_dir(node))
            except Exception as e:
                return f"{node}: {type(e).__name__}: {e}"[:200]
            return None

        errors = [e for e in await asyncio.gather(*(one(n) for n in self.cluster.nodes)) if e]
        if errors:
            self.results["collect_errors"] = errors
        path = self.run_dir.path / TRACE_FILE
        trace = getattr(self.cluster, "message_trace", None)  # the simulator records them all
        if callable(trace):
            recs = trace(self.run_t0)
            if recs:
                self.results["messages"] = write_trace(path, recs)
                dropped = getattr(self.cluster, "messages_dropped", 0)
                if dropped:  # a long run: the oldest went (the report says so)
                    self.results["messages_dropped"] = dropped
        elif any(self.run_dir.path.glob("nodes/*/messages.jsonl")):  # real nodes, on request
            merged = merge_node_traces(self.run_dir.path / "nodes", self.wall_t0_ns)
            self.results["messages"] = write_trace(path, merged)

    # -- the target, from the controller's side -------------------------------------------
    def _client(self, node: str, process: int) -> TargetClient:
        client_id = f"s{self.spec.seed}-p{process}"
        return self.target.client(self.cluster, node, client_id, self.spec.op_timeout)

    async def _open_client(self, node: str, process: int) -> TargetClient:
        return self._client(node, process)

    async def _probe(self, node: str, timeout: float) -> bool:
        conn = self._client(node, -1)
        try:
            await asyncio.wait_for(conn.ready(PROBE_KEY), timeout)
            return True
        except Exception:
            return False
        finally:
            await _aclose(conn)

    async def _wait_ready(self, within: float, every_node: bool) -> bool:
        """Until every node answers its status and a read through it succeeds (or time runs out)."""
        deadline = self.env.loop.time() + within
        pending = list(self.cluster.nodes) if every_node else [self.cluster.nodes[0]]
        while pending:
            left = deadline - self.env.loop.time()
            if left <= 0:
                return False
            results = await asyncio.gather(
                *(self._probe(n, min(2.0, max(0.1, left))) for n in pending)
            )
            pending = [n for n, ok in zip(pending, results, strict=True) if not ok]
            if pending:
                await asyncio.sleep(0.2)
        return True

    # -- after the loop ----------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            self.cluster.teardown()
        except BaseException as e:  # recorded, never instead of the verdict
            self.results["teardown_error"] = f"{type(e).__name__}: {e}"[:500]
            print(f"paxlab: teardown failed: {e}", file=sys.stderr)

    def check(self) -> None:
        completed = "run" in self.results["phases"]
        store = self._store_invariants()
        if self.interrupted or not completed:
            self.results["valid"] = "unknown"
            if store is not None and store.get("valid") is False:
                # a violation seen inside the store is definite even in a run cut short
                self.results["checkers"][INVARIANTS] = store
                self.results["valid"] = False
            if not self.results["error"]:
                self.note_error("the run did not complete")
            return
        events = read_history(self.run_dir.history_path)
        if self.combined:
            self.results["faults"] = {
                "schedule": self.spec.nemesis_schedule
                if self.spec.nemesis_events is None
                else "explicit",
                **coverage(self.combined.requested(), events),
                "events": self.fault_events,
            }
        inp = CheckInput(self.run_dir.history_path, events, self.spec.check_time_limit)
        for name, checker in self.workload.checkers().items():
            try:
                res = checker(inp)
            except Exception as e:
                res = {"valid": "unknown", "error": f"{type(e).__name__}: {e}"[:500]}
            self.results["checkers"][name] = _jsonable(res)
        if store is not None:
            self.results["checkers"][INVARIANTS] = store
        self.results["valid"] = combine([r.get("valid") for r in self.results["checkers"].values()])
        self.results["history_valid"] = history_verdict(self.results["checkers"])
        self.results["phase"] = "check"
        self.results["phases"].append("check")

    def _store_invariants(self) -> dict[str, Any] | None:
        """The backend's own invariant checker (the simulator's), as one more checker result,
        with the seed and the command that replays the run; None where there is none."""
        if not isinstance(self.cluster, Inspect):
            return None
        try:
            res = dict(self.cluster.invariants(self.run_t0))
        except Exception as e:
            res = {"valid": "unknown", "seen": "store", "error": f"{type(e).__name__}: {e}"}
        from controller.report import rerun_command

        res["seed"] = self.spec.seed
        res["replay"] = rerun_command(self.spec.to_dict())
        return _jsonable(res)

    def finish(self) -> None:
        self.results["ops"] = op_counts(read_history(self.run_dir.history_path))
        self.results["end"] = datetime.now().isoformat(timespec="seconds")
        self.results["duration_s"] = round(time.monotonic() - self.wall0, 3)
        self.run_dir.write_results(self.results)
        if not self.build_report:
            return
        from controller import report

        try:
            report.build_report(self.run_dir.path)
        except Exception as e:
            self.results["report_error"] = f"{type(e).__name__}: {e}"[:500]
        self.run_dir.write_results(self.results)


def _run_real(coro: Coroutine[Any, Any, Any]) -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


class _sigint_deferred:
    """During teardown a Ctrl-C only says to wait: a half torn-down cluster helps nobody."""

    def __enter__(self):
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGINT, _say_wait)
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGINT, self.old)


def _say_wait(signum, frame) -> None:
    print("\npaxlab: tearing the cluster down, please wait", file=sys.stderr, flush=True)


def _rng(seed: Any, stream: str):
    import random

    return random.Random(f"{seed}:{stream}")


async def _aclose(conn: Any) -> None:
    try:
        res = conn.close()
        if hasattr(res, "__await__"):
            await res
    except Exception:
        pass


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=str))
