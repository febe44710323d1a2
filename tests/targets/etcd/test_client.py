"""The etcd client's outcome rules, against a real HTTP server on loopback that answers
like etcd's gateway does when things go wrong (timeouts, lost connections, gRPC errors),
and its encoding. Real etcd runs in test_etcd_local.py."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web

from paxos_impl.client import CasMismatch, DefiniteFailure, Indeterminate
from targets.etcd.client import EtcdClient, decode_value, encode_value, extend

pytestmark = pytest.mark.timeout(30)


def test_values_are_canonical_json_so_equal_values_compare_equal():
    assert encode_value({"b": 1, "a": [1, 2]}) == encode_value({"a": [1, 2], "b": 1})
    assert decode_value(encode_value([1, "x"])) == [1, "x"]
    assert decode_value(b"not json") == "not json"


def test_append_extends_lists_and_strings_and_refuses_a_mix():
    assert extend(None, [1]) == [1]
    assert extend([1], [2]) == [1, 2]
    assert extend("ab", "c") == "abc"
    with pytest.raises(DefiniteFailure):
        extend([1], "c")


async def _serve(handler):
    app = web.Application(handler_args={"lingering_time": 0})
    app.router.add_post("/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 25990)
    await site.start()
    return runner


def _grpc_error(code: int, message: str) -> web.Response:
    body = {"error": message, "code": code, "message": message}
    return web.Response(status=503, text=json.dumps(body), content_type="application/json")


async def _against(handler, op):
    runner = await _serve(handler)
    client = EtcdClient("http://127.0.0.1:25990", timeout=0.5)
    try:
        return await op(client)
    finally:
        await client.close()
        await runner.cleanup()


def test_a_write_without_a_reply_in_time_is_indeterminate():
    async def hang(request):
        await asyncio.sleep(5)
        return web.json_response({})

    with pytest.raises(Indeterminate):
        asyncio.run(_against(hang, lambda c: c.write("k", 1)))


def test_a_read_without_a_reply_in_time_is_a_definite_failure():
    async def hang(request):
        await asyncio.sleep(5)
        return web.json_response({})

    with pytest.raises(DefiniteFailure):
        asyncio.run(_against(hang, lambda c: c.read("k")))


def test_a_connection_lost_after_sending_is_indeterminate():
    async def drop(request):
        await request.read()
        request.transport.close()
        await asyncio.sleep(0.2)
        return web.json_response({})

    with pytest.raises(Indeterminate):
        asyncio.run(_against(drop, lambda c: c.cas("k", 1, 2)))


def test_a_refused_connection_is_a_definite_failure():
    with socket.socket() as s:  # a port nobody listens on: bound, never listening
        s.bind(("127.0.0.1", 25991))

        async def op():
            c = EtcdClient("http://127.0.0.1:25991", timeout=0.5)
            try:
                await c.write("k", 1)
            finally:
                await c.close()

        with pytest.raises(DefiniteFailure) as e:
            asyncio.run(op())
        assert not isinstance(e.value, Indeterminate)
        assert e.value.error == "unavailable"


@pytest.mark.parametrize(
    "code, outcome",
    [(14, Indeterminate), (4, Indeterminate), (2, Indeterminate), (8, DefiniteFailure)],
)
def test_grpc_errors_of_a_write_map_to_their_outcome(code, outcome):
    async def err(request):
        return _grpc_error(code, "etcdserver: request timed out")

    with pytest.raises(outcome) as e:
        asyncio.run(_against(err, lambda c: c.write("k", 1)))
    assert isinstance(e.value, Indeterminate) == (outcome is Indeterminate)


def test_a_refused_compare_is_a_mismatch_and_a_txn_body_compares_the_value():
    seen = []

    async def txn(request):
        seen.append(await request.json())
        return web.json_response({"header": {"revision": "3"}})  # succeeded omitted: false

    with pytest.raises(CasMismatch):
        asyncio.run(_against(txn, lambda c: c.cas("k", 1, 2)))
    (body,) = seen
    assert body["compare"][0]["target"] == "VALUE"
    assert body["compare"][0]["result"] == "EQUAL"


def test_serializable_reads_ask_for_serializable_ranges():
    seen = []

    async def rng(request):
        seen.append(await request.json())
        return web.json_response({"header": {}})

    async def op(c):
        c.serializable = True
        return await c.read("k")

    assert asyncio.run(_against(rng, op)) is None
    assert seen[0]["serializable"] is True
