"""A signer's durable state: one SQLite file, secrets sealed with ChaCha20-Poly1305.

Tables: ``meta`` (the signer's id and its sealed identity/encryption keys),
``shares`` (one sealed key package per key, with public status columns) and
``sessions`` (every session id this signer ever took part in, so a replayed
session is refused even after a restart), ``erased`` (tombstones of erased key ids),
``import_ids`` (every import context this signer accepted a share under, kept until
no signer would accept its issue time any more, so a replayed import is refused) and
``live_public_keys`` (the public key of every share held, Pending or Active: at most
one live share per public key, checked without opening any sealed record; shares
stored before the index existed are indexed when the store opens). Every
sealed value's AAD binds the signer id, the table and the row key, so a sealed value
cannot be moved to another row or another signer's file. Deleted rows are overwritten
(``PRAGMA secure_delete``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from shardvault.errors import Conflict, DecryptionError, InvalidImport, NotFound, SessionReused
from shardvault.signer.kek import derive_store_key

__all__ = ["ShareRow", "ShareStatus", "SignerStore"]

log = logging.getLogger("shardvault.signer")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS shares (
    key_id TEXT PRIMARY KEY,
    protocol TEXT NOT NULL,
    curve TEXT NOT NULL,
    status TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (session_id BLOB PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS erased (key_id TEXT PRIMARY KEY, erased REAL NOT NULL);
CREATE TABLE IF NOT EXISTS import_ids (
    import_id BLOB PRIMARY KEY,
    issued_at INTEGER NOT NULL,
    used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS live_public_keys (
    public_key BLOB PRIMARY KEY,
    key_id TEXT NOT NULL UNIQUE
);
"""


@dataclass(frozen=True, slots=True)
class ShareRow:
    key_id: str
    protocol: str
    curve: str
    status: str
    #: The opened key-package record (JSON bytes); never logged.
    record: bytes

    def __repr__(self) -> str:
        return f"ShareRow({self.key_id}, {self.protocol}, {self.curve}, {self.status}, <sealed>)"


@dataclass(frozen=True, slots=True)
class ShareStatus:
    """A held share's public columns (no secret): what reconciliation looks at."""

    key_id: str
    status: str
    #: Unix time the share was stored.
    created: float


class SignerStore:
    """Thread-safe; one instance per signer file."""

    def __init__(self, path: Path, signer_id: str, kek: bytes) -> None:
        self.path = path
        self.signer_id = signer_id
        self._aead = ChaCha20Poly1305(derive_store_key(kek, signer_id))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)
        self._backfill_public_keys()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _backfill_public_keys(self) -> int:
        """Index the public key of every held share that has no index row (shares
        stored before ``live_public_keys`` existed). Idempotent; returns how many rows
        it added. The key records name their group key (CGGMP24 ``publicKey``, FROST
        ``groupKey``, hex)."""
        added = 0
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                rows = self._db.execute(
                    "SELECT key_id, sealed FROM shares "
                    "WHERE key_id NOT IN (SELECT key_id FROM live_public_keys) ORDER BY created"
                ).fetchall()
                for key_id, sealed in rows:
                    data = json.loads(self.open("shares", str(key_id), bytes(sealed)))
                    public_key = bytes.fromhex(str(data.get("publicKey") or data["groupKey"]))
                    cur = self._db.execute(
                        "INSERT OR IGNORE INTO live_public_keys (public_key, key_id) VALUES (?, ?)",
                        (public_key, str(key_id)),
                    )
                    if cur.rowcount == 1:
                        added += 1
                    else:  # two live shares of one public key, both older than the index
                        log.warning(
                            "signer %s: key %s shares its public key with another held key; "
                            "it is left out of the public-key index",
                            self.signer_id,
                            key_id,
                        )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        if added:
            log.info("signer %s: indexed %d public keys", self.signer_id, added)
        return added

    # -- sealing -----------------------------------------------------------------
    def _aad(self, table: str, row: str) -> bytes:
        return b"\x00".join(
            (b"shardvault/store/v1", self.signer_id.encode(), table.encode(), row.encode())
        )

    def seal(self, table: str, row: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, plaintext, self._aad(table, row))

    def open(self, table: str, row: str, sealed: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], self._aad(table, row))
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(
                f"signer {self.signer_id}: sealed {table}/{row} does not open "
                "(wrong KEK or tampered)"
            ) from exc

    # -- meta ----------------------------------------------------------------------
    def get_secret(self, name: str) -> bytes | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else self.open("meta", name, row[0])

    def put_secret(self, name: str, value: bytes) -> None:
        sealed = self.seal("meta", name, value)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, sealed)
            )

    def delete_secret(self, name: str) -> None:
        """Remove a meta value (overwritten on disk)."""
        with self._lock:
            self._db.execute("DELETE FROM meta WHERE name = ?", (name,))
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it (after an erasure)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def commit_batch(self, meta: dict[str, bytes | None], shares: dict[str, bytes]) -> None:
        """ONE transaction (all or nothing, fsynced): every ``meta`` value set (sealed)
        or deleted (None), every listed Active share's record replaced. Raises
        ``NotFound`` (and changes nothing) if a listed share is missing or not Active.
        Replaced and deleted values are overwritten on disk (``secure_delete``); the
        caller checkpoints the WAL afterwards."""
        sealed_meta = {n: None if v is None else self.seal("meta", n, v) for n, v in meta.items()}
        sealed_shares = {k: self.seal("shares", k, r) for k, r in shares.items()}
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for key_id, sealed in sealed_shares.items():
                    cur = self._db.execute(
                        "UPDATE shares SET sealed = ? WHERE key_id = ? AND status = 'Active'",
                        (sealed, key_id),
                    )
                    if cur.rowcount != 1:
                        raise NotFound(
                            f"signer {self.signer_id} holds no Active share of key {key_id}"
                        )
                for name, value in sealed_meta.items():
                    if value is None:
                        self._db.execute("DELETE FROM meta WHERE name = ?", (name,))
                    else:
                        self._db.execute(
                            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                            (name, value),
                        )
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def secret_names(self, prefix: str) -> list[str]:
        """Names of the meta values that start with ``prefix``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM meta WHERE substr(name, 1, ?) = ? ORDER BY name",
                (len(prefix), prefix),
            ).fetchall()
        return [str(r[0]) for r in rows]

    # -- shares --------------------------------------------------------------------
    def replace_share(self, key_id: str, record: bytes) -> None:
        """Overwrite a share's sealed record in place (key refresh); status unchanged."""
        sealed = self.seal("shares", key_id, record)
        with self._lock:
            cur = self._db.execute(
                "UPDATE shares SET sealed = ? WHERE key_id = ?", (sealed, key_id)
            )
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        if cur.rowcount != 1:
            raise NotFound(f"signer {self.signer_id} holds no share of key {key_id}")

    def put_share(
        self,
        key_id: str,
        protocol: str,
        curve: str,
        record: bytes,
        *,
        public_key: bytes,
        status: str = "Active",
    ) -> None:
        """Store a share of the key whose encoded group public key is ``public_key``.
        ``status`` "Pending" (an import not yet confirmed everywhere) neither signs nor
        exports until ``activate``. Refused (``Conflict``) when the key id is held, or
        when a live share of the same public key is (code ``DuplicateKey``)."""
        if status not in ("Active", "Pending"):
            raise ValueError("a new share is Active or Pending")
        sealed = self.seal("shares", key_id, record)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO shares (key_id, protocol, curve, status, sealed, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (key_id, protocol, curve, status, sealed, time.time()),
                )
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise Conflict(f"signer {self.signer_id} already holds key {key_id}") from exc
            try:
                self._db.execute(
                    "INSERT INTO live_public_keys (public_key, key_id) VALUES (?, ?)",
                    (bytes(public_key), key_id),
                )
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise Conflict(
                    f"signer {self.signer_id} already holds a live share of this public key",
                    code="DuplicateKey",
                ) from exc
            self._db.execute("COMMIT")

    def holds_public_key(self, public_key: bytes) -> str | None:
        """The key id of the live share (Pending or Active) of ``public_key``, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT key_id FROM live_public_keys WHERE public_key = ?", (bytes(public_key),)
            ).fetchone()
        return None if row is None else str(row[0])

    def activate(self, key_id: str) -> None:
        """Pending -> Active (idempotent for an Active share)."""
        with self._lock:
            self._db.execute(
                "UPDATE shares SET status = 'Active' WHERE key_id = ? AND status = 'Pending'",
                (key_id,),
            )
            row = self._db.execute(
                "SELECT status FROM shares WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"signer {self.signer_id} holds no share of key {key_id}")

    def get_share(self, key_id: str) -> ShareRow:
        with self._lock:
            row = self._db.execute(
                "SELECT protocol, curve, status, sealed FROM shares WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"signer {self.signer_id} holds no share of key {key_id}")
        return ShareRow(key_id, row[0], row[1], row[2], self.open("shares", key_id, row[3]))

    def was_erased(self, key_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM erased WHERE key_id = ?", (key_id,)).fetchone()
        return row is not None

    def erase_share(self, key_id: str, *, only_pending_before: float | None = None) -> bool:
        """Delete the share (overwritten on disk) and keep a tombstone, so the key id can
        never hold a share again (a replayed import cannot bring it back); its public key
        leaves the live index. With ``only_pending_before`` (Unix time) the share is
        erased only if it is still Pending and was stored before then (stray imports);
        otherwise nothing happens and False is returned."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            if only_pending_before is not None:
                row = self._db.execute(
                    "SELECT status, created FROM shares WHERE key_id = ?", (key_id,)
                ).fetchone()
                if row is None or row[0] != "Pending" or row[1] >= only_pending_before:
                    self._db.execute("ROLLBACK")
                    return False
            self._db.execute(
                "INSERT OR IGNORE INTO erased (key_id, erased) VALUES (?, ?)", (key_id, time.time())
            )
            cur = self._db.execute("DELETE FROM shares WHERE key_id = ?", (key_id,))
            self._db.execute("DELETE FROM live_public_keys WHERE key_id = ?", (key_id,))
            self._db.execute("COMMIT")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return cur.rowcount > 0

    def key_ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT key_id FROM shares ORDER BY key_id")]

    def share_statuses(self) -> list[ShareStatus]:
        """Every held share's id, status and creation time (public columns only)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key_id, status, created FROM shares ORDER BY key_id"
            ).fetchall()
        return [ShareStatus(str(k), str(s), float(c)) for k, s, c in rows]

    # -- import contexts -----------------------------------------------------------
    def consume_import_id(self, import_id: bytes, issued_at: int, *, forget_before: int) -> None:
        """Record ``import_id`` as used, durably (full fsync), before a share sealed under
        it is accepted. A second use raises :class:`InvalidImport` (code
        ``ImportContextUsed``). Ids issued before ``forget_before`` (Unix seconds) are
        pruned: the signer refuses their issue time anyway."""
        with self._lock:
            self._db.execute("DELETE FROM import_ids WHERE issued_at < ?", (forget_before,))
            try:
                self._db.execute(
                    "INSERT INTO import_ids (import_id, issued_at, used) VALUES (?, ?, ?)",
                    (bytes(import_id), issued_at, time.time()),
                )
            except sqlite3.IntegrityError as exc:
                raise InvalidImport(
                    f"signer {self.signer_id}: import context {bytes(import_id).hex()} was "
                    "already used",
                    code="ImportContextUsed",
                    signers=(self.signer_id,),
                ) from exc

    # -- sessions (a persistent SessionRegistry) -----------------------------------
    def claim(self, session_id: bytes) -> None:
        """Record a session id. Written with ``synchronous = NORMAL``: durable across a
        process crash, and flushed by the next FULL write. Losing the newest ids to a
        power cut cannot cost a key: FROST nonces are fresh per session regardless;
        shares and key state are always written with a full fsync."""
        with self._lock:
            self._db.execute("PRAGMA synchronous = NORMAL")
            try:
                self._db.execute(
                    "INSERT INTO sessions (session_id, created) VALUES (?, ?)",
                    (session_id, time.time()),
                )
            except sqlite3.IntegrityError as exc:
                raise SessionReused(
                    f"signer {self.signer_id}: session {session_id.hex()} was already used",
                    check="session-id",
                ) from exc
            finally:
                self._db.execute("PRAGMA synchronous = FULL")
