"""JSON as the simulator's wire and disk format: what the stdlib gives, at orjson's speed.

Everything that crosses a simulated wire or lands on a simulated disk is encoded and decoded
again, which both copies it (the receiver cannot share the sender's objects) and proves it is
JSON. The stdlib round trip was a fifth of a simulation's time; orjson does the same in a
tenth of it. The result must be what ``json.loads(json.dumps(x))`` gives, or schedules (and
checks) would depend on the codec, so orjson is used only where it is known to agree:

- anything orjson refuses (non-string keys, integers beyond 64 bits, lone surrogates,
  subclasses of str/int/dict/list, dataclasses, dates) goes through ``json`` as before;
- a payload remembers which codec made it (bytes: orjson, str: json), and is decoded by
  the same one (orjson would read a huge integer back as a float).

One difference is accepted: orjson writes NaN and infinities as ``null`` where json writes
``NaN``. They cannot reach the simulator: the client refuses to send them, as the real wire
does (``paxos_impl.wire.encode``, allow_nan=False), and the core makes no floats of its
own. Checking every payload for them cost a json encode per message with a null in it
(every logged read), a tenth of the simulator's own time.

orjson also encodes UUIDs and Enum members, which json refuses; the Paxos core (stdlib
only) puts neither into a message.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_STRICT = (
    orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
)
_dumps = orjson.dumps
_loads = orjson.loads


def encode(x: Any) -> bytes | str:
    """x as JSON text (TypeError exactly when ``json.dumps`` raises it)."""
    try:
        return _dumps(x, option=_STRICT)
    except TypeError:
        return json.dumps(x)


def decode(data: bytes | str) -> Any:
    """The object ``encode`` was given, as JSON hands it back (tuples become lists...)."""
    if type(data) is bytes:
        return _loads(data)
    return json.loads(data)


def copy(x: Any) -> Any:
    """``json.loads(json.dumps(x))``: a deep copy that also proves x is JSON."""
    return decode(encode(x))
