"""Zones and wide-area latency for the simulator: which node is in which zone, and how far
apart the zones are.

Why here and pure: the simulator's network (one-way delay per pair of zones), the sim
backend (clients placed in their node's zone) and the family bench (keys with a home zone)
all need the same grouping, and the store's own ``zones`` setting (WPaxos) means the same
thing. ``zones=Z`` is Z contiguous groups of equal size, the first ones taking the
remainder (9 nodes, 3 zones: 0,1,2 / 3,4,5 / 6,7,8; 5 nodes, 2 zones: 0,1,2 / 3,4);
``zones=0,1,2/3,4,5`` or a list of lists names them explicitly.

A latency matrix gives the one-way delay in milliseconds from zone a to zone b; the
diagonal is the delay between two nodes of the same zone. Named presets are AWS-like: round
trips of tens of milliseconds between regions, half a millisecond inside one (the shape of
the figures in Paxi's comparison of the Paxos family).
"""

from __future__ import annotations

from typing import Any

from paxos_impl.config import ConfigError, zone_lists

# One-way delays in ms. wan3: Virginia, Oregon, Ireland (round trips ~70, ~80, ~140 ms);
# wan5 adds California and Tokyo. lan3: three zones with no distance between them (the
# same grouping without the wide area: a control for the wan figures).
PRESETS: dict[str, list[list[float]]] = {
    "wan3": [
        [0.5, 35.0, 40.0],
        [35.0, 0.5, 70.0],
        [40.0, 70.0, 0.5],
    ],
    "wan5": [
        [0.5, 35.0, 40.0, 31.0, 80.0],
        [35.0, 0.5, 70.0, 11.0, 50.0],
        [40.0, 70.0, 0.5, 75.0, 110.0],
        [31.0, 11.0, 75.0, 0.5, 55.0],
        [80.0, 50.0, 110.0, 55.0, 0.5],
    ],
    "lan3": [[0.5] * 3 for _ in range(3)],
}


class ZoneError(ValueError):
    """A zone grouping or latency matrix that cannot be used; one line for a person."""


def zone_groups(spec: Any, ids: list[int]) -> list[list[int]]:
    """The zones of the nodes ``ids``: ``spec`` is a count (int or digit string), an explicit
    ``"0,1,2/3,4,5"`` or a list of lists of node ids; every node in exactly one zone.

    The store's own parser decides (the simulator must group nodes exactly as the store's
    ``zones`` setting does); its ConfigError becomes a ZoneError here."""
    if isinstance(spec, str) and spec.strip().isdigit():
        spec = int(spec)
    if isinstance(spec, tuple):
        spec = [list(g) for g in spec]
    elif isinstance(spec, list):
        spec = [list(g) if isinstance(g, tuple) else g for g in spec]
    try:
        groups = zone_lists(spec, ids)
    except ConfigError as e:
        raise ZoneError(str(e)) from None
    if not groups:
        raise ZoneError(f"zones {spec!r}: every node of {ids} must be in exactly one zone")
    return groups


def zone_of(groups: list[list[int]]) -> dict[int, int]:
    """node id -> its zone's index."""
    return {i: z for z, g in enumerate(groups) for i in g}


def latency_matrix(value: Any) -> list[list[float]]:
    """A square matrix of one-way delays in ms from a preset name, ``"0.5,30/30,0.5"`` (rows
    separated by ``/``) or a list of lists; symmetric or not, every entry >= 0."""
    if isinstance(value, str) and value in PRESETS:
        return [list(r) for r in PRESETS[value]]
    rows: Any = value
    if isinstance(value, str):
        try:
            rows = [[float(x) for x in r.split(",")] for r in value.split("/")]
        except ValueError:
            known = ", ".join(PRESETS)
            raise ZoneError(
                f"latency wants a preset ({known}) or rows of ms like 0.5,30/30,0.5, got {value!r}"
            ) from None
    ok = isinstance(rows, list | tuple) and rows and all(isinstance(r, list | tuple) for r in rows)
    if not ok:
        raise ZoneError(f"latency wants a preset or a square matrix of ms, got {value!r}")
    try:
        m = [[float(x) for x in r] for r in rows]
    except (TypeError, ValueError):
        raise ZoneError(f"latency matrix entries must be numbers (ms), got {value!r}") from None
    if any(len(r) != len(m) for r in m):
        raise ZoneError(
            f"latency matrix must be square, got {len(m)} rows of {[len(r) for r in m]}"
        )
    if any(x < 0 or x != x for r in m for x in r):
        raise ZoneError("latency matrix entries must be non-negative ms")
    return m
