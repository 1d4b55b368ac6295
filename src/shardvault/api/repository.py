"""The API's database operations (:class:`ApiRepository`): the rows of orgs, tokens,
keys' public metadata, signatures and wallets. Short synchronous transactions, each
run in a worker thread by the routes (never held open across a call to the signers).

Named a repository, not a store: ``signer/store.py`` is the signers' share store
(sealed secrets at rest); nothing secret is kept here.

Read-modify-write operations lock the key row (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so marking a key exported or archived
and claiming a signature slot are serialised per key.

Signature claims carry a lease (docs/security.md item 26): a new Executing row names
this repository's ``owner`` (one per API process) and expires ``lease_seconds``
later unless the signing renews it (before each payload it sends to the back end,
and every third of the lease while the back end signs).
An Executing row whose lease expired was left by a process that died mid-sign: the
next claim of its ``externalId`` (or :meth:`ApiRepository.resolve_expired_claims`,
run when the API starts) marks it Failed ``Interrupted`` and releases the
``externalId``, so the retry signs afresh. The presignature the dead process took
was consumed durably by the signers, so the retry's signature uses a new one.

Audit: every operation that changes state takes an :class:`AuditContext` (who asks,
through which request) and appends its audit row(s) last in its own transaction
(:func:`shardvault.api.audit.append`), so a change is never kept without its row.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardvault.api.approval_audit import append_opened
from shardvault.api.audit import FAILURE, PENDING, AuditContext, append
from shardvault.api.auth import Principal, TokenKeys, lookup_principal
from shardvault.api.errors import ApiError
from shardvault.api.paging import newest_first
from shardvault.db.engine import read_sessionmaker, write_sessionmaker
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    KEY_ACTIVE,
    KEY_ARCHIVED,
    SIG_EXECUTING,
    SIG_FAILED,
    SIG_PENDING,
    SIG_SIGNED,
    AuditRow,
    ImportContextRow,
    KeyRow,
    Org,
    PolicyApprovalRow,
    SignatureRow,
    WalletRow,
    utcnow,
)
from shardvault.protocols.key_import import IMPORT_CONTEXT_LIFETIME_SECONDS, ImportContext

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "INTERRUPTED",
    "ApiRepository",
    "AuditFilter",
    "Claim",
    "check_key_id",
    "check_signable",
    "check_signature_id",
    "check_wallet_id",
    "duplicate_key",
    "in_thread",
    "key_not_exportable",
    "key_not_found",
    "lease_expired",
    "signature_not_found",
    "wallet_not_found",
]

P = ParamSpec("P")
T = TypeVar("T")

_CLAIM_ATTEMPTS = 5
#: How long a claim's lease runs by default (seconds); renewed while the row signs.
DEFAULT_LEASE_SECONDS = 120.0
#: The failure recorded on a row whose signing process died.
INTERRUPTED = "Interrupted"
_INTERRUPTED_MESSAGE = (
    "signing was interrupted (the API process stopped before it stored a result); retry the request"
)


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one of the repository's synchronous operations in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def key_not_found(key_id: str) -> ApiError:
    return ApiError(404, "KeyNotFound", f"key {key_id} not found")


def signature_not_found(signature_id: str) -> ApiError:
    return ApiError(404, "SignatureNotFound", f"signature {signature_id} not found")


def wallet_not_found(wallet_id: str) -> ApiError:
    return ApiError(404, "WalletNotFound", f"wallet {wallet_id} not found")


def key_not_exportable(key_id: str) -> ApiError:
    """403 ``KeyNotExportable``: the key's ``exportable`` flag is off."""
    return ApiError(
        403,
        "KeyNotExportable",
        f"key {key_id} is not exportable (its exportable flag is off)",
        details={"keyId": key_id},
    )


def duplicate_key() -> ApiError:
    return ApiError(
        409,
        "DuplicateKey",
        "a live key with the same public key already exists; delete it before importing "
        "this key again",
    )


def check_key_id(key_id: str) -> None:
    """404 ``KeyNotFound`` for an id no key can have, without a database read."""
    if not is_id(key_id, "key"):
        raise key_not_found(key_id)


def check_signature_id(signature_id: str) -> None:
    if not is_id(signature_id, "sig"):
        raise signature_not_found(signature_id)


def check_wallet_id(wallet_id: str) -> None:
    if not is_id(wallet_id, "wa"):
        raise wallet_not_found(wallet_id)


def _sign_after_export(s: Session, org_id: str) -> bool:
    """The org setting ``signAfterExport``: whether exported keys still sign."""
    org = s.get(Org, org_id)
    return org is not None and org.sign_after_export


def check_signable(s: Session, key: KeyRow) -> None:
    """409 unless the key may sign (Active, and not exported unless the org setting
    ``signAfterExport`` is on)."""
    if key.status != KEY_ACTIVE:
        raise ApiError(409, "KeyArchived", f"key {key.id} is archived and cannot sign")
    if key.exported and not _sign_after_export(s, key.org_id):
        raise ApiError(409, "KeyExported", f"key {key.id} was exported and no longer signs")


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What ``GET /audit`` asks for (every field optional; all must match)."""

    user_id: str | None = None
    action: str | None = None
    target_id: str | None = None
    result: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """Result of :meth:`ApiRepository.claim_signature`: a new Executing row this request must
    complete (``created``), or the row an earlier request with the same externalId made."""

    signature: SignatureRow
    key: KeyRow
    created: bool


def lease_expired(sig: SignatureRow, now: datetime | None = None) -> bool:
    """An Executing row's lease ran out (a row without one predates leases)."""
    return sig.lease_expires is None or sig.lease_expires <= (now or utcnow())


def _key_details(key: KeyRow) -> dict[str, Any]:
    return {"scheme": key.scheme, "curve": key.curve, "protocol": key.protocol}


def _signature_details(sig: SignatureRow) -> dict[str, Any]:
    details: dict[str, Any] = {"keyId": sig.key_id, "status": sig.status}
    kind = sig.request_body.get("kind") if isinstance(sig.request_body, dict) else None
    if isinstance(kind, str):
        details["kind"] = kind
    if sig.wallet_id is not None:
        details["walletId"] = sig.wallet_id
    if sig.external_id is not None:
        details["externalId"] = sig.external_id
    return details


def _audit_interrupted(s: Session, org_id: str, sig: SignatureRow) -> None:
    """The vault resolved a claim whose process died (its lease expired)."""
    append(
        s,
        AuditContext.system(org_id),
        action="Keys:Signatures:Create",
        target_id=sig.id,
        result=FAILURE,
        error_code=INTERRUPTED,
        details=_signature_details(sig),
    )


def _interrupt(sig: SignatureRow) -> None:
    sig.status = SIG_FAILED
    sig.external_id = None
    sig.error_code = INTERRUPTED
    sig.error_message = _INTERRUPTED_MESSAGE
    sig.lease_expires = None


class ApiRepository:
    """The API database's operations, over one engine (read and write sessions).
    ``owner`` names this process in the signature leases it takes (default: a fresh
    random name); ``lease_seconds``: how long a claim stays Executing without renewal."""

    def __init__(
        self,
        engine: Engine,
        *,
        owner: str | None = None,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> None:
        if not lease_seconds > 0:
            raise ValueError("lease_seconds must be positive")
        self.engine = engine
        self._read = read_sessionmaker(engine)
        self._write = write_sessionmaker(engine)
        #: The same session factories, for the policy store (api/policies/store.py).
        self.read_sessions = self._read
        self.write_sessions = self._write
        self._token_keys = TokenKeys()
        self.owner = owner or "api-" + secrets.token_hex(8)
        self.lease_seconds = lease_seconds
        self._lease = timedelta(seconds=lease_seconds)

    # -- auth and orgs -----------------------------------------------------------
    def principal(self, token: str) -> Principal | None:
        return lookup_principal(self._read, token, self._token_keys)

    def org(self, org_id: str) -> Org | None:
        with self._read() as s:
            return s.get(Org, org_id)

    # -- keys --------------------------------------------------------------------
    @staticmethod
    def _key(s: Session, org_id: str, key_id: str, *, lock: bool = False) -> KeyRow:
        stmt = select(KeyRow).where(KeyRow.id == key_id, KeyRow.org_id == org_id)
        if lock:
            stmt = stmt.with_for_update()
        key = s.scalars(stmt).one_or_none()
        if key is None:
            raise key_not_found(key_id)
        return key

    def insert_key(self, key: KeyRow, *, audit: AuditContext) -> KeyRow:
        with self._write.begin() as s:
            s.add(key)
            s.flush()
            append(s, audit, action="Keys:Create", target_id=key.id, details=_key_details(key))
        return key

    def get_key(self, org_id: str, key_id: str) -> KeyRow:
        with self._read() as s:
            return self._key(s, org_id, key_id)

    def list_keys(self, org_id: str, before_id: str | None, limit: int) -> list[KeyRow]:
        """Newest first (ids are time-ordered), ``limit`` rows after the cursor."""
        stmt = select(KeyRow).where(KeyRow.org_id == org_id)
        with self._read() as s:
            return list(s.scalars(newest_first(stmt, KeyRow.id, before_id, limit)))

    def update_key(
        self,
        org_id: str,
        key_id: str,
        *,
        name: str | None,
        exportable: bool | None,
        audit: AuditContext,
    ) -> KeyRow:
        """Rename the key and/or switch ``exportable`` off; switching it back on is
        409 ``KeyNotExportable`` (the flag only ever goes from true to false).
        Audited ``Keys:Update``."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if exportable is True and not key.exportable:
                raise ApiError(
                    409,
                    "KeyNotExportable",
                    f"key {key_id} was made non-exportable; that cannot be undone",
                    details={"field": "exportable"},
                )
            changed: dict[str, Any] = {}
            if name is not None:
                key.name = changed["name"] = name
            if exportable is False:
                key.exportable = changed["exportable"] = False
            s.flush()
            append(s, audit, action="Keys:Update", target_id=key_id, details=changed)
        return key

    def archive_key(self, org_id: str, key_id: str, *, audit: AuditContext) -> KeyRow:
        """Status Archived (signing refused from now on); shares are erased next
        (audited ``Keys:Delete`` Pending, then Success when the shares are erased)."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if key.status != KEY_ARCHIVED:
                key.status = KEY_ARCHIVED
                key.date_archived = utcnow()
                s.flush()
                append(
                    s,
                    audit,
                    action="Keys:Delete",
                    target_id=key_id,
                    result=PENDING,
                    details={"step": "archived"},
                )
        return key

    def mark_shares_erased(self, org_id: str, key_id: str, *, audit: AuditContext) -> KeyRow:
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if not key.shares_erased:
                key.shares_erased = True
                s.flush()
                append(
                    s,
                    audit.in_org(org_id),
                    action="Keys:Delete",
                    target_id=key_id,
                    details={"step": "sharesErased"},
                )
        return key

    def record(
        self,
        audit: AuditContext,
        *,
        action: str | None = None,
        target_id: str | None = None,
        result: str = FAILURE,
        status: int | None = None,
        error_code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """An audit row in a transaction of its own: for outcomes that change nothing
        else (a refused or failed request, an export delivered)."""
        with self._write.begin() as s:
            append(
                s,
                audit,
                action=action,
                target_id=target_id,
                result=result,
                status=status,
                error_code=error_code,
                details=details,
            )

    def insert_imported_key(self, key: KeyRow, *, audit: AuditContext) -> KeyRow:
        """Insert an imported key unless a live key of any org has its public key (409
        ``DuplicateKey``, naming nothing but the conflict); checked in the inserting
        transaction (SQLite: BEGIN IMMEDIATE serialises writers)."""
        with self._write.begin() as s:
            dup = s.scalars(
                select(KeyRow.id)
                .where(KeyRow.curve == key.curve, KeyRow.public_key == key.public_key)
                .where(KeyRow.shares_erased == false())
                .limit(1)
                .with_for_update()
            ).one_or_none()
            if dup is not None:
                raise duplicate_key()
            s.add(key)
            s.flush()
            append(s, audit, action="Keys:Import", target_id=key.id, details=_key_details(key))
        return key

    def live_key_ids(self) -> set[str]:
        """Ids of every key (all orgs) whose shares may still exist on the signers."""
        with self._read() as s:
            return set(s.scalars(select(KeyRow.id).where(KeyRow.shares_erased == false())))

    # -- import contexts ---------------------------------------------------------
    def issue_import_context(
        self, org_id: str, *, audit: AuditContext
    ) -> tuple[ImportContext, ImportContextRow]:
        """A fresh one-time import context for ``org_id`` (random id, issued now)."""
        issued = utcnow().replace(microsecond=0)
        context = ImportContext.issue(issued.timestamp())
        row = ImportContextRow(
            id=context.import_id.hex(),
            org_id=org_id,
            issued_at=issued,
            expires_at=issued + timedelta(seconds=IMPORT_CONTEXT_LIFETIME_SECONDS),
            used_at=None,
        )
        with self._write.begin() as s:
            s.add(row)
            s.flush()
            append(s, audit, action="Keys:ImportContext:Create", target_id=row.id)
        return context, row

    def take_import_context(
        self, org_id: str, import_id: bytes, *, audit: AuditContext
    ) -> ImportContext:
        """Mark the context used and return it: 404 ``ImportContextNotFound`` (unknown,
        or issued to another org), 400 ``ImportContextExpired``, 409
        ``ImportContextUsed``. Taken before the signers are asked, so a failed import
        needs a new context too (the signers consume it as well)."""
        with self._write.begin() as s:
            row = s.scalars(
                select(ImportContextRow)
                .where(ImportContextRow.id == import_id.hex())
                .with_for_update()
            ).one_or_none()
            if row is None or row.org_id != org_id:
                raise ApiError(
                    404,
                    "ImportContextNotFound",
                    "importId is not an import context issued to this org "
                    "(POST /keys/import/context)",
                    details={"field": "importId"},
                )
            if row.used_at is not None:
                raise ApiError(
                    409,
                    "ImportContextUsed",
                    "this import context was already used; fetch a new one and seal again",
                    details={"field": "importId"},
                )
            if utcnow() >= row.expires_at:
                raise ApiError(
                    400,
                    "ImportContextExpired",
                    "this import context expired; fetch a new one and seal again",
                    details={"field": "importId"},
                )
            row.used_at = utcnow()
            s.flush()
            append(
                s,
                audit,
                action="Keys:Import",
                target_id=None,
                result=PENDING,
                details={"importId": row.id},
            )
            return ImportContext(import_id, int(row.issued_at.timestamp()))

    def refreshable_keys(self) -> list[KeyRow]:
        """Every key of every org whose shares a refresh epoch re-deals: Active and
        never exported (an exported key's secret is out; it no longer signs)."""
        with self._read() as s:
            rows = s.scalars(
                select(KeyRow)
                .where(KeyRow.status == KEY_ACTIVE, KeyRow.exported.is_(False))
                .order_by(KeyRow.id)
            ).all()
            return list(rows)

    def unfinished_deletes(self) -> list[KeyRow]:
        """Archived keys (every org) whose shares the signers have not confirmed
        erased: a DELETE the signers refused or never got (e.g. during an epoch)."""
        with self._read() as s:
            rows = s.scalars(
                select(KeyRow)
                .where(KeyRow.status == KEY_ARCHIVED, KeyRow.shares_erased == false())
                .order_by(KeyRow.id)
            ).all()
            return list(rows)

    def apply_epoch_shares(
        self, shares: dict[str, dict[str, str]], *, epoch: int, audit: AuditContext | None
    ) -> int:
        """Store the verifying shares a refresh epoch gave each key (key id -> signer
        id -> hex); returns how many rows changed (idempotent). Audited ``Keys:Refresh``
        in each org whose keys changed (by ``audit``'s caller in its own org, by the
        vault in the others; ``None``: the vault's own schedule or start-up), and in
        the caller's org even when none of its keys changed."""
        per_org: dict[str, int] = {}
        with self._write.begin() as s:
            for key_id, verifying in shares.items():
                key = s.get(KeyRow, key_id, with_for_update=True)
                if key is None or key.verifying_shares == verifying:
                    continue
                key.verifying_shares = dict(verifying)
                per_org[key.org_id] = per_org.get(key.org_id, 0) + 1
            if audit is not None:
                per_org.setdefault(audit.org_id, 0)
            s.flush()
            for org_id in sorted(per_org):
                context = (
                    audit.in_org(org_id)
                    if audit is not None
                    else AuditContext.system(org_id, "Keys:Refresh")
                )
                own = audit is not None and org_id == audit.org_id
                append(
                    s,
                    context,
                    action=(context.action if own else None) or "Keys:Refresh",
                    details={"epoch": epoch, "keysRefreshed": per_org[org_id]},
                )
        return sum(per_org.values())

    def begin_export(self, org_id: str, key_id: str, *, audit: AuditContext) -> tuple[KeyRow, bool]:
        """Mark the key exported *before* the shares leave (fail closed: it stops
        signing now; audited ``Keys:Export`` Pending). Returns the key and whether it
        was already exported."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if key.status != KEY_ACTIVE:
                raise ApiError(409, "KeyArchived", f"key {key_id} is archived")
            if not key.exportable:
                raise key_not_exportable(key_id)
            already = key.exported
            if not already:
                key.exported = True
                key.date_exported = utcnow()
            s.flush()
            append(
                s,
                audit,
                action="Keys:Export",
                target_id=key_id,
                result=PENDING,
                details={"alreadyExported": already},
            )
        return key, already

    def undo_export(
        self, org_id: str, key_id: str, *, audit: AuditContext, error_code: str, status: int
    ) -> None:
        """The export failed before any share was returned: the key signs again."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            key.exported = False
            key.date_exported = None
            s.flush()
            append(
                s,
                audit,
                action="Keys:Export",
                target_id=key_id,
                result=FAILURE,
                status=status,
                error_code=error_code,
                details={"exportUndone": True},
            )

    # -- signatures --------------------------------------------------------------
    def claim_signature(
        self,
        org_id: str,
        key_id: str,
        request_body: dict[str, Any],
        external_id: str | None,
        wallet_id: str | None = None,
        approval: PolicyApprovalRow | None = None,
        *,
        audit: AuditContext,
        requester_user_id: str | None = None,
        requester_token_id: str | None = None,
    ) -> Claim:
        """Insert an Executing signature row leased to this process, or return the row
        already holding this (key, externalId). The UNIQUE(key_id, external_id)
        constraint makes the claim atomic across threads, processes and API replicas.
        An Executing row for the same request whose lease expired is resolved Failed
        ``Interrupted`` and a new row claimed in the same transaction.

        With an ``approval`` (a triggered policy asks for one), a new row is stored
        Pending, without a lease, together with the approval (nothing is signed until
        it is granted: api/policies/store.py), audited with the signature's Pending
        row: the approval opened (api/approval_audit.py)."""
        for _ in range(_CLAIM_ATTEMPTS):
            try:
                with self._write.begin() as s:
                    key = self._key(s, org_id, key_id, lock=True)
                    if external_id is not None:
                        existing = s.scalars(
                            select(SignatureRow).where(
                                SignatureRow.key_id == key_id,
                                SignatureRow.external_id == external_id,
                            )
                        ).one_or_none()
                        if existing is not None and not (
                            existing.status == SIG_EXECUTING
                            and lease_expired(existing)
                            and existing.request_body == request_body
                            and existing.wallet_id == wallet_id
                        ):
                            return Claim(existing, key, created=False)
                        if existing is not None:
                            # Its process died mid-sign: resolve it, take the id over.
                            _interrupt(existing)
                            s.flush()
                            _audit_interrupted(s, org_id, existing)
                    check_signable(s, key)
                    now = utcnow()
                    sig = SignatureRow(
                        id=new_id("sig"),
                        key_id=key_id,
                        status=SIG_EXECUTING,
                        request_body=request_body,
                        external_id=external_id,
                        date_requested=now,
                        wallet_id=wallet_id,
                        lease_owner=self.owner,
                        lease_expires=now + self._lease,
                        requester_user_id=requester_user_id,
                        requester_token_id=requester_token_id,
                    )
                    if approval is not None:
                        sig.status = SIG_PENDING
                        sig.lease_owner = sig.lease_expires = None
                        sig.approval_id = approval.id
                        approval.entity_id = sig.id
                        s.add(approval)
                    s.add(sig)
                    s.flush()
                    append(
                        s,
                        audit,
                        target_id=sig.id,
                        result=PENDING,
                        details=_signature_details(sig),
                    )
                    if approval is not None:
                        append_opened(s, audit, approval)
                    return Claim(sig, key, created=True)
            except IntegrityError:
                continue  # a concurrent request took the externalId first: read it
        raise ApiError(409, "SignatureInProgress", "could not claim the externalId; retry")

    def get_signature(self, signature_id: str) -> SignatureRow | None:
        with self._read() as s:
            return s.get(SignatureRow, signature_id)

    def get_key_signature(self, org_id: str, key_id: str, signature_id: str) -> SignatureRow:
        with self._read() as s:
            self._key(s, org_id, key_id)
            sig = s.scalars(
                select(SignatureRow).where(
                    SignatureRow.id == signature_id, SignatureRow.key_id == key_id
                )
            ).one_or_none()
        if sig is None:
            raise signature_not_found(signature_id)
        return sig

    def list_signatures(
        self, org_id: str, key_id: str, before_id: str | None, limit: int
    ) -> list[SignatureRow]:
        stmt = select(SignatureRow).where(SignatureRow.key_id == key_id)
        with self._read() as s:
            self._key(s, org_id, key_id)
            return list(s.scalars(newest_first(stmt, SignatureRow.id, before_id, limit)))

    def list_wallet_signatures(
        self, org_id: str, wallet_id: str, before_id: str | None, limit: int
    ) -> list[SignatureRow]:
        """Newest first, the signatures requested through the org's wallet."""
        stmt = select(SignatureRow).where(SignatureRow.wallet_id == wallet_id)
        with self._read() as s:
            self._wallet(s, org_id, wallet_id)
            return list(s.scalars(newest_first(stmt, SignatureRow.id, before_id, limit)))

    def get_wallet_signature(self, org_id: str, wallet_id: str, signature_id: str) -> SignatureRow:
        with self._read() as s:
            self._wallet(s, org_id, wallet_id)
            sig = s.scalars(
                select(SignatureRow).where(
                    SignatureRow.id == signature_id, SignatureRow.wallet_id == wallet_id
                )
            ).one_or_none()
        if sig is None:
            raise signature_not_found(signature_id)
        return sig

    def finish_signature(
        self,
        signature_id: str,
        r: bytes | None,
        s_: bytes | None,
        encoded: bytes | None,
        recid: int | None,
        *,
        signed_data: bytes | None = None,
        result_details: dict[str, Any] | None = None,
        audit: AuditContext,
    ) -> SignatureRow:
        with self._write.begin() as s:
            sig = s.get_one(SignatureRow, signature_id, with_for_update=True)
            if sig.status != SIG_EXECUTING or sig.lease_owner != self.owner:
                raise ApiError(
                    409,
                    "SignatureInterrupted",
                    f"signature {signature_id} was resolved as interrupted while it was "
                    "signing (its lease expired); retry the request",
                    details={"signatureId": signature_id},
                )
            sig.lease_expires = None
            sig.status = SIG_SIGNED
            sig.sig_r, sig.sig_s, sig.sig_encoded, sig.sig_recid = r, s_, encoded, recid
            sig.signed_data = signed_data
            sig.result_details = result_details
            sig.date_signed = utcnow()
            s.flush()
            append(s, audit, target_id=sig.id, details=_signature_details(sig))
        return sig

    def fail_signature(
        self,
        signature_id: str,
        code: str,
        message: str,
        *,
        audit: AuditContext,
        status: int | None = None,
    ) -> SignatureRow:
        """Record the failure and release the externalId: no signature left the
        signers, so a retry with the same externalId may sign (once)."""
        with self._write.begin() as s:
            sig = s.get_one(SignatureRow, signature_id, with_for_update=True)
            if sig.status != SIG_EXECUTING or sig.lease_owner != self.owner:
                return sig  # already resolved (interrupted) by another process
            details = {**_signature_details(sig), "status": SIG_FAILED}
            sig.lease_expires = None
            sig.status = SIG_FAILED
            sig.external_id = None
            sig.error_code = code[:64]
            sig.error_message = message[:1024]
            s.flush()
            append(
                s,
                audit,
                target_id=sig.id,
                result=FAILURE,
                status=status,
                error_code=code,
                details=details,
            )
        return sig

    def renew_lease(self, signature_id: str) -> bool:
        """Extend this process's lease on an Executing row; False when the row is no
        longer ours to sign (resolved as interrupted by another process)."""
        with self._write.begin() as s:
            result = s.execute(
                update(SignatureRow)
                .where(
                    SignatureRow.id == signature_id,
                    SignatureRow.status == SIG_EXECUTING,
                    SignatureRow.lease_owner == self.owner,
                )
                .values(lease_expires=utcnow() + self._lease)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def resolve_expired_claims(self) -> int:
        """Mark every Executing row whose lease expired (or that has none) Failed
        ``Interrupted`` and release its ``externalId``; returns how many. Run when the
        API starts: rows whose lease still runs may belong to a live replica."""
        now = utcnow()
        with self._write.begin() as s:
            rows = s.scalars(
                select(SignatureRow)
                .where(
                    SignatureRow.status == SIG_EXECUTING,
                    or_(SignatureRow.lease_expires.is_(None), SignatureRow.lease_expires <= now),
                )
                .with_for_update()
            ).all()
            for sig in rows:
                _interrupt(sig)
            s.flush()
            for sig in rows:
                key = s.get_one(KeyRow, sig.key_id)
                _audit_interrupted(s, key.org_id, sig)
        return len(rows)

    # -- wallets -----------------------------------------------------------------
    @staticmethod
    def _wallet(s: Session, org_id: str, wallet_id: str, *, lock: bool = False) -> WalletRow:
        stmt = select(WalletRow).where(WalletRow.id == wallet_id, WalletRow.org_id == org_id)
        if lock:
            stmt = stmt.with_for_update()
        wallet = s.scalars(stmt).one_or_none()
        if wallet is None:
            raise wallet_not_found(wallet_id)
        return wallet

    def wallet_by_external_id(
        self, org_id: str, external_id: str
    ) -> tuple[WalletRow, KeyRow] | None:
        with self._read() as s:
            wallet = s.scalars(
                select(WalletRow).where(
                    WalletRow.org_id == org_id, WalletRow.external_id == external_id
                )
            ).one_or_none()
            if wallet is None:
                return None
            return wallet, self._key(s, org_id, wallet.key_id)

    def insert_wallet(
        self, wallet: WalletRow, key: KeyRow | None = None, *, audit: AuditContext
    ) -> bool:
        """Insert the wallet (and, for a freshly generated key, the key in the same
        transaction). False when another wallet of the org already holds its
        externalId (nothing is stored then)."""
        try:
            with self._write.begin() as s:
                if key is not None:
                    s.add(key)
                    s.flush()
                else:
                    check_signable(s, self._key(s, wallet.org_id, wallet.key_id, lock=True))
                s.add(wallet)
                s.flush()
                if key is not None:
                    append(
                        s,
                        audit,
                        action="Keys:Create",
                        target_id=key.id,
                        details={**_key_details(key), "walletId": wallet.id},
                    )
                details: dict[str, Any] = {"keyId": wallet.key_id, "network": wallet.network}
                if wallet.external_id is not None:
                    details["externalId"] = wallet.external_id
                append(s, audit, action="Wallets:Create", target_id=wallet.id, details=details)
        except IntegrityError:
            if wallet.external_id is None:
                raise
            return False
        return True

    def key_wallets(self, org_id: str, key_id: str) -> list[WalletRow]:
        """The wallets of the org's key (oldest first)."""
        with self._read() as s:
            return list(
                s.scalars(
                    select(WalletRow)
                    .where(WalletRow.org_id == org_id, WalletRow.key_id == key_id)
                    .order_by(WalletRow.id)
                )
            )

    def get_wallet(self, org_id: str, wallet_id: str) -> tuple[WalletRow, KeyRow]:
        with self._read() as s:
            wallet = self._wallet(s, org_id, wallet_id)
            return wallet, self._key(s, org_id, wallet.key_id)

    def list_wallets(
        self, org_id: str, before_id: str | None, limit: int
    ) -> list[tuple[WalletRow, KeyRow]]:
        """Newest first, ``limit`` wallets after the cursor, each with its key."""
        stmt = (
            select(WalletRow, KeyRow)
            .join(KeyRow, KeyRow.id == WalletRow.key_id)
            .where(WalletRow.org_id == org_id)
        )
        with self._read() as s:
            rows = s.execute(newest_first(stmt, WalletRow.id, before_id, limit)).all()
            return [(w, k) for w, k in rows]

    def update_wallet(
        self,
        org_id: str,
        wallet_id: str,
        *,
        name: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
        fields: Mapping[str, str | None] | None = None,
        audit: AuditContext,
    ) -> tuple[WalletRow, KeyRow]:
        """Rename (``Wallets:Update``), add tags (``Wallets:Tags:Add``) or remove tags
        (``Wallets:Tags:Remove``), audited under that action; ``fields`` sets ``name``
        and ``externalId`` (``None`` clears one; ``Wallets:Update``). An ``externalId``
        another wallet of the org holds is 409 ``ExternalIdConflict``."""
        try:
            with self._write.begin() as s:
                wallet = self._wallet(s, org_id, wallet_id, lock=True)
                if name is not None:
                    wallet.name = name
                for field, value in (fields or {}).items():
                    if field == "name":
                        wallet.name = value
                    elif field == "externalId":
                        wallet.external_id = value
                    else:  # pragma: no cover - the route passes only these
                        raise ValueError(f"unknown wallet field {field}")
                tags = list(wallet.tags)
                for tag in add_tags or []:
                    if tag not in tags:
                        tags.append(tag)
                if remove_tags:
                    tags = [t for t in tags if t not in remove_tags]
                wallet.tags = tags
                key = self._key(s, org_id, wallet.key_id)
                s.flush()
                details: dict[str, Any]
                if add_tags is not None:
                    action, details = "Wallets:Tags:Add", {"tags": list(add_tags)}
                elif remove_tags is not None:
                    action, details = "Wallets:Tags:Remove", {"tags": list(remove_tags)}
                else:
                    action, details = "Wallets:Update", {"name": name, **dict(fields or {})}
                append(s, audit, action=action, target_id=wallet_id, details=details)
                return wallet, key
        except IntegrityError:
            raise ApiError(
                409,
                "ExternalIdConflict",
                "externalId is already another wallet's",
                details={"field": "externalId"},
            ) from None

    # -- audit log ---------------------------------------------------------------
    def list_audit(
        self, org_id: str, where: AuditFilter, before_seq: int | None, limit: int
    ) -> list[AuditRow]:
        """The org's audit rows, newest first, ``limit`` after the cursor."""
        stmt = select(AuditRow).where(AuditRow.org_id == org_id)
        if where.user_id is not None:
            stmt = stmt.where(AuditRow.user_id == where.user_id)
        if where.action is not None:
            stmt = stmt.where(AuditRow.action == where.action)
        if where.target_id is not None:
            stmt = stmt.where(AuditRow.target_id == where.target_id)
        if where.result is not None:
            stmt = stmt.where(AuditRow.result == where.result)
        if where.date_from is not None:
            stmt = stmt.where(AuditRow.date >= where.date_from)
        if where.date_to is not None:
            stmt = stmt.where(AuditRow.date < where.date_to)
        with self._read() as s:
            return list(s.scalars(newest_first(stmt, AuditRow.seq, before_seq, limit)))

    def get_audit(self, org_id: str, audit_id: str) -> AuditRow:
        with self._read() as s:
            row = s.scalars(
                select(AuditRow).where(AuditRow.id == audit_id, AuditRow.org_id == org_id)
            ).one_or_none()
        if row is None:
            raise ApiError(404, "AuditEntryNotFound", f"audit entry {audit_id} not found")
        return row
