"""Which key a benchmark client writes next: the conflict and locality knobs.

Keys follow the zones contract of the store (docs/modes.md): ``z<zone>-<rest>`` has its home
in that zone (WPaxos's leaders own keys by zone; the other modes ignore the name). A client
in zone z picks its own zone's keys with probability ``locality`` and another zone's (each
alike) otherwise; ``locality`` None is no locality at all (every zone alike, including its
own). Then, with probability ``conflict``, the key is that zone's one hot key, which every
client that picks the zone shares; else one of the ``OWN_KEYS`` keys of a client "seat":
worker w of Z zones sits at seat w // Z of its zone, and a key ``z<h>-c<seat>-<k>`` belongs
to the client at that seat in zone h. So a client's writes to its own zone touch keys only
it writes, and its writes to another zone touch the keys of the client at its seat there:
the cross-zone traffic the locality knob is about (WPaxos moves such a key's owner back and
forth; EPaxos sees a conflict only when the two writes are concurrent). Keys are a small set
used again and again, not a fresh key per write: a protocol that gives keys an owner pays
its phase 1 once per key and move, as on a real workload. Without zones the names are the
bare ``hot`` and ``w<worker>-<k>`` of the loopback bench.
"""

from __future__ import annotations

import random

OWN_KEYS = 8  # keys per client seat


def pick_key(rng: random.Random, worker: int, i: int, conflict: float,
             zone: int | None = None, zones: int = 1,
             locality: float | None = None) -> str:  # fmt: skip
    """The ``i``-th key of ``worker`` (in ``zone`` of ``zones``)."""
    hot = rng.random() < conflict
    if zone is None or zones <= 1:
        return "hot" if hot else f"w{worker}-{i % OWN_KEYS}"
    rest = "hot" if hot else f"c{worker // zones}-{i % OWN_KEYS}"
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
