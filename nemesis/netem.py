"""A slow or lossy network: delay with jitter (tc netem) and packet loss.

Delay needs the kernel's netem, which some kernels lack; the backend says so through its
capabilities, and we refuse up front instead of failing mid-run. A bare ``netem`` runs the
kinds this backend supports; ``netem:delay`` insists on delay.
"""

from __future__ import annotations

from typing import Any

from cluster.capabilities import Netem
from nemesis.base import FaultContext, Nemesis, on_each

KIND_CAPS = {"delay": "netem-delay", "loss": "netem-loss"}


class NetemNemesis(Nemesis):
    name = "netem"
    KINDS = ("delay", "loss")

    def requires(self, capabilities: set[str], final: bool = True) -> set[str]:
        """Before set-up ``capabilities`` is what the backend could do once its nodes run
        (delay still possible where it is probed on a live node), so a kind the backend can
        never do is refused then; after set-up a bare ``netem`` narrows to what is there."""
        if not self.explicit:
            supported = [k for k in self.kinds if KIND_CAPS[k] in capabilities]
            if supported:
                self.kinds = supported
        return {KIND_CAPS[k] for k in self.kinds}

    async def start(self, kind: str, fx: FaultContext) -> dict[str, Any]:
        nodes = list(fx.cluster.nodes)
        if kind == "delay":
            delay = round(fx.rng.uniform(50, 200), 1)
            jitter = round(delay / 2, 1)
            await on_each(fx, fx.can(Netem).netem, nodes, delay_ms=delay, jitter_ms=jitter)
            return {"kind": kind, "nodes": nodes, "delay_ms": delay, "jitter_ms": jitter}
        loss = round(fx.rng.uniform(0.1, 0.3), 3)
        await on_each(fx, fx.can(Netem).netem, nodes, loss=loss)
        return {"kind": kind, "nodes": nodes, "loss": loss}

    async def stop(self, fx: FaultContext) -> dict[str, Any]:
        await fx.call(fx.can(Netem).heal_netem)
        return {"healed": "netem"}

    async def heal(self, fx: FaultContext) -> dict[str, Any]:
        return await self.stop(fx)
