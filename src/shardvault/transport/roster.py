"""The cluster roster: who the signers are, fixed at the cluster's first start and
signed by every one of them.

A roster lists the cluster id, the threshold and, for each signer, its id, its
identity key (Ed25519) and its encryption key (X25519). Its canonical bytes are::

    "shardvault/roster/v1" || version (u8) || lp8(cluster id) || threshold (u16)
    || n (u16) || n x (lp8(signer id) || identity key (32) || encryption key (32))

with the entries sorted by signer id (``lp8``: one length byte, then the ASCII
bytes). Every signer signs these same bytes with its identity key; a roster counts
only with all n signatures. Its fingerprint is the SHA-256 of the canonical bytes
(hex), what operators compare.

Each signer pins its roster at first start and from then on takes its peers' keys
from it only (``signer.roster``); the coordinator keeps it across restarts and
refuses a signer whose keys differ; the SDK pins it from ``credentials.json``. On
the wire and in files a roster is JSON (``to_json``/``from_json``, bytes as hex).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from shardvault.crypto.hpke import validate_public_key
from shardvault.errors import InvalidEncoding, InvalidRoster
from shardvault.transport.identity import PartyKeys

__all__ = ["ROSTER_VERSION", "Roster", "RosterEntry", "sign_roster"]

ROSTER_VERSION = 1
_LABEL = b"shardvault/roster/v1"
_KEY_SIZE = 32
_SIGNATURE_SIZE = 64
_JSON_FIELDS = {"version", "clusterId", "threshold", "signers", "signatures"}
_ENTRY_FIELDS = {"signerId", "identityKey", "encryptionKey"}


def _lp8(text: str, what: str) -> bytes:
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidRoster(f"roster {what} {text!r} is not ASCII") from None
    if not 1 <= len(raw) <= 255:
        raise InvalidRoster(f"roster {what} must be 1-255 characters")
    return bytes([len(raw)]) + raw


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One signer of the roster."""

    signer_id: str
    identity_key: bytes
    encryption_key: bytes

    @property
    def party_keys(self) -> PartyKeys:
        return PartyKeys(self.identity_key, self.encryption_key)


@dataclass(frozen=True, slots=True)
class Roster:
    """A roster (entries sorted by signer id) and the signatures collected so far.
    Build one with ``Roster.of``; ``verify`` checks that it is complete."""

    cluster_id: str
    threshold: int
    signers: tuple[RosterEntry, ...]
    #: signer id -> Ed25519 signature over ``canonical_bytes()``
    signatures: Mapping[str, bytes] = field(default_factory=dict)
    version: int = ROSTER_VERSION

    @classmethod
    def of(
        cls,
        cluster_id: str,
        threshold: int,
        entries: Iterable[RosterEntry],
        signatures: Mapping[str, bytes] | None = None,
    ) -> Roster:
        """A well-formed roster: 1..255 signers with distinct ids and keys, each key
        32 bytes (the encryption key a valid X25519 key), 1 <= threshold <= n.
        Raises ``InvalidRoster``."""
        ordered = tuple(sorted(entries, key=lambda e: e.signer_id))
        n = len(ordered)
        if not 1 <= n <= 255:
            raise InvalidRoster("a roster lists 1 to 255 signers")
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise InvalidRoster("roster threshold must be an integer")
        if not 1 <= threshold <= n:
            raise InvalidRoster(f"roster threshold {threshold} is not between 1 and {n}")
        for what, values in (
            ("signer id", [e.signer_id for e in ordered]),
            ("identity key", [e.identity_key for e in ordered]),
            ("encryption key", [e.encryption_key for e in ordered]),
        ):
            if len(set(values)) != n:
                raise InvalidRoster(f"two roster entries share a {what}")
        for e in ordered:
            if len(e.identity_key) != _KEY_SIZE:
                raise InvalidRoster(
                    f"roster identity key of signer {e.signer_id} is not 32 bytes",
                    signers=(e.signer_id,),
                )
            try:
                validate_public_key(e.encryption_key)
            except InvalidEncoding as exc:
                raise InvalidRoster(
                    f"roster encryption key of signer {e.signer_id}: {exc.message}",
                    signers=(e.signer_id,),
                ) from None
        roster = cls(cluster_id, threshold, ordered, dict(signatures or {}))
        roster.canonical_bytes()  # checks the id and cluster id encodings
        return roster

    def canonical_bytes(self) -> bytes:
        """What every signer signs (see the module docstring)."""
        out = [
            _LABEL,
            bytes([self.version]),
            _lp8(self.cluster_id, "cluster id"),
            self.threshold.to_bytes(2, "big"),
            len(self.signers).to_bytes(2, "big"),
        ]
        for e in self.signers:
            out += [_lp8(e.signer_id, "signer id"), e.identity_key, e.encryption_key]
        return b"".join(out)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the canonical bytes, hex: equal fingerprints, equal rosters."""
        return hashlib.sha256(self.canonical_bytes()).hexdigest()

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return tuple(e.signer_id for e in self.signers)

    def entry(self, signer_id: str) -> RosterEntry | None:
        for e in self.signers:
            if e.signer_id == signer_id:
                return e
        return None

    def identity_keys(self) -> dict[str, bytes]:
        """signer id -> identity key (what a client pins)."""
        return {e.signer_id: e.identity_key for e in self.signers}

    def same_as(self, other: Roster) -> bool:
        """The same roster (signatures aside: Ed25519 signatures are deterministic, so
        two complete rosters with equal canonical bytes carry the same signatures)."""
        return self.canonical_bytes() == other.canonical_bytes()

    def with_signatures(self, signatures: Mapping[str, bytes]) -> Roster:
        return Roster(
            self.cluster_id,
            self.threshold,
            self.signers,
            {**self.signatures, **signatures},
            self.version,
        )

    def verify(self) -> None:
        """Every signer's signature is present and verifies under its identity key,
        and no one else's is attached. Raises ``InvalidRoster`` naming the signer."""
        message = self.canonical_bytes()
        extra = sorted(set(self.signatures) - set(self.signer_ids))
        if extra:
            raise InvalidRoster(
                f"the roster carries signatures of signers it does not list: {extra}",
                signers=tuple(extra),
            )
        for e in self.signers:
            signature = self.signatures.get(e.signer_id)
            if signature is None:
                raise InvalidRoster(
                    f"the roster lacks the signature of signer {e.signer_id}",
                    signers=(e.signer_id,),
                )
            try:
                if len(signature) != _SIGNATURE_SIZE:
                    raise ValueError("signature size")
                VerifyKey(e.identity_key).verify(message, signature)
            except (BadSignatureError, ValueError):
                raise InvalidRoster(
                    f"the roster signature of signer {e.signer_id} does not verify "
                    "under its identity key",
                    signers=(e.signer_id,),
                ) from None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "clusterId": self.cluster_id,
            "threshold": self.threshold,
            "signers": [
                {
                    "signerId": e.signer_id,
                    "identityKey": e.identity_key.hex(),
                    "encryptionKey": e.encryption_key.hex(),
                }
                for e in self.signers
            ],
            "signatures": {sid: sig.hex() for sid, sig in sorted(self.signatures.items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Roster:
        """Strict inverse of ``to_json`` (``signatures`` may be empty or partial: call
        ``verify`` for a complete roster). Raises ``InvalidRoster``."""

        def hex_bytes(value: Any, what: str) -> bytes:
            if not isinstance(value, str) or value != value.lower():
                raise InvalidRoster(f"roster {what} must be lowercase hex")
            try:
                return bytes.fromhex(value)
            except ValueError:
                raise InvalidRoster(f"roster {what} must be lowercase hex") from None

        if not isinstance(data, dict) or set(data) != _JSON_FIELDS:
            raise InvalidRoster(f"a roster is an object with fields {sorted(_JSON_FIELDS)}")
        if data["version"] != ROSTER_VERSION or isinstance(data["version"], bool):
            raise InvalidRoster(f"unsupported roster version {data['version']!r}")
        cluster_id, signers, signatures = data["clusterId"], data["signers"], data["signatures"]
        if not isinstance(cluster_id, str):
            raise InvalidRoster("roster clusterId must be a string")
        if not isinstance(signers, list) or not isinstance(signatures, dict):
            raise InvalidRoster("roster signers must be a list, signatures an object")
        entries = []
        for item in signers:
            if not isinstance(item, dict) or set(item) != _ENTRY_FIELDS:
                raise InvalidRoster(f"a roster entry has the fields {sorted(_ENTRY_FIELDS)}")
            if not isinstance(item["signerId"], str):
                raise InvalidRoster("roster signerId must be a string")
            entries.append(
                RosterEntry(
                    item["signerId"],
                    hex_bytes(item["identityKey"], "identityKey"),
                    hex_bytes(item["encryptionKey"], "encryptionKey"),
                )
            )
        sigs = {}
        for sid, sig in signatures.items():
            sigs[str(sid)] = hex_bytes(sig, f"signature of {sid}")
        roster = cls.of(cluster_id, data["threshold"], entries, sigs)
        if [e["signerId"] for e in signers] != list(roster.signer_ids):
            raise InvalidRoster("roster entries must be sorted by signer id")
        return roster


def sign_roster(roster: Roster, identity: SigningKey) -> bytes:
    """A signer's signature over ``roster`` (its canonical bytes)."""
    return identity.sign(roster.canonical_bytes()).signature
