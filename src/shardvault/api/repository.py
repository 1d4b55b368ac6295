"""The API's database operations (:class:`ApiRepository`): the rows of orgs, tokens,
keys' public metadata, signatures and wallets. Short synchronous transactions, each
run in a worker thread by the routes (never held open across a call to the signers).

Named a repository, not a store: ``signer/store.py`` is the signers' share store
(sealed secrets at rest); nothing secret is kept here.

Read-modify-write operations lock the key row (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so marking a key exported or archived
and claiming a signature slot are serialised per key.

Signature claims carry a lease (docs/security.md item 26): a new Pending row names
this repository's ``owner`` (one per API process) and expires ``lease_seconds``
later unless the signing renews it (before each payload it sends to the back end,
and every third of the lease while the back end signs).
A Pending row whose lease expired was left by a process that died mid-sign: the
next claim of its ``externalId`` (or :meth:`ApiRepository.resolve_expired_claims`,
run when the API starts) marks it Failed ``Interrupted`` and releases the
``externalId``, so the retry signs afresh. The presignature the dead process took
was consumed durably by the signers, so the retry's signature uses a new one.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, false, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardvault.api.auth import Principal, TokenKeys, lookup_principal
from shardvault.api.errors import ApiError
from shardvault.db.engine import read_sessionmaker, write_sessionmaker
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    KEY_ACTIVE,
    KEY_ARCHIVED,
    SIG_FAILED,
    SIG_PENDING,
    SIG_SIGNED,
    ImportContextRow,
    KeyRow,
    Org,
    SignatureRow,
    WalletRow,
    utcnow,
)
from shardvault.protocols.key_import import IMPORT_CONTEXT_LIFETIME_SECONDS, ImportContext

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "INTERRUPTED",
    "ApiRepository",
    "Claim",
    "check_key_id",
    "check_signature_id",
    "check_wallet_id",
    "duplicate_key",
    "in_thread",
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


def _check_signable(key: KeyRow) -> None:
    if key.status != KEY_ACTIVE:
        raise ApiError(409, "KeyArchived", f"key {key.id} is archived and cannot sign")
    if key.exported:
        raise ApiError(409, "KeyExported", f"key {key.id} was exported and no longer signs")


@dataclass(frozen=True, slots=True)
class Claim:
    """Result of :meth:`ApiRepository.claim_signature`: a new Pending row this request must
    complete (``created``), or the row an earlier request with the same externalId made."""

    signature: SignatureRow
    key: KeyRow
    created: bool


def lease_expired(sig: SignatureRow, now: datetime | None = None) -> bool:
    """A Pending row's lease ran out (a row without one predates leases)."""
    return sig.lease_expires is None or sig.lease_expires <= (now or utcnow())


def _interrupt(sig: SignatureRow) -> None:
    sig.status = SIG_FAILED
    sig.external_id = None
    sig.error_code = INTERRUPTED
    sig.error_message = _INTERRUPTED_MESSAGE
    sig.lease_expires = None


class ApiRepository:
    """The API database's operations, over one engine (read and write sessions).
    ``owner`` names this process in the signature leases it takes (default: a fresh
    random name); ``lease_seconds``: how long a claim stays Pending without renewal."""

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

    def insert_key(self, key: KeyRow) -> KeyRow:
        with self._write.begin() as s:
            s.add(key)
        return key

    def get_key(self, org_id: str, key_id: str) -> KeyRow:
        with self._read() as s:
            return self._key(s, org_id, key_id)

    def list_keys(self, org_id: str, before_id: str | None, limit: int) -> list[KeyRow]:
        """Newest first (ids are time-ordered), ``limit`` rows after the cursor."""
        stmt = select(KeyRow).where(KeyRow.org_id == org_id)
        if before_id is not None:
            stmt = stmt.where(KeyRow.id < before_id)
        with self._read() as s:
            return list(s.scalars(stmt.order_by(KeyRow.id.desc()).limit(limit)))

    def rename_key(self, org_id: str, key_id: str, name: str) -> KeyRow:
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            key.name = name
        return key

    def archive_key(self, org_id: str, key_id: str) -> KeyRow:
        """Status Archived (signing refused from now on); shares are erased next."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if key.status != KEY_ARCHIVED:
                key.status = KEY_ARCHIVED
                key.date_archived = utcnow()
        return key

    def mark_shares_erased(self, org_id: str, key_id: str) -> KeyRow:
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            key.shares_erased = True
        return key

    def insert_imported_key(self, key: KeyRow) -> KeyRow:
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
        return key

    def live_key_ids(self) -> set[str]:
        """Ids of every key (all orgs) whose shares may still exist on the signers."""
        with self._read() as s:
            return set(s.scalars(select(KeyRow.id).where(KeyRow.shares_erased == false())))

    # -- import contexts ---------------------------------------------------------
    def issue_import_context(self, org_id: str) -> tuple[ImportContext, ImportContextRow]:
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
        return context, row

    def take_import_context(self, org_id: str, import_id: bytes) -> ImportContext:
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

    def apply_epoch_shares(self, shares: dict[str, dict[str, str]]) -> int:
        """Store the verifying shares a refresh epoch gave each key (key id -> signer
        id -> hex); returns how many rows changed (idempotent)."""
        changed = 0
        with self._write.begin() as s:
            for key_id, verifying in shares.items():
                key = s.get(KeyRow, key_id, with_for_update=True)
                if key is None or key.verifying_shares == verifying:
                    continue
                key.verifying_shares = dict(verifying)
                changed += 1
        return changed

    def begin_export(self, org_id: str, key_id: str) -> tuple[KeyRow, bool]:
        """Mark the key exported *before* the shares leave (fail closed: it stops
        signing now). Returns the key and whether it was already exported."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if key.status != KEY_ACTIVE:
                raise ApiError(409, "KeyArchived", f"key {key_id} is archived")
            already = key.exported
            if not already:
                key.exported = True
                key.date_exported = utcnow()
        return key, already

    def undo_export(self, org_id: str, key_id: str) -> None:
        """The export failed before any share was returned: the key signs again."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            key.exported = False
            key.date_exported = None

    # -- signatures --------------------------------------------------------------
    def claim_signature(
        self,
        org_id: str,
        key_id: str,
        request_body: dict[str, Any],
        external_id: str | None,
        wallet_id: str | None = None,
    ) -> Claim:
        """Insert a Pending signature row leased to this process, or return the row
        already holding this (key, externalId). The UNIQUE(key_id, external_id)
        constraint makes the claim atomic across threads, processes and API replicas.
        A Pending row for the same request whose lease expired is resolved Failed
        ``Interrupted`` and a new row claimed in the same transaction."""
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
                            existing.status == SIG_PENDING
                            and lease_expired(existing)
                            and existing.request_body == request_body
                            and existing.wallet_id == wallet_id
                        ):
                            return Claim(existing, key, created=False)
                        if existing is not None:
                            # Its process died mid-sign: resolve it, take the id over.
                            _interrupt(existing)
                            s.flush()
                    _check_signable(key)
                    now = utcnow()
                    sig = SignatureRow(
                        id=new_id("sig"),
                        key_id=key_id,
                        status=SIG_PENDING,
                        request_body=request_body,
                        external_id=external_id,
                        date_requested=now,
                        wallet_id=wallet_id,
                        lease_owner=self.owner,
                        lease_expires=now + self._lease,
                    )
                    s.add(sig)
                    s.flush()
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
        if before_id is not None:
            stmt = stmt.where(SignatureRow.id < before_id)
        with self._read() as s:
            self._key(s, org_id, key_id)
            return list(s.scalars(stmt.order_by(SignatureRow.id.desc()).limit(limit)))

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
    ) -> SignatureRow:
        with self._write.begin() as s:
            sig = s.get_one(SignatureRow, signature_id, with_for_update=True)
            if sig.status != SIG_PENDING or sig.lease_owner != self.owner:
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
        return sig

    def fail_signature(self, signature_id: str, code: str, message: str) -> SignatureRow:
        """Record the failure and release the externalId: no signature left the
        signers, so a retry with the same externalId may sign (once)."""
        with self._write.begin() as s:
            sig = s.get_one(SignatureRow, signature_id, with_for_update=True)
            if sig.status != SIG_PENDING or sig.lease_owner != self.owner:
                return sig  # already resolved (interrupted) by another process
            sig.lease_expires = None
            sig.status = SIG_FAILED
            sig.external_id = None
            sig.error_code = code[:64]
            sig.error_message = message[:1024]
        return sig

    def renew_lease(self, signature_id: str) -> bool:
        """Extend this process's lease on a Pending row; False when the row is no
        longer ours to sign (resolved as interrupted by another process)."""
        with self._write.begin() as s:
            result = s.execute(
                update(SignatureRow)
                .where(
                    SignatureRow.id == signature_id,
                    SignatureRow.status == SIG_PENDING,
                    SignatureRow.lease_owner == self.owner,
                )
                .values(lease_expires=utcnow() + self._lease)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def resolve_expired_claims(self) -> int:
        """Mark every Pending row whose lease expired (or that has none) Failed
        ``Interrupted`` and release its ``externalId``; returns how many. Run when the
        API starts: rows whose lease still runs may belong to a live replica."""
        now = utcnow()
        with self._write.begin() as s:
            rows = s.scalars(
                select(SignatureRow)
                .where(
                    SignatureRow.status == SIG_PENDING,
                    or_(SignatureRow.lease_expires.is_(None), SignatureRow.lease_expires <= now),
                )
                .with_for_update()
            ).all()
            for sig in rows:
                _interrupt(sig)
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

    def insert_wallet(self, wallet: WalletRow, key: KeyRow | None = None) -> bool:
        """Insert the wallet (and, for a freshly generated key, the key in the same
        transaction). False when another wallet of the org already holds its
        externalId (nothing is stored then)."""
        try:
            with self._write.begin() as s:
                if key is not None:
                    s.add(key)
                    s.flush()
                else:
                    _check_signable(self._key(s, wallet.org_id, wallet.key_id, lock=True))
                s.add(wallet)
        except IntegrityError:
            if wallet.external_id is None:
                raise
            return False
        return True

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
        if before_id is not None:
            stmt = stmt.where(WalletRow.id < before_id)
        with self._read() as s:
            rows = s.execute(stmt.order_by(WalletRow.id.desc()).limit(limit)).all()
            return [(w, k) for w, k in rows]

    def update_wallet(
        self,
        org_id: str,
        wallet_id: str,
        *,
        name: str | None = None,
        add_tags: list[str] | None = None,
        remove_tags: list[str] | None = None,
    ) -> tuple[WalletRow, KeyRow]:
        with self._write.begin() as s:
            wallet = self._wallet(s, org_id, wallet_id, lock=True)
            if name is not None:
                wallet.name = name
            tags = list(wallet.tags)
            for tag in add_tags or []:
                if tag not in tags:
                    tags.append(tag)
            if remove_tags:
                tags = [t for t in tags if t not in remove_tags]
            wallet.tags = tags
            return wallet, self._key(s, org_id, wallet.key_id)
