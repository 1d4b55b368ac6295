"""Request and response bodies (camelCase JSON, Dfns shapes).

Requests are strict: unknown fields are rejected (a misspelt ``taprootMerkleRoot``
must not silently sign under another key), and JSON types are not coerced.
Encoded values (hex, base64url) are plain strings here and decoded by the routes,
which answer ``InvalidEncoding`` naming the field.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "ClusterOut",
    "CreateKeyRequest",
    "EncryptedKeyShare",
    "ErrorBody",
    "ErrorEnvelope",
    "ExportKeyRequest",
    "ExportKeyResponse",
    "HealthOut",
    "ImportKeyRequest",
    "KeyList",
    "KeyOut",
    "RefreshKeyRequest",
    "SignatureList",
    "SignatureOut",
    "SignatureRequest",
    "SignatureValue",
    "SignerOut",
    "SignersOut",
    "SupportedScheme",
    "UpdateKeyRequest",
]


def _name() -> Any:
    return Field(default=None, min_length=1, max_length=255)


def _short() -> Any:
    return Field(min_length=1, max_length=64)


def _blob() -> Any:
    # More than a default-sized body can carry; keeps absurd values out of error paths.
    return Field(min_length=1, max_length=2_000_000)


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# -- requests ---------------------------------------------------------------------
class CreateKeyRequest(_Request):
    scheme: str = _short()
    curve: str = _short()
    name: str | None = _name()


class UpdateKeyRequest(_Request):
    name: str = Field(min_length=1, max_length=255)


class EncryptedKeyShare(_Request):
    signer_id: str = _short()
    encrypted_key_share: str = _blob()


class ImportKeyRequest(_Request):
    name: str | None = _name()
    curve: str = _short()
    protocol: str = _short()
    min_signers: int
    encrypted_key_shares: list[EncryptedKeyShare] = Field(min_length=1, max_length=255)


class RefreshKeyRequest(_Request):
    """``POST /keys/{keyId}/refresh`` takes no parameters: no body or ``{}``."""


class SupportedScheme(_Request):
    protocol: str = _short()
    curve: str = _short()


class ExportKeyRequest(_Request):
    encryption_key: str = Field(min_length=1, max_length=1024)
    supported_schemes: list[SupportedScheme] = Field(min_length=1, max_length=32)


class SignatureRequest(_Request):
    """``{kind: "Hash", hash, taprootMerkleRoot?}`` or ``{kind: "Message", message}``,
    either with an optional ``externalId`` (idempotency key)."""

    kind: Literal["Hash", "Message"]
    hash: str | None = Field(default=None, max_length=1024)
    message: str | None = Field(default=None, max_length=2_200_000)
    taproot_merkle_root: str | None = Field(default=None, max_length=1024)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _fields_match_kind(self) -> SignatureRequest:
        if self.kind == "Hash":
            if self.hash is None:
                raise ValueError("kind Hash requires hash")
            if self.message is not None:
                raise ValueError("kind Hash does not take message")
        else:
            if self.message is None:
                raise ValueError("kind Message requires message")
            if self.hash is not None or self.taproot_merkle_root is not None:
                raise ValueError("kind Message takes neither hash nor taprootMerkleRoot")
        return self


# -- responses --------------------------------------------------------------------
class HealthOut(_Response):
    status: Literal["ok"]
    ecdsa_ready: bool = Field(
        description="whether ECDSA (CGGMP24) keys can be created, imported and used yet"
    )
    aux_info_progress: float = Field(
        ge=0.0,
        le=1.0,
        description="0.0-1.0: the signers' Paillier prime search, then the aux-info session",
    )


class KeyOut(_Response):
    id: str
    scheme: str
    curve: str
    public_key: str = Field(description="plain lowercase hex")
    name: str | None = None
    status: Literal["Active", "Archived"]
    custodial: bool = True
    imported: bool
    exported: bool
    date_exported: str | None = None
    date_created: str
    protocol: str
    min_signers: int
    signers: list[str]


class KeyList(_Response):
    items: list[KeyOut]
    next_page_token: str | None = None


class SignatureValue(_Response):
    r: str
    s: str
    recid: int | None = None
    encoded: str


class SignatureOut(_Response):
    id: str
    key_id: str
    status: Literal["Pending", "Signed", "Failed"]
    request_body: dict[str, Any]
    signature: SignatureValue | None = None
    reason: str | None = Field(default=None, description="why a Failed request failed")
    external_id: str | None = None
    date_requested: str
    date_signed: str | None = None


class SignatureList(_Response):
    items: list[SignatureOut]
    next_page_token: str | None = None


class EncryptedKeyShareOut(_Response):
    signer_id: str
    encrypted_key_share: str


class ExportKeyResponse(_Response):
    public_key: str
    protocol: str
    curve: str
    min_signers: int
    encrypted_key_shares: list[EncryptedKeyShareOut]


class SignerOut(_Response):
    signer_id: str
    encryption_key: str
    identity_key: str
    encryption_key_signature: str


class ClusterOut(_Response):
    cluster_id: str
    signers: list[SignerOut]


class SignersOut(_Response):
    clusters: list[ClusterOut]


class ErrorBody(_Response):
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorEnvelope(_Response):
    error: ErrorBody
