"""The coordinator's FROST side: threshold Schnorr signing (Ed25519 and BIP 340).

The coordinator plays RFC 9591's Coordinator role itself (``FrostCoordinator``,
party 0): it picks ``min_signers`` reachable signers of the key, collects their
commitments, sends the signing package, verifies every signature share (naming a
bad signer) and aggregates. A signer that vanishes mid-session is excluded and the
signing retried once in a fresh session (never the same nonces: those are erased
by each signer after its round).
"""

from __future__ import annotations

import os

from shardvault.coordinator.backend import KeyRecord
from shardvault.coordinator.sessions import SessionParties, SignerSessions
from shardvault.errors import SignersUnavailable
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.protocols.frost.keys import PublicKeyPackage
from shardvault.protocols.frost.session import FrostCoordinator

__all__ = ["FrostService"]

#: How many validated public key packages are kept (by key id).
_PACKAGE_CACHE = 4096


class FrostService:
    def __init__(self, sessions: SignerSessions) -> None:
        self._sessions = sessions
        #: validated public key packages, by key id (the record must match exactly).
        self._packages: dict[str, tuple[KeyRecord, PublicKeyPackage]] = {}

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        """The encoded signature of ``message`` (64 bytes), verified by the
        aggregator before it is returned."""
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

    def _public_package(self, key: KeyRecord) -> PublicKeyPackage:
        cached = self._packages.get(key.key_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        suite = suite_for(key.protocol, key.curve)
        g = suite.group
        verifying = {
            i + 1: g.decode_point(key.verifying_shares[s]) for i, s in enumerate(key.signer_ids)
        }
        package = PublicKeyPackage(
            suite, g.decode_point(key.public_key), verifying, key.min_signers
        )
        if len(self._packages) >= _PACKAGE_CACHE:
            self._packages.pop(next(iter(self._packages)))
        self._packages[key.key_id] = (key, package)
        return package

    async def _sign_once(
        self,
        key: KeyRecord,
        public: PublicKeyPackage,
        message: bytes,
        merkle_root: bytes | None,
        excluded: set[str],
    ) -> bytes:
        sessions = self._sessions
        candidates = [s for s in key.signer_ids if s not in excluded]
        found, missing = await sessions.reachable(candidates)
        missing += sorted(excluded)
        chosen = [s for s in key.signer_ids if s in found][: key.min_signers]
        if len(chosen) < key.min_signers:
            raise SignersUnavailable(
                f"key {key.key_id} needs {key.min_signers} signers; "
                f"unreachable: {', '.join(missing)}",
                signers=tuple(missing),
            )
        parties = SessionParties.of([(key.signer_ids.index(s) + 1, found[s]) for s in chosen])
        sid = os.urandom(32)
        local = FrostCoordinator(
            public,
            sid,
            sorted(parties.index_of.values()),
            message,
            sessions.registry,
            merkle_root=merkle_root,
        )
        first = await sessions.start_all(
            chosen,
            "sign.start",
            parties.index_of,
            sessionId=sid.hex(),
            keyId=key.key_id,
            message=message.hex(),
            merkleRoot=None if merkle_root is None else merkle_root.hex(),
            parties=parties.arg,
        )
        await sessions.relay(sid, first, parties, local)
        if local.failed is not None:
            raise sessions.blame(local.failed, "coordinator", parties.signer_of)
        return local.result()
