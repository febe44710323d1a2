"""The node's write and send paths contain what they cannot encode (issue 13 item 2): a core
that hands the runtime a record or a message that is not JSON gets that one event refused
(the client answered bad_request), and the node goes on. Before, the log write raised
``ValueError: Out of range float values`` out of the driver and the node stopped."""

import asyncio
import math
import random

import pytest

from paxos_impl import wire
from paxos_impl.config import local_config
from paxos_impl.core import Ready
from paxos_impl.node import Node
from paxos_impl.storage import Storage
from tests.support.ports import on_free_ports


class PoisonReplica:
    """Persists whatever value a write carries, then answers ok; "deep" nests it 5000 deep."""

    def start(self, now):
        return Ready()

    def on_tick(self, now):
        return Ready()

    def on_message(self, src, msg, now):
        return Ready()

    def on_client_request(self, handle, req, now):
        value = req.get("value")
        if value == "inf":
            value = math.inf
        elif value == "deep":
            for _ in range(5000):
                value = [value]
        return Ready(
            persist=[{"t": "x", "v": value}],
            messages=[(1, {"type": "copy", "v": value})],
            replies=[(handle, {"ok": True, "value": None})],
        )

    def status(self):
        return {"id": 0, "role": "leader", "leader": 0}


@pytest.mark.timeout(30)
def test_unencodable_records_are_refused_alone_and_the_node_goes_on(tmp_path):
    cfg = on_free_ports(local_config(2))

    async def go():
        storage = Storage(tmp_path / "n0")
        storage.recover()
        node = Node(0, cfg, storage, PoisonReplica(), rng=random.Random(0))
        task = asyncio.create_task(node.run())
        for _ in range(100):
            if node._servers:
                break
            await asyncio.sleep(0.01)
        port = cfg.node(0).client_port
        r, w = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for seq, value in enumerate(["inf", "deep", "fine"]):
            w.write(wire.encode({"op": "write", "key": "k", "value": value, "seq": seq}))
            answers.append(await asyncio.wait_for(wire.read_frame(r), 5))
        w.close()
        assert [a["ok"] for a in answers] == [False, False, True], answers
        assert answers[0]["error"] == answers[1]["error"] == "bad_request"
        assert node.fatal is None and not task.done()
        node.stop()
        await task

    asyncio.run(asyncio.wait_for(go(), 20))
