"""The database side of permissions and org settings (:class:`PermissionRepository`):
permissions (Dfns "roles"), their assignments to identities, the operations an
identity holds, and the org settings ``keyExport`` / ``signAfterExport``. Short
synchronous transactions, run in worker threads by the routes, like
:class:`~shardvault.api.repository.ApiRepository`'s. Every change takes an
:class:`~shardvault.api.audit.AuditContext` and appends its audit row in the
transaction of the change (docs/governance-audit.md)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardvault.api.audit import AuditContext, append
from shardvault.api.errors import ApiError
from shardvault.api.paging import newest_first
from shardvault.db.engine import read_sessionmaker, write_sessionmaker
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    Org,
    PermissionAssignmentRow,
    PermissionRow,
    ServiceAccount,
    utcnow,
)

__all__ = [
    "PermissionRepository",
    "assignment_not_found",
    "check_permission_id",
    "permission_not_found",
]


def permission_not_found(permission_id: str) -> ApiError:
    return ApiError(
        404,
        "PermissionNotFound",
        f"permission {permission_id} not found",
        details={"permissionId": permission_id},
    )


def assignment_not_found(assignment_id: str) -> ApiError:
    return ApiError(
        404,
        "AssignmentNotFound",
        f"assignment {assignment_id} not found",
        details={"assignmentId": assignment_id},
    )


def check_permission_id(permission_id: str) -> None:
    if not is_id(permission_id, "pm"):
        raise permission_not_found(permission_id)


class PermissionRepository:
    """Permissions, assignments and org settings over one engine."""

    def __init__(self, engine: Engine) -> None:
        self._read = read_sessionmaker(engine)
        self._write = write_sessionmaker(engine)

    # -- checks ------------------------------------------------------------------
    def held_operations(self, org_id: str, identity_id: str) -> set[str]:
        """Every operation the identity holds through its assignments of live
        (not archived) permissions of the org."""
        stmt = (
            select(PermissionRow.operations)
            .join(
                PermissionAssignmentRow,
                PermissionAssignmentRow.permission_id == PermissionRow.id,
            )
            .where(
                PermissionAssignmentRow.org_id == org_id,
                PermissionAssignmentRow.identity_id == identity_id,
                PermissionRow.org_id == org_id,
                PermissionRow.is_archived.is_(False),
            )
        )
        with self._read() as s:
            held: set[str] = set()
            for operations in s.scalars(stmt):
                held.update(operations)
            return held

    # -- permissions -------------------------------------------------------------
    @staticmethod
    def _permission(
        s: Session, org_id: str, permission_id: str, *, lock: bool = False
    ) -> PermissionRow:
        stmt = select(PermissionRow).where(
            PermissionRow.id == permission_id, PermissionRow.org_id == org_id
        )
        if lock:
            stmt = stmt.with_for_update()
        row = s.scalars(stmt).one_or_none()
        if row is None:
            raise permission_not_found(permission_id)
        return row

    def create_permission(
        self, org_id: str, name: str, operations: list[str], *, audit: AuditContext
    ) -> PermissionRow:
        """A new permission, audited ``Permissions:Create``."""
        now = utcnow()
        row = PermissionRow(
            id=new_id("pm"),
            org_id=org_id,
            name=name,
            operations=operations,
            is_immutable=False,
            is_archived=False,
            date_created=now,
            date_updated=now,
        )
        with self._write.begin() as s:
            s.add(row)
            s.flush()
            append(
                s,
                audit,
                action="Permissions:Create",
                target_id=row.id,
                details={"name": name, "operations": list(operations)},
            )
        return row

    def get_permission(self, org_id: str, permission_id: str) -> PermissionRow:
        with self._read() as s:
            return self._permission(s, org_id, permission_id)

    def list_permissions(
        self, org_id: str, before_id: str | None, limit: int
    ) -> list[PermissionRow]:
        """Newest first (ids are time-ordered), ``limit`` rows after the cursor."""
        stmt = select(PermissionRow).where(PermissionRow.org_id == org_id)
        with self._read() as s:
            return list(s.scalars(newest_first(stmt, PermissionRow.id, before_id, limit)))

    def update_permission(
        self,
        org_id: str,
        permission_id: str,
        *,
        name: str | None = None,
        operations: list[str] | None = None,
        is_archived: bool | None = None,
        audit: AuditContext,
    ) -> PermissionRow:
        """Rename, change the operations (``Permissions:Update``) or archive/restore
        (``Permissions:Delete``) a permission, audited under that action with the
        fields changed and their previous values."""
        with self._write.begin() as s:
            row = self._permission(s, org_id, permission_id, lock=True)
            if row.is_immutable:
                raise ApiError(
                    403,
                    "PermissionImmutable",
                    f"permission {permission_id} is managed by the system",
                    details={"permissionId": permission_id},
                )
            if row.is_archived and is_archived is None:
                raise _archived(permission_id)
            changed: dict[str, object] = {}
            previous: dict[str, object] = {}
            if name is not None:
                previous["name"] = row.name
                row.name = changed["name"] = name
            if operations is not None:
                previous["operations"] = list(row.operations)
                row.operations = operations
                changed["operations"] = list(operations)
            if is_archived is not None:
                previous["isArchived"] = row.is_archived
                row.is_archived = changed["isArchived"] = is_archived
            row.date_updated = utcnow()
            s.flush()
            append(
                s,
                audit,
                action="Permissions:Delete" if is_archived is not None else "Permissions:Update",
                target_id=permission_id,
                details={**changed, "previous": previous},
            )
        return row

    # -- assignments -------------------------------------------------------------
    def _identity_exists(self, s: Session, org_id: str, identity_id: str) -> bool:
        account = s.get(ServiceAccount, identity_id)
        return account is not None and account.org_id == org_id

    def assign(
        self, org_id: str, permission_id: str, identity_id: str, *, audit: AuditContext
    ) -> PermissionAssignmentRow:
        """Assign the permission to a service account of the org (404 for another
        identity, 409 when already assigned or the permission is archived), audited
        ``Permissions:Assign`` (target: the permission)."""
        now = utcnow()
        try:
            with self._write.begin() as s:
                permission = self._permission(s, org_id, permission_id, lock=True)
                if permission.is_archived:
                    raise _archived(permission_id)
                if not self._identity_exists(s, org_id, identity_id):
                    raise ApiError(
                        404,
                        "IdentityNotFound",
                        f"no user or service account {identity_id} in this org",
                        details={"identityId": identity_id},
                    )
                row = PermissionAssignmentRow(
                    id=new_id("as"),
                    org_id=org_id,
                    permission_id=permission_id,
                    identity_id=identity_id,
                    is_immutable=False,
                    date_created=now,
                    date_updated=now,
                )
                s.add(row)
                s.flush()
                append(
                    s,
                    audit,
                    action="Permissions:Assign",
                    target_id=permission_id,
                    details={"assignmentId": row.id, "identityId": identity_id},
                )
        except IntegrityError:
            raise ApiError(
                409,
                "AssignmentExists",
                f"permission {permission_id} is already assigned to {identity_id}",
                details={"permissionId": permission_id, "identityId": identity_id},
            ) from None
        return row

    def list_assignments(
        self, org_id: str, permission_id: str, before_id: str | None, limit: int
    ) -> list[PermissionAssignmentRow]:
        stmt = select(PermissionAssignmentRow).where(
            PermissionAssignmentRow.org_id == org_id,
            PermissionAssignmentRow.permission_id == permission_id,
        )
        page = newest_first(stmt, PermissionAssignmentRow.id, before_id, limit)
        with self._read() as s:
            self._permission(s, org_id, permission_id)
            return list(s.scalars(page))

    def revoke(
        self, org_id: str, permission_id: str, assignment_id: str, *, audit: AuditContext
    ) -> None:
        """Delete an assignment, audited ``Permissions:Revoke`` (target: the permission)."""
        with self._write.begin() as s:
            self._permission(s, org_id, permission_id)
            row = s.scalars(
                select(PermissionAssignmentRow)
                .where(
                    PermissionAssignmentRow.id == assignment_id,
                    PermissionAssignmentRow.org_id == org_id,
                    PermissionAssignmentRow.permission_id == permission_id,
                )
                .with_for_update()
            ).one_or_none()
            if row is None:
                raise assignment_not_found(assignment_id)
            if row.is_immutable:
                raise ApiError(
                    403,
                    "AssignmentImmutable",
                    f"assignment {assignment_id} is managed by the system",
                    details={"assignmentId": assignment_id},
                )
            identity_id = row.identity_id
            s.delete(row)
            s.flush()
            append(
                s,
                audit,
                action="Permissions:Revoke",
                target_id=permission_id,
                details={"assignmentId": assignment_id, "identityId": identity_id},
            )

    def grant(
        self,
        org_id: str,
        identity_id: str,
        operations: Iterable[str],
        name: str,
        *,
        audit: AuditContext | None = None,
    ) -> PermissionRow:
        """Create a permission and assign it to ``identity_id`` in one transaction
        (tests, the CLI), audited ``Permissions:Create`` and ``Permissions:Assign``
        (by ``audit``'s caller; default: the operator)."""
        context = AuditContext.operator(org_id) if audit is None else audit.in_org(org_id)
        now = utcnow()
        row = PermissionRow(
            id=new_id("pm"),
            org_id=org_id,
            name=name,
            operations=list(operations),
            is_immutable=False,
            is_archived=False,
            date_created=now,
            date_updated=now,
        )
        assignment = PermissionAssignmentRow(
            id=new_id("as"),
            org_id=org_id,
            permission_id=row.id,
            identity_id=identity_id,
            is_immutable=False,
            date_created=now,
            date_updated=now,
        )
        with self._write.begin() as s:
            s.add(row)
            s.flush()
            s.add(assignment)
            s.flush()
            append(
                s,
                context,
                action="Permissions:Create",
                target_id=row.id,
                details={"name": name, "operations": list(row.operations)},
            )
            append(
                s,
                context,
                action="Permissions:Assign",
                target_id=row.id,
                details={"assignmentId": assignment.id, "identityId": identity_id},
            )
        return row

    # -- org settings ------------------------------------------------------------
    def org_settings(self, org_id: str) -> Org:
        with self._read() as s:
            org = s.get(Org, org_id)
            if org is None:
                raise ApiError(404, "OrgNotFound", f"org {org_id} not found")
            return org

    def update_org_settings(
        self,
        org_id: str,
        *,
        key_export: bool | None,
        sign_after_export: bool | None,
        audit: AuditContext,
    ) -> Org:
        """Change the settings given, audited ``Orgs:Settings:Update`` with the
        fields changed and their previous values (as ``bootstrap.set_org_settings``)."""
        with self._write.begin() as s:
            org = s.scalars(select(Org).where(Org.id == org_id).with_for_update()).one_or_none()
            if org is None:
                raise ApiError(404, "OrgNotFound", f"org {org_id} not found")
            was = {"keyExport": org.key_export_enabled, "signAfterExport": org.sign_after_export}
            changed: dict[str, bool] = {}
            if key_export is not None:
                org.key_export_enabled = changed["keyExport"] = key_export
            if sign_after_export is not None:
                org.sign_after_export = changed["signAfterExport"] = sign_after_export
            previous = {name: was[name] for name in changed}
            s.flush()
            append(
                s,
                audit,
                action="Orgs:Settings:Update",
                target_id=org_id,
                details={**changed, "previous": previous},
            )
        return org


def _archived(permission_id: str) -> ApiError:
    return ApiError(
        409,
        "PermissionArchived",
        f"permission {permission_id} is archived",
        details={"permissionId": permission_id},
    )
