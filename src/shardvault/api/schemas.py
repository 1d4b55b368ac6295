"""Request and response bodies (camelCase JSON, Dfns shapes).

Requests are strict: unknown fields are rejected (a misspelt ``taprootMerkleRoot``
must not silently sign under another key), and JSON types are not coerced.
Encoded values (hex, base64url) are plain strings here and decoded by the routes,
which answer ``InvalidEncoding`` naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "DEFAULT_CURVES",
    "AuditActorOut",
    "AuditEntryOut",
    "AuditList",
    "ClusterOut",
    "CreateKeyRequest",
    "CreateWalletRequest",
    "EncryptedKeyShare",
    "ErrorBody",
    "ErrorEnvelope",
    "ExportKeyRequest",
    "ExportKeyResponse",
    "HealthOut",
    "ImportContextOut",
    "ImportKeyRequest",
    "KeyDetailOut",
    "KeyList",
    "KeyOut",
    "KeyWalletOut",
    "NetworkList",
    "NetworkOut",
    "RefreshKeyRequest",
    "RequesterOut",
    "SignatureList",
    "SignatureOut",
    "SignatureRequest",
    "SignatureStatus",
    "SignatureValue",
    "SignerOut",
    "SignersOut",
    "SupportedScheme",
    "UnsupportedFeature",
    "UpdateKeyRequest",
    "UpdateWalletRequest",
    "WalletList",
    "WalletOut",
    "WalletSigningKeyOut",
    "WalletTagsRequest",
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
#: The curve a scheme's key gets when a request names only the scheme (Dfns's
#: defaults: ECDSA and Schnorr over secp256k1, EdDSA over ed25519).
DEFAULT_CURVES: dict[str, str] = {"ECDSA": "secp256k1", "EdDSA": "ed25519", "Schnorr": "secp256k1"}


class UnsupportedFeature(NamedTuple):
    """A Dfns request field naming a feature shardvault does not have."""

    field: str
    feature: str


class _DfnsKeyOptions(_Request):
    """Dfns key-creation options that shardvault accepts in the body and refuses with
    400 ``UnsupportedFeature`` (naming the feature) when they ask for something it
    does not do, instead of a generic unknown-field error."""

    master_key: bool | None = None
    derive_from: dict[str, Any] | None = None
    store_id: str | None = Field(default=None, max_length=255)

    def unsupported(self) -> UnsupportedFeature | None:
        if self.master_key:
            return UnsupportedFeature("masterKey", "HD master keys")
        if self.derive_from is not None:
            return UnsupportedFeature("deriveFrom", "HD key derivation")
        if self.store_id is not None:
            return UnsupportedFeature("storeId", "key stores")
        return None


class _DfnsDelegation(_Request):
    """``delegateTo`` (refused: no end-user delegation) and ``delayDelegation``
    (accepted: every key stays with the org until delegated, which is never)."""

    delegate_to: str | None = Field(default=None, max_length=255)
    delay_delegation: bool | None = None

    def unsupported_delegation(self) -> UnsupportedFeature | None:
        if self.delegate_to is not None:
            return UnsupportedFeature("delegateTo", "delegation to end users")
        return None


class CreateKeyRequest(_DfnsKeyOptions, _DfnsDelegation):
    scheme: str = _short()
    curve: str = _short()
    name: str | None = _name()
    #: Whether the key may ever be exported (ours; default true, can be switched off).
    exportable: bool = True

    def unsupported(self) -> UnsupportedFeature | None:
        return super().unsupported() or self.unsupported_delegation()


class UpdateKeyRequest(_Request):
    """Dfns takes ``{name}``; ours also ``exportable: false`` (never back to true)."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    exportable: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateKeyRequest:
        if self.name is None and self.exportable is None:
            raise ValueError("give name or exportable")
        return self


class EncryptedKeyShare(_Request):
    signer_id: str = _short()
    encrypted_key_share: str = _blob()


class ImportKeyRequest(_Request):
    name: str | None = _name()
    curve: str = _short()
    protocol: str = _short()
    min_signers: int
    encrypted_key_shares: list[EncryptedKeyShare] = Field(min_length=1, max_length=255)
    #: base64url of the 16-byte id of a context from POST /keys/import/context (ours,
    #: not Dfns'): the shares were sealed under it.
    import_id: str = Field(min_length=1, max_length=64)
    #: Whether the key may ever be exported (ours; default true, can be switched off).
    exportable: bool = True
    master_key: bool | None = None

    def unsupported(self) -> UnsupportedFeature | None:
        if self.master_key:
            return UnsupportedFeature("masterKey", "HD master keys")
        return None


class ImportContextOut(_Response):
    """``POST /keys/import/context``: seal the import under these (one use, this org,
    until ``expiresAt``)."""

    import_id: str = Field(description="base64url of 16 random bytes")
    issued_at: str
    expires_at: str


class RefreshKeyRequest(_Request):
    """``POST /keys/{keyId}/refresh`` takes no parameters: no body or ``{}``."""


class RefreshEpochRequest(_Request):
    """``POST /admin/refresh``: ``freshPrimes`` generates the signers' new Paillier
    primes during the epoch instead of taking their in-memory spare stock."""

    fresh_primes: bool = False


class SupportedScheme(_Request):
    protocol: str = _short()
    curve: str = _short()


class ExportKeyRequest(_Request):
    encryption_key: str = Field(min_length=1, max_length=1024)
    supported_schemes: list[SupportedScheme] = Field(min_length=1, max_length=32)


#: Every signature kind; which ones a key can use depends on its scheme and network.
SignatureKind = Literal["Hash", "Message", "Transaction", "Eip191", "Eip712", "Psbt", "Bip322"]
_KIND_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # kind: (required fields, optional fields) besides kind, network, externalId
    "Hash": ({"hash"}, {"taproot_merkle_root"}),
    "Message": ({"message"}, set()),
    "Transaction": ({"transaction"}, set()),
    "Eip191": ({"message"}, set()),
    "Eip712": ({"types", "domain", "primary_type", "message"}, set()),
    "Psbt": ({"psbt"}, set()),
    "Bip322": ({"message"}, set()),
}
#: Dfns's ``blockchainKind`` values (the TS SDK's GenerateSignatureBody).
BlockchainKind = Literal[
    "Algorand", "Aptos", "Bitcoin", "BitcoinCash", "Canton", "Cardano", "Concordium", "Cosmos",
    "Evm", "Hedera", "Icp", "Iota", "Kaspa", "Near", "Polymesh", "Solana", "Starknet",
    "Stellar", "Substrate", "Sui", "Tezos", "Ton", "Tron", "Xrpl",
]  # fmt: skip
_PAYLOAD_FIELDS = ("hash", "message", "taproot_merkle_root", "transaction", "psbt", "types",
                   "domain", "primary_type")  # fmt: skip


class SignatureRequest(_Request):
    """``{kind, ...}`` with an optional ``externalId`` (idempotency key) and ``network``:

    * ``Hash {hash, taprootMerkleRoot?}``, ``Message {message}`` (hex; on a Solana
      network a Message is signed as a Solana off-chain message);
    * ``Transaction {transaction}`` (hex; EVM or Solana network), ``Eip191 {message}``
      (hex), ``Eip712 {types, domain, primaryType, message}``, ``Psbt {psbt}`` (hex or
      base64), ``Bip322 {message}`` (hex; Bitcoin network).
    """

    kind: SignatureKind
    network: str | None = Field(default=None, min_length=1, max_length=64)
    #: Dfns: the chain family whose conventions apply when no ``network`` is named
    #: (``Evm``, ``Bitcoin``, ``Solana``); with a network it must be the network's.
    blockchain_kind: BlockchainKind | None = None
    hash: str | None = Field(default=None, max_length=1024)
    message: str | dict[str, Any] | None = None
    taproot_merkle_root: str | None = Field(default=None, max_length=1024)
    transaction: str | None = Field(default=None, min_length=1, max_length=2_200_000)
    psbt: str | None = Field(default=None, min_length=1, max_length=2_200_000)
    types: dict[str, Any] | None = None
    domain: dict[str, Any] | None = None
    primary_type: str | None = Field(default=None, min_length=1, max_length=255)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)

    @model_validator(mode="after")
    def _fields_match_kind(self) -> SignatureRequest:
        required, optional = _KIND_FIELDS[self.kind]
        for name in _PAYLOAD_FIELDS:
            present = getattr(self, name) is not None
            camel = to_camel(name)
            if name in required and not present:
                raise ValueError(f"kind {self.kind} requires {camel}")
            if present and name not in required | optional:
                raise ValueError(f"kind {self.kind} does not take {camel}")
        if self.kind == "Eip712":
            if not isinstance(self.message, dict):
                raise ValueError("kind Eip712 requires message to be an object")
        elif isinstance(self.message, dict):
            raise ValueError(f"kind {self.kind} requires message to be a hex string")
        if isinstance(self.message, str) and len(self.message) > 2_200_000:
            raise ValueError("message is too long")
        return self


class WalletSigningKeyRequest(_DfnsKeyOptions):
    """``{id}`` of an existing key, or ``{scheme, curve?}`` of a new one (without a
    curve: the scheme's default, :data:`DEFAULT_CURVES`)."""

    id: str | None = Field(default=None, min_length=1, max_length=64)
    scheme: str | None = Field(default=None, min_length=1, max_length=64)
    curve: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _id_or_scheme(self) -> WalletSigningKeyRequest:
        if self.id is not None:
            if self.scheme is not None or self.curve is not None:
                raise ValueError("give either id or scheme (and curve)")
        elif self.scheme is None:
            if self.curve is not None:
                raise ValueError("curve needs a scheme")
            if self.derive_from is None and self.store_id is None and not self.master_key:
                raise ValueError("give either id or scheme (and curve)")
        elif self.curve is None:
            curve = DEFAULT_CURVES.get(self.scheme)
            if curve is None:
                raise ValueError(f"scheme {self.scheme} has no default curve; give curve")
            self.curve = curve
        return self


def _tags() -> Any:
    return Field(default=None, max_length=50)


class CreateWalletRequest(_DfnsDelegation):
    network: str = _short()
    signing_key: WalletSigningKeyRequest | None = None
    name: str | None = _name()
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = _tags()

    def unsupported(self) -> UnsupportedFeature | None:
        found = self.unsupported_delegation()
        if found is None and self.signing_key is not None:
            found = self.signing_key.unsupported()
            if found is not None:
                found = UnsupportedFeature(f"signingKey.{found.field}", found.feature)
        return found


class UpdateWalletRequest(_Request):
    """Dfns ``{name?, externalId?}``: a field left out is kept, ``null`` clears it."""

    name: str | None = Field(default=None, min_length=1, max_length=255)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)


class WalletTagsRequest(_Request):
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=50
    )


# -- responses --------------------------------------------------------------------
class EpochKeysOut(_Response):
    ecdsa: int
    frost: int


class EpochOut(_Response):
    """One refresh epoch of the signer group (docs/security.md item 28)."""

    epoch: int
    state: Literal["running", "committing", "committed", "aborted"]
    started_at: str
    finished_at: str | None = None
    duration_ms: int | None = None
    keys: EpochKeysOut
    primes: Literal["stock", "fresh", ""] = Field(
        description="stock: every signer took its in-memory spare primes; fresh: "
        "primes generated during the epoch"
    )
    error: str | None = None


class EpochList(_Response):
    items: list[EpochOut]


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
    #: Whether the key may be exported (ours): set at create or import, can be
    #: switched off with PUT /keys/{keyId}, never back on.
    exportable: bool = True
    date_created: str
    protocol: str
    min_signers: int
    signers: list[str]


class KeyWalletOut(_Response):
    """One wallet of a key in ``GET /keys/{keyId}``: ``{id, network}``."""

    id: str
    network: str


class KeyDetailOut(KeyOut):
    """``GET /keys/{keyId}``: the key and its wallets (Dfns ``GetKeyResponse``)."""

    wallets: list[KeyWalletOut]


class KeyList(_Response):
    items: list[KeyOut]
    next_page_token: str | None = None


class SignatureValue(_Response):
    r: str
    s: str
    recid: int | None = None
    encoded: str


class RequesterOut(_Response):
    """Who asked for a signature: the Dfns user id (a service account's id) and the
    API token used."""

    user_id: str
    token_id: str | None = None


#: Dfns's signature statuses (``Pending``: waiting for a policy approval;
#: ``Executing``: being signed).
SignatureStatus = Literal["Pending", "Executing", "Signed", "Failed", "Rejected"]


class SignatureOut(_Response):
    id: str
    key_id: str
    wallet_id: str | None = None
    network: str | None = None
    requester: RequesterOut | None = Field(
        default=None, description="absent only on signatures stored before it was recorded"
    )
    status: SignatureStatus
    approval_id: str | None = Field(
        default=None,
        description="the approval a triggered policy opened (/v2/policy-approvals); "
        "a Pending request waits for it",
    )
    request_body: dict[str, Any]
    signature: SignatureValue | None = None
    signatures: list[SignatureValue] | None = Field(
        default=None, description="PSBT: the signature of each input signed, in order"
    )
    signed_data: str | None = Field(
        default=None,
        description="the signed payload: 0x-hex transaction (EVM, Solana) or PSBT, "
        "base64 BIP 322 simple signature",
    )
    signed_inputs: list[int] | None = Field(default=None, description="PSBT inputs signed")
    skipped_inputs: list[dict[str, Any]] | None = Field(
        default=None, description="PSBT inputs left unsigned: [{index, reason}]"
    )
    reason: str | None = Field(
        default=None, description="why a Failed request failed, or a Rejected one was"
    )
    external_id: str | None = None
    date_requested: str
    date_policy_resolved: str | None = None
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
    #: SHA-256 of the cluster roster's canonical bytes (hex), for operators and clients
    #: to compare with the roster they pinned (credentials.json); an addition to the
    #: Dfns shape.
    roster_fingerprint: str | None = None


class SignersOut(_Response):
    clusters: list[ClusterOut]


class ErrorBody(_Response):
    code: str
    message: str
    status: int = Field(description="the HTTP status (as Dfns's error objects carry it)")
    details: dict[str, Any] | None = None


class ErrorEnvelope(_Response):
    error: ErrorBody


class SchemeCurveOut(_Response):
    scheme: str
    curve: str


class NetworkOut(_Response):
    network: str
    family: str
    chain_id: int | None = None
    allowed_schemes: list[SchemeCurveOut]
    default_scheme: SchemeCurveOut


class NetworkList(_Response):
    items: list[NetworkOut]


class WalletSigningKeyOut(_Response):
    id: str
    scheme: str
    curve: str
    public_key: str


class WalletOut(_Response):
    id: str
    network: str
    address: str
    signing_key: WalletSigningKeyOut
    status: Literal["Active", "Archived"]
    name: str | None = None
    tags: list[str]
    external_id: str | None = None
    custodial: bool = True
    date_created: str


class WalletList(_Response):
    items: list[WalletOut]
    next_page_token: str | None = None


# -- policies (Dfns's policy engine: /v2/policies, /v2/policy-approvals) -------------
class PolicyRequest(_Request):
    """``POST /v2/policies`` and ``PUT /v2/policies/{policyId}``; ``rule``, ``action``
    and ``filters`` are checked by api/policies/definitions.py."""

    name: str = Field(min_length=1, max_length=255)
    activity_kind: str = Field(min_length=1, max_length=64)
    rule: dict[str, Any]
    action: dict[str, Any]
    filters: dict[str, Any] | None = None


class ApprovalDecisionRequest(_Request):
    value: Literal["Approved", "Denied"]
    reason: str | None = Field(default=None, max_length=1024)


class PolicyOut(_Response):
    id: str
    name: str
    activity_kind: str
    status: Literal["Active", "Archived"]
    rule: dict[str, Any]
    action: dict[str, Any]
    filters: dict[str, Any] | None = None
    date_created: str
    date_updated: str
    pending_change_request: dict[str, Any] | None = None


class PolicyList(_Response):
    items: list[PolicyOut]
    next_page_token: str | None = None


class ChangeRequestOut(_Response):
    """A request a policy holds for approval (answered with 202): a policy change
    (``kind: "Policy"``, Dfns's shape) or an export, import or wallet creation
    (``kind``: its activity kind; ``Approved``: the initiator may now repeat it)."""

    id: str
    kind: str
    operation_kind: Literal["Update", "Delete", "Export", "Import", "Create"]
    status: Literal["Pending", "Approved", "Applied", "Failed", "Rejected"]
    requester: dict[str, str]
    entity_id: str | None = None
    approval_id: str
    date_created: str
    date_resolved: str | None = None
    body: dict[str, Any]


class ApprovalOut(_Response):
    id: str
    initiator_id: str
    activity: dict[str, Any]
    status: Literal["Pending", "Approved", "Denied", "Expired"]
    expiration_date: str | None = None
    date_created: str
    date_updated: str
    date_resolved: str | None = None
    policy_evaluations: list[dict[str, Any]]
    decisions: list[dict[str, Any]]


class ApprovalList(_Response):
    items: list[ApprovalOut]
    next_page_token: str | None = None


class AuditActorOut(_Response):
    kind: Literal["User", "System", "Operator", "Unknown"]
    user_id: str | None = None
    token_id: str | None = None
    credential_id: str | None = None
    token_hash_prefix: str | None = Field(
        default=None, description="first 16 hex digits of SHA-256 of an unrecognised token"
    )


class AuditEntryOut(_Response):
    """One audit row (docs/governance-audit.md); ``hash`` and ``prevHash`` let a
    client re-check the chain of its org."""

    id: str
    org_id: str
    seq: int
    date: str
    actor: AuditActorOut
    action: str
    target_id: str | None = None
    method: str | None = None
    path: str | None = None
    request_hash: str | None = None
    result: Literal["Success", "Failure", "Refused", "Pending"]
    status: int | None = None
    error_code: str | None = None
    details: dict[str, Any] | None = None
    prev_hash: str
    hash: str


class AuditList(_Response):
    items: list[AuditEntryOut]
    next_page_token: str | None = None
