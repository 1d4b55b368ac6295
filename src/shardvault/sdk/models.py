"""Typed models of the REST JSON.

Attributes are snake_case; the JSON field names are their camelCase aliases
(``key.public_key`` is ``publicKey``). Byte values stay strings exactly as the
API sends them (hex or base64url); ``*_bytes`` properties decode them.
``model_dump(by_alias=True, mode="json")`` gives back the REST JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shardvault.sdk.encoding import b64url_decode, hex_decode

__all__ = [
    "Cluster",
    "EncryptedKeyShare",
    "ExportedKey",
    "Key",
    "KeyPage",
    "KeyWallet",
    "Network",
    "SchemeCurve",
    "Signature",
    "SignaturePage",
    "SignatureRequester",
    "SignatureValue",
    "SignerInfo",
    "Wallet",
    "WalletPage",
    "WalletSigningKey",
]


class ApiModel(BaseModel):
    """Base: camelCase aliases, construction by field name too, unknown fields ignored
    (a newer server may add fields), immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        frozen=True,
    )

    def to_json_dict(self) -> dict[str, Any]:
        """The REST JSON form (camelCase, unset optional fields left out)."""
        return self.model_dump(by_alias=True, mode="json", exclude_none=True)


class SignerInfo(ApiModel):
    """One signer node as ``GET /signers`` shows it (keys are base64url)."""

    signer_id: str
    encryption_key: str
    identity_key: str
    encryption_key_signature: str

    @property
    def encryption_key_bytes(self) -> bytes:
        return b64url_decode(self.encryption_key, what=f"encryptionKey of {self.signer_id}")

    @property
    def identity_key_bytes(self) -> bytes:
        return b64url_decode(self.identity_key, what=f"identityKey of {self.signer_id}")

    @property
    def encryption_key_signature_bytes(self) -> bytes:
        return b64url_decode(
            self.encryption_key_signature, what=f"encryptionKeySignature of {self.signer_id}"
        )


class Cluster(ApiModel):
    cluster_id: str
    signers: list[SignerInfo]
    #: SHA-256 of the cluster roster (hex), to compare with ``Client.roster.fingerprint``
    roster_fingerprint: str | None = None


class KeyWallet(ApiModel):
    """A wallet of a key, as ``GET /keys/{keyId}`` lists it."""

    id: str
    network: str


class SignatureRequester(ApiModel):
    """Who asked for a signature: the user (service account) id and the token id."""

    user_id: str
    token_id: str | None = None


class Key(ApiModel):
    """A threshold key. ``public_key`` is plain hex: 32-byte Ed25519 or 33-byte
    compressed secp256k1."""

    id: str
    scheme: str
    curve: str
    public_key: str
    name: str | None = None
    status: str
    custodial: bool = True
    imported: bool = False
    exported: bool = False
    date_exported: datetime | None = None
    #: Whether the key may be exported (switched off, never back on).
    exportable: bool = True
    date_created: datetime
    protocol: str
    min_signers: int
    signers: list[str] = Field(default_factory=list)
    #: ``GET /keys/{keyId}`` only: the key's wallets.
    wallets: list[KeyWallet] | None = None

    @property
    def public_key_bytes(self) -> bytes:
        return hex_decode(self.public_key, what="publicKey")

    @property
    def xonly_public_key_bytes(self) -> bytes:
        """The BIP 340 x-only public key (secp256k1 keys only)."""
        pk = self.public_key_bytes
        if self.curve != "secp256k1" or len(pk) != 33:
            raise ValueError("x-only public keys exist for secp256k1 keys only")
        return pk[1:]


class KeyPage(ApiModel):
    """One page of ``GET /keys``."""

    items: list[Key]
    next_page_token: str | None = None


class SignatureValue(ApiModel):
    """``r``, ``s`` and ``encoded`` are 0x-hex; ``encoded`` is the 64-byte signature
    for Schnorr/EdDSA and DER for ECDSA."""

    r: str
    s: str
    recid: int | None = None
    encoded: str | None = None

    @property
    def r_bytes(self) -> bytes:
        return hex_decode(self.r, what="r")

    @property
    def s_bytes(self) -> bytes:
        return hex_decode(self.s, what="s")

    @property
    def encoded_bytes(self) -> bytes:
        if self.encoded is None:
            return self.r_bytes + self.s_bytes
        return hex_decode(self.encoded, what="encoded")


class Signature(ApiModel):
    """A signature request and, once ``status == "Signed"``, its result.

    Chain kinds add ``signed_data`` (0x-hex signed transaction for EVM and Solana,
    0x-hex PSBT, base64 BIP 322 simple signature) and, for PSBTs, ``signed_inputs``
    and ``skipped_inputs`` (``[{index, reason}]``)."""

    id: str
    key_id: str
    wallet_id: str | None = None
    network: str | None = None
    requester: SignatureRequester | None = None
    status: str
    #: Set when an approval policy applied: ``status`` is ``Pending`` until the
    #: approval is granted (then ``Executing``, ``Signed``) or denied (``Rejected``).
    approval_id: str | None = None
    request_body: dict[str, Any] = Field(default_factory=dict)
    signature: SignatureValue | None = None
    #: PSBT: one signature per input signed.
    signatures: list[SignatureValue] | None = None
    signed_data: str | None = None
    signed_inputs: list[int] | None = None
    skipped_inputs: list[dict[str, Any]] | None = None
    reason: str | None = None
    external_id: str | None = None
    date_requested: datetime
    date_policy_resolved: datetime | None = None
    date_signed: datetime | None = None


class SignaturePage(ApiModel):
    items: list[Signature]
    next_page_token: str | None = None


class EncryptedKeyShare(ApiModel):
    signer_id: str
    encrypted_key_share: str

    @property
    def encrypted_key_share_bytes(self) -> bytes:
        return b64url_decode(
            self.encrypted_key_share, what=f"encryptedKeyShare of {self.signer_id}"
        )


class ExportedKey(ApiModel):
    """The answer of ``POST /keys/{keyId}/export`` (shares still sealed)."""

    public_key: str
    protocol: str
    curve: str
    min_signers: int
    encrypted_key_shares: list[EncryptedKeyShare]

    @property
    def public_key_bytes(self) -> bytes:
        return hex_decode(self.public_key, what="publicKey")


class SchemeCurve(ApiModel):
    scheme: str
    curve: str


class Network(ApiModel):
    """A network of ``GET /networks``; ``chain_id`` for EVM networks only."""

    network: str
    family: str
    chain_id: int | None = None
    allowed_schemes: list[SchemeCurve] = Field(default_factory=list)
    default_scheme: SchemeCurve


class WalletSigningKey(ApiModel):
    id: str
    scheme: str
    curve: str
    public_key: str

    @property
    def public_key_bytes(self) -> bytes:
        return hex_decode(self.public_key, what="signingKey.publicKey")


class Wallet(ApiModel):
    """A wallet: a key on a network, and its address there."""

    id: str
    network: str
    address: str
    signing_key: WalletSigningKey
    status: str
    name: str | None = None
    tags: list[str] = Field(default_factory=list)
    external_id: str | None = None
    custodial: bool = True
    date_created: datetime


class WalletPage(ApiModel):
    items: list[Wallet]
    next_page_token: str | None = None
