"""Which key a benchmark client writes next: the conflict and locality knobs.

Keys follow the zones contract of the store (docs/modes.md): ``z<zone>-<rest>`` has its home
in that zone (WPaxos's leaders own keys by zone; the other modes ignore the name). A client
in zone z picks its own zone's keys with probability ``locality`` and another zone's (each
alike) otherwise; ``locality`` None is no locality at all (every zone alike, including its
own). Then, with probability ``conflict``, the key is that zone's one hot key, which every
client that picks the zone shares; else one of the worker's own ``OWN_KEYS`` keys, which no
other client writes. Own keys are a small set used again and again, not a fresh key per
write: a protocol that gives a key an owner (WPaxos) pays its phase 1 once per key and
then commits in its zone, as it would on a real workload; a fresh key per write would
measure nothing but steals. Without zones the names are the bare ``hot`` and
``w<worker>-<k>`` of the loopback bench.
"""

from __future__ import annotations

import random

OWN_KEYS = 8  # keys per worker that only it writes


def pick_key(rng: random.Random, worker: int, i: int, conflict: float,
             zone: int | None = None, zones: int = 1,
             locality: float | None = None) -> str:  # fmt: skip
    """The ``i``-th key of ``worker`` (in ``zone`` of ``zones``)."""
    rest = "hot" if rng.random() < conflict else f"w{worker}-{i % OWN_KEYS}"
    if zone is None or zones <= 1:
        return rest
    if locality is None:
        home = rng.randrange(zones)
    elif rng.random() < locality:
        home = zone
    else:
        k = rng.randrange(zones - 1)
        home = k if k < zone else k + 1
    return f"z{home}-{rest}"


def home_zone(key: str) -> int | None:
    """The zone a key belongs to by its name (None: no home)."""
    head, sep, _ = key.partition("-")
    if sep and head[:1] == "z" and head[1:].isdigit():
        return int(head[1:])
    return None
