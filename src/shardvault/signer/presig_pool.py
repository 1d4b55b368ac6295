"""A signer's persistent pool of CGGMP24 presignatures (docs/security.md item 15).

One SQLite file per signer (0600, WAL, ``synchronous = FULL``, ``secure_delete``),
one row per presignature, keyed by ``(key_id, binding)``. ``binding`` is fixed
BEFORE presigning: the key id plus any derivation path / tweak the presignature was
made for. A presignature is only ever handed out for exactly the binding it was
stored under; a derivation is never applied to a raw presignature afterward.

Each payload is sealed with the signer store's KEK (``store.seal("presignatures",
row, ...)``) where ``row`` names the row id, the key id and the binding, so a sealed
payload copied or moved to another row, key id or binding does not open: ``take``
refuses it (``DecryptionError``), marks the row ``rejected`` and never uses it.

Durability argument for ``take``: in one ``BEGIN IMMEDIATE`` transaction (the
database write lock, so no other connection — thread or process — can take the same
row) the oldest available row is read, opened in memory, and updated with
``status = 'consumed', sealed = X''`` guarded by ``WHERE id = ? AND status =
'available'`` (rowcount must be 1). The ``COMMIT`` appends the change to the WAL and,
with ``synchronous = FULL``, fsyncs it before returning. Only after the commit has
returned does ``take`` hand the presignature to the caller. A crash at any point
before the commit leaves the row available and the secret never left this process;
a crash at any point after it (e.g. between ``take`` and sending the partial
signature) leaves the row consumed with its payload erased, so it can never be
handed out again. Consumed rows stay as tombstones (no payload) until
``discard_key``; ids are random and never reused.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from shardvault.errors import DecryptionError, InvalidEncoding, InvalidParameters
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.protocols.cggmp.presignature_codec import (
    presignature_from_bytes,
    presignature_to_bytes,
)
from shardvault.signer.store import SignerStore

__all__ = [
    "DEFAULT_TARGET",
    "TABLE",
    "PresignaturePool",
]

#: Presignatures kept warm per (key, binding) by default.
DEFAULT_TARGET = 8
#: The table name bound into every sealed payload's AAD.
TABLE = "presignatures"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS presignatures (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL,
    binding BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('available', 'consumed', 'rejected')),
    sealed BLOB NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS presignatures_lookup ON presignatures (key_id, binding, status);
"""

# -- the pool ----------------------------------------------------------------------------


def _aad_row(presig_id: str, key_id: str, binding: bytes) -> str:
    """The row name sealed into the AAD: a payload opens only under its own row id,
    key id and binding."""
    return f"{presig_id}/{key_id}/{binding.hex()}"


def _check(key_id: str, binding: bytes) -> None:
    if not key_id:
        raise InvalidParameters("a presignature needs a key id")
    if not isinstance(binding, bytes) or not binding:
        raise InvalidParameters("a presignature needs a non-empty binding (bytes)")


def _valid_id(presig_id: str) -> bool:
    return (
        isinstance(presig_id, str)
        and 16 <= len(presig_id) <= 64
        and all(c in "0123456789abcdef" for c in presig_id)
    )


class PresignaturePool:
    """Thread-safe (one lock per instance); several instances (or processes) on the
    same file are safe too: every read-modify-write runs under ``BEGIN IMMEDIATE``."""

    def __init__(self, path: Path, store: SignerStore, *, timeout: float = 30.0) -> None:
        self.path = path
        self._store = store
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        self._db = sqlite3.connect(
            path, timeout=timeout, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._checkpoint()
            self._db.close()

    def __enter__(self) -> PresignaturePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _checkpoint(self) -> None:
        """Best effort: copy the WAL into the database file and truncate it, so erased
        payloads do not linger in old WAL frames (they are sealed regardless)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.OperationalError:
            pass

    # -- operations ------------------------------------------------------------------
    def add(
        self,
        key_id: str,
        binding: bytes,
        presig: Presignature | bytes,
        *,
        presig_id: str | None = None,
    ) -> str:
        """Store a fresh presignature made for ``binding``; returns its id. ``presig``
        is a ``Presignature`` or its ``presignature_to_bytes`` encoding (checked).
        ``presig_id`` (hex, 16-64 chars; default random) lets all signers of one
        presigning session file it under the same id (the session id); an id is
        never reused, consumed rows stay as tombstones."""
        _check(key_id, binding)
        if isinstance(presig, Presignature):
            plaintext = presignature_to_bytes(presig)
        else:
            plaintext = presignature_to_bytes(presignature_from_bytes(presig))
        if presig_id is None:
            presig_id = secrets.token_hex(16)
        elif not _valid_id(presig_id):
            raise InvalidParameters("presignature ids are 16-64 lowercase hex characters")
        sealed = self._store.seal(TABLE, _aad_row(presig_id, key_id, binding), plaintext)
        with self._lock:
            self._db.execute(
                "INSERT INTO presignatures (id, key_id, binding, status, sealed, created) "
                "VALUES (?, ?, ?, 'available', ?, ?)",
                (presig_id, key_id, binding, sealed, time.time()),
            )
        return presig_id

    def count(self, key_id: str, binding: bytes) -> int:
        """Available presignatures for ``(key_id, binding)``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM presignatures "
                "WHERE key_id = ? AND binding = ? AND status = 'available'",
                (key_id, binding),
            ).fetchone()
        return int(row[0])

    def needs_refill(self, key_id: str, binding: bytes, target: int = DEFAULT_TARGET) -> int:
        """How many presignatures to add to reach ``target``."""
        if target < 0:
            raise InvalidParameters("pool target must be >= 0")
        return max(0, target - self.count(key_id, binding))

    def status(self, presig_id: str) -> str | None:
        """``available``, ``consumed``, ``rejected``, or ``None`` (no such row)."""
        with self._lock:
            row = self._db.execute(
                "SELECT status FROM presignatures WHERE id = ?", (presig_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def available(self, key_id: str) -> dict[bytes, list[str]]:
        """Ids of the available presignatures of ``key_id``, by binding, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT binding, id FROM presignatures WHERE key_id = ? AND status = "
                "'available' ORDER BY created, id",
                (key_id,),
            ).fetchall()
        out: dict[bytes, list[str]] = {}
        for binding, presig_id in rows:
            out.setdefault(bytes(binding), []).append(str(presig_id))
        return out

    def take(
        self, key_id: str, binding: bytes, presig_id: str | None = None
    ) -> tuple[str, Presignature] | None:
        """The oldest available presignature for exactly ``(key_id, binding)`` (or the
        one with id ``presig_id``, if it is available for them), or
        ``None``. Before it is returned its row is durably marked consumed and its
        payload erased (committed with fsync). A payload that does not open or decode
        is marked ``rejected`` (durably) and ``DecryptionError`` is raised."""
        _check(key_id, binding)
        failure: Exception | None = None
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if presig_id is None:
                    row = self._db.execute(
                        "SELECT id, sealed FROM presignatures "
                        "WHERE key_id = ? AND binding = ? AND status = 'available' "
                        "ORDER BY created, id LIMIT 1",
                        (key_id, binding),
                    ).fetchone()
                else:
                    row = self._db.execute(
                        "SELECT id, sealed FROM presignatures WHERE id = ? AND key_id = ? "
                        "AND binding = ? AND status = 'available'",
                        (presig_id, key_id, binding),
                    ).fetchone()
                if row is None:
                    self._db.execute("COMMIT")
                    return None
                row_id, sealed = str(row[0]), bytes(row[1])
                presig: Presignature | None = None
                try:
                    plaintext = self._store.open(TABLE, _aad_row(row_id, key_id, binding), sealed)
                    presig = presignature_from_bytes(plaintext)
                except (DecryptionError, InvalidEncoding, InvalidParameters) as exc:
                    failure = exc
                cur = self._db.execute(
                    "UPDATE presignatures SET status = ?, sealed = X'' "
                    "WHERE id = ? AND status = 'available'",
                    ("consumed" if presig is not None else "rejected", row_id),
                )
                if cur.rowcount != 1:  # impossible under the write lock; never hand out
                    raise RuntimeError(f"presignature {row_id} changed under the lock")
                self._db.execute("COMMIT")  # WAL + synchronous=FULL: fsynced here
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._checkpoint()
        if presig is None:
            raise DecryptionError(
                f"presignature {row_id} of key {key_id} refused (sealed payload does not "
                "open for this row, key and binding, or does not decode)"
            ) from failure
        return row_id, presig

    def discard_key(self, key_id: str) -> int:
        """Delete every presignature (and tombstone) of ``key_id``, overwritten on
        disk; returns how many rows went."""
        with self._lock:
            cur = self._db.execute("DELETE FROM presignatures WHERE key_id = ?", (key_id,))
            self._checkpoint()
        return int(cur.rowcount)

    def discard_all(self) -> int:
        """Delete every presignature (a refresh epoch: all were made under the old aux
        info), overwritten on disk, and checkpoint the WAL; returns how many went."""
        with self._lock:
            cur = self._db.execute("DELETE FROM presignatures")
            self._checkpoint()
        return int(cur.rowcount)
