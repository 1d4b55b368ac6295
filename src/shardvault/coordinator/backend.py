"""What the API layer needs from the signing back end (the coordinator and its signers).

The API keeps public metadata (``KeyRecord``) in its database; secrets live only in
the signers. Every method raises ``shardvault.errors`` types on failure:
``InvalidImport``/``InvalidParameters`` (400), ``SignersUnavailable`` (503, naming the
missing signers), ``SignerMisbehaved`` (502, naming the party at fault).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from shardvault.protocols.key_import import ImportContext
from shardvault.transport.identity import SignerDescriptor
from shardvault.transport.roster import Roster

__all__ = [
    "EcdsaStatus",
    "EpochResult",
    "ExportedShare",
    "KeyRecord",
    "SigningBackend",
]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """Public facts about a threshold key, stored by the API."""

    key_id: str
    protocol: str
    curve: str
    #: Encoded group public key: 32-byte Ed25519 or 33-byte compressed secp256k1.
    public_key: bytes
    min_signers: int
    #: Signer ids in party-index order: signer_ids[i] holds the share of index i + 1.
    signer_ids: tuple[str, ...]
    #: signer id -> encoded verifying share (public), for share verification.
    verifying_shares: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EcdsaStatus:
    """Whether the signer group can run CGGMP24 (ECDSA) yet: every signer needs its
    Paillier safe primes, then the group runs aux-info generation once."""

    ready: bool
    #: 0.0-1.0: prime search across the signers, then the aux-info session.
    progress: float
    #: Human-readable stage ("searching safe primes", "aux info", "ready", or an error).
    detail: str = ""


@dataclass(frozen=True, slots=True)
class EpochResult:
    """One refresh epoch of the signer group (docs/security.md item 28): new aux info
    on every signer and new shares of every key, old material erased."""

    epoch: int
    #: running, committing (decided; resumed until every signer committed),
    #: committed or aborted
    state: str
    started_at: str
    finished_at: str | None
    duration_ms: int | None
    ecdsa_keys: int
    frost_keys: int
    #: "stock" (every signer's primes came from its in-memory spare stock) or "fresh"
    primes: str
    #: why an aborted epoch failed
    error: str | None = None
    #: key id -> signer id -> new encoded verifying share
    verifying_shares: Mapping[str, Mapping[str, bytes]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExportedShare:
    signer_id: str
    #: Opaque blob in the format of docs/import-export-format.md (export section).
    encrypted_key_share: bytes


class SigningBackend(Protocol):
    """The coordinator as the API sees it (embedded: in-memory signers)."""

    @property
    def cluster_id(self) -> str: ...

    @property
    def roster(self) -> Roster | None:
        """The cluster roster, signed by every signer (None if none is formed yet)."""

    async def list_signers(self) -> Sequence[SignerDescriptor]: ...

    async def generate_key(
        self, key_id: str, protocol: str, curve: str, min_signers: int
    ) -> KeyRecord: ...

    async def import_key(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        min_signers: int,
        encrypted_shares: Mapping[str, bytes],
        context: ImportContext,
    ) -> KeyRecord:
        """Import shares sealed under ``context`` (issued by the API to this org, checked
        unexpired and unused by the API; the signers check it again themselves).
        Refuses (``InvalidImport``) a reused context (``ImportContextUsed``), one too old
        (``ImportContextExpired``) and a public key a signer already holds
        (``DuplicateKey``)."""

    async def reconcile_imports(self, live_key_ids: Collection[str]) -> dict[str, list[str]]:
        """At start: erase signers' shares left Pending by imports that never activated
        (key ids not in ``live_key_ids``; each signer erases only Pending shares past
        their grace period). Returns signer id -> erased key ids."""

    async def sign(
        self, key: KeyRecord, message: bytes, *, taproot_merkle_root: bytes | None = None
    ) -> bytes:
        """Returns the encoded signature: 64 bytes for Ed25519 and BIP 340; for
        CGGMP24 (``message`` is the 32-byte hash) 65 bytes ``r || s || recid`` with s
        normalised to low-s and recid in 0..3, verified before it is returned.
        CGGMP24 before aux info exists raises ``AuxInfoNotReady`` (503)."""

    async def ecdsa_status(self) -> EcdsaStatus:
        """Readiness of ECDSA (aux info) for ``GET /health``."""

    async def run_epoch(self, keys: Sequence[KeyRecord], *, fresh_primes: bool) -> EpochResult:
        """A refresh epoch of the whole signer group: new aux info (new Paillier primes)
        on every signer and new shares of every key in ``keys`` (all Active keys),
        committed on every signer only when all agree, then the old p, q, shares and
        every presignature erased. Needs every signer. The result carries each key's
        new verifying shares (same public keys)."""

    async def epochs(self) -> Sequence[EpochResult]:
        """Recent epochs, newest first (a committed epoch's verifying shares included,
        so the API can apply an epoch it did not see finish)."""

    async def export_key(
        self, key: KeyRecord, requester_encryption_key: bytes
    ) -> Sequence[ExportedShare]: ...

    async def delete_key(self, key: KeyRecord) -> None: ...
