"""``/audit``: the org's audit log, newest first (docs/governance-audit.md). Ours,
not Dfns'; paginated the Dfns way (``limit``, ``paginationToken`` -> ``items``,
``nextPageToken``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from shardvault.api.dependencies import AUTHENTICATED, ERROR_RESPONSES, Caller, Limit, Repository
from shardvault.api.encoding import b64url_decode, b64url_encode, iso_utc
from shardvault.api.errors import ApiError
from shardvault.api.permissions import require_permission
from shardvault.api.repository import AuditFilter, in_thread
from shardvault.api.schemas import AuditActorOut, AuditEntryOut, AuditList
from shardvault.db.ids import is_id
from shardvault.db.models import AuditRow

__all__ = ["audit_out", "router"]

router = APIRouter(
    prefix="/audit", tags=["audit"], dependencies=AUTHENTICATED, responses=ERROR_RESPONSES
)

_PAGE_PREFIX = "seq:"
_Short = Annotated[str | None, Query(max_length=255)]


def audit_out(row: AuditRow) -> AuditEntryOut:
    return AuditEntryOut(
        id=row.id,
        org_id=row.org_id,
        seq=row.seq,
        date=iso_utc(row.date),
        actor=AuditActorOut(
            kind=row.actor,  # type: ignore[arg-type]
            user_id=row.user_id,
            token_id=row.token_id,
            credential_id=row.credential_id,
            token_hash_prefix=row.token_hash_prefix,
        ),
        action=row.action,
        target_id=row.target_id,
        method=row.method,
        path=row.path,
        request_hash=row.request_hash,
        result=row.result,  # type: ignore[arg-type]
        status=row.status,
        error_code=row.error_code,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _page_token(seq: int) -> str:
    return b64url_encode(f"{_PAGE_PREFIX}{seq}".encode("ascii"))


def _parse_page_token(token: str | None) -> int | None:
    if token is None:
        return None
    try:
        value = b64url_decode(token, "paginationToken").decode("ascii")
    except (ApiError, UnicodeDecodeError):
        value = ""
    digits = value.removeprefix(_PAGE_PREFIX)
    if not value.startswith(_PAGE_PREFIX) or not digits.isdigit() or len(digits) > 19:
        raise ApiError(
            400,
            "InvalidPaginationToken",
            "paginationToken is not a token this list returned",
            details={"field": "paginationToken"},
        )
    return int(digits)


def _date(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ApiError(
            400,
            "InvalidRequest",
            f"{field}: must be an ISO 8601 date with a time zone (e.g. 2026-12-07T00:00:00Z)",
            details={"field": field},
        )
    return parsed.astimezone(UTC)


@router.get(
    "",
    response_model=AuditList,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:Logs:Read")],
)
async def list_audit(
    caller: Caller,
    repository: Repository,
    limit: Limit = 50,
    pagination_token: Annotated[str | None, Query(alias="paginationToken", max_length=256)] = None,
    user_id: Annotated[str | None, Query(alias="userId", max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(alias="targetId", max_length=255)] = None,
    result: Annotated[Literal["Success", "Failure", "Refused", "Pending"] | None, Query()] = None,
    date_from: Annotated[str | None, Query(alias="dateFrom", max_length=64)] = None,
    date_to: Annotated[str | None, Query(alias="dateTo", max_length=64)] = None,
) -> AuditList:
    """The org's audit rows, newest first; filters: ``userId``, ``action``,
    ``targetId``, ``result``, ``dateFrom`` (inclusive) and ``dateTo`` (exclusive)."""
    where = AuditFilter(
        user_id=user_id,
        action=action,
        target_id=target_id,
        result=result,
        date_from=_date(date_from, "dateFrom"),
        date_to=_date(date_to, "dateTo"),
    )
    before = _parse_page_token(pagination_token)
    rows = await in_thread(repository.list_audit, caller.org_id, where, before, limit + 1)
    next_token = _page_token(rows[limit - 1].seq) if len(rows) > limit else None
    return AuditList(items=[audit_out(r) for r in rows[:limit]], next_page_token=next_token)


@router.get(
    "/{auditId}",
    response_model=AuditEntryOut,
    response_model_exclude_none=True,
    dependencies=[require_permission("Auth:Logs:Read")],
)
async def get_audit(
    audit_id: Annotated[str, Path(alias="auditId", max_length=64)],
    caller: Caller,
    repository: Repository,
) -> AuditEntryOut:
    if not is_id(audit_id, "au"):
        raise ApiError(404, "AuditEntryNotFound", f"audit entry {audit_id} not found")
    return audit_out(await in_thread(repository.get_audit, caller.org_id, audit_id))
