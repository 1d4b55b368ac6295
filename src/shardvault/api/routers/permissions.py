"""``/permissions`` (Dfns paths and shapes): create, list, read, update, archive and
delete permissions (Dfns "roles": a name and a list of operation names), and assign
them to (and revoke them from) users and service accounts of the org."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Path, Response

from shardvault.api.dependencies import (
    AUTHENTICATED,
    ERROR_RESPONSES,
    Audit,
    Caller,
    Limit,
    PageToken,
)
from shardvault.api.encoding import iso_utc
from shardvault.api.errors import ApiError
from shardvault.api.operations import OPERATIONS
from shardvault.api.paging import one_page, parse_page_token
from shardvault.api.permission_repository import (
    assignment_not_found,
    check_permission_id,
)
from shardvault.api.permission_schemas import (
    ArchivePermissionRequest,
    AssignmentList,
    AssignmentOut,
    CreateAssignmentRequest,
    CreatePermissionRequest,
    PermissionList,
    PermissionOut,
    UpdatePermissionRequest,
)
from shardvault.api.permissions import Permissions, require_permission
from shardvault.api.repository import in_thread
from shardvault.db.ids import is_id
from shardvault.db.models import PermissionAssignmentRow, PermissionRow

__all__ = ["router"]

logger = logging.getLogger("shardvault.api")

PermissionId = Annotated[str, Path(alias="permissionId", max_length=64)]
AssignmentId = Annotated[str, Path(alias="assignmentId", max_length=64)]

router = APIRouter(
    prefix="/permissions",
    tags=["permissions"],
    dependencies=AUTHENTICATED,
    responses=ERROR_RESPONSES,
)


def permission_out(row: PermissionRow) -> PermissionOut:
    return PermissionOut(
        id=row.id,
        name=row.name,
        operations=list(row.operations),
        is_immutable=row.is_immutable,
        is_archived=row.is_archived,
        date_created=iso_utc(row.date_created),
        date_updated=iso_utc(row.date_updated),
    )


def assignment_out(row: PermissionAssignmentRow) -> AssignmentOut:
    return AssignmentOut(
        id=row.id,
        permission_id=row.permission_id,
        identity_id=row.identity_id,
        is_immutable=row.is_immutable,
        date_created=iso_utc(row.date_created),
        date_updated=iso_utc(row.date_updated),
    )


def _known_operations(operations: list[str]) -> list[str]:
    """The operations without repeats, in order; 400 ``UnknownOperation`` naming any
    that is not a Dfns operation name."""
    unknown = [op for op in operations if op not in OPERATIONS]
    if unknown:
        raise ApiError(
            400,
            "UnknownOperation",
            f"unknown operation(s): {', '.join(unknown[:10])}",
            details={"field": "operations", "operations": unknown[:50]},
        )
    return list(dict.fromkeys(operations))


@router.post(
    "",
    response_model=PermissionOut,
    dependencies=[require_permission("Permissions:Create")],
)
async def create_permission(
    body: CreatePermissionRequest, caller: Caller, permissions: Permissions, audit: Audit
) -> PermissionOut:
    operations = _known_operations(body.operations)
    row = await in_thread(
        permissions.create_permission, caller.org_id, body.name, operations, audit=audit
    )
    logger.info("permission %s created", row.id)
    return permission_out(row)


@router.get(
    "",
    response_model=PermissionList,
    response_model_exclude_none=True,
    dependencies=[require_permission("Permissions:Read")],
)
async def list_permissions(
    caller: Caller,
    permissions: Permissions,
    limit: Limit = 50,
    pagination_token: PageToken = None,
) -> PermissionList:
    before = parse_page_token(pagination_token, "pm")
    rows = await in_thread(permissions.list_permissions, caller.org_id, before, limit + 1)
    page, next_token = one_page(rows, limit, lambda row: row.id)
    return PermissionList(items=[permission_out(r) for r in page], next_page_token=next_token)


@router.get(
    "/{permissionId}",
    response_model=PermissionOut,
    dependencies=[require_permission("Permissions:Read")],
)
async def get_permission(
    permission_id: PermissionId,
    caller: Caller,
    permissions: Permissions,
) -> PermissionOut:
    check_permission_id(permission_id)
    return permission_out(await in_thread(permissions.get_permission, caller.org_id, permission_id))


@router.put(
    "/{permissionId}",
    response_model=PermissionOut,
    dependencies=[require_permission("Permissions:Update")],
)
async def update_permission(
    permission_id: PermissionId,
    body: UpdatePermissionRequest,
    caller: Caller,
    permissions: Permissions,
    audit: Audit,
) -> PermissionOut:
    check_permission_id(permission_id)
    operations = None if body.operations is None else _known_operations(body.operations)
    row = await in_thread(
        permissions.update_permission,
        caller.org_id,
        permission_id,
        name=body.name,
        operations=operations,
        audit=audit,
    )
    return permission_out(row)


@router.put(
    "/{permissionId}/archive",
    response_model=PermissionOut,
    dependencies=[require_permission("Permissions:Delete")],
)
async def archive_permission(
    permission_id: PermissionId,
    body: ArchivePermissionRequest,
    caller: Caller,
    permissions: Permissions,
    audit: Audit,
) -> PermissionOut:
    """Archive (``isArchived: true``) or restore a permission; an archived one grants
    nothing and cannot be assigned. Dfns deprecated this for ``DELETE``."""
    check_permission_id(permission_id)
    row = await in_thread(
        permissions.update_permission,
        caller.org_id,
        permission_id,
        is_archived=body.is_archived,
        audit=audit,
    )
    return permission_out(row)


@router.delete(
    "/{permissionId}",
    status_code=204,
    response_class=Response,
    dependencies=[require_permission("Permissions:Delete")],
)
async def delete_permission(
    permission_id: PermissionId,
    caller: Caller,
    permissions: Permissions,
    audit: Audit,
) -> Response:
    """Delete a permission: it is archived (kept for the record, grants nothing)."""
    check_permission_id(permission_id)
    await in_thread(
        permissions.update_permission, caller.org_id, permission_id, is_archived=True, audit=audit
    )
    return Response(status_code=204)


@router.post(
    "/{permissionId}/assignments",
    response_model=AssignmentOut,
    dependencies=[require_permission("Permissions:Assign")],
)
async def assign_permission(
    permission_id: PermissionId,
    body: CreateAssignmentRequest,
    caller: Caller,
    permissions: Permissions,
    audit: Audit,
) -> AssignmentOut:
    check_permission_id(permission_id)
    row = await in_thread(
        permissions.assign, caller.org_id, permission_id, body.identity_id, audit=audit
    )
    logger.info("permission %s assigned to %s", permission_id, body.identity_id)
    return assignment_out(row)


@router.get(
    "/{permissionId}/assignments",
    response_model=AssignmentList,
    response_model_exclude_none=True,
    dependencies=[require_permission("Permissions:Assignments:Read")],
)
async def list_assignments(
    permission_id: PermissionId,
    caller: Caller,
    permissions: Permissions,
    limit: Limit = 50,
    pagination_token: PageToken = None,
) -> AssignmentList:
    check_permission_id(permission_id)
    before = parse_page_token(pagination_token, "as")
    rows = await in_thread(
        permissions.list_assignments, caller.org_id, permission_id, before, limit + 1
    )
    page, next_token = one_page(rows, limit, lambda row: row.id)
    return AssignmentList(items=[assignment_out(r) for r in page], next_page_token=next_token)


@router.delete(
    "/{permissionId}/assignments/{assignmentId}",
    status_code=204,
    response_class=Response,
    dependencies=[require_permission("Permissions:Revoke")],
)
async def revoke_permission(
    permission_id: PermissionId,
    assignment_id: AssignmentId,
    caller: Caller,
    permissions: Permissions,
    audit: Audit,
) -> Response:
    check_permission_id(permission_id)
    if not is_id(assignment_id, "as"):
        raise assignment_not_found(assignment_id)
    await in_thread(permissions.revoke, caller.org_id, permission_id, assignment_id, audit=audit)
    logger.info("assignment %s of permission %s revoked", assignment_id, permission_id)
    return Response(status_code=204)
