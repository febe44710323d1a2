"""The bundled store's node program: what a backend runs on a node unless told otherwise.

Backends start whatever :class:`cluster.base.NodeProgram` they are given; this is the one
they know without a target (``paxlab cluster up``), and the bundled target builds on it.
"""

from __future__ import annotations

from cluster.base import Install, Launch, store_id


class PaxosServer:
    """``python -m paxos_impl.server ID --config cluster.toml --data-dir DIR [--bug B]``."""

    install = Install(python_packages=("paxos_impl",))
    data_dir = "data"
    # (messages.jsonl: the node's message trace, when its config asks for one)
    log_files: tuple[str, ...] = ("store.log", "messages.jsonl", "messages.jsonl.1")

    def command(self, launch: Launch) -> list[str]:
        cmd = [launch.python, "-m", "paxos_impl.server", str(store_id(launch.node))]
        if launch.config_path:
            cmd += ["--config", launch.config_path]
        cmd += ["--data-dir", f"{launch.node_dir}/{self.data_dir}"]
        for b in launch.bugs:
            cmd += ["--bug", b]
        if launch.extra.get("join"):  # a node added while the cluster runs (membership)
            cmd += ["--join", launch.extra["join"]]
        return cmd


PAXOS_SERVER = PaxosServer()
