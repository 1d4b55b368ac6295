"""Request and response bodies of ``/auth`` (Dfns shapes, camelCase JSON): user-action
signing, service accounts, credentials and tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = [
    "AccessTokenOut",
    "ActionChallengeOut",
    "ActionInitRequest",
    "ActionSignRequest",
    "ActionTokenOut",
    "CreateKeyCredentialRequest",
    "CreateServiceAccountRequest",
    "CredentialIdRequest",
    "CredentialList",
    "CredentialOut",
    "DeactivateServiceAccountRequest",
    "MessageOut",
    "ServiceAccountList",
    "ServiceAccountOut",
    "UpdateServiceAccountRequest",
    "UserInfoOut",
]


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


# -- user actions -----------------------------------------------------------------
class ActionInitRequest(_Request):
    user_action_payload: str = Field(max_length=2_000_000)
    user_action_http_method: Literal["POST", "PUT", "DELETE", "PATCH", "GET"]
    user_action_http_path: str = Field(min_length=1, max_length=1024, pattern=r"^/[^?#\s]*$")
    user_action_server_kind: Literal["Api"] = "Api"


class SupportedCredentialKindOut(_Response):
    kind: Literal["Key"] = "Key"
    factor: Literal["first"] = "first"
    requires_second_factor: bool = False


class AllowedCredentialOut(_Response):
    type: Literal["public-key"] = "public-key"
    id: str


class AllowCredentialsOut(_Response):
    key: list[AllowedCredentialOut]
    webauthn: list[AllowedCredentialOut] = Field(default_factory=list)


class ActionChallengeOut(_Response):
    challenge: str
    challenge_identifier: str
    supported_credential_kinds: list[SupportedCredentialKindOut]
    allow_credentials: AllowCredentialsOut
    external_authentication_url: str = ""
    user_verification: Literal["discouraged"] = "discouraged"
    attestation: Literal["none"] = "none"


class CredentialAssertion(_Request):
    cred_id: str = Field(min_length=1, max_length=64)
    client_data: str = Field(min_length=1, max_length=8192)
    signature: str = Field(min_length=1, max_length=2048)
    #: The TS SDK may name the digest; the key's own algorithm decides.
    algorithm: str | None = Field(default=None, max_length=64)


class FirstFactor(_Request):
    kind: Literal["Key"]
    credential_assertion: CredentialAssertion


class ActionSignRequest(_Request):
    challenge_identifier: str = Field(min_length=1, max_length=64)
    first_factor: FirstFactor


class ActionTokenOut(_Response):
    user_action: str


# -- credentials ------------------------------------------------------------------
class CredentialOut(_Response):
    kind: Literal["Key"] = "Key"
    credential_id: str
    credential_uuid: str
    date_created: str
    is_active: bool
    name: str
    public_key: str
    relying_party_id: str = ""
    origin: str = ""


class CredentialList(_Response):
    items: list[CredentialOut]


class CreateKeyCredentialRequest(_Request):
    """shardvault's form of ``POST /auth/credentials`` for a Key credential: the
    public key itself (the request is a signed user action of the owner)."""

    credential_kind: Literal["Key"]
    credential_name: str = Field(min_length=1, max_length=255)
    public_key: str = Field(min_length=1, max_length=8192)


class CredentialIdRequest(_Request):
    credential_uuid: str = Field(min_length=1, max_length=64)


class MessageOut(_Response):
    message: str


# -- service accounts -------------------------------------------------------------
class CreateServiceAccountRequest(_Request):
    name: str = Field(min_length=1, max_length=255)
    public_key: str = Field(min_length=1, max_length=8192)
    permission_id: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)
    days_valid: int | None = Field(default=None, ge=1, le=3650)


class UpdateServiceAccountRequest(_Request):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    external_id: str | None = Field(default=None, min_length=1, max_length=255)


class DeactivateServiceAccountRequest(_Request):
    force: bool | None = None


class PermissionAssignmentOut(_Response):
    permission_name: str
    permission_id: str
    assignment_id: str


class UserInfoOut(_Response):
    username: str
    name: str
    user_id: str
    kind: Literal["CustomerEmployee"] = "CustomerEmployee"
    credential_uuid: str
    org_id: str
    is_active: bool
    is_service_account: bool = True
    is_registered: bool = True
    permission_assignments: list[PermissionAssignmentOut] = Field(default_factory=list)


class AccessTokenOut(_Response):
    access_token: str | None = None
    date_created: str
    cred_id: str
    is_active: bool
    kind: Literal["ServiceAccount", "Pat"] = "ServiceAccount"
    linked_user_id: str
    linked_app_id: str = ""
    name: str
    org_id: str
    permission_assignments: list[PermissionAssignmentOut] = Field(default_factory=list)
    public_key: str
    token_id: str


class ServiceAccountOut(_Response):
    user_info: UserInfoOut
    access_tokens: list[AccessTokenOut]


class ServiceAccountList(_Response):
    items: list[ServiceAccountOut]
