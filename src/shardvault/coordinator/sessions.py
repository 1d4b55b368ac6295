"""Talking to the signers: the session plumbing every coordinator service uses.

``SignerSessions`` sends signed requests to the signer nodes over a ``Transport``,
pins each signer's identity and encryption keys to the cluster roster (a signer
presenting other keys is refused, named; before the roster is formed, at the
cluster's first start, a key is pinned on first sight), tracks
which signers answer, starts a protocol session on a set of signers and relays
their signed envelopes until every party is finished, and turns a failure into a
typed error naming the missing or misbehaving signer (blame). It knows nothing of
any particular protocol: the FROST and CGGMP24 services (``coordinator.frost``,
``coordinator.cggmp``) drive their sessions through it.

It holds no secret but the coordinator's identity key, which signs its requests
and, as party 0, the messages of a protocol party the coordinator runs itself
(the FROST signing coordinator). Envelopes between signers are end-to-end signed
and, when secret, encrypted; here they are only routed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from shardvault.errors import (
    InvalidEncoding,
    ProtocolError,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.messages import COORDINATOR, InMemorySessionRegistry, StateMachine
from shardvault.transport.base import Transport
from shardvault.transport.envelope import (
    Envelope,
    open_envelope,
    seal_envelope,
    verify_envelope_signature,
)
from shardvault.transport.identity import PartyKeys, SignerDescriptor, party_to_json
from shardvault.transport.roster import Roster
from shardvault.transport.rpc import decode_reply, encode_request

__all__ = ["SessionParties", "SignerSessions", "reply_from"]


def _envelopes(
    signer_id: str,
    reply: Mapping[str, Any],
    *,
    index: int,
    session_id: bytes,
    identity_key: bytes,
) -> list[Envelope]:
    """The envelopes of a signer's reply. Each must be from that signer (its index),
    for this session, and carry its valid signature: a signer cannot relay, replay or
    forge another party's message to get it blamed. Anything else is its own fault."""
    try:
        out = [Envelope.from_bytes(bytes.fromhex(e)) for e in reply["envelopes"]]
        for env in out:
            fields = env.fields
            if fields.sender != index or fields.session_id != session_id:
                raise InvalidEncoding("envelope is not this signer's, for this session")
            if not verify_envelope_signature(env, identity_key):
                raise InvalidEncoding("envelope signature does not verify")
    except (InvalidEncoding, KeyError, TypeError, ValueError) as exc:
        raise SignerMisbehaved(
            f"signer {signer_id} sent an invalid envelope: {exc}",
            signers=(signer_id,),
            check="envelope",
        ) from exc
    return out


@contextmanager
def reply_from(signer_id: str) -> Iterator[None]:
    """Reading a signer's reply: a missing or mistyped field is that signer's fault."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SignerMisbehaved(
            f"signer {signer_id} sent a malformed reply", signers=(signer_id,), check="reply"
        ) from exc


@dataclass(frozen=True, slots=True)
class SessionParties:
    """The parties of one session: signer id -> party index, index -> public keys,
    and the ``parties`` argument of the signers' start requests."""

    index_of: dict[str, int]
    keys: dict[int, PartyKeys]
    arg: list[dict[str, Any]]

    @classmethod
    def of(cls, ordered: Sequence[tuple[int, SignerDescriptor]]) -> SessionParties:
        """From (party index, signer) pairs."""
        return cls(
            {d.signer_id: i for i, d in ordered},
            {i: PartyKeys(d.identity_key, d.encryption_key) for i, d in ordered},
            [party_to_json(i, d.signer_id) for i, d in ordered],
        )

    @property
    def signer_of(self) -> dict[int, str]:
        return {i: s for s, i in self.index_of.items()}


class SignerSessions:
    def __init__(
        self,
        transport: Transport,
        signer_ids: Sequence[str],
        identity: SigningKey,
        *,
        timeout: float = 10.0,
        ping_timeout: float = 2.0,
        recent_seconds: float = 2.0,
    ) -> None:
        self._transport = transport
        self._signer_ids = tuple(sorted(signer_ids))
        self._identity = identity
        self.timeout = timeout
        self.ping_timeout = ping_timeout
        #: a signer that answered this recently counts as reachable without a ping
        self.recent_seconds = recent_seconds
        self._registry = InMemorySessionRegistry()
        #: the cluster roster: every signer's keys must be its entry's (pin_roster)
        self._roster: Roster | None = None
        #: each signer's descriptor as last seen (and, before the roster, pinned on
        #: first sight: a changed identity key is refused).
        self._pinned: dict[str, SignerDescriptor] = {}
        #: monotonic time of each signer's last answer (see reachable).
        self._last_seen: dict[str, float] = {}
        #: signers that have not committed an epoch the coordinator decided (they
        #: still hold the old shares and aux info): left out of signing, presigning
        #: and export until the background resume commits them (coordinator/epoch.py).
        self.lagging: frozenset[str] = frozenset()

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return self._signer_ids

    @property
    def identity_key(self) -> bytes:
        return bytes(self._identity.verify_key)

    @property
    def roster(self) -> Roster | None:
        return self._roster

    def pin_roster(self, roster: Roster) -> None:
        """From now on every signer must present exactly its roster entry's keys."""
        if set(roster.signer_ids) != set(self._signer_ids):
            raise SignerMisbehaved(
                "the roster lists other signers than the cluster's",
                signers=tuple(sorted(set(roster.signer_ids) ^ set(self._signer_ids))),
                check="roster",
            )
        self._roster = roster
        for signer_id, desc in list(self._pinned.items()):
            if not self._matches(desc):
                del self._pinned[signer_id]
                self._last_seen.pop(signer_id, None)

    def _matches(self, desc: SignerDescriptor) -> bool:
        entry = None if self._roster is None else self._roster.entry(desc.signer_id)
        return entry is not None and entry.party_keys == PartyKeys(
            desc.identity_key, desc.encryption_key
        )

    @property
    def registry(self) -> InMemorySessionRegistry:
        """The session ids this coordinator has used (a local party claims its own)."""
        return self._registry

    def new_session_id(self) -> bytes:
        """A fresh 32-byte session id, claimed so it is never used twice."""
        sid = os.urandom(32)
        self._registry.claim(sid)
        return sid

    # -- calls ------------------------------------------------------------------------
    async def call(
        self,
        signer_id: str,
        op: str,
        *,
        timeout: float | None = None,
        background: bool = False,
        **args: Any,
    ) -> dict[str, Any]:
        request = encode_request(op, signer_id, args, self._identity)
        limit = self.timeout if timeout is None else timeout
        try:
            # asyncio.timeout, not wait_for: wait_for can swallow a cancellation.
            async with asyncio.timeout(limit):
                reply = await self._transport.request(
                    signer_id, request, timeout=limit, background=background
                )
        except TimeoutError as exc:
            self._last_seen.pop(signer_id, None)
            raise SignersUnavailable(
                f"signer {signer_id} did not answer within {limit:.1f} s", signers=(signer_id,)
            ) from exc
        except SignersUnavailable:
            self._last_seen.pop(signer_id, None)
            raise
        if signer_id in self._pinned:
            self._last_seen[signer_id] = time.monotonic()
        return decode_reply(reply)

    async def call_each(
        self, ids: Sequence[str], op: str, **args: Any
    ) -> dict[str, dict[str, Any] | BaseException]:
        """``op`` on every signer in ``ids`` at once; each signer's reply or exception."""
        results = await asyncio.gather(
            *(self.call(s, op, **args) for s in ids), return_exceptions=True
        )
        return dict(zip(ids, results, strict=True))

    async def _describe(self, signer_id: str, timeout: float) -> SignerDescriptor:
        reply = await self.call(signer_id, "info", timeout=timeout)
        with reply_from(signer_id):
            desc = SignerDescriptor(
                str(reply["signerId"]),
                bytes.fromhex(reply["identityKey"]),
                bytes.fromhex(reply["encryptionKey"]),
                bytes.fromhex(reply["encryptionKeySignature"]),
            )
        pinned = self._pinned.get(signer_id)
        if desc.signer_id != signer_id or (pinned and pinned.identity_key != desc.identity_key):
            raise SignerMisbehaved(
                f"signer {signer_id} presented another identity",
                signers=(signer_id,),
                check="identity",
            )
        if self._roster is not None:
            if not self._matches(desc):
                raise SignerMisbehaved(
                    f"signer {signer_id} presented other keys than the cluster roster's "
                    f"(roster {self._roster.fingerprint[:16]})",
                    signers=(signer_id,),
                    check="roster",
                )
            with reply_from(signer_id):
                fingerprint = reply.get("rosterFingerprint")
            if fingerprint is not None and fingerprint != self._roster.fingerprint:
                raise SignerMisbehaved(
                    f"signer {signer_id} has pinned another roster ({fingerprint!s:.16}) "
                    f"than the coordinator's ({self._roster.fingerprint[:16]})",
                    signers=(signer_id,),
                    check="roster",
                )
        self._pinned[signer_id] = desc
        return desc

    async def reachable(
        self, ids: Sequence[str], *, fresh: bool = False
    ) -> tuple[dict[str, SignerDescriptor], list[str]]:
        """Signers that answer now. A signer that answered within ``recent_seconds``
        counts as reachable without a ping (unless ``fresh``); if it has gone since,
        its session fails with SignersUnavailable and signing retries without it.
        A signer ``lagging`` behind a decided epoch counts as missing (unless
        ``fresh``): its old shares no longer match the key's verifying shares."""
        now = time.monotonic()
        found: dict[str, SignerDescriptor] = {}
        to_ping = []
        missing: list[str] = []
        for s in ids:
            if not fresh and s in self.lagging:
                missing.append(s)
                continue
            seen = self._last_seen.get(s)
            if not fresh and seen is not None and now - seen < self.recent_seconds:
                found[s] = self._pinned[s]
            else:
                to_ping.append(s)
        results = await asyncio.gather(
            *(self._describe(s, self.ping_timeout) for s in to_ping), return_exceptions=True
        )
        for sid, res in zip(to_ping, results, strict=True):
            if isinstance(res, SignerDescriptor):
                found[sid] = res
            elif isinstance(res, SignersUnavailable):
                missing.append(sid)
            elif isinstance(res, BaseException):
                raise res
        return found, missing

    async def require_all(self, ids: Sequence[str]) -> dict[str, SignerDescriptor]:
        found, missing = await self.reachable(ids)
        if missing:
            raise SignersUnavailable(
                f"signers {', '.join(missing)} are not reachable; this operation needs all of "
                f"{len(ids)}",
                signers=tuple(missing),
            )
        return found

    async def list_signers(self) -> Sequence[SignerDescriptor]:
        found, _missing = await self.reachable(self._signer_ids, fresh=True)
        # Unreachable signers are still listed with their pinned keys when known.
        return [
            found.get(s) or self._pinned[s]
            for s in self._signer_ids
            if s in found or s in self._pinned
        ]

    # -- session relay --------------------------------------------------------------------
    def blame(
        self, exc: ShardvaultError, reporter: str, index_to_signer: Mapping[int, str]
    ) -> ShardvaultError:
        """Map a party's ProtocolError to signer ids. A signer's report about another
        party rests on checks only it could make (a decrypted share, an echo), so the
        reporter is named beside the accused and the check is marked disputed. The
        coordinator's own findings (reporter "coordinator") are not disputed."""
        if not isinstance(exc, ProtocolError):
            return exc
        names = [
            "coordinator" if b == COORDINATOR else index_to_signer.get(b, f"party {b}")
            for b in exc.blame
        ]
        check = exc.check
        if reporter != "coordinator" and names and names != [reporter]:
            if reporter not in names:
                names.append(reporter)
            check = f"{check} (disputed)"
        return SignerMisbehaved(
            f"{exc.message} (reported by {reporter})",
            signers=tuple(names or [reporter]),
            check=check,
        )

    async def relay(
        self,
        session_id: bytes,
        first: Mapping[str, dict[str, Any]],
        session: SessionParties,
        local: StateMachine[Any] | None = None,
        *,
        timeout: float | None = None,
        background: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Route envelopes until every party is finished; return each signer's last reply.

        ``first`` holds each signer's reply to its start request. ``local`` is a party
        the coordinator runs itself (party 0, signing with the coordinator's identity
        key), which receives every broadcast and is finished last."""
        index_of = session.index_of
        signer_of = session.signer_of
        parties = dict(session.keys)
        if local is not None:
            parties[COORDINATOR] = PartyKeys(self.identity_key, b"")
        finals: dict[str, dict[str, Any]] = {}
        broadcasts: dict[tuple[int, int], bytes] = {}

        def take(sid: str, reply: Mapping[str, Any]) -> list[Envelope]:
            index = index_of[sid]
            envs = _envelopes(
                sid,
                reply,
                index=index,
                session_id=session_id,
                identity_key=parties[index].identity_key,
            )
            for env in envs:
                fields = env.fields
                if fields.recipient is None:
                    # One broadcast per sender and round: a second, different one is
                    # equivocation, proven by the sender's two signatures.
                    seen = broadcasts.setdefault((fields.sender, fields.round), env.to_bytes())
                    if seen != env.to_bytes():
                        raise SignerMisbehaved(
                            f"signer {sid} sent two different broadcasts in round {fields.round}",
                            signers=(sid,),
                            check="equivocation",
                        )
            return envs

        outbox = [env for sid, r in first.items() for env in take(sid, r)]
        #: unfinished signer -> (its round, the parties it waits for), from its replies
        waiting: dict[str, tuple[int, list[Any]]] = {}
        for sid, r in first.items():
            with reply_from(sid):
                waiting[sid] = (int(r.get("round", 0)), list(r.get("waitingFor", [])))
        while outbox:
            inbox: dict[int, list[Envelope]] = {}
            for env in outbox:
                fields = env.fields
                if fields.recipient is not None:
                    targets = [fields.recipient]
                else:
                    targets = [i for i in signer_of if i != fields.sender]
                    if local is not None and fields.sender != COORDINATOR:
                        targets.append(COORDINATOR)
                for t in targets:
                    inbox.setdefault(t, []).append(env)
            outbox = []
            if local is not None and COORDINATOR in inbox:
                for env in inbox.pop(COORDINATOR):
                    try:
                        local.receive(
                            open_envelope(
                                env,
                                me=COORDINATOR,
                                session_id=session_id,
                                parties=parties,
                                key_pair=None,
                                relayer=env.fields.sender,
                            )
                        )
                    except ProtocolError as exc:
                        raise self.blame(exc, "coordinator", signer_of) from exc
                outbox += [seal_envelope(m, self._identity, parties) for m in local.messages()]
                if local.failed is not None:
                    raise self.blame(local.failed, "coordinator", signer_of)
            calls = {
                signer_of[i]: self.call(
                    signer_of[i],
                    "deliver",
                    timeout=timeout,
                    background=background,
                    sessionId=session_id.hex(),
                    envelopes=[e.to_bytes().hex() for e in envs],
                )
                for i, envs in inbox.items()
                if i in signer_of and signer_of[i] not in finals
            }
            results = await asyncio.gather(*calls.values(), return_exceptions=True)
            for sid, res in zip(calls, results, strict=True):
                if isinstance(res, ShardvaultError):
                    raise self.blame(res, sid, signer_of)
                if isinstance(res, BaseException):
                    raise res
                outbox += take(sid, res)
                with reply_from(sid):
                    if res.get("done"):
                        finals[sid] = res
                    else:
                        waiting[sid] = (int(res.get("round", 0)), list(res.get("waitingFor", [])))
            for sid in finals:
                waiting.pop(sid, None)
        unfinished = [s for s in index_of if s not in finals]
        if unfinished or (local is not None and not local.done):
            # Nothing left to route, yet parties wait. Those stuck in the earliest round
            # wait for the withholder (a withholder itself may run ahead, waiting on them).
            stuck = {sid: waiting.get(sid, (0, [])) for sid in unfinished}
            if local is not None and not local.done:
                stuck["coordinator"] = (local.round, sorted(local.waiting_for()))
            earliest = min(r for r, _ in stuck.values())
            blocking = {
                int(i)
                for r, ids in stuck.values()
                if r == earliest
                for i in ids
                if isinstance(i, int)
            }
            names = tuple(sorted(signer_of[i] for i in blocking if i in signer_of))
            raise SignersUnavailable(
                f"the session stalled waiting for {', '.join(names) or 'unknown parties'}",
                signers=names,
            )
        return finals

    async def start_all(
        self,
        ids: Sequence[str],
        op: str,
        index_of: Mapping[str, int],
        *,
        timeout: float | None = None,
        background: bool = False,
        **args: Any,
    ) -> dict[str, dict[str, Any]]:
        """``op`` on every signer in ``ids`` at once; each signer's reply. The first
        failure is raised, a protocol error with its blame mapped to signer ids
        through ``index_of`` (party index of each signer)."""
        results = await asyncio.gather(
            *(self.call(s, op, timeout=timeout, background=background, **args) for s in ids),
            return_exceptions=True,
        )
        out: dict[str, dict[str, Any]] = {}
        for sid, res in zip(ids, results, strict=True):
            if isinstance(res, ShardvaultError):
                raise self.blame(res, sid, {i: s for s, i in index_of.items()})
            if isinstance(res, BaseException):
                raise res
            out[sid] = res
        return out
