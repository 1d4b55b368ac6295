"""The coordinator: the signing back end the API calls (``SigningBackend``).

It owns a key's life among the signers: key generation (a DKG session of every
signer), import (each signer checks its sealed share, all agree on the
commitments, then the key is committed inert and activated), export (each signer
seals its share to the requester) and erasure. Signing goes to the protocol's
service: ``FrostService`` (``coordinator.frost``) or ``CggmpService``
(``coordinator.cggmp``, which also runs aux info, presignature pools and refresh).
All of them talk to the signers through one ``SignerSessions``
(``coordinator.sessions``): signed requests, pinning to the cluster roster
(``coordinator.roster``), session relay and blame.

It holds no secret but its own identity key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from shardvault.coordinator.backend import EcdsaStatus, EpochResult, ExportedShare, KeyRecord
from shardvault.coordinator.cggmp import CggmpService
from shardvault.coordinator.epoch import EpochService
from shardvault.coordinator.frost import FrostService
from shardvault.coordinator.roster import establish_roster
from shardvault.coordinator.sessions import SessionParties, SignerSessions, reply_from
from shardvault.errors import (
    InvalidImport,
    InvalidParameters,
    NotFound,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.key_import import ImportContext
from shardvault.protocols.key_transfer import min_signers_problem
from shardvault.protocols.registry import ECDSA_PROTOCOL, PROTOCOLS
from shardvault.transport.base import Transport
from shardvault.transport.identity import SignerDescriptor
from shardvault.transport.roster import Roster

__all__ = ["Coordinator"]

log = logging.getLogger("shardvault.coordinator")


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
        epoch_log: Path | None = None,
    ) -> None:
        self._cluster_id = cluster_id
        #: signed calls, identity pinning, session relay and blame
        self.sessions = SignerSessions(
            transport,
            signer_ids,
            identity,
            timeout=timeout,
            ping_timeout=ping_timeout,
            recent_seconds=recent_seconds,
        )
        #: FROST signing
        self.frost = FrostService(self.sessions)
        #: CGGMP24: aux-info setup, presignature pools, signing, refresh.
        self.ecdsa = CggmpService(self.sessions, pool_target=presig_pool_target)
        #: refresh epochs (new aux info and shares of every key), logged in ``epoch_log``
        self.epochs = EpochService(self.sessions, self.ecdsa, epoch_log)
        #: key id -> the verifying shares of the last epoch (signing right after a
        #: commit, before the API stored them, checks shares against these)
        self._epoch_shares: dict[str, KeyRecord] = {}

    @property
    def cluster_id(self) -> str:
        return self._cluster_id

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return self.sessions.signer_ids

    @property
    def identity_key(self) -> bytes:
        return self.sessions.identity_key

    @property
    def roster(self) -> Roster | None:
        """The cluster roster (None until ``establish_roster``)."""
        return self.sessions.roster

    async def establish_roster(
        self, threshold: int, stored: Roster | None, save: Callable[[Roster], None]
    ) -> Roster:
        """Form the roster at the cluster's first start (``stored`` None; ``save`` keeps
        it), or check the stored one; pin it here and on every signer
        (``coordinator.roster``)."""
        return await establish_roster(
            self.sessions,
            cluster_id=self._cluster_id,
            threshold=threshold,
            stored=stored,
            save=save,
        )

    async def list_signers(self) -> Sequence[SignerDescriptor]:
        return await self.sessions.list_signers()

    # -- SigningBackend -------------------------------------------------------------------
    # Key changes hold the epoch lock shared (coordinator/epoch_lock.py): an epoch
    # waits for those in flight; one arriving during an epoch gets RefreshInProgress.
    async def generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord:
        async with self.epochs.lock.key_change():
            return await self._generate_key(key_id, protocol, curve, min_signers)

    async def import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
        context: ImportContext,
    ) -> KeyRecord:
        async with self.epochs.lock.key_change():
            return await self._import_key(
                key_id, protocol, curve, min_signers, encrypted_shares, context
            )

    async def export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]:
        async with self.epochs.lock.key_change():
            return await self._export_key(key, requester_encryption_key)

    async def delete_key(self, key: KeyRecord) -> None:
        async with self.epochs.lock.key_change():
            await self._delete_key(key)

    async def _generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord:
        if (protocol, curve) not in PROTOCOLS:
            raise InvalidParameters(f"unsupported protocol/curve {protocol}/{curve}")
        ids = list(self.signer_ids)
        problem = min_signers_problem(min_signers, len(ids))
        if problem is not None:
            raise InvalidParameters(problem, code="InvalidMinSigners")
        if protocol == ECDSA_PROTOCOL:
            self.ecdsa.require_ready()
        descs = await self.sessions.require_all(ids)
        parties = SessionParties.of([(i + 1, descs[s]) for i, s in enumerate(ids)])
        sid = self.sessions.new_session_id()
        try:
            first = await self.sessions.start_all(
                ids,
                "dkg.start",
                parties.index_of,
                sessionId=sid.hex(),
                keyId=key_id,
                protocol=protocol,
                curve=curve,
                minSigners=min_signers,
                parties=parties.arg,
            )
            finals = await self.sessions.relay(sid, first, parties)
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
        with reply_from(ids[0]):
            record = _key_record(key_id, protocol, curve, min_signers, ids, finals[ids[0]])
        self.ecdsa.key_added(record)
        return record

    async def _import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
        context: ImportContext,
    ) -> KeyRecord:
        """Import a key sealed by a client under ``context`` (the one-time import context
        the API issued). Every signer checks the context itself (its age, that it was
        never used, that the shares open under it) and that it holds no live share of
        the same public key."""
        if (protocol, curve) not in PROTOCOLS:
            raise InvalidImport(
                f"unsupported protocol/curve {protocol}/{curve}", code="UnsupportedProtocol"
            )
        ids = sorted(encrypted_shares)
        unknown = [s for s in ids if s not in self.signer_ids]
        if unknown:
            raise InvalidImport(
                f"unknown signers {unknown}", code="UnknownSigner", signers=tuple(unknown)
            )
        missing = [s for s in self.signer_ids if s not in encrypted_shares]
        if missing:
            raise InvalidImport(
                f"an import needs a share for every signer of the cluster; missing {missing}",
                code="MissingSigner",
                signers=tuple(missing),
            )
        problem = min_signers_problem(min_signers, len(ids))
        if problem is not None:
            raise InvalidImport(problem, code="InvalidMinSigners")
        if protocol == ECDSA_PROTOCOL:
            self.ecdsa.require_ready()
        await self.sessions.require_all(ids)
        results = await asyncio.gather(
            *(
                self.sessions.call(
                    s,
                    "import.prepare",
                    keyId=key_id,
                    protocol=protocol,
                    curve=curve,
                    minSigners=min_signers,
                    signerIds=ids,
                    importId=context.import_id.hex(),
                    issuedAt=context.issued_at,
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
                await self.sessions.start_all(ids, step, {}, keyId=key_id, **args)
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
        with reply_from(ids[0]):
            record = _key_record(key_id, protocol, curve, min_signers, ids, prepared[ids[0]])
        self.ecdsa.key_added(record)
        return record

    async def reconcile_imports(self, live_key_ids: Collection[str]) -> dict[str, list[str]]:
        """At start: every key id a signer holds that is not among ``live_key_ids`` (the
        API's keys) is a candidate stray of an import that died between commit and
        activate; ask the signer to erase it. The signer erases it only if it is still
        Pending and past its grace period, so a wrong (or hostile) list cannot erase an
        Active share. Returns signer id -> key ids erased; unreachable signers are
        skipped (the next start retries)."""
        live = set(live_key_ids)
        erased: dict[str, list[str]] = {}
        statuses = await self.sessions.call_each(list(self.signer_ids), "keys.statuses")
        for sid, reply in statuses.items():
            if isinstance(reply, BaseException):
                log.warning("reconcile: signer %s unreachable (%s)", sid, reply)
                continue
            with reply_from(sid):
                candidates = [
                    str(k["keyId"])
                    for k in reply["keys"]
                    if str(k["keyId"]) not in live and k["status"] == "Pending"
                ]
            for key_id in candidates:
                try:
                    await self.sessions.call(sid, "import.erase_stray", keyId=key_id)
                except ShardvaultError as exc:
                    log.info("reconcile: signer %s kept %s (%s)", sid, key_id, exc.code)
                    continue
                erased.setdefault(sid, []).append(key_id)
                log.warning("reconcile: signer %s erased stray import share %s", sid, key_id)
        return erased

    async def _abort_import(self, key_id: str, ids: Sequence[str]) -> None:
        await self.sessions.call_each(ids, "import.abort", keyId=key_id)

    async def _erase_everywhere(self, key_id: str, ids: Sequence[str]) -> list[str]:
        """Best effort: erase a key's shares on every signer; returns those not reached."""
        results = await self.sessions.call_each(ids, "delete", keyId=key_id)
        failed = [
            s
            for s, r in results.items()
            if isinstance(r, BaseException) and not isinstance(r, NotFound)
        ]
        if failed:
            log.warning("key %s: signers %s did not confirm erasure", key_id, failed)
        return failed

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        latest = self._epoch_shares.get(key.key_id)
        if latest is not None and latest.public_key == key.public_key:
            key = latest  # an epoch committed; the caller may still hold the old shares
        if key.protocol == ECDSA_PROTOCOL:
            if taproot_merkle_root is not None:
                raise InvalidParameters("a Taproot tweak applies to Schnorr keys only")
            return await self.ecdsa.sign(key, message)
        return await self.frost.sign(key, message, taproot_merkle_root=taproot_merkle_root)

    async def _export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]:
        self.ecdsa.key_removed(key.key_id)  # an exported key no longer signs
        found, missing = await self.sessions.reachable(list(key.signer_ids))
        if len(found) < key.min_signers:
            raise SignersUnavailable(
                f"export needs {key.min_signers} signers; unreachable: {', '.join(missing)}",
                signers=tuple(missing),
            )
        holders = [s for s in key.signer_ids if s in found]
        results = await asyncio.gather(
            *(
                self.sessions.call(
                    s, "export", keyId=key.key_id, requesterKey=requester_encryption_key.hex()
                )
                for s in holders
            ),
            return_exceptions=True,
        )
        shares = []
        for s, r in zip(holders, results, strict=True):
            if isinstance(r, dict):
                with reply_from(s):
                    shares.append(ExportedShare(s, bytes.fromhex(r["blob"])))
        if len(shares) < key.min_signers:
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors and isinstance(errors[0], NotFound | InvalidParameters):
                raise errors[0]  # the request itself is wrong, not the signers
            raise SignersUnavailable(
                f"only {len(shares)} of the {key.min_signers} needed signers returned a share",
                signers=tuple(
                    s for s, r in zip(holders, results, strict=True) if isinstance(r, BaseException)
                ),
            )
        return shares

    async def _delete_key(self, key: KeyRecord) -> None:
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

    # -- refresh epochs ---------------------------------------------------------------
    async def run_epoch(self, keys: Sequence[KeyRecord], *, fresh_primes: bool) -> EpochResult:
        result = await self.epochs.run(keys, fresh_primes=fresh_primes)
        self._remember(result, keys)
        return result

    def _remember(self, result: EpochResult, keys: Sequence[KeyRecord]) -> None:
        self._epoch_shares = {
            k.key_id: KeyRecord(
                k.key_id,
                k.protocol,
                k.curve,
                k.public_key,
                k.min_signers,
                k.signer_ids,
                dict(result.verifying_shares[k.key_id]),
            )
            for k in keys
            if k.key_id in result.verifying_shares
        }

    async def epochs_log(self) -> Sequence[EpochResult]:
        return self.epochs.history()

    async def epoch_status(self) -> dict[str, int | None]:
        """Each signer's committed epoch (None: unreachable)."""
        replies = await self.sessions.call_each(list(self.signer_ids), "epoch.status")
        return {s: int(r["epoch"]) if isinstance(r, dict) else None for s, r in replies.items()}
