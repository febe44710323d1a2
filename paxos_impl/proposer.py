"""The proposer seam: what a protocol mode implements, and the narrow host it is given.

A replica (:class:`paxos_impl.core.Replica`) is an acceptor and a learner for every mode; the
*proposer* is what differs between modes (the stable leader of :mod:`paxos_impl.leader`, the
per-slot proposers of :mod:`paxos_impl.masterless`; EPaxos, Mencius or WPaxos would be
others). A mode is a class ``Mode(host: ProposerHost)`` that satisfies :class:`Proposer`:

- it declares the peer messages it handles in ``handlers`` (message type -> handler). The
  core routes a message to its own acceptor and learner table first, then to this table;
  a type in neither is a :class:`~paxos_impl.messages.ProtocolError`, raised before the
  message changes any state. A mode that must tolerate a type it does not use (a
  misconfigured peer in another mode) maps it to a handler that ignores it, explicitly;
- it answers the core's hooks below (timers, promises, learned slots, compaction, client
  requests, status), all called from inside one core step, so everything it does through
  the host ends up in that step's ``Ready``;
- it talks to the rest of the node only through :class:`ProposerHost`: it sends and
  broadcasts peer messages, answers clients, tells the learner what is chosen, and reads the
  learner's progress. It never persists anything itself: the acceptor's records are the
  core's business, and a value a proposer wants chosen becomes durable at the acceptors.

A mode is registered by name in ``paxos_impl.core.MODES`` (``config.mode`` picks it).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Protocol

from paxos_impl import messages as M
from paxos_impl.config import Config
from paxos_impl.membership import Membership
from paxos_impl.messages import Ballot

Handler = Callable[[int, dict], None]  # (sender id, validated message)
RequestKey = tuple[str, int]  # (client id, sequence number) of a client command


class ProposerHost(Protocol):
    """What a proposer may see and do of its replica (the core implements it)."""

    @property
    def id(self) -> int: ...
    @property
    def peers(self) -> list[int]: ...
    @property
    def cfg(self) -> Config: ...
    @property
    def now(self) -> float:
        """The node's clock at this step (never read a clock of your own)."""

    @property
    def rng(self) -> random.Random:
        """The replica's seeded randomness (the only one a deterministic core may use)."""

    @property
    def hb_s(self) -> float: ...
    @property
    def catchup_s(self) -> float: ...
    @property
    def budget(self) -> int:
        """Encoded bytes one message's payload may take (a frame must fit)."""

    # -- the learner's progress (read only) --------------------------------------------------
    @property
    def commit_index(self) -> int: ...
    @property
    def applied_index(self) -> int: ...
    @property
    def known_commit(self) -> int: ...
    @property
    def max_chosen(self) -> int: ...
    @property
    def chosen(self) -> Mapping[int, list]: ...
    @property
    def waiting(self) -> Mapping[RequestKey, list[object]]: ...
    @property
    def promised(self) -> Ballot:
        """The highest ballot this node's acceptor promised."""

    @property
    def members(self) -> Membership:
        """Who votes for which slot (changes only when a chosen reconfig is applied)."""

    # -- actions: each lands in the current step's Ready --------------------------------------
    def send(self, dst: int, m: dict) -> None: ...
    def broadcast(self, m: dict, include_self: bool = False) -> None: ...
    def reply(self, handle: object, rep: dict) -> None:
        """Answer a client request (``handle`` as the core gave it to ``request``)."""

    def answer(self, cid: str, seq: int, res: dict) -> None:
        """Answer every client waiting on command (cid, seq)."""

    def abandon(self, key: RequestKey) -> list[object]:
        """Stop waiting on a command; the handles that were waiting (to be answered)."""

    def wait_for(self, key: RequestKey, handle: object) -> bool:
        """Wait for a command's result (with a timeout); True if the command is new here."""

    def read_deadline(self, handle: object) -> None:
        """Time out a read the proposer holds unless it answers it in time."""

    def persist(self, rec: dict) -> None:
        """Make a mode's own record durable before this step's messages leave (a mode
        whose acceptor state is not the core's: EPaxos; it gets them back in ``restore``)."""

    def learn(self, slot: int, batch: list) -> None:
        """``slot`` is chosen with ``batch`` (the learner applies what became contiguous)."""

    def commit_by_ballot(self, b: Ballot, commit: int, src: int) -> None:
        """The proposer at ballot ``b`` says slots <= ``commit`` are chosen."""

    def note_commit(self, commit: int, src: int) -> None:
        """``src`` knows slots <= ``commit`` are chosen: catch up from it if we lag."""

    def fetch_from(self, src: int, upto: int, at_once: bool) -> None:
        """Catch up to at least ``upto`` from ``src`` (``at_once``: ask in this step)."""

    def next_ballot(self) -> Ballot:
        """A fresh ballot of ours above every round this node has seen."""

    def election_timeout(self) -> float:
        """A randomized election timeout, in seconds."""

    def read(self, req: dict) -> dict:
        """The reply to a read-only request (read, query) from the machine's current state."""

    @property
    def local_reads(self) -> tuple[str, ...]:
        """Ops that may be answered from local state by the quorum and lease read routes."""

    def result_of(self, cid: str, seq: int) -> dict | None:
        """The stored result of command (cid, seq) if it was applied, else None."""


class Proposer(Protocol):
    """The hooks the core calls on a mode (see the module docstring)."""

    handlers: Mapping[str, Handler]  # peer message type -> handler, validated messages only
    # The acceptor rule the mode needs. False: one ballot for every open slot (phase 1 once),
    # so an accept raises the acceptor's promise and its commit index tells followers which
    # of the values they accepted at that ballot are chosen. True: a ballot per slot, so an
    # accept leaves other slots' promises alone, and learners hear values in "learn" only.
    per_slot: bool

    # -- status -------------------------------------------------------------------------------
    def role_and_leader(self) -> tuple[str, int | None]: ...
    def current_ballot(self) -> Ballot: ...

    # -- timers -------------------------------------------------------------------------------
    def start(self) -> None:
        """The node (re)started: arm the first timers."""

    def rebase(self, delta: float) -> None:
        """The clock jumped by ``delta`` (< 0): move liveness timers, never safety ones."""

    def next_tick(self) -> float | None:
        """When the proposer next needs a tick (node time), None if never."""

    def tick(self) -> None: ...

    # -- acceptor and learner events ------------------------------------------------------------
    def may_promise(self, src: int, b: Ballot) -> bool:
        """May our acceptor promise ``b`` to ``src`` (leases refuse other candidates)?"""

    def on_promised(self, src: int, b: Ballot) -> None: ...
    def on_accepted_from(self, src: int, b: Ballot) -> None: ...
    def on_chosen(self, slot: int, batch: list) -> None: ...
    def on_compacted(self, upto: int) -> None: ...
    def after_apply(self) -> None: ...
    def before_finish(self) -> None:
        """Last word in a step (e.g. open slots for the commands queued during it)."""

    # -- client requests -----------------------------------------------------------------------
    def request(self, handle: object, req: dict, size: int) -> None:
        """A valid client command of ``size`` encoded bytes, not applied here yet."""

    def read_pending(self, handle: object) -> bool: ...
    def drop_read(self, handle: object) -> None: ...


class QuietHooks:
    """Defaults for the hooks a mode without leases, leader or held reads has no use for
    (inherit it and override what matters): promise anyone, ignore who promised or accepted,
    hold no reads."""

    def may_promise(self, src: int, b: Ballot) -> bool:
        return True

    def on_promised(self, src: int, b: Ballot) -> None:
        return None

    def on_accepted_from(self, src: int, b: Ballot) -> None:
        return None

    def read_pending(self, handle: object) -> bool:
        return False

    def drop_read(self, handle: object) -> None:
        return None


class CommandQueue:
    """Client commands waiting for a slot of ours, each queued once (a retry of a command
    already queued or in flight only waits for its answer). For modes without a leader to
    forward to; the mode sets ``r``, ``queue`` and ``active`` in its constructor."""

    r: ProposerHost
    queue: list[dict]
    active: set[RequestKey]

    def request(self, handle: object, req: dict, size: int) -> None:
        key = (req["client_id"], req["seq"])
        self.r.wait_for(key, handle)
        if key not in self.active:
            self.active.add(key)
            self.queue.append(M.command(req))

    def after_apply(self) -> None:
        """Drop queued commands that were applied or that nobody waits for any more."""
        r = self.r
        keep = []
        for c in self.queue:
            key = (c["client_id"], c["seq"])
            if r.result_of(*key) is None and key in r.waiting:
                keep.append(c)
            else:
                self.active.discard(key)
        self.queue = keep


def ignore(src: int, m: dict) -> None:
    """A handler for a message type a mode receives but has no use for."""
