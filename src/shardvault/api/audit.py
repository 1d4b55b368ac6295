"""The audit log: who did what, when, with which request, and how it ended
(docs/governance-audit.md). Append-only and hash-chained per org
(:mod:`shardvault.api.audit_chain`).

:func:`append` adds a row inside the caller's SQLAlchemy session, so a state change
and its audit row commit together or not at all: the API's repository operations
take an :class:`AuditContext` (who asked, through which request) and append in the
transaction of the change they make. Refused (401/403) and failed write requests
are recorded by :class:`shardvault.api.audit_middleware.AuditMiddleware`.

Appends to one chain are serialised by locking its head row (``audit_heads``,
``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises
every writer), so several API processes can append at once; ``UNIQUE(org_id, seq)``
guards the sequence as well. A transaction appends last (after its other row
locks), so the head lock never waits inside a lock cycle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import quote

from sqlalchemy import Connection, Table, bindparam, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shardvault.api.audit_chain import GENESIS_HASH, values_hash
from shardvault.db.ids import new_id
from shardvault.db.models import AuditHead, AuditRow, utcnow

__all__ = [
    "ACTOR_OPERATOR",
    "ACTOR_SYSTEM",
    "ACTOR_UNKNOWN",
    "ACTOR_USER",
    "FAILURE",
    "NO_ORG",
    "PENDING",
    "REFUSED",
    "SUCCESS",
    "AuditContext",
    "action_for",
    "append",
    "request_hash",
    "safe_path",
    "token_hash_prefix",
]

#: Results.
SUCCESS = "Success"
FAILURE = "Failure"
REFUSED = "Refused"
#: One step of an action that finishes in a later row (a signature claimed, an export
#: started, a key archived before its shares are erased).
PENDING = "Pending"
_FINAL = frozenset({SUCCESS, FAILURE, REFUSED})

#: Actors.
ACTOR_USER = "User"
ACTOR_SYSTEM = "System"
ACTOR_OPERATOR = "Operator"
ACTOR_UNKNOWN = "Unknown"

#: The chain of requests whose org is unknown (an unrecognised bearer token).
NO_ORG = "-"

_MAX_PATH = 1024
_MAX_TARGET = 255
_MAX_CODE = 64
_PATH_SAFE = "/:@!$&'()*+,;=-._~"

#: Action of each write route (method, route path). Dfns permission names where
#: Dfns has the operation.
_WRITE_ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/keys"): "Keys:Create",
    ("POST", "/keys/import/context"): "Keys:ImportContext:Create",
    ("POST", "/keys/import"): "Keys:Import",
    ("PUT", "/keys/{keyId}"): "Keys:Update",
    ("DELETE", "/keys/{keyId}"): "Keys:Delete",
    ("POST", "/keys/{keyId}/refresh"): "Keys:Refresh",
    ("POST", "/keys/{keyId}/export"): "Keys:Export",
    ("POST", "/keys/{keyId}/signatures"): "Keys:Signatures:Create",
    ("POST", "/wallets"): "Wallets:Create",
    ("PUT", "/wallets/{walletId}"): "Wallets:Update",
    ("PUT", "/wallets/{walletId}/tags"): "Wallets:Tags:Add",
    ("DELETE", "/wallets/{walletId}/tags"): "Wallets:Tags:Remove",
    ("POST", "/wallets/{walletId}/signatures"): "Wallets:Signatures:Create",
    ("POST", "/admin/refresh"): "Admin:Refresh",
    ("POST", "/permissions"): "Permissions:Create",
    ("PUT", "/permissions/{permissionId}"): "Permissions:Update",
    ("PUT", "/permissions/{permissionId}/archive"): "Permissions:Delete",
    ("DELETE", "/permissions/{permissionId}"): "Permissions:Delete",
    ("POST", "/permissions/{permissionId}/assignments"): "Permissions:Assign",
    ("DELETE", "/permissions/{permissionId}/assignments/{assignmentId}"): "Permissions:Revoke",
    ("PUT", "/org/settings"): "Orgs:Settings:Update",
    ("POST", "/v2/policies"): "Policies:Create",
    ("PUT", "/v2/policies/{policyId}"): "Policies:Update",
    ("DELETE", "/v2/policies/{policyId}"): "Policies:Archive",
    ("POST", "/v2/policy-approvals/{approvalId}/decisions"): "Policies:Approvals:Approve",
    ("POST", "/auth/credentials"): "Auth:Creds:Create",
    ("PUT", "/auth/credentials/activate"): "Auth:Creds:Update",
    ("PUT", "/auth/credentials/deactivate"): "Auth:Creds:Update",
    ("POST", "/auth/service-accounts"): "Auth:ServiceAccounts:Create",
    ("PUT", "/auth/service-accounts/{serviceAccountId}"): "Auth:ServiceAccounts:Update",
    ("PUT", "/auth/service-accounts/{serviceAccountId}/activate"): "Auth:ServiceAccounts:Activate",
    (
        "PUT",
        "/auth/service-accounts/{serviceAccountId}/deactivate",
    ): "Auth:ServiceAccounts:Deactivate",
    ("DELETE", "/auth/service-accounts/{serviceAccountId}"): "Auth:ServiceAccounts:Delete",
    ("DELETE", "/auth/tokens/{tokenId}"): "Auth:Tokens:Revoke",
}
#: Read actions by route prefix (longest first).
_READ_ACTIONS: tuple[tuple[str, str], ...] = (
    ("/keys/{keyId}/signatures", "Keys:Signatures:Read"),
    ("/wallets", "Wallets:Read"),
    ("/keys", "Keys:Read"),
    ("/audit", "Audit:Read"),
    ("/permissions", "Permissions:Read"),
    ("/org/settings", "Orgs:Settings:Read"),
    ("/v2/policy-approvals", "Policies:Approvals:Read"),
    ("/v2/policies", "Policies:Read"),
    ("/admin", "Admin:Read"),
)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def action_for(method: str, route_path: str | None) -> tuple[str, bool]:
    """The action a request performs and whether it is a write the log must record
    when it fails (any method but GET/HEAD/OPTIONS on an existing route). A route
    missing from the tables is named ``"METHOD /route/{param}"``: routes added later
    are audited too, and get their Dfns name by an entry in ``_WRITE_ACTIONS``."""
    method = method.upper()
    if route_path is None:
        return f"{method} ?", False
    known = _WRITE_ACTIONS.get((method, route_path))
    if known is not None:
        return known, True
    if method in _READ_METHODS:
        for prefix, action in _READ_ACTIONS:
            if route_path.startswith(prefix):
                return action, False
        return f"{method} {route_path}"[:_MAX_CODE], False
    return f"{method} {route_path}"[:_MAX_CODE], True


def safe_path(path: str) -> str:
    """The path as stored: percent-encoded ASCII, at most 1024 characters."""
    return quote(path, safe=_PATH_SAFE)[:_MAX_PATH]


def request_hash(method: str, path: str, body: bytes) -> str:
    """SHA-256 (hex) of ``METHOD``, LF, the stored path, LF, the canonical JSON body
    (sorted keys, no whitespace, ASCII; a body that is not JSON is hashed as sent,
    an empty body as nothing)."""
    canonical = body
    if body:
        try:
            canonical = json.dumps(
                json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True
            ).encode("ascii")
        except ValueError:
            canonical = body
    digest = hashlib.sha256()
    digest.update(method.upper().encode("ascii") + b"\n")
    digest.update(safe_path(path).encode("ascii") + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def token_hash_prefix(token: str) -> str | None:
    """The first 16 hex digits of SHA-256 of an unrecognised bearer token, for tokens
    long enough to be random (never a short, guessable value's)."""
    if len(token) < 40:
        return None
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()[:16]


@dataclass(slots=True)
class AuditContext:
    """Who asks, through which request: what every audited operation takes.

    ``org_id`` is the chain the rows go to; ``action`` and ``target_id`` the route's
    defaults (an operation may name others). ``final`` turns true once a row with a
    final result was committed for this request (the middleware then adds none)."""

    org_id: str
    actor: str = ACTOR_USER
    user_id: str | None = None
    token_id: str | None = None
    credential_id: str | None = None
    token_hash_prefix: str | None = None
    action: str | None = None
    target_id: str | None = None
    method: str | None = None
    path: str | None = None
    request_hash: str | None = None
    final: bool = field(default=False, compare=False)

    @classmethod
    def system(cls, org_id: str, action: str | None = None) -> AuditContext:
        """The vault acting on its own (a schedule, a start-up repair)."""
        return cls(org_id=org_id, actor=ACTOR_SYSTEM, action=action)

    @classmethod
    def operator(cls, org_id: str, action: str | None = None) -> AuditContext:
        """Someone with access to the database (the CLI's admin commands)."""
        return cls(org_id=org_id, actor=ACTOR_OPERATOR, action=action)

    def in_org(self, org_id: str) -> AuditContext:
        """This context for a row in ``org_id``'s chain: itself for its own org; for
        another org (a refresh epoch re-deals every org's keys) the vault acts."""
        if org_id == self.org_id:
            return self
        return AuditContext.system(org_id, self.action)


_HEADS = cast(Table, AuditHead.__table__)
_ROWS = cast(Table, AuditRow.__table__)


#: Prepared once: executing them with parameters skips building statements per row.
_SELECT_HEAD = (
    select(_HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.org_id == bindparam("chain"))
    .with_for_update()
)
_INSERT_ROW = insert(_ROWS)
_UPDATE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.org_id == bindparam("chain"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def _lock_head(connection: Connection, org_id: str) -> tuple[int, str]:
    """The chain's head ``(seq, hash)``, locked until the transaction ends."""
    head = connection.execute(_SELECT_HEAD, {"chain": org_id}).one_or_none()
    if head is None:
        # The chain's first row: create its head; a concurrent first append wins or waits.
        values = {"org_id": org_id, "seq": 0, "hash": GENESIS_HASH}
        if connection.dialect.name == "postgresql":
            connection.execute(postgresql.insert(_HEADS).values(values).on_conflict_do_nothing())
        else:
            connection.execute(sqlite.insert(_HEADS).values(values).on_conflict_do_nothing())
        head = connection.execute(_SELECT_HEAD, {"chain": org_id}).one()
    return int(head.seq), str(head.hash)


_FINAL_KEY = "shardvault.audit.final"


@event.listens_for(Session, "after_commit")
def _mark_final(session: Session) -> None:
    """Once a transaction that appended final rows commits, their requests' contexts
    know (one listener for every session: a dictionary lookup per commit)."""
    for context in session.info.pop(_FINAL_KEY, ()):
        context.final = True


@event.listens_for(Session, "after_rollback")
def _forget_final(session: Session) -> None:
    session.info.pop(_FINAL_KEY, None)


def _mark_final_on_commit(session: Session, context: AuditContext) -> None:
    session.info.setdefault(_FINAL_KEY, []).append(context)


def append(
    session: Session,
    context: AuditContext,
    *,
    action: str | None = None,
    target_id: str | None = None,
    result: str = SUCCESS,
    status: int | None = None,
    error_code: str | None = None,
    details: dict[str, Any] | None = None,
) -> str:
    """Append a row to ``context.org_id``'s chain in ``session`` (the transaction of
    the change it records; call it last in that transaction). ``action`` and
    ``target_id`` default to the context's; a ``Success`` row's ``status`` to 200.
    Written with Core statements on the session's connection (no ORM objects: the
    cheapest path on every signature); returns the row's id."""
    name = action or context.action
    if name is None:
        raise ValueError("an audit row needs an action")
    if status is None and result == SUCCESS:
        status = 200
    connection = session.connection()
    seq, prev_hash = _lock_head(connection, context.org_id)
    target = target_id if target_id is not None else context.target_id
    row_id = new_id("au")
    values: dict[str, Any] = {
        "id": row_id,
        "org_id": context.org_id,
        "seq": seq + 1,
        "date": utcnow(),
        "actor": context.actor,
        "user_id": context.user_id,
        "token_id": context.token_id,
        "credential_id": context.credential_id,
        "token_hash_prefix": context.token_hash_prefix,
        "action": name[:_MAX_CODE],
        "target_id": None if target is None else target[:_MAX_TARGET],
        "method": context.method,
        "path": context.path,
        "request_hash": context.request_hash,
        "result": result,
        "status": status,
        "error_code": None if error_code is None else error_code[:_MAX_CODE],
        "details": details,
        "prev_hash": prev_hash,
    }
    values["hash"] = values_hash(values)
    connection.execute(_INSERT_ROW, values)
    connection.execute(
        _UPDATE_HEAD,
        {"chain": context.org_id, "new_seq": values["seq"], "new_hash": values["hash"]},
    )
    if result in _FINAL:
        _mark_final_on_commit(session, context)
    return row_id
