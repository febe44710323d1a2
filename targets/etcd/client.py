"""etcd's v3 API through its JSON gateway, as the operations of paxlab's workloads.

Why the JSON gateway and aiohttp, not gRPC: every etcd since 3.3 serves the gateway on its
client port with no extra flag, so the suite needs no generated protobuf code and no
``grpcio`` wheel (large, and tied to a protobuf runtime); aiohttp is a maintained asyncio HTTP
client whose connection pool holds hundreds of concurrent keep-alive connections cheaply,
which the benchmark's 256 clients need. The cost is JSON and base64 per request, the same
for every client count, so it shifts both sides of a comparison alike.

Operations (keys and values are base64 on the wire; a value is its JSON text):

* read: ``/v3/kv/range``, linearizable unless ``serializable=True`` (then etcd answers from
  the member's own state, which may be stale: the documented weak setting).
* write: ``/v3/kv/put``.
* cas: ``/v3/kv/txn`` comparing the value with the expected one (a missing key: its create
  revision with 0), putting the new value if it matches. ``succeeded`` false is a mismatch.
* append: read the value and its mod revision, then a txn that puts old + new if the mod
  revision is unchanged, else returns the key again (its failure branch) and we retry.

Outcomes follow the bundled store's client: :class:`CasMismatch` when the compare was
refused, :class:`DefiniteFailure` when the request certainly did nothing (the connection was
refused before anything was sent, or etcd rejected it before proposing), and
:class:`Indeterminate` for a timeout, a lost connection or an error after the request may
have been proposed. A read never changes anything, so every failed read is definite.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp

from paxos_impl.client import CasMismatch, DefiniteFailure, Indeterminate

# gRPC status codes etcd returns before a request reaches raft: the request did nothing.
# 3 INVALID_ARGUMENT (bad key, value too large), 8 RESOURCE_EXHAUSTED ("too many requests").
DEFINITE_GRPC_CODES = frozenset({3, 8})
APPEND_RETRY_PAUSE = 0.01


def encode_value(value: Any) -> bytes:
    """The bytes a value is stored as: canonical JSON, so equal values compare equal in a txn."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def decode_value(raw: bytes) -> Any:
    """A stored value back; bytes that are not JSON (written by someone else) as a string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def key_bytes(key: str | None) -> str:
    """A history key as an etcd key (the single register of the register workload: 'r')."""
    return b64("r" if key is None else key)


def extend(old: Any, new: Any) -> Any:
    """The store's append: lists extend, strings concatenate, nothing yet takes the new value."""
    if old is None:
        return new
    if isinstance(old, list) and isinstance(new, list):
        return old + new
    if isinstance(old, str) and isinstance(new, str):
        return old + new
    raise DefiniteFailure(
        f"cannot append {type(new).__name__} to {type(old).__name__}", "bad_request"
    )


class EtcdError(Exception):
    """An error answer from etcd's gateway: its gRPC code and message."""

    def __init__(self, code: int | None, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class EtcdClient:
    """One connection's worth of operations against one etcd member's client URL.

    Raises the bundled store's outcome exceptions (see the module doc), so the workloads'
    client maps both targets onto the history alike. Every request has a deadline, so
    ``bounded`` is true: nothing this client awaits can hang.
    """

    bounded = True

    def __init__(self, url: str, timeout: float = 5.0, serializable: bool = False) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.serializable = serializable
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit=4, force_close=False),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    # -- the HTTP exchange, and what its failures mean ---------------------------------------
    async def _call(self, path: str, body: dict[str, Any], timeout: float | None = None) -> dict:
        """POST to the gateway; EtcdError for an error answer, the transport's error as is."""
        kw = {}
        if timeout is not None:
            kw["timeout"] = aiohttp.ClientTimeout(total=max(timeout, 0.001))
        async with self._http().post(self.url + path, json=body, **kw) as resp:
            text = await resp.text()
            try:
                doc = json.loads(text) if text else {}
            except ValueError:
                doc = {"error": text[:200]}
            if resp.status != 200 or "error" in doc:
                code = doc.get("code") if isinstance(doc, dict) else None
                msg = (doc.get("message") or doc.get("error") or f"HTTP {resp.status}")[:200]
                raise EtcdError(code if isinstance(code, int) else None, msg, resp.status)
            return doc

    async def _write_call(self, path: str, body: dict[str, Any], timeout: float | None = None):
        """A request that may change state: map failures onto definite or indeterminate."""
        try:
            return await self._call(path, body, timeout)
        except EtcdError as e:
            if e.code in DEFINITE_GRPC_CODES:
                raise DefiniteFailure(f"etcd refused: {e.message}", f"grpc-{e.code}") from None
            raise Indeterminate(f"outcome unknown: {e.message}", f"grpc-{e.code}") from None
        except aiohttp.ClientConnectorError as e:  # no connection: nothing was sent
            raise DefiniteFailure(f"{self.url} unreachable: {e.os_error}", "unavailable") from None
        except TimeoutError:
            raise Indeterminate(f"{self.url}: no reply in time", "timeout") from None
        except (aiohttp.ClientError, OSError) as e:
            raise Indeterminate(f"{self.url}: {type(e).__name__}: {e}"[:200], "lost") from None

    async def _read_call(self, key: str | None, timeout: float | None = None) -> dict:
        """A range of one key: every failure is definite, a read changes nothing."""
        body: dict[str, Any] = {"key": key_bytes(key)}
        if self.serializable:
            body["serializable"] = True
        try:
            return await self._call("/v3/kv/range", body, timeout)
        except EtcdError as e:
            raise DefiniteFailure(f"read refused: {e.message}", f"grpc-{e.code}") from None
        except aiohttp.ClientConnectorError as e:
            raise DefiniteFailure(f"{self.url} unreachable: {e.os_error}", "unavailable") from None
        except TimeoutError:
            raise DefiniteFailure(f"{self.url}: read timed out", "timeout") from None
        except (aiohttp.ClientError, OSError) as e:
            raise DefiniteFailure(f"read lost: {type(e).__name__}: {e}"[:200], "lost") from None

    # -- operations --------------------------------------------------------------------------
    async def read(self, key: str | None) -> Any:
        doc = await self._read_call(key)
        value, _ = _value_and_revision(doc.get("kvs"))
        return value

    async def write(self, key: str | None, value: Any) -> None:
        await self._write_call(
            "/v3/kv/put", {"key": key_bytes(key), "value": b64(encode_value(value))}
        )

    async def cas(self, key: str | None, expected: Any, new: Any) -> None:
        k = key_bytes(key)
        if expected is None:  # "still absent": nobody created it
            compare = {"key": k, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
        else:
            compare = {
                "key": k,
                "target": "VALUE",
                "result": "EQUAL",
                "value": b64(encode_value(expected)),
            }
        doc = await self._write_call(
            "/v3/kv/txn",
            {"compare": [compare], "success": [_put(k, new)], "failure": []},
        )
        if not doc.get("succeeded"):  # the gateway omits false booleans
            raise CasMismatch("cas saw another value", "mismatch")

    async def append(self, key: str | None, value: Any) -> None:
        """Read-modify-write guarded by the key's mod revision, retried until the deadline.

        A conflict is definite (the txn's compare refused it), so retrying is safe; the
        failure branch returns the key again, so a retry costs one round trip, not two.
        Once any attempt's outcome is unknown the whole append is indeterminate."""
        deadline = time.monotonic() + self.timeout
        k = key_bytes(key)
        current, rev = _value_and_revision((await self._read_call(key, self.timeout)).get("kvs"))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DefiniteFailure("append kept conflicting until its deadline", "conflict")
            compare = {"key": k, "target": "MOD", "result": "EQUAL", "mod_revision": str(rev)}
            doc = await self._write_call(
                "/v3/kv/txn",
                {
                    "compare": [compare],
                    "success": [_put(k, extend(current, value))],
                    "failure": [{"request_range": {"key": k}}],
                },
                timeout=left,
            )
            if doc.get("succeeded"):
                return
            kvs = []
            for r in doc.get("responses") or []:
                kvs = (r.get("response_range") or {}).get("kvs") or kvs
            current, rev = _value_and_revision(kvs)
            await asyncio.sleep(APPEND_RETRY_PAUSE)


def _put(k: str, value: Any) -> dict[str, Any]:
    return {"request_put": {"key": k, "value": b64(encode_value(value))}}


def _value_and_revision(kvs: list[dict[str, Any]] | None) -> tuple[Any, int]:
    """The decoded value and mod revision of a range's one key; (None, 0) when it is absent
    (etcd compares a missing key's revisions as 0)."""
    if not kvs:
        return None, 0
    kv = kvs[0]
    return decode_value(unb64(kv.get("value", ""))), int(kv.get("mod_revision", 0))
