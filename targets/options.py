"""``--target-opt KEY=VALUE`` items as a table, before any target reads them."""

from __future__ import annotations

import json
from typing import Any

from targets.base import TargetError


def parse_key_values(items: list[str]) -> dict[str, Any]:
    """['phase1_quorum=2', 'read=serializable'] -> {'phase1_quorum': 2, 'read': 'serializable'}:
    values are JSON when they parse, else strings. The target checks names and types."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TargetError(f"--target-opt wants KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out
