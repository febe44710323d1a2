"""Byte and shape limits: what a value may look like, and how messages are cut to fit a frame.

Every message a node sends must fit in one frame (``config.max_frame_bytes``), or it can
never be sent: a value a few bytes under the limit used to produce an accept a few bytes
over it, and the cluster wedged for good. So sizes are decided in one place:

- a client value must be finite, nested at most ``max_value_depth`` deep, and its command
  at most ``max_command_bytes`` when encoded (checked at the door, answered ``bad_request``);
- batches, accepts, learn/catch-up, promise and snapshot messages are cut so that their
  entries add up to at most :func:`payload_budget` bytes, which leaves room for the
  envelope (type, ballot, commit...) under the frame limit. One command always fits, because
  ``max_command_bytes`` is checked to be below half that budget (see ``Config.validate``):
  a promise carries at most half a budget of chosen and half of accepted slots.

Sizes are those of ``json.dumps(..., separators=(",", ":"))``, the wire's own encoding, so
they are exact and the same on every replica (the core stays deterministic).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any

ENVELOPE_BYTES = 8192  # room for a message's own fields around its entries
ENTRY_OVERHEAD = 48  # "[slot,[round,node],...]," around one entry's batch
_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, check_circular=False).encode


def encoded_size(obj: Any) -> int:
    """Bytes of ``obj`` as the wire encodes it (ValueError/RecursionError if it cannot be)."""
    return len(_dumps(obj))


def payload_budget(max_frame_bytes: int) -> int:
    """Bytes the entries of one message may take so the whole message fits in a frame."""
    return max(max_frame_bytes - ENVELOPE_BYTES, 1)


def batch_budget(max_frame_bytes: int) -> int:
    """Bytes one slot's batch may take: half a message's budget, so that a promise can carry
    one chosen and one accepted slot side by side and still fit in a frame."""
    return payload_budget(max_frame_bytes) // 2


def value_problem(v: Any, max_depth: int) -> str | None:
    """Why ``v`` cannot be stored (None: it can): non-finite numbers and nesting deeper than
    ``max_depth`` would break the node's log and wire writers (and the JSON of every reader).
    Iterative, so a hostile depth cannot exhaust the stack here either."""
    t = type(v)
    if t is int or t is str or t is bool or v is None:  # the common case, at once
        return None
    stack: list[tuple[Any, int]] = [(v, 1)]
    while stack:
        x, depth = stack.pop()
        t = type(x)
        if t is float:
            if not math.isfinite(x):
                return "numbers must be finite"
        elif t is list:
            if depth > max_depth:
                return f"values may nest at most {max_depth} deep"
            stack.extend((y, depth + 1) for y in x)
        elif t is dict:
            if depth > max_depth:
                return f"values may nest at most {max_depth} deep"
            for k, y in x.items():
                if type(k) is not str:
                    return "object keys must be strings"
                stack.append((y, depth + 1))
        elif not (t is int or t is str or t is bool or x is None):
            return f"{t.__name__} is not a JSON value"
    return None


def take_batch(
    queue: list[dict], max_count: int, budget: int, size_of: Callable[[dict], int]
) -> int:
    """How many commands from the head of ``queue`` go into one slot: at most ``max_count``,
    their sizes adding up to at most ``budget`` (but always at least one)."""
    total = 0
    n = 0
    for cmd in queue[:max_count]:
        size = size_of(cmd) + 1
        if n and total + size > budget:
            break
        total += size
        n += 1
    return n


def chunks(
    entries: Iterable[Any], budget: int, size_of: Callable[[Any], int], max_count: int = 0
) -> list[list[Any]]:
    """Cut ``entries`` into consecutive lists whose sizes add up to at most ``budget``
    (and at most ``max_count`` entries each, when that is set); none is empty."""
    out: list[list[Any]] = []
    cur: list[Any] = []
    total = 0
    for e in entries:
        size = size_of(e) + ENTRY_OVERHEAD
        if cur and (total + size > budget or (max_count and len(cur) >= max_count)):
            out.append(cur)
            cur, total = [], 0
        cur.append(e)
        total += size
    if cur:
        out.append(cur)
    return out


def prefix_within(entries: Iterable[Any], budget: int, size_of: Callable[[Any], int]) -> list:
    """The longest prefix of ``entries`` whose sizes add up to at most ``budget`` (at least
    one entry, when there is one: a single entry always fits by construction)."""
    out: list[Any] = []
    total = 0
    for e in entries:
        size = size_of(e) + ENTRY_OVERHEAD
        if out and total + size > budget:
            break
        out.append(e)
        total += size
    return out
