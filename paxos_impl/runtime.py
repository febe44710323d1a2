"""The node runtime: the one piece of code that turns the core's ``Ready`` into actions.

Both hosts of a replica run it: the asyncio node (:mod:`paxos_impl.node`: sockets, files,
``time.time()``) and the simulator (``cluster.sim``: an in-memory network, a power-loss
disk, a virtual clock). What differs between them comes in through small interfaces:

- a :data:`Clock` (the node's time, read once per event),
- a :class:`Transport` (deliver peer messages and client replies; say whether a client
  request is still waiting for its answer),
- a :class:`Timer` (wake the node at the time the core asked for; run a request's timeout),
- a :class:`RecordEncoder` (turn a log record into what the disk stores, refusing one that
  cannot be stored, so that a bad record costs its own event only).

The disk itself stays with the host, because writing is where the two differ most (an
``await`` on an fsync in a thread, or an event on the simulator's heap): :meth:`next_batch`
hands the host a :class:`Batch` whose ``writes`` it must make durable, in order, before it
calls :meth:`finish`, which sends and answers. That is the protocol's persist-then-send rule,
in one place, as etcd-raft's ``Ready`` / ``Advance`` hand-off.

**Group commit.** Events queue (:meth:`push`) while the host is writing; the next batch
steps all of them (at most ``MAX_EVENTS_PER_BATCH``) and writes what they produced with one
fsync. A timer that fired meanwhile goes after the messages that arrived with it, once: a
leader's heartbeat that is already here must count before an election timeout is judged.

**What may leave before the fsync.** A batch's messages wait for its writes, with one
exception, as in etcd-raft (a leader may send its entries to followers before it has
written them itself, because its own vote counts only once durable): the leader's phase-2
requests, ``accept`` messages (:data:`EARLY_TYPES`; :meth:`send_early`). An accept asks the
follower to vote; it claims nothing about the sender's disk. The one field of it that reports
the leader's state, ``commit``, may only count votes that are already durable, and it does:
the leader's own vote for a slot is counted in the batch that proposes it, and a follower's
vote for that slot can only arrive after the accept went out, so in a later batch, which
the runtime steps after this batch's writes are durable. So every commit index an early
accept carries rests on votes on disk. Everything else of the batch (promises, accepted
answers, heartbeats, learns, replies to clients) still waits for the fsync. Only the leader
mode sends early (:func:`early_types`); the simulator checks both halves of the rule
(cluster.sim: persist-then-send for promises and acceptances, and that an early accept's
commit index is one the node had before the batch).

**Asynchronous state machines.** The core never awaits: an asynchronous machine's commands
come out of a step in ``Ready.applies``, in log order, and go to the host's
:class:`AsyncApplier`, which runs them one at a time (the next starts when the previous
one's reply is in, so the machine sees exactly the serial log order) and pushes each reply
back as an ``("applied", token, reply)`` event; the core answers the client then. The host
only says how to run one (``launch``): an asyncio task in the node, an event on the
simulator's heap after a seeded delay.

**Faults stay with their event.** A malformed message (``ProtocolError``) is logged and
dropped; a malformed client request is answered ``bad_request``; a record that cannot be
encoded refuses its event alone (nothing of it is persisted, sent or answered). Anything
else the core raises is :class:`Fatal`: the host must stop the node, because carrying on
after losing track of what is durable is how Paxos implementations lose acknowledged data.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("paxos.node")

MAX_EVENTS_PER_BATCH = 4096
# message types a host may send before the batch's writes are durable (see the docstring)
EARLY_TYPES = frozenset({"accept"})
BAD_REQUEST = {"ok": False, "error": "bad_request", "leader": None}
TIMEOUT = {"ok": False, "error": "timeout", "leader": None}

Clock = Callable[[], float]
# ("start",) | ("tick",) | ("tick", not_before) | ("peer", src, msg) | ("client", handle, req)
# | ("applied", token, reply) (an asynchronous machine's reply, see AsyncApplier)
# (a timer may say which node time it was armed for: converting between clocks can round a
# hair short, and a core told an earlier time would ask for the same tick again and again)
Event = tuple
Write = tuple[list[Any], "dict | None"]  # encoded records (one fsync), then a snapshot


class Fatal(Exception):
    """The node must stop: continuing could break a safety guarantee."""


class Transport(Protocol):
    """Where a node's output goes."""

    def send(self, messages: list[tuple[int, dict]]) -> None:
        """Deliver peer messages (a broadcast is one dict listed once per destination)."""

    def reply(self, replies: list[tuple[object, dict]]) -> None:
        """Answer client requests (each handle as the host pushed it)."""

    def live(self, handle: object) -> bool:
        """Is this client request still waiting (not answered, e.g. by its timeout)?"""


class Timer(Protocol):
    def arm(self, at: float | None) -> None:
        """Wake the node (push a tick) at node time ``at``; None: the core needs no tick."""

    def later(self, delay: float, fn: Callable[[object], None], arg: object) -> object:
        """Call ``fn(arg)`` in ``delay`` seconds (not if the node died meanwhile); a handle
        the host may use to cancel it."""


class RecordEncoder(Protocol):
    def __call__(self, record: dict) -> Any:
        """What the disk stores for ``record``; ValueError, TypeError or RecursionError if
        it cannot be stored."""


@dataclass(slots=True)
class Batch:
    """What one batch of events asks of the host: make ``writes`` durable in order, then
    call :meth:`NodeRuntime.finish` with it. ``refused`` names each event the runtime
    dropped or refused, and why (for a host that reports them, e.g. a test's)."""

    writes: list[Write]
    messages: list[tuple[int, dict]]
    replies: list[tuple[object, dict]]
    events: int
    refused: list[tuple[Event, str]] = field(default_factory=list)


# (token, machine, command) from Ready.applies, and the callback that takes its reply
ApplyItem = tuple[tuple, Any, dict]
Launch = Callable[[ApplyItem, Callable[[dict], None]], None]


class AsyncApplier:
    """Runs an asynchronous machine's commands in log order, one at a time, and hands each
    reply back to the node as an ``("applied", token, reply)`` event (``deliver``).
    ``launch(item, done)`` starts ``item[1].apply_async(item[2])`` the host's way and calls
    ``done(reply)`` when it finished. A node built with deliberate bug
    ``sm-async-early-answer`` launches every command at once instead: replies then come
    (and are answered) in the order the applies happen to finish, not the log's."""

    def __init__(self, launch: Launch, deliver: Callable[[Event], None], bugs: Any = ()) -> None:
        self.launch = launch
        self.deliver = deliver
        self.bugs = frozenset(bugs)
        self.queue: collections.deque[ApplyItem] = collections.deque()
        self.busy = 0

    def has_bug(self, name: str) -> bool:
        return name in self.bugs

    def submit(self, items: list[ApplyItem]) -> None:
        self.queue.extend(items)
        self._next()

    def _next(self) -> None:
        serial = not self.has_bug("sm-async-early-answer")  # BUG: overlapping applies
        while self.queue and (not serial or not self.busy):
            item = self.queue.popleft()
            self.busy += 1
            self.launch(item, self._done_for(item[0]))

    def _done_for(self, token: tuple) -> Callable[[dict], None]:
        def done(reply: dict) -> None:
            self.busy -= 1
            self.deliver(("applied", token, reply))
            self._next()

        return done


def _keep(record: dict) -> dict:
    return record


def early_types(mode: str) -> frozenset[str]:
    """The message types a node in this proposer mode sends before its fsync: the stable
    leader's accepts; none in the other modes (whose commit rules were not argued for it)."""
    return EARLY_TYPES if mode == "leader" else frozenset()


class NodeRuntime:
    """One node's replica and its queue of events (see the module docstring)."""

    def __init__(
        self,
        replica: Any,
        clock: Clock,
        transport: Transport,
        timer: Timer,
        encode: RecordEncoder = _keep,
        protocol_error: type[Exception] = ValueError,
        max_events: int = MAX_EVENTS_PER_BATCH,
        request_s: float | None = None,
        early: frozenset[str] = frozenset(),
    ) -> None:
        self.replica = replica
        self.clock = clock
        self.transport = transport
        self.timer = timer
        self.encode = encode
        self.protocol_error = protocol_error
        self.max_events = max_events
        self.request_s = request_s
        self.early = early
        self.events: collections.deque[Event] = collections.deque()
        # a host that records messages sets this (paxos_impl.trace.MessageLog): every peer
        # message stepped and every one sent goes through it; None (the default): nothing
        self.trace: Any = None
        # a host whose replica may run an asynchronous machine sets this (AsyncApplier)
        self.applier: AsyncApplier | None = None

    def push(self, event: Event) -> None:
        self.events.append(event)

    def admit(self, handle: object, req: object) -> object:
        """A client request: queued, and answered ``timeout`` after ``request_s`` unless it
        was answered before (a backstop for a request stuck behind a slow disk or a busy
        core; the transport answers each handle at most once). The timer's handle, if any."""
        self.events.append(("client", handle, req))
        if self.request_s is None:
            return None
        return self.timer.later(self.request_s, self._expire, handle)

    def _expire(self, handle: object) -> None:
        if self.transport.live(handle):
            self.transport.reply([(handle, TIMEOUT)])

    @property
    def pending(self) -> bool:
        return bool(self.events)

    def next_batch(self) -> Batch:
        """Step the core through the queued events; what they ask of the disk and network."""
        events = self.events
        if len(events) == 1:
            return self.step(events.popleft())
        n = min(len(events), self.max_events)
        todo = [events.popleft() for _ in range(n)]
        ticks = [e for e in todo if e[0] == "tick"]
        if ticks:
            todo = [e for e in todo if e[0] != "tick"] + ticks[:1]
        return self._steps(todo)

    def step(self, event: Event) -> Batch:
        """A batch of one event, not queued: for a host that is idle (not writing) with
        nothing queued, which is most events of a simulation."""
        return self._steps((event,))

    def _steps(self, todo: list[Event] | tuple[Event, ...]) -> Batch:
        # (this runs once per event of a simulation: the step is written out here rather
        # than in a helper per event)
        batch = Batch([], [], [], len(todo))
        records: list[Any] = []
        encode, r, clock, arm = self.encode, self.replica, self.clock, self.timer.arm
        keep = encode is _keep  # (the simulator's disk keeps the records themselves)
        applies: list[ApplyItem] = []
        for event in todo:
            kind = event[0]
            try:
                if kind == "peer":
                    if self.trace is not None:
                        self.trace.recv(event[1], event[2], clock())
                    ready = r.on_message(event[1], event[2], clock())
                elif kind == "tick":
                    now = clock()
                    if len(event) > 1 and event[1] > now:  # the node time it was armed for
                        now = event[1]
                    ready = r.on_tick(now)
                elif kind == "client":
                    if not self.transport.live(event[1]):  # answered "timeout": don't start it
                        continue
                    if self.trace is not None:
                        self.trace.request(event[2], clock())
                    ready = r.on_client_request(event[1], event[2], clock())
                elif kind == "applied":
                    ready = r.on_applied(event[1], event[2], clock())
                else:
                    ready = r.start(clock())
            except self.protocol_error as e:
                self._drop(batch, event, e)
                continue
            except Exception as e:
                log.exception("core failed on a %s event", kind)
                raise Fatal(f"internal error in the protocol core: {e!r}") from e
            if ready.applies:
                applies += ready.applies
            persist = ready.persist
            if persist:
                try:  # encoded now, so a record that cannot be refuses its own event only
                    records += persist if keep else [encode(rec) for rec in persist]
                except (ValueError, TypeError, RecursionError) as e:
                    self._refuse(batch, event, f"cannot encode a log record: {str(e)[:80]}")
                    arm(ready.next_tick)
                    continue
            if ready.snapshot is not None:
                # the snapshot covers everything persisted so far: that goes to disk first
                batch.writes.append((records, ready.snapshot))
                records = []
            if ready.messages:
                batch.messages += ready.messages
            if ready.replies:
                batch.replies += ready.replies
            arm(ready.next_tick)
        if records:
            batch.writes.append((records, None))
        if applies:  # chosen commands: they need nothing of this batch's writes
            if self.applier is None:
                raise Fatal("an asynchronous state machine needs a host that runs it")
            self.applier.submit(applies)
        return batch

    def send_early(self, batch: Batch) -> list[tuple[int, dict]]:
        """Send the batch's messages that may go before its writes are durable (the host
        calls this once, after :meth:`next_batch` and before writing); the rest stay for
        :meth:`finish`. What it sent."""
        early = self.early
        if not early or not batch.writes or not batch.messages:
            return []
        now = [dm for dm in batch.messages if dm[1].get("type") in early]
        if now:
            batch.messages = [dm for dm in batch.messages if dm[1].get("type") not in early]
            if self.trace is not None:
                self.trace.sends(now, self.clock())
            self.transport.send(now)
        return now

    def finish(self, batch: Batch) -> None:
        """The batch's writes are durable: send its messages, then answer its clients."""
        if batch.messages:
            if self.trace is not None:
                self.trace.sends(batch.messages, self.clock())
            self.transport.send(batch.messages)
        if batch.replies:
            self.transport.reply(batch.replies)

    def _drop(self, batch: Batch, event: Event, e: Exception) -> None:
        """A malformed message is logged and dropped; a malformed request is answered."""
        batch.refused.append((event, str(e)))
        if event[0] == "client":
            log.warning("bad client request %s: %s", event[1], e)
            self.transport.reply([(event[1], BAD_REQUEST)])
        else:
            log.warning("dropped malformed %s message from node %s: %s", event[0], event[1], e)

    def _refuse(self, batch: Batch, event: Event, why: str) -> None:
        """Drop what one event asked for (nothing of it is persisted, sent or answered)."""
        batch.refused.append((event, why))
        log.error("refused a %s event: %s", event[0], why)
        if event[0] == "client":
            self.transport.reply([(event[1], BAD_REQUEST)])
