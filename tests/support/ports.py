"""Free loopback ports for tests that start real listeners (nodes, servers, fakes)."""

from __future__ import annotations

import socket

from paxos_impl.config import Config


def free_ports(n: int) -> list[int]:
    """n distinct ports the kernel just handed out on 127.0.0.1 (all bound at once, so no
    two are the same, then released for the test to use)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def on_free_ports(cfg: Config) -> Config:
    """The configuration with every node's peer and client port free (so tests running side
    by side, or a store already on the default ports, do not collide); returns it."""
    ports = free_ports(2 * len(cfg.nodes))
    for i, a in enumerate(cfg.nodes):
        a.peer_port, a.client_port = ports[2 * i], ports[2 * i + 1]
    return cfg
