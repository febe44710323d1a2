"""Message dispatch in the core and the proposer seam (paxos_impl.proposer).

Peer messages reach a handler through explicit tables: the acceptor and learner's, then the
proposer's. A type in neither must be a ProtocolError raised before any state changes (the
node logs and drops it), never a crash; and a third mode must be able to plug in through
``PROPOSERS`` knowing only the Proposer protocol and its host.
"""

import random

import pytest

from paxos_impl import core
from paxos_impl.config import local_config
from paxos_impl.core import ProtocolError, Replica
from paxos_impl.messages import ZERO, Ballot
from paxos_impl.proposer import Handler, ProposerHost, QuietHooks


def _replica(n: int = 3, **kw) -> Replica:
    r = Replica(0, local_config(n, **kw), random.Random(1))
    r.start(0.0)
    return r


def test_the_core_routes_every_wire_type_of_leader_mode() -> None:
    r = _replica()
    assert set(r._handlers) == {
        "prepare", "accept", "catchup", "learn", "snapshot",
        "promise", "accepted", "nack", "heartbeat", "heartbeat_ok", "campaign",
    }  # fmt: skip


def test_unknown_type_is_a_protocol_error_and_changes_nothing() -> None:
    r = _replica()
    before = (r.status(), r.max_round, r.known_commit)
    with pytest.raises(ProtocolError, match="unknown message type"):
        r.on_message(1, {"type": "gossip", "ballot": [99, 1]}, 1.0)
    assert (r.status(), r.max_round, r.known_commit) == before


def test_heartbeats_reach_a_masterless_node_and_are_ignored() -> None:
    r = _replica(mode="masterless")
    ready = r.on_message(1, {"type": "heartbeat", "ballot": [3, 1], "commit": 0, "round": 1}, 1.0)
    assert ready.messages == [] and ready.persist == []


class Silent(QuietHooks):
    """A third mode in a few lines: it never proposes, answers clients "not_leader", and
    takes only promises (whatever the acceptor and learner do not handle themselves)."""

    per_slot = False

    def __init__(self, host: ProposerHost) -> None:
        self.host = host
        self.promises: list[int] = []
        self.handlers: dict[str, Handler] = {"promise": self._on_promise}

    def _on_promise(self, src: int, m: dict) -> None:
        self.promises.append(src)

    def role_and_leader(self) -> tuple[str, int | None]:
        return "follower", None

    def current_ballot(self) -> Ballot:
        return max(ZERO, self.host.promised)

    def start(self) -> None:
        return None

    def rebase(self, delta: float) -> None:
        return None

    def next_tick(self) -> float | None:
        return None

    def tick(self) -> None:
        return None

    def on_chosen(self, slot: int, batch: list) -> None:
        return None

    def on_compacted(self, upto: int) -> None:
        return None

    def after_apply(self) -> None:
        return None

    def before_finish(self) -> None:
        return None

    def request(self, handle: object, req: dict, size: int) -> None:
        self.host.reply(handle, {"ok": False, "error": "not_leader", "leader": None})


@pytest.fixture
def silent_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(core.PROPOSERS, "leader", Silent)


@pytest.mark.usefixtures("silent_mode")
def test_a_third_mode_plugs_in_through_the_table() -> None:
    r = _replica()
    assert isinstance(r.p, Silent)
    prep = {"type": "prepare", "ballot": [5, 1], "from": 1, "to": None}
    ready = r.on_message(1, prep, 1.0)  # the core's acceptor answers it ...
    assert [(d, m["type"]) for d, m in ready.messages] == [(1, "promise")]
    assert ready.persist and ready.persist[0]["t"] == "promise"  # ... durably
    promise = dict(ready.messages[0][1], ballot=[5, 1])
    r.on_message(2, promise, 1.1)  # a promise goes to the mode's own table
    assert r.p.promises == [2]
    req = {"op": "write", "key": "k", "value": 1, "client_id": "c", "seq": 1}
    ready = r.on_client_request("h", req, 1.2)
    assert ready.replies == [("h", {"ok": False, "error": "not_leader", "leader": None})]


@pytest.mark.usefixtures("silent_mode")
def test_a_wire_type_the_mode_does_not_take_is_a_protocol_error() -> None:
    r = _replica()
    before = r.status()
    hb = {"type": "heartbeat", "ballot": [3, 1], "commit": 0, "round": 1}
    with pytest.raises(ProtocolError, match="not used in mode"):
        r.on_message(1, hb, 1.0)
    assert r.status() == before and r.max_round == 0
