"""The coordinator: starts sessions with fresh ids, picks the signers, relays their
signed envelopes, enforces timeouts, and turns failures into typed errors that name
the missing or misbehaving signer. It implements ``SigningBackend`` for the API.

It holds no secret but its own identity key (which signs its requests and its
envelopes as FROST coordinator, party 0). Envelopes between signers are end-to-end
signed and, when secret, encrypted; the coordinator only routes them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from nacl.signing import SigningKey

from shardvault.coordinator.backend import EcdsaStatus, ExportedShare, KeyRecord
from shardvault.coordinator.cggmp import CggmpService
from shardvault.errors import (
    InvalidEncoding,
    InvalidImport,
    InvalidParameters,
    NotFound,
    ProtocolError,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.protocols.frost.keys import PublicKeyPackage
from shardvault.protocols.frost.session import FrostCoordinator
from shardvault.protocols.messages import COORDINATOR, InMemorySessionRegistry
from shardvault.protocols.registry import ECDSA_PROTOCOL, PROTOCOLS
from shardvault.transport.base import Transport
from shardvault.transport.envelope import (
    Envelope,
    open_envelope,
    seal_envelope,
    verify_envelope_signature,
)
from shardvault.transport.identity import PartyKeys, SignerDescriptor
from shardvault.transport.rpc import decode_reply, encode_request

__all__ = ["Coordinator"]

log = logging.getLogger("shardvault.coordinator")


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
def _reply_from(signer_id: str) -> Iterator[None]:
    """Reading a signer's reply: a missing or mistyped field is that signer's fault."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SignerMisbehaved(
            f"signer {signer_id} sent a malformed reply", signers=(signer_id,), check="reply"
        ) from exc


def _key_record(
    key_id: str,
    protocol: str,
    curve: str,
    min_signers: int,
    ids: Sequence[str],
    reply: Mapping[str, Any],
) -> KeyRecord:
    """The KeyRecord from a signer's (agreed) report of the group key and public shares."""
    verifying = {ids[int(i) - 1]: bytes.fromhex(y) for i, y in reply["verifyingShares"].items()}
    return KeyRecord(
        key_id,
        protocol,
        curve,
        bytes.fromhex(reply["publicKey"]),
        min_signers,
        tuple(ids),
        verifying,
    )


class Coordinator:
    def __init__(
        self,
        transport: Transport,
        signer_ids: Sequence[str],
        identity: SigningKey,
        *,
        cluster_id: str,
        timeout: float = 10.0,
        ping_timeout: float = 2.0,
        recent_seconds: float = 2.0,
        presig_pool_target: int = 8,
    ) -> None:
        self._transport = transport
        self._signer_ids = tuple(sorted(signer_ids))
        self._identity = identity
        self._cluster_id = cluster_id
        self.timeout = timeout
        self.ping_timeout = ping_timeout
        self._registry = InMemorySessionRegistry()
        #: identity keys pinned on first sight; a changed key is refused.
        self._pinned: dict[str, SignerDescriptor] = {}
        #: validated public key packages, by key id (the record must match exactly).
        self._packages: dict[str, tuple[KeyRecord, PublicKeyPackage]] = {}
        #: monotonic time of each signer's last answer (see _reachable).
        self._last_seen: dict[str, float] = {}
        self.recent_seconds = recent_seconds
        #: CGGMP24: aux-info setup, presignature pools, signing, refresh.
        self.ecdsa = CggmpService(self, pool_target=presig_pool_target)

    @property
    def cluster_id(self) -> str:
        return self._cluster_id

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return self._signer_ids

    @property
    def identity_key(self) -> bytes:
        return bytes(self._identity.verify_key)

    # -- calls ------------------------------------------------------------------------
    async def _call(
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

    async def _call_each(
        self, ids: Sequence[str], op: str, **args: Any
    ) -> dict[str, dict[str, Any] | BaseException]:
        """``op`` on every signer in ``ids`` at once; each signer's reply or exception."""
        results = await asyncio.gather(
            *(self._call(s, op, **args) for s in ids), return_exceptions=True
        )
        return dict(zip(ids, results, strict=True))

    async def _describe(self, signer_id: str, timeout: float) -> SignerDescriptor:
        reply = await self._call(signer_id, "info", timeout=timeout)
        with _reply_from(signer_id):
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
        self._pinned[signer_id] = desc
        return desc

    async def _reachable(
        self, ids: Sequence[str], *, fresh: bool = False
    ) -> tuple[dict[str, SignerDescriptor], list[str]]:
        """Signers that answer now. A signer that answered within ``recent_seconds``
        counts as reachable without a ping (unless ``fresh``); if it has gone since,
        its session fails with SignersUnavailable and signing retries without it."""
        now = time.monotonic()
        found: dict[str, SignerDescriptor] = {}
        to_ping = []
        for s in ids:
            seen = self._last_seen.get(s)
            if not fresh and seen is not None and now - seen < self.recent_seconds:
                found[s] = self._pinned[s]
            else:
                to_ping.append(s)
        results = await asyncio.gather(
            *(self._describe(s, self.ping_timeout) for s in to_ping), return_exceptions=True
        )
        missing: list[str] = []
        for sid, res in zip(to_ping, results, strict=True):
            if isinstance(res, SignerDescriptor):
                found[sid] = res
            elif isinstance(res, SignersUnavailable):
                missing.append(sid)
            elif isinstance(res, BaseException):
                raise res
        return found, missing

    async def _require_all(self, ids: Sequence[str]) -> dict[str, SignerDescriptor]:
        found, missing = await self._reachable(ids)
        if missing:
            raise SignersUnavailable(
                f"signers {', '.join(missing)} are not reachable; this operation needs all of "
                f"{len(ids)}",
                signers=tuple(missing),
            )
        return found

    async def list_signers(self) -> Sequence[SignerDescriptor]:
        found, _missing = await self._reachable(self._signer_ids, fresh=True)
        # Unreachable signers are still listed with their pinned keys when known.
        return [
            found.get(s) or self._pinned[s]
            for s in self._signer_ids
            if s in found or s in self._pinned
        ]

    # -- session relay --------------------------------------------------------------------
    @staticmethod
    def _parties_arg(ordered: Sequence[tuple[int, SignerDescriptor]]) -> list[dict[str, Any]]:
        return [
            {
                "index": i,
                "signerId": d.signer_id,
                "identityKey": d.identity_key.hex(),
                "encryptionKey": d.encryption_key.hex(),
            }
            for i, d in ordered
        ]

    def _blame(
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

    async def _relay(
        self,
        session_id: bytes,
        first: Mapping[str, dict[str, Any]],
        index_of: Mapping[str, int],
        parties: Mapping[int, PartyKeys],
        local: FrostCoordinator | None = None,
        *,
        timeout: float | None = None,
        background: bool = False,
    ) -> dict[str, dict[str, Any]]:
        """Route envelopes until every party is finished; return each signer's last reply."""
        signer_of = {i: s for s, i in index_of.items()}
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
            with _reply_from(sid):
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
                        raise self._blame(exc, "coordinator", signer_of) from exc
                outbox += [seal_envelope(m, self._identity, parties) for m in local.messages()]
                if local.failed is not None:
                    raise self._blame(local.failed, "coordinator", signer_of)
            calls = {
                signer_of[i]: self._call(
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
                    raise self._blame(res, sid, signer_of)
                if isinstance(res, BaseException):
                    raise res
                outbox += take(sid, res)
                with _reply_from(sid):
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

    async def _start_all(
        self,
        ids: Sequence[str],
        op: str,
        index_of: Mapping[str, int],
        *,
        timeout: float | None = None,
        background: bool = False,
        **args: Any,
    ) -> dict[str, dict[str, Any]]:
        results = await asyncio.gather(
            *(self._call(s, op, timeout=timeout, background=background, **args) for s in ids),
            return_exceptions=True,
        )
        out: dict[str, dict[str, Any]] = {}
        for sid, res in zip(ids, results, strict=True):
            if isinstance(res, ShardvaultError):
                raise self._blame(res, sid, {i: s for s, i in index_of.items()})
            if isinstance(res, BaseException):
                raise res
            out[sid] = res
        return out

    # -- SigningBackend -------------------------------------------------------------------
    async def generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord:
        if (protocol, curve) not in PROTOCOLS:
            raise InvalidParameters(f"unsupported protocol/curve {protocol}/{curve}")
        if protocol == ECDSA_PROTOCOL:
            self.ecdsa.require_ready()
        ids = list(self._signer_ids)
        if not (1 <= min_signers <= len(ids)):
            raise InvalidParameters(f"minSigners must be between 1 and {len(ids)}")
        descs = await self._require_all(ids)
        index_of = {s: i + 1 for i, s in enumerate(ids)}
        ordered = [(index_of[s], descs[s]) for s in ids]
        parties = {i: PartyKeys(d.identity_key, d.encryption_key) for i, d in ordered}
        sid = os.urandom(32)
        self._registry.claim(sid)
        try:
            first = await self._start_all(
                ids,
                "dkg.start",
                index_of,
                sessionId=sid.hex(),
                keyId=key_id,
                protocol=protocol,
                curve=curve,
                minSigners=min_signers,
                parties=self._parties_arg(ordered),
            )
            finals = await self._relay(sid, first, index_of, parties)
            views = {
                (r["publicKey"], tuple(sorted(r["verifyingShares"].items())))
                for r in finals.values()
            }
            if len(views) != 1:
                raise SignerMisbehaved(
                    "signers finished key generation with different keys", check="dkg-result"
                )
        except BaseException:
            await self._erase_everywhere(key_id, ids)
            raise
        with _reply_from(ids[0]):
            record = _key_record(key_id, protocol, curve, min_signers, ids, finals[ids[0]])
        self.ecdsa.key_added(record)
        return record

    async def import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
    ) -> KeyRecord:
        if (protocol, curve) not in PROTOCOLS:
            raise InvalidImport(
                f"unsupported protocol/curve {protocol}/{curve}", code="UnsupportedProtocol"
            )
        if protocol == ECDSA_PROTOCOL:
            self.ecdsa.require_ready()
        ids = sorted(encrypted_shares)
        unknown = [s for s in ids if s not in self._signer_ids]
        if unknown:
            raise InvalidImport(
                f"unknown signers {unknown}", code="UnknownSigner", signers=tuple(unknown)
            )
        missing = [s for s in self._signer_ids if s not in encrypted_shares]
        if missing:
            raise InvalidImport(
                f"an import needs a share for every signer of the cluster; missing {missing}",
                code="MissingSigner",
                signers=tuple(missing),
            )
        if not (1 <= min_signers <= len(ids)):
            raise InvalidImport(
                f"minSigners must be between 1 and the number of shares ({len(ids)})",
                code="InvalidMinSigners",
            )
        await self._require_all(ids)
        results = await asyncio.gather(
            *(
                self._call(
                    s,
                    "import.prepare",
                    keyId=key_id,
                    protocol=protocol,
                    curve=curve,
                    minSigners=min_signers,
                    signerIds=ids,
                    blob=encrypted_shares[s].hex(),
                )
                for s in ids
            ),
            return_exceptions=True,
        )
        failures = [
            (s, r) for s, r in zip(ids, results, strict=True) if isinstance(r, BaseException)
        ]
        if failures:
            await self._abort_import(key_id, ids)
            sid, exc = failures[0]
            if isinstance(exc, SignersUnavailable):
                raise exc
            if isinstance(exc, ShardvaultError):
                raise InvalidImport(
                    f"signer {sid} refused its share: {exc.message}",
                    code=exc.code if isinstance(exc, InvalidImport) else "InvalidShare",
                    signers=tuple(s for s, _ in failures),
                ) from exc
            raise exc
        prepared = {s: r for s, r in zip(ids, results, strict=True) if isinstance(r, dict)}
        views = {
            (r["digest"], r["publicKey"], tuple(sorted(r["verifyingShares"].items())))
            for r in prepared.values()
        }
        if len(views) != 1:
            await self._abort_import(key_id, ids)
            raise InvalidImport(
                "signers received different commitments; nothing was imported",
                code="CommitmentMismatch",
                signers=tuple(ids),
            )
        digest = prepared[ids[0]]["digest"]
        # Commit stores every share as Pending (inert: it neither signs nor exports);
        # only when all signers hold it does activate make it usable. A signer lost in
        # between keeps at most an inert share, erased when it is reachable again.
        for step, args in (("import.commit", {"digest": digest}), ("import.activate", {})):
            try:
                await self._start_all(ids, step, {}, keyId=key_id, **args)
            except ShardvaultError as exc:
                await self._erase_everywhere(key_id, ids)
                if isinstance(exc, SignersUnavailable):
                    raise
                raise InvalidImport(
                    f"the import could not be completed on every signer ({exc.message}); "
                    "nothing was imported",
                    code="ImportCommitFailed",
                    signers=getattr(exc, "signers", ()),
                ) from exc
            except BaseException:
                await self._erase_everywhere(key_id, ids)
                raise
        with _reply_from(ids[0]):
            record = _key_record(key_id, protocol, curve, min_signers, ids, prepared[ids[0]])
        self.ecdsa.key_added(record)
        return record

    async def _abort_import(self, key_id: str, ids: Sequence[str]) -> None:
        await self._call_each(ids, "import.abort", keyId=key_id)

    async def _erase_everywhere(self, key_id: str, ids: Sequence[str]) -> list[str]:
        """Best effort: erase a key's shares on every signer; returns those not reached."""
        results = await self._call_each(ids, "delete", keyId=key_id)
        failed = [
            s
            for s, r in results.items()
            if isinstance(r, BaseException) and not isinstance(r, NotFound)
        ]
        if failed:
            log.warning("key %s: signers %s did not confirm erasure", key_id, failed)
        return failed

    def _public_package(self, key: KeyRecord) -> PublicKeyPackage:
        cached = self._packages.get(key.key_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        package = self._build_public_package(key)
        if len(self._packages) >= 4096:
            self._packages.pop(next(iter(self._packages)))
        self._packages[key.key_id] = (key, package)
        return package

    def _build_public_package(self, key: KeyRecord) -> PublicKeyPackage:
        suite = suite_for(key.protocol, key.curve)
        g = suite.group
        verifying = {
            i + 1: g.decode_point(key.verifying_shares[s]) for i, s in enumerate(key.signer_ids)
        }
        return PublicKeyPackage(suite, g.decode_point(key.public_key), verifying, key.min_signers)

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        if key.protocol == ECDSA_PROTOCOL:
            if taproot_merkle_root is not None:
                raise InvalidParameters("a Taproot tweak applies to Schnorr keys only")
            return await self.ecdsa.sign(key, message)
        public = self._public_package(key)
        excluded: set[str] = set()
        for attempt in range(2):
            try:
                return await self._sign_once(key, public, message, taproot_merkle_root, excluded)
            except SignersUnavailable as exc:
                # A signer vanished mid-session: retry once, without it, in a fresh session.
                if attempt == 1 or not exc.signers:
                    raise
                excluded.update(exc.signers)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _sign_once(
        self,
        key: KeyRecord,
        public: PublicKeyPackage,
        message: bytes,
        merkle_root: bytes | None,
        excluded: set[str],
    ) -> bytes:
        candidates = [s for s in key.signer_ids if s not in excluded]
        found, missing = await self._reachable(candidates)
        missing += sorted(excluded)
        chosen = [s for s in key.signer_ids if s in found][: key.min_signers]
        if len(chosen) < key.min_signers:
            raise SignersUnavailable(
                f"key {key.key_id} needs {key.min_signers} signers; "
                f"unreachable: {', '.join(missing)}",
                signers=tuple(missing),
            )
        index_of = {s: key.signer_ids.index(s) + 1 for s in chosen}
        ordered = [(index_of[s], found[s]) for s in chosen]
        parties = {i: PartyKeys(d.identity_key, d.encryption_key) for i, d in ordered}
        parties[COORDINATOR] = PartyKeys(self.identity_key, b"")
        sid = os.urandom(32)
        local = FrostCoordinator(
            public, sid, sorted(index_of.values()), message, self._registry, merkle_root=merkle_root
        )
        first = await self._start_all(
            chosen,
            "sign.start",
            index_of,
            sessionId=sid.hex(),
            keyId=key.key_id,
            message=message.hex(),
            merkleRoot=None if merkle_root is None else merkle_root.hex(),
            parties=self._parties_arg(ordered),
        )
        await self._relay(sid, first, index_of, parties, local)
        if local.failed is not None:
            raise self._blame(local.failed, "coordinator", {i: s for s, i in index_of.items()})
        return local.result()

    async def export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]:
        self.ecdsa.key_removed(key.key_id)  # an exported key no longer signs
        found, missing = await self._reachable(list(key.signer_ids))
        if len(found) < key.min_signers:
            raise SignersUnavailable(
                f"export needs {key.min_signers} signers; unreachable: {', '.join(missing)}",
                signers=tuple(missing),
            )
        holders = [s for s in key.signer_ids if s in found]
        results = await asyncio.gather(
            *(
                self._call(
                    s, "export", keyId=key.key_id, requesterKey=requester_encryption_key.hex()
                )
                for s in holders
            ),
            return_exceptions=True,
        )
        shares = []
        for s, r in zip(holders, results, strict=True):
            if isinstance(r, dict):
                with _reply_from(s):
                    shares.append(ExportedShare(s, bytes.fromhex(r["blob"])))
        if len(shares) < key.min_signers:
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors and isinstance(errors[0], NotFound):
                raise errors[0]
            raise SignersUnavailable(
                f"only {len(shares)} of the {key.min_signers} needed signers returned a share",
                signers=tuple(
                    s for s, r in zip(holders, results, strict=True) if isinstance(r, BaseException)
                ),
            )
        return shares

    async def delete_key(self, key: KeyRecord) -> None:
        """Erase the key's shares on every signer. A signer that cannot confirm is named
        (SignersUnavailable): the API keeps the key Archived-but-not-erased, and a
        repeated DELETE tries again. A signer without the share counts as erased."""
        self.ecdsa.key_removed(key.key_id)
        failed = await self._erase_everywhere(key.key_id, list(key.signer_ids))
        if failed:
            raise SignersUnavailable(
                f"key {key.key_id} is archived, but signers {', '.join(failed)} did not "
                "confirm erasing their shares; retry the delete",
                signers=tuple(failed),
            )

    # -- CGGMP24 ------------------------------------------------------------------------
    async def ecdsa_status(self) -> EcdsaStatus:
        return self.ecdsa.status()

    async def refresh_key(self, key: KeyRecord) -> KeyRecord:
        return await self.ecdsa.refresh(key)
