"""Client de-duplication (paxos_impl.dedup), the core's layer in front of every machine."""

from paxos_impl.dedup import PENDING, Dedup


def test_new_recorded_and_stale_sequence_numbers():
    d = Dedup()
    assert d.lookup("c1", 5) is None
    d.record("c1", 5, {"ok": True, "value": None})
    assert d.lookup("c1", 5) == {"ok": True, "value": None}
    assert d.lookup("c1", 6) is None
    assert d.lookup("c1", 4)["error"] == "bad_request"  # a stale retry: not applied again
    assert d.lookup(None, 1) is None and d.lookup("c1", None) is None


def test_switched_off_it_remembers_nothing():
    d = Dedup(enabled=False)
    d.record("c1", 1, {"ok": True, "value": None})
    assert d.lookup("c1", 1) is None


def test_a_pending_reply_is_filled_only_for_its_own_command():
    d = Dedup()
    d.record("c1", 1, PENDING)
    assert d.lookup("c1", 1) is PENDING
    d.fill("c1", 1, {"ok": True, "value": 3})
    assert d.lookup("c1", 1) == {"ok": True, "value": 3}
    d.record("c1", 2, PENDING)
    d.record("c1", 3, PENDING)  # the client moved on: a late reply for 2 changes nothing
    d.fill("c1", 2, {"ok": True, "value": 9})
    assert d.lookup("c1", 3) is PENDING
