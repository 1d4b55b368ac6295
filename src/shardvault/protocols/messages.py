"""The sans-I/O protocol framework: the message every protocol party sends
(:class:`ProtocolMessage`), the record of session ids a party has used
(:class:`SessionRegistry`), and the base class of every party (:class:`StateMachine`,
which FROST's DKG and signing parties and CGGMP24's parties subclass).

A party is an object that is driven from outside::

    party = FrostSigner(key_package, session_id, message, registry)  # queues round 1
    out = party.messages()        # drain outgoing ProtocolMessages
    party.receive(msg)            # feed one incoming message
    party.done / party.result()   # finished? the value, or ProtocolError with blame

This module knows nothing of any particular protocol, of sockets, clocks or storage.
The transport signs each message's :meth:`ProtocolMessage.header` with the sender's
identity key and encrypts ``secret`` payloads to the recipient; this layer checks that
every message belongs to this session, protocol and round, that it has the shape of its
round (broadcast or direct) and that each sender speaks once per round, and calls the
party's :meth:`StateMachine.process_round` when a round's messages are all in.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from shardvault.errors import InvalidParameters, ProtocolError, SessionReused

__all__ = [
    "COORDINATOR",
    "InMemorySessionRegistry",
    "ProtocolMessage",
    "SessionRegistry",
    "StateMachine",
    "run_locally",
]

#: The party index of a signing coordinator (participants are 1..255).
COORDINATOR = 0
#: Bounds on the length of a session id (fresh random bytes chosen by the coordinator).
MIN_SESSION_ID = 16
MAX_SESSION_ID = 64

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ProtocolMessage:
    """One message of one round of a protocol session, from ``sender`` to ``recipient``
    (or to every other party). ``repr`` leaves out the payload."""

    session_id: bytes
    protocol: str
    round: int
    sender: int
    #: ``None`` for a broadcast to every other party of the session.
    recipient: int | None
    payload: bytes = field(repr=False)
    #: True when the payload carries a secret: the transport must encrypt it.
    secret: bool = False

    def header(self) -> bytes:
        """Canonical bytes binding session, protocol, round, sender, recipient and the
        ``secret`` flag; the transport signs them with the payload (wire format v1)."""
        proto = self.protocol.encode()
        recipient = 0xFFFF if self.recipient is None else self.recipient
        return b"".join(
            (
                b"shardvault-msg-v1",
                len(self.session_id).to_bytes(1, "big"),
                self.session_id,
                len(proto).to_bytes(1, "big"),
                proto,
                self.round.to_bytes(1, "big"),
                self.sender.to_bytes(2, "big"),
                recipient.to_bytes(2, "big"),
                b"\x01" if self.secret else b"\x00",
            )
        )


class SessionRegistry(Protocol):
    """Remembers every session id a party has taken part in."""

    def claim(self, session_id: bytes) -> None:
        """Record ``session_id``; raise SessionReused if it was seen before."""


class InMemorySessionRegistry:
    """Process-local registry (tests, embedded mode); signer nodes persist theirs."""

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self._lock = threading.Lock()

    def claim(self, session_id: bytes) -> None:
        with self._lock:
            if session_id in self._seen:
                raise SessionReused(
                    f"session id {session_id.hex()} was already used", check="session-id"
                )
            self._seen.add(session_id)


def check_session_id(session_id: bytes) -> None:
    """A session id is ``MIN_SESSION_ID``..``MAX_SESSION_ID`` bytes."""
    if not isinstance(session_id, bytes) or not (
        MIN_SESSION_ID <= len(session_id) <= MAX_SESSION_ID
    ):
        raise InvalidParameters(
            f"session id must be {MIN_SESSION_ID}..{MAX_SESSION_ID} bytes of fresh randomness"
        )


class StateMachine(ABC, Generic[T]):
    """One party of one protocol session, with result type ``T``.

    This base holds what every party shares: the session id (claimed in the
    registry, so a party never runs the same session twice), its own index ``me``,
    the current ``round``, the queue of outgoing messages, one inbox per round and the
    outcome (a result, or the ProtocolError that aborted the session with blame).
    A subclass names its ``protocol``, its ``last_round`` and ``broadcast_rounds``, says
    whose messages it waits for in each round (:meth:`expected_senders`) and does the
    protocol's work when they are in (:meth:`process_round`), queuing messages with
    :meth:`send` and ending with :meth:`finish`.
    """

    #: The protocol's name, bound into every message header (e.g. ``frost-sign/...``).
    protocol: str

    def __init__(self, session_id: bytes, me: int, registry: SessionRegistry) -> None:
        check_session_id(session_id)
        registry.claim(session_id)
        self.session_id = session_id
        self.me = me
        self.round = 1
        self._outbox: list[ProtocolMessage] = []
        self._inbox: dict[int, dict[int, ProtocolMessage]] = {}
        self._result: T | None = None
        self._error: ProtocolError | None = None

    # -- driving -----------------------------------------------------------
    def messages(self) -> list[ProtocolMessage]:
        """The messages queued since the last call (the queue is emptied)."""
        out, self._outbox = self._outbox, []
        return out

    @property
    def done(self) -> bool:
        """Finished, with a result or with a failure."""
        return self._result is not None or self._error is not None

    @property
    def failed(self) -> ProtocolError | None:
        """The error that aborted the session, or None."""
        return self._error

    def result(self) -> T:
        """The party's result; raises the session's ProtocolError if it failed, or one
        with check ``not-finished`` if it has not finished."""
        if self._error is not None:
            raise self._error
        if self._result is None:
            raise ProtocolError("protocol has not finished", check="not-finished")
        return self._result

    def receive(self, msg: ProtocolMessage) -> None:
        """Accept one message. A message for another session, protocol, party or an
        earlier round, or a second one from the same sender in a round, is rejected
        with ProtocolError and leaves the state unchanged. A message that fails a
        protocol check aborts the session, blaming its sender."""
        if self.done:
            raise ProtocolError("session is finished", check="finished")
        if msg.session_id != self.session_id:
            raise ProtocolError(
                "message for another session", blame=(msg.sender,), check="session-id"
            )
        if msg.protocol != self.protocol:
            raise ProtocolError(
                "message for another protocol", blame=(msg.sender,), check="protocol"
            )
        if msg.recipient is not None and msg.recipient != self.me:
            raise ProtocolError("message for another party", blame=(msg.sender,), check="recipient")
        if msg.sender == self.me or msg.sender not in self.expected_senders(msg.round):
            raise ProtocolError(
                f"unexpected sender {msg.sender} in round {msg.round}",
                blame=(msg.sender,),
                check="sender",
            )
        if (msg.recipient is None) != (msg.round in self.broadcast_rounds):
            # A broadcast round must reach everyone alike (no per-recipient versions to
            # equivocate with); a point-to-point round must be addressed to us.
            raise ProtocolError(
                f"round {msg.round} message has the wrong shape (broadcast vs direct)",
                blame=(msg.sender,),
                check="broadcast",
            )
        if msg.round < self.round or msg.round > self.last_round:
            raise ProtocolError(
                f"message for round {msg.round} while in round {self.round}",
                blame=(msg.sender,),
                check="round",
            )
        box = self._inbox.setdefault(msg.round, {})
        if msg.sender in box:
            raise ProtocolError(
                f"second message from {msg.sender} in round {msg.round}",
                blame=(msg.sender,),
                check="duplicate",
            )
        box[msg.sender] = msg
        self._advance()

    def _advance(self) -> None:
        while not self.done:
            box = self._inbox.get(self.round, {})
            if set(box) != self.expected_senders(self.round):
                return
            queued = len(self._outbox)
            try:
                self.process_round(self.round, box)
            except ProtocolError as exc:
                # Messages of earlier rounds still go out; nothing of the failed round does.
                del self._outbox[queued:]
                self._error = exc
                return
            self.round += 1

    def waiting_for(self) -> set[int]:
        """Parties whose message for the current round has not arrived."""
        if self.done:
            return set()
        return self.expected_senders(self.round) - set(self._inbox.get(self.round, {}))

    # -- for subclasses ------------------------------------------------------
    #: The last round whose messages this party receives.
    last_round: int
    #: Rounds whose messages are broadcasts (recipient None); all others are direct.
    broadcast_rounds: frozenset[int] = frozenset()

    @abstractmethod
    def expected_senders(self, round_: int) -> set[int]:
        """Parties whose message this party waits for in ``round_``."""

    @abstractmethod
    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        """All messages of ``round_`` are in: check them, queue the next round's messages,
        or set the result. Raise ProtocolError (with blame) on a failed check."""

    def send(
        self, round_: int, recipient: int | None, payload: bytes, *, secret: bool = False
    ) -> None:
        """Queue a message of ``round_`` to ``recipient`` (None: broadcast)."""
        self._outbox.append(
            ProtocolMessage(
                self.session_id, self.protocol, round_, self.me, recipient, payload, secret
            )
        )

    def finish(self, value: T) -> None:
        """End the session with ``value`` as its result."""
        self._result = value


def run_locally(parties: Iterable[StateMachine[Any]]) -> None:
    """Deliver messages among in-process parties until none are left (tests, demo)."""
    by_id = {p.me: p for p in parties}
    progress = True
    while progress:
        progress = False
        for p in list(by_id.values()):
            for m in p.messages():
                progress = True
                targets = (
                    [m.recipient]
                    if m.recipient is not None
                    else [i for i in by_id if i != m.sender]
                )
                for t in targets:
                    target = by_id.get(t)
                    if target is not None and not target.done:
                        target.receive(m)
