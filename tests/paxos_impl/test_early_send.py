"""What may leave a node before its fsync: the leader's accepts, and nothing else.

The runtime's rule (paxos_impl.runtime, "what may leave before the fsync") tested on a
scripted core: the host calls ``send_early`` after stepping and before writing, and only the
messages of :data:`EARLY_TYPES` go then, only in the leader mode, only when there is a write
to overlap with; the simulator's check of the rule is tested in tests/cluster/sim.
"""

from paxos_impl.core import Ready
from paxos_impl.runtime import EARLY_TYPES, NodeRuntime, early_types
from tests.support.runtime_io import RecordingIO


class Core:
    def __init__(self, ready: Ready) -> None:
        self.ready = ready

    def on_client_request(self, handle, req, now):
        return self.ready


ACCEPT = {"type": "accept", "ballot": [1, 0], "entries": [], "commit": 0}
PROMISE = {"type": "promise", "ballot": [1, 0]}
HEARTBEAT = {"type": "heartbeat", "ballot": [1, 0], "commit": 0, "round": 1}


def runtime(ready: Ready, mode: str = "leader") -> tuple[NodeRuntime, RecordingIO]:
    io = RecordingIO()
    return NodeRuntime(Core(ready), lambda: 0.0, io, io, early=early_types(mode)), io


def test_accepts_go_before_the_write_and_everything_else_after_it():
    ready = Ready(persist=[{"t": "accept"}], messages=[(1, ACCEPT), (2, PROMISE), (2, ACCEPT)])
    rt, io = runtime(ready)
    batch = rt.step(("client", "h", {}))
    assert batch.writes
    assert rt.send_early(batch) == [(1, ACCEPT), (2, ACCEPT)]
    assert io.sent == [(1, ACCEPT), (2, ACCEPT)]
    rt.finish(batch)  # (the host made the writes durable first)
    assert io.sent[2:] == [(2, PROMISE)]


def test_nothing_goes_early_without_a_write_or_outside_the_leader_mode():
    rt, io = runtime(Ready(messages=[(1, ACCEPT), (1, HEARTBEAT)]))
    batch = rt.step(("client", "h", {}))
    assert rt.send_early(batch) == [] and io.sent == []
    rt.finish(batch)
    assert io.sent == [(1, ACCEPT), (1, HEARTBEAT)]
    rt, io = runtime(Ready(persist=[{"t": "accept"}], messages=[(1, ACCEPT)]), "masterless")
    batch = rt.step(("client", "h", {}))
    assert rt.send_early(batch) == [] and io.sent == []


def test_only_phase_two_requests_are_early():
    # answers that report this node's durable state (promise, accepted) must never be
    assert EARLY_TYPES == {"accept"}
    assert early_types("masterless") == frozenset()
