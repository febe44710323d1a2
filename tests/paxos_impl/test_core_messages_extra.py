"""A ballot field is checked on every message type, since the core notes any ballot it sees."""

import pytest

from paxos_impl.messages import ProtocolError, validate


@pytest.mark.parametrize("bad", [{}, [1], ["a", 0], None, 3])
def test_malformed_ballot_on_any_type_is_a_protocol_error(bad):
    with pytest.raises(ProtocolError):
        validate(1, {"type": "catchup", "from": 3, "ballot": bad}, range(3))
