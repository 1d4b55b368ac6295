"""The API's database operations (:class:`ApiRepository`): the rows of orgs, tokens,
keys' public metadata, signatures and wallets. Short synchronous transactions, each
run in a worker thread by the routes (never held open across a call to the signers).

Named a repository, not a store: ``signer/store.py`` is the signers' share store
(sealed secrets at rest); nothing secret is kept here.

Read-modify-write operations lock the key row (``SELECT ... FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so marking a key exported or archived
and claiming a signature slot are serialised per key.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardvault.api.auth import Principal, lookup_principal
from shardvault.api.errors import ApiError
from shardvault.db.engine import read_sessionmaker, write_sessionmaker
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    KEY_ACTIVE,
    KEY_ARCHIVED,
    SIG_FAILED,
    SIG_PENDING,
    SIG_SIGNED,
    KeyRow,
    Org,
    SignatureRow,
    WalletRow,
    utcnow,
)

__all__ = [
    "ApiRepository",
    "Claim",
    "check_key_id",
    "check_signature_id",
    "check_wallet_id",
    "in_thread",
    "key_not_found",
    "signature_not_found",
    "wallet_not_found",
]

P = ParamSpec("P")
T = TypeVar("T")

_CLAIM_ATTEMPTS = 5


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run one of the repository's synchronous operations in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def key_not_found(key_id: str) -> ApiError:
    return ApiError(404, "KeyNotFound", f"key {key_id} not found")


def signature_not_found(signature_id: str) -> ApiError:
    return ApiError(404, "SignatureNotFound", f"signature {signature_id} not found")


def wallet_not_found(wallet_id: str) -> ApiError:
    return ApiError(404, "WalletNotFound", f"wallet {wallet_id} not found")


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


class ApiRepository:
    """The API database's operations, over one engine (read and write sessions)."""

    def __init__(self, engine: Engine) -> None:
        self._read = read_sessionmaker(engine)
        self._write = write_sessionmaker(engine)

    # -- auth and orgs -----------------------------------------------------------
    def principal(self, token: str) -> Principal | None:
        return lookup_principal(self._read, token)

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

    def set_verifying_shares(
        self, org_id: str, key_id: str, public_key: str, verifying_shares: dict[str, str]
    ) -> KeyRow:
        """Store the verifying shares of a refreshed key (same public key)."""
        with self._write.begin() as s:
            key = self._key(s, org_id, key_id, lock=True)
            if key.public_key != public_key:  # pragma: no cover - keys never change key
                raise ApiError(409, "Conflict", f"key {key_id} changed during the refresh")
            key.verifying_shares = dict(verifying_shares)
        return key

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
        """Insert a Pending signature row, or return the row already holding this
        (key, externalId). The UNIQUE(key_id, external_id) constraint makes the claim
        atomic across threads, processes and API replicas."""
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
                        if existing is not None:
                            return Claim(existing, key, created=False)
                    _check_signable(key)
                    sig = SignatureRow(
                        id=new_id("sig"),
                        key_id=key_id,
                        status=SIG_PENDING,
                        request_body=request_body,
                        external_id=external_id,
                        date_requested=utcnow(),
                        wallet_id=wallet_id,
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
            sig = s.get_one(SignatureRow, signature_id)
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
            sig = s.get_one(SignatureRow, signature_id)
            sig.status = SIG_FAILED
            sig.external_id = None
            sig.error_code = code[:64]
            sig.error_message = message[:1024]
        return sig

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
