"""The protocol sessions a signer node runs.

A start request (``dkg.start``, ``sign.start``, ``presign.start``, …) opens a
session: the handler checks the request, builds the protocol's state machine and
hands it here with a ``finish`` callback. The parties' keys come from the signer's
pinned roster only (``signer.roster``), never from the request. ``deliver``
requests then feed it the envelopes the coordinator relays (each opened and checked
against the session's parties: signed by its sender, for this session and
recipient, decrypted when secret), and the reply carries the machine's outgoing
envelopes, its round and the parties it still waits for (so the coordinator can
name a withholder). When the machine finishes, ``finish`` stores its result and
returns the fields of the final reply; a failed machine's ``ProtocolError`` (with
blame) becomes the reply.

This module knows no protocol; the FROST and CGGMP24 handlers use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shardvault.errors import Forbidden, InvalidParameters, NotFound
from shardvault.protocols.messages import COORDINATOR, StateMachine
from shardvault.signer.context import SignerContext
from shardvault.transport.envelope import Envelope, open_envelope, seal_envelope
from shardvault.transport.identity import PartyKeys, party_from_json
from shardvault.transport.rpc import encode_ok, hex_arg

__all__ = ["SESSION_TTL_SECONDS", "SessionHost", "SessionParties"]

#: An open session (or a pending import) older than this is dropped.
SESSION_TTL_SECONDS = 120.0

#: Stores a finished machine's result; returns the extra fields of the final reply.
Finish = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SessionParties:
    """A start request's parties, checked: public keys by party index (the
    coordinator as party 0), each signer's id by party index in the listed order,
    and this signer's own index."""

    keys: dict[int, PartyKeys]
    signer_of: dict[int, str]
    me: int

    @property
    def signer_ids(self) -> list[str]:
        """The signer ids in the listed order."""
        return list(self.signer_of.values())

    @property
    def indices(self) -> list[int]:
        """The signers' party indices, sorted (the coordinator excluded)."""
        return sorted(i for i in self.keys if i != COORDINATOR)


@dataclass
class _Session:
    machine: StateMachine[Any]
    parties: dict[int, PartyKeys]
    me: int
    finish: Finish
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SessionHost:
    """Open sessions by id. Thread-safe: the transport may run requests concurrently;
    one session's messages are processed one at a time."""

    def __init__(self, ctx: SignerContext, coordinator_key: bytes) -> None:
        self._ctx = ctx
        self._coordinator_key = coordinator_key
        self._sessions: dict[bytes, _Session] = {}

    def clear(self) -> None:
        self._sessions.clear()

    def expire(self, now: float) -> None:
        """Drop sessions older than ``SESSION_TTL_SECONDS`` (``now``: monotonic)."""
        for sid in [s for s, v in self._sessions.items() if now - v.started > SESSION_TTL_SECONDS]:
            del self._sessions[sid]

    def parties(self, body: dict[str, Any]) -> SessionParties:
        """The ``parties`` of a start request, with each signer's keys taken from this
        signer's pinned roster (never from the request): a signer the roster does not
        list, or an entry naming other keys than the roster's, is refused naming that
        signer. This signer must be one of them; indices are distinct, in 1..255."""
        roster = self._ctx.roster.require()
        keys = {COORDINATOR: PartyKeys(self._coordinator_key, b"")}
        signer_of: dict[int, str] = {}
        me = 0
        for entry in body["parties"]:
            index, signer_id, named = party_from_json(entry)
            if index in keys or not (1 <= index <= 255):
                raise InvalidParameters("party indices must be distinct, in 1..255")
            if signer_id in signer_of.values():
                raise InvalidParameters(f"signer {signer_id} is listed twice")
            pinned = roster.entry(signer_id)
            if pinned is None:
                raise Forbidden(
                    f"signer {signer_id} is not in the roster of signer {self._ctx.signer_id}",
                    code="UnknownSigner",
                )
            if named is not None and named != pinned.party_keys:
                raise Forbidden(
                    f"the session names keys for signer {signer_id} other than the pinned "
                    f"roster's (signer {self._ctx.signer_id} refuses it)",
                    code="RosterMismatch",
                )
            keys[index] = pinned.party_keys
            signer_of[index] = signer_id
            if signer_id == self._ctx.signer_id:
                me = index
        if me == 0:
            raise Forbidden("this signer is not a party of the session")
        return SessionParties(keys, signer_of, me)

    def key_parties(
        self, body: dict[str, Any], key_signers: list[str], index: int
    ) -> SessionParties:
        """The parties of a session on an existing key: each listed signer must sit at
        its own index of the key (``key_signers[index - 1]``), and this signer at its
        share index ``index``."""
        parties = self.parties(body)
        for i, signer_id in parties.signer_of.items():
            if i > len(key_signers) or key_signers[i - 1] != signer_id:
                raise Forbidden("session parties do not match the key's signers")
        if parties.me != index:
            raise Forbidden("this signer's index in the session is not its share index")
        return parties

    def open(
        self,
        body: dict[str, Any],
        machine: StateMachine[Any],
        parties: SessionParties,
        finish: Finish,
    ) -> bytes:
        """Open the session ``body["sessionId"]`` on ``machine``; the reply carries
        its first messages."""
        sid = hex_arg(body["sessionId"])
        session = _Session(machine, parties.keys, parties.me, finish)
        self._sessions[sid] = session
        return self._in_progress(session, self._outgoing(session))

    def deliver(self, body: dict[str, Any]) -> bytes:
        """The ``deliver`` operation: feed the session the relayed envelopes."""
        sid = hex_arg(body["sessionId"])
        session = self._sessions.get(sid)
        if session is None:
            raise NotFound(f"signer {self._ctx.signer_id} has no open session {sid.hex()}")
        with session.lock:
            if self._sessions.get(sid) is not session:
                raise NotFound(f"signer {self._ctx.signer_id} has no open session {sid.hex()}")
            for raw in body["envelopes"]:
                msg = open_envelope(
                    Envelope.from_bytes(hex_arg(raw)),
                    me=session.me,
                    session_id=sid,
                    parties=session.parties,
                    key_pair=self._ctx.hpke,
                    relayer=COORDINATOR,
                )
                session.machine.receive(msg)
            out = self._outgoing(session)
            if not session.machine.done:
                return self._in_progress(session, out)
            del self._sessions[sid]
            failure = session.machine.failed
            if failure is not None:
                raise failure
            return encode_ok(envelopes=out, done=True, **session.finish(session.machine.result()))

    @staticmethod
    def _in_progress(session: _Session, envelopes: list[str]) -> bytes:
        """A reply for an unfinished session: its envelopes, its round and whom it
        waits for (so the coordinator can name a withholding party)."""
        return encode_ok(
            envelopes=envelopes,
            done=False,
            round=session.machine.round,
            waitingFor=sorted(session.machine.waiting_for()),
        )

    def _outgoing(self, session: _Session) -> list[str]:
        return [
            seal_envelope(m, self._ctx.identity, session.parties).to_bytes().hex()
            for m in session.machine.messages()
        ]
