"""Network faults as commands to run on a node: iptables partitions and loss, tc netem delay.

Why commands and not actions: the docker backend runs them with ``docker exec``, the ssh
backend over SSH and the local backend on the host, so this module only *writes* them and
reads their results through a ``run(cmd) -> ExecResult`` callable each backend supplies.

Partitions and loss live in chains of our own (PAXLAB, PAXLAB-LOSS) hooked into INPUT, so
Docker's rules and anyone else's are never touched. A chain's whole content is replaced in
one ``iptables-restore --noflush`` transaction (declaring a chain in a restore file empties
it), so a partition changes from one shape to the next with no moment of half-applied rules.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Mapping

from cluster.base import ClusterError, ExecResult, Unsupported

CHAIN = "PAXLAB"
LOSS_CHAIN = "PAXLAB-LOSS"
HOOK = "INPUT"

Runner = Callable[[list[str]], ExecResult]
Drop = tuple[str, str | None]  # (source address, destination address or None for any)


# -- rule text -----------------------------------------------------------------------------
def partition_restore(drops: Iterable[Drop], chain: str = CHAIN) -> str:
    """An iptables-restore file that makes `chain` drop exactly these (source, dest) pairs."""
    lines = ["*filter", f":{chain} - [0:0]"]
    for src, dst in sorted(set(drops), key=lambda d: (d[0], d[1] or "")):
        rule = f"-A {chain} -s {src}/32"
        if dst:
            rule += f" -d {dst}/32"
        lines.append(rule + " -j DROP")
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def loss_restore(probability: float, chain: str = LOSS_CHAIN, exempt: str = "lo") -> str:
    """Drop each incoming packet with `probability` (iptables' statistic match)."""
    if not 0 <= probability <= 1:
        raise ClusterError(f"loss must be a probability within 0..1, got {probability}")
    lines = ["*filter", f":{chain} - [0:0]"]
    if probability > 0:
        lines.append(
            f"-A {chain} ! -i {exempt} -m statistic --mode random "
            f"--probability {probability:.6f} -j DROP"
        )
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def apply_command(restore_text: str, chain: str, hook: str = HOOK) -> list[str]:
    """A shell command that loads the rules atomically, then hooks the chain in (once)."""
    script = (
        'printf "%s" "$1" | iptables-restore --noflush'
        f" && (iptables -C {hook} -j {chain} 2>/dev/null || iptables -I {hook} 1 -j {chain})"
    )
    return ["sh", "-c", script, "sh", restore_text]


def remove_command(chains: Iterable[str] = (CHAIN, LOSS_CHAIN), hook: str = HOOK) -> list[str]:
    """Unhook and delete our chains; safe when they are not there."""
    parts = []
    for c in chains:
        parts.append(
            f"while iptables -D {hook} -j {c} 2>/dev/null; do :; done;"
            f" iptables -F {c} 2>/dev/null; iptables -X {c} 2>/dev/null;"
        )
    return ["sh", "-c", " ".join(parts) + " true"]


def netem_command(iface: str, delay_ms: float, jitter_ms: float = 0) -> list[str]:
    cmd = ["tc", "qdisc", "replace", "dev", iface, "root", "netem", "delay", f"{delay_ms:g}ms"]
    if jitter_ms:
        cmd += [f"{jitter_ms:g}ms", "distribution", "normal"]
    return cmd


def netem_clear_command(iface: str) -> list[str]:
    """Remove any root qdisc we put there (no error if there is none)."""
    return ["sh", "-c", f"tc qdisc del dev {shlex.quote(iface)} root 2>/dev/null; true"]


def netem_probe_command(iface: str) -> list[str]:
    """Add and remove a zero-delay netem: fails exactly when the kernel lacks sch_netem."""
    q = shlex.quote(iface)
    return ["sh", "-c", f"tc qdisc add dev {q} root netem delay 0ms && tc qdisc del dev {q} root"]


def netem_unsupported_reason(probe: ExecResult) -> str | None:
    """None if the probe worked, else a one-line reason a person can act on."""
    if probe.ok:
        return None
    err = (probe.stderr or probe.stdout).strip().splitlines()
    msg = err[-1] if err else f"exit {probe.exit_code}"
    if "unknown" in msg.lower():
        return (
            "this kernel has no netem queueing discipline (sch_netem), so network delay "
            "cannot be injected; packet loss still works (iptables statistic)"
        )
    return f"tc netem does not work here: {msg}"


# -- applying ------------------------------------------------------------------------------
def _check(result: ExecResult, what: str) -> None:
    if not result.ok:
        err = (result.stderr or result.stdout).strip().splitlines()
        raise ClusterError(f"{what} failed: {err[-1] if err else f'exit {result.exit_code}'}")


def apply_partition(run: Runner, drops: Iterable[Drop]) -> None:
    _check(run(apply_command(partition_restore(drops), CHAIN)), "iptables partition")


def heal(run: Runner) -> None:
    apply_partition(run, [])


def set_loss(run: Runner, probability: float) -> None:
    _check(run(apply_command(loss_restore(probability), LOSS_CHAIN)), "iptables loss")


def set_delay(run: Runner, iface: str, delay_ms: float, jitter_ms: float = 0) -> None:
    if delay_ms <= 0 and jitter_ms <= 0:
        run(netem_clear_command(iface))
        return
    r = run(netem_command(iface, delay_ms, jitter_ms))
    reason = netem_unsupported_reason(r)
    if reason:
        raise Unsupported(reason)


def drops_for(
    grudge: Mapping[str, Iterable[str]], addresses: Mapping[str, str]
) -> dict[str, list[Drop]]:
    """Node -> the (source, None) pairs it must drop, for every node (empty = no rules).

    ``grudge`` maps a node to the nodes it drops traffic FROM; unknown names are an error
    (a typo in a nemesis would otherwise silently partition nothing).
    """
    unknown = sorted(
        {n for n in grudge if n not in addresses}
        | {m for srcs in grudge.values() for m in srcs if m not in addresses}
    )
    if unknown:
        raise ClusterError(f"partition names unknown nodes: {', '.join(unknown)}")
    return {
        node: [(addresses[src], None) for src in sorted(grudge.get(node, ())) if src != node]
        for node in addresses
    }
