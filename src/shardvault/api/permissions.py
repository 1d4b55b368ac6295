"""Permission checks with the Dfns operation names (``Keys:Create``, ...).

Every authenticated route names the operation it needs with
``dependencies=[require_permission("Keys:Create")]``; the check runs before the body
is validated, so a caller without the permission learns nothing from validation
errors. A caller holds an operation when a live (not archived) permission of its
org listing it (or one of its older Dfns spellings, :data:`~shardvault.api.
operations.ALIASES`) is assigned to its user id. Admin service accounts hold every
operation: the org's first admin keeps working before any permission exists.

A missing permission is 403 ``PermissionDenied`` naming the operation in the
message and in ``details.operation``.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from shardvault.api.auth import Principal
from shardvault.api.dependencies import Caller
from shardvault.api.errors import ApiError
from shardvault.api.operations import OPERATIONS, granted_by
from shardvault.api.permission_repository import PermissionRepository
from shardvault.api.repository import in_thread

__all__ = [
    "PermissionDenied",
    "Permissions",
    "RequiredPermission",
    "ensure_permission",
    "require_permission",
]


class PermissionDenied(ApiError):
    """403 ``PermissionDenied``: the caller lacks ``operation``."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            403,
            "PermissionDenied",
            f"missing permission: this request needs the operation {operation}",
            details={"operation": operation},
        )
        self.operation = operation


async def _permissions(request: Request) -> PermissionRepository:
    return cast(PermissionRepository, request.app.state.permissions)


#: The permission repository (``app.state.permissions``).
Permissions = Annotated[PermissionRepository, Depends(_permissions)]


async def ensure_permission(
    permissions: PermissionRepository, caller: Principal, operation: str
) -> None:
    """Raise :class:`PermissionDenied` unless ``caller`` holds ``operation`` (for
    checks that depend on the request, such as ``Keys:Reuse``)."""
    if caller.is_admin:
        return
    held = await in_thread(permissions.held_operations, caller.org_id, caller.user_id)
    if held.isdisjoint(granted_by(operation)):
        raise PermissionDenied(operation)


class RequiredPermission:
    """The dependency :func:`require_permission` returns; ``operation`` is what it
    checks (the permissions-matrix test reads it off the routes)."""

    def __init__(self, operation: str) -> None:
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        self.operation = operation

    async def __call__(self, caller: Caller, permissions: Permissions) -> None:
        await ensure_permission(permissions, caller, self.operation)


def require_permission(operation: str) -> DependsParam:
    """A route dependency: 403 ``PermissionDenied`` unless the caller holds
    ``operation`` (a Dfns operation name)."""
    dependency: DependsParam = Depends(RequiredPermission(operation))
    return dependency
