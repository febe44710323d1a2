"""Simulated clients that drive a :class:`~cluster.sim.world.World` and record a history.

Each client behaves like the real client library: one operation at a time, a fresh sequence
number per operation and the *same* one for every retry of it, redirects on ``not_leader``,
a per-attempt timeout after which it tries another node, and an overall deadline after which
the outcome is unknown. The history is in the format of docs/history-format.md (invoke, then ok / fail /
info by the same process; after ``info`` the worker continues under a new process id).
A failure is only recorded as ``fail`` when no earlier attempt could still take effect.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from cluster.sim.world import World


@dataclass
class History:
    events: list[dict] = field(default_factory=list)

    def add(self, world: World, ev: dict) -> dict:
        ev = {"index": len(self.events), "time": int(round(world.now * 1e9)), **ev}
        self.events.append(ev)
        return ev


class KvWorkload:
    """Reads, writes of unique values to register keys, appends of unique values to list keys.

    Unique values make the checks direct: a read names the one write it observed."""

    def __init__(
        self,
        keys: tuple[str, ...] = ("x", "y"),
        append_keys: tuple[str, ...] = ("l",),
        p_read: float = 0.4,
        p_append: float = 0.2,
    ) -> None:
        self.keys, self.append_keys = keys, append_keys
        self.p_read, self.p_append = p_read, p_append
        self.counter = itertools.count(1)

    def next(self, rng: random.Random) -> tuple[str, str | None, Any]:
        x = rng.random()
        if x < self.p_append and self.append_keys:  # a one-element list: appends extend lists
            return "append", rng.choice(self.append_keys), [next(self.counter)]
        key = rng.choice(self.keys + self.append_keys if x < self.p_read else self.keys)
        if x < self.p_read + self.p_append:
            return "read", key, None
        return "write", key, next(self.counter)


class SimClient:
    def __init__(
        self,
        world: World,
        index: int,
        n_clients: int,
        workload: KvWorkload,
        history: History,
        attempt_timeout: float = 0.3,
        op_timeout: float = 1.5,
        think: tuple[float, float] = (0.0, 0.02),
        spread: bool = False,
    ) -> None:
        self.world, self.index, self.n_clients = world, index, n_clients
        self.workload, self.history = workload, history
        self.name = f"client{index}"
        self.client_id = f"c{index}"
        self.process = index
        self.rng = random.Random(world.rng.random())
        self.attempt_timeout, self.op_timeout, self.think = attempt_timeout, op_timeout, think
        self.target = self.rng.choice(list(world.nodes))
        self.spread = spread  # start every operation at a random node (finds stale reads)
        self.seq = 0
        self.op: dict | None = None
        self.stopped = True
        world.client_inbox[self.name] = self._on_reply

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.stopped = False
        self.world.after(self.rng.uniform(*self.think), self._invoke)

    def stop(self) -> None:
        """Invoke nothing new; the operation in progress still completes."""
        self.stopped = True

    @property
    def busy(self) -> bool:
        return self.op is not None

    # -- one operation ------------------------------------------------------------------------
    def _invoke(self) -> None:
        if self.stopped or self.op is not None:
            return
        f, key, value = self.workload.next(self.rng)
        self.seq += 1
        self.op = {"f": f, "key": key, "value": value}
        self.deadline = self.world.now + self.op_timeout
        self.uncertain = False
        self.attempt = 0
        if self.spread:
            self.target = self.rng.choice(list(self.world.nodes))
        self.history.add(
            self.world,
            {
                "process": self.process,
                "type": "invoke",
                "f": f,
                "key": key,
                "value": value,
                "client_id": self.client_id,
                "seq": self.seq,
            },
        )
        self._send()

    def _send(self) -> None:
        self.attempt += 1
        op = self.op
        req = {
            "op": op["f"],
            "key": op["key"],
            "value": op["value"],
            "client_id": self.client_id,
            "seq": self.seq,
        }
        handle = (self.name, self.seq, self.attempt)
        self.world.request(self.name, self.target, handle, req)
        seq, attempt = self.seq, self.attempt
        self.world.after(self.attempt_timeout, lambda: self._attempt_timed_out(seq, attempt))

    def _retry(self, node: int | None) -> None:
        if self.world.now >= self.deadline:
            self._complete("info" if self.uncertain else "fail", error="timeout")
            return
        self.target = node if node is not None else self._other_node()
        self._send()

    def _other_node(self) -> int:
        others = [i for i in self.world.nodes if i != self.target]
        return self.rng.choice(others) if others else self.target

    def _attempt_timed_out(self, seq: int, attempt: int) -> None:
        if self.op is None or seq != self.seq or attempt != self.attempt:
            return
        self.uncertain = True  # that attempt may still take effect
        self._retry(None)

    def _on_reply(self, rep: dict) -> None:
        handle = rep.pop("_handle")
        if self.op is None or handle[1] != self.seq:
            return  # a late answer to an operation already completed
        node = self.target
        if rep.get("ok"):
            value = rep.get("value") if self.op["f"] == "read" else self.op["value"]
            self._complete("ok", value=value, node=node)
            return
        err = rep.get("error")
        if err == "mismatch":
            self._complete("fail", error="mismatch", node=node)
        elif err == "not_leader":
            if handle[2] != self.attempt:
                return
            hint = rep.get("leader")
            self._retry(hint if hint is not None and hint != node else None)
        elif err == "timeout":
            self.uncertain = True
            if handle[2] == self.attempt:
                self._retry(None)
        elif handle[2] == self.attempt:
            self._complete("info" if self.uncertain else "fail", error=err, node=node)

    def _complete(
        self, type_: str, value: Any = None, error: str | None = None, node: int | None = None
    ) -> None:
        op = self.op
        ev = {
            "process": self.process,
            "type": type_,
            "f": op["f"],
            "key": op["key"],
            "value": value if type_ == "ok" else op["value"],
            "client_id": self.client_id,
            "seq": self.seq,
        }
        if error:
            ev["error"] = error
        if node is not None:
            ev["node"] = node
        self.history.add(self.world, ev)
        self.op = None
        if type_ == "info":
            self.process += self.n_clients
        if not self.stopped:
            self.world.after(self.rng.uniform(*self.think), self._invoke)
