"""Store settings from the command line (``--target-opt KEY=VALUE``), the same on every backend.

Why one module: the docker, local, ssh and simulated backends all build the store's
:class:`~paxos_impl.config.Config` from keyword arguments, so a setting named here reaches the
store in the same way wherever it runs, and it is checked once, before anything starts,
against the configuration file's own schema: an unknown key, a value of the wrong type or a
combination the store refuses is a one-line error, not a failed set-up.

Keys are the configuration file's names: top-level fields (``phase1_quorum``,
``max_clock_drift_ms``, ``snapshot_every``, ...) and ``timeouts.NAME`` for the timers
(``timeouts.lease_ms``). Values are read as JSON when they parse (``2``, ``true``), else
taken as strings (``mode=masterless``).
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

from paxos_impl.config import Config, ConfigError, Timeouts, local_config
from targets.base import TargetError
from targets.options import parse_key_values


class SettingError(ValueError):
    """A store setting that cannot be used; the message is one line for a person."""


# Set elsewhere: node addresses and data directories belong to the backend, bugs to --bug
# and the read route to --read-mode (one way to say each thing).
ELSEWHERE = {
    "nodes": "node addresses are the backend's",
    "data_dir": "data directories are the backend's",
    "bugs": "use --bug NAME",
    "read_mode": "use --read-mode",
}
# Integers where 0 means something (a quorum of 0 is "a majority"; a drift bound may be 0).
ZERO_ALLOWED = {"phase1_quorum", "phase2_quorum", "max_clock_drift_ms", "zone_faults"}


def _defaults() -> dict[str, Any]:
    """Every settable key and its default value (which gives the type)."""
    out: dict[str, Any] = {}
    for f in fields(Config):
        if f.name in ELSEWHERE or f.name == "timeouts":
            continue
        out[f.name] = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
    for f in fields(Timeouts):
        out[f"timeouts.{f.name}"] = f.default
    return out


SETTINGS: dict[str, Any] = _defaults()


def parse(items: list[str]) -> dict[str, Any]:
    """['phase1_quorum=2', 'timeouts.lease_ms=500'] -> {'phase1_quorum': 2, ...}, each checked
    on its own (name and type; the whole is checked by :func:`check`)."""
    try:
        out = parse_key_values(items)
    except TargetError as e:
        raise SettingError(str(e)) from None
    check_each(out)
    return out


def check_each(settings: dict[str, Any]) -> None:
    """Every key known and every value of its setting's type."""
    for key, value in settings.items():
        if key in ELSEWHERE:
            raise SettingError(
                f"store setting {key!r} is not set with --target-opt: {ELSEWHERE[key]}"
            )
        if key not in SETTINGS:
            timer = f"timeouts.{key}"
            hint = f" (did you mean {timer}?)" if timer in SETTINGS else ""
            raise SettingError(
                f"unknown store setting {key!r}{hint}; known: {', '.join(sorted(SETTINGS))}"
            )
        default = SETTINGS[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise SettingError(f"store setting {key} wants true or false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise SettingError(f"store setting {key} wants an integer, got {value!r}")
            least = 0 if key in ZERO_ALLOWED else 1
            if value < least:
                raise SettingError(f"store setting {key} must be at least {least}, got {value}")
        elif isinstance(default, str) and not isinstance(value, str):
            raise SettingError(f"store setting {key} wants a string, got {value!r}")


def config_kwargs(settings: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments every backend passes on to Config (timers as a ``timeouts``
    table, as in the configuration file)."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if key.startswith("timeouts."):
            out.setdefault("timeouts", {})[key.removeprefix("timeouts.")] = value
        else:
            out[key] = value
    return out


def check(settings: dict[str, Any], nodes: int, **config: Any) -> Config:
    """The store configuration these settings give on ``nodes`` nodes (``config``: what the
    run sets otherwise, e.g. read_mode), or SettingError saying why the store would refuse it."""
    check_each(settings)
    kw = {**config, **config_kwargs(settings)}
    if isinstance(kw.get("timeouts"), dict):
        kw["timeouts"] = Timeouts(**kw["timeouts"])
    try:
        return local_config(nodes, **kw)
    except ConfigError as e:
        raise SettingError(f"store settings: {e}") from None
