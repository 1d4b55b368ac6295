"""Bodies of ``/permissions`` (Dfns shapes) and ``/org/settings`` (ours), camelCase
like :mod:`shardvault.api.schemas` (strict requests, unknown fields refused)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

__all__ = [
    "ArchivePermissionRequest",
    "AssignmentList",
    "AssignmentOut",
    "CreateAssignmentRequest",
    "CreatePermissionRequest",
    "OrgSettingsOut",
    "PermissionList",
    "PermissionOut",
    "UpdateOrgSettingsRequest",
    "UpdatePermissionRequest",
]

_Operations = list[str]


class _Request(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, extra="forbid", strict=True)


class _Response(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


class CreatePermissionRequest(_Request):
    name: str = Field(min_length=1, max_length=255)
    #: Dfns operation names; an unknown one is 400 ``UnknownOperation``.
    operations: _Operations = Field(max_length=512)


class UpdatePermissionRequest(_Request):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    operations: _Operations | None = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _something(self) -> UpdatePermissionRequest:
        if self.name is None and self.operations is None:
            raise ValueError("give name or operations")
        return self


class ArchivePermissionRequest(_Request):
    is_archived: bool


class CreateAssignmentRequest(_Request):
    identity_id: str = Field(min_length=1, max_length=64)


class PermissionOut(_Response):
    id: str
    name: str
    operations: list[str]
    status: Literal["Active"] = "Active"
    is_immutable: bool
    is_archived: bool
    date_created: str
    date_updated: str


class PermissionList(_Response):
    items: list[PermissionOut]
    next_page_token: str | None = None


class AssignmentOut(_Response):
    id: str
    permission_id: str
    identity_id: str
    is_immutable: bool
    date_created: str
    date_updated: str


class AssignmentList(_Response):
    items: list[AssignmentOut]
    next_page_token: str | None = None


class UpdateOrgSettingsRequest(_Request):
    """``PUT /org/settings``: the fields given change, the others stay."""

    key_export: bool | None = None
    sign_after_export: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateOrgSettingsRequest:
        if self.key_export is None and self.sign_after_export is None:
            raise ValueError("give keyExport or signAfterExport")
        return self


class OrgSettingsOut(_Response):
    org_id: str
    key_export: bool
    sign_after_export: bool
