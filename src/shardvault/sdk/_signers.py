"""Signer nodes as the client sees them: ``GET /signers`` (:class:`SignersApi`) and
client-side trust in them: check each signer's encryption-key signature (and, if
configured, its pinned identity key) before sealing anything to it. The pins come
from the cluster roster in ``credentials.json`` (``roster_from_credentials``) or
from the caller."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from shardvault.crypto.hpke import validate_public_key
from shardvault.errors import InvalidRoster, ShardvaultError
from shardvault.sdk._http import Requester, parse
from shardvault.sdk.errors import (
    CredentialsError,
    InvalidArgument,
    InvalidResponse,
    SignerVerificationError,
)
from shardvault.sdk.models import Cluster, SignerInfo
from shardvault.transport.identity import encryption_key_statement
from shardvault.transport.roster import Roster

__all__ = [
    "SignersApi",
    "VerifiedSigner",
    "list_clusters",
    "roster_from_credentials",
    "select_cluster",
    "verify_signer",
    "verify_signers",
]

_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64


def list_clusters(client: Requester) -> list[Cluster]:
    """``GET /signers``: the signer clusters, each with its signers' published keys."""
    data = client.request("GET", "/signers")
    clusters = data.get("clusters") if isinstance(data, dict) else None
    if not isinstance(clusters, list):
        raise InvalidResponse("GET /signers: expected {clusters: [...]}")
    return [parse(Cluster, c, "signer cluster") for c in clusters]


def roster_from_credentials(data: Mapping[str, Any], path: Path) -> Roster | None:
    """The roster of a ``credentials.json`` (``data``, read from ``path``), every
    signature checked; None if the file has none. A roster that does not parse or
    verify raises :class:`CredentialsError` naming the signer at issue."""
    raw = data.get("roster")
    if raw is None:
        return None
    try:
        roster = Roster.from_json(raw)
        roster.verify()
    except InvalidRoster as exc:
        raise CredentialsError(f"{path}: {exc.message}") from None
    return roster


class SignersApi:
    """``GET /signers``."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def list(self) -> list[Cluster]:
        return list_clusters(self._client)


@dataclass(frozen=True, slots=True)
class VerifiedSigner:
    signer_id: str
    identity_key: bytes
    encryption_key: bytes


def verify_signer(
    signer: SignerInfo, pinned_identity_keys: Mapping[str, bytes] | None = None
) -> VerifiedSigner:
    """Decode and check one signer; raise :class:`SignerVerificationError` naming it."""
    sid = signer.signer_id

    def fail(why: str, code: str | None = None) -> SignerVerificationError:
        return SignerVerificationError(f"signer {sid}: {why}", signer_id=sid, code=code)

    try:
        identity_key = signer.identity_key_bytes
        encryption_key = signer.encryption_key_bytes
        signature = signer.encryption_key_signature_bytes
    except InvalidArgument as exc:
        raise fail(exc.message) from None
    if len(identity_key) != _ED25519_KEY_SIZE:
        raise fail(f"identityKey must be {_ED25519_KEY_SIZE} bytes, got {len(identity_key)}")
    if len(signature) != _ED25519_SIG_SIZE:
        raise fail(
            f"encryptionKeySignature must be {_ED25519_SIG_SIZE} bytes, got {len(signature)}"
        )
    if pinned_identity_keys is not None:
        pinned = pinned_identity_keys.get(sid)
        if pinned is None:
            raise fail("not among the pinned signers", code="SignerNotPinned")
        if bytes(pinned) != identity_key:
            raise fail("identity key differs from the pinned one", code="SignerNotPinned")
    try:
        validate_public_key(encryption_key)
    except ShardvaultError as exc:
        raise fail(f"invalid encryptionKey ({exc.message})") from None
    try:
        VerifyKey(identity_key).verify(encryption_key_statement(sid, encryption_key), signature)
    except (CryptoError, ValueError):
        raise fail("encryptionKeySignature does not verify under its identityKey") from None
    return VerifiedSigner(sid, identity_key, encryption_key)


def verify_signers(
    signers: Sequence[SignerInfo], pinned_identity_keys: Mapping[str, bytes] | None = None
) -> list[VerifiedSigner]:
    """Verify every signer; ids must be distinct. Returned in signerId order."""
    seen: set[str] = set()
    out: list[VerifiedSigner] = []
    for signer in signers:
        if signer.signer_id in seen:
            raise SignerVerificationError(
                f"signer {signer.signer_id} is listed twice", signer_id=signer.signer_id
            )
        seen.add(signer.signer_id)
        out.append(verify_signer(signer, pinned_identity_keys))
    return sorted(out, key=lambda s: s.signer_id)


def select_cluster(clusters: Sequence[Cluster], cluster_id: str | None) -> Cluster:
    if cluster_id is not None:
        for cluster in clusters:
            if cluster.cluster_id == cluster_id:
                return cluster
        raise InvalidArgument(f"no signer cluster {cluster_id!r}")
    if len(clusters) != 1:
        ids = ", ".join(c.cluster_id for c in clusters) or "none"
        raise InvalidArgument(f"choose a signer cluster with cluster_id= (clusters: {ids})")
    return clusters[0]
