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

Restores (docs/security.md item 29): a copy of this file (a backup, a VM snapshot)
brings consumed rows back as available, and nothing kept beside the file can prove
it is the newest (a whole-VM snapshot restores that too). So the signer calls
``discard_all`` at every start, before it answers any request: every row goes
(``secure_delete`` overwrites the pages, the WAL is checkpointed and truncated),
and the coordinator refills the pool. A file this code does not recognise (another
schema version, another signer's, not a database at all) is erased and recreated.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
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
    "SCHEMA_VERSION",
    "TABLE",
    "Discarded",
    "PresignaturePool",
]

#: Presignatures kept warm per (key, binding) by default.
DEFAULT_TARGET = 8
#: The table name bound into every sealed payload's AAD.
TABLE = "presignatures"
#: ``PRAGMA user_version`` of a pool file this code writes.
SCHEMA_VERSION = 1
_COLUMNS = ["id", "key_id", "binding", "status", "sealed", "created"]

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


@dataclass(frozen=True, slots=True)
class Discarded:
    """What ``discard_all`` erased: available presignatures, the keys they were of,
    and why the file itself was recreated (``None``: it was this signer's pool)."""

    presignatures: int
    keys: int
    recreated: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"presignatures": self.presignatures, "keys": self.keys}
        if self.recreated is not None:
            out["recreated"] = self.recreated
        return out


def _erase_file(path: Path) -> None:
    """Overwrite a file we cannot open as a pool with zeros, then remove it (and its
    WAL and shared-memory files)."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            size = name.stat().st_size
        except FileNotFoundError:
            continue
        with open(name, "r+b") as fh:
            fh.write(bytes(size))
            fh.flush()
            os.fsync(fh.fileno())
        name.unlink()


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
        self._timeout = timeout
        self._lock = threading.Lock()
        #: Why the file was recreated at open (see ``Discarded.recreated``), if it was.
        self._recreated: str | None = None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            # Not a database (or not one SQLite can read): nothing in it is usable.
            self._recreated = f"unreadable pool file ({type(exc).__name__})"
            _erase_file(path)
            self._db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        db = sqlite3.connect(
            self.path, timeout=self._timeout, check_same_thread=False, isolation_level=None
        )
        try:
            db.execute("PRAGMA secure_delete = ON")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            columns = [r[1] for r in db.execute("PRAGMA table_info(presignatures)")]
            if columns and (columns != _COLUMNS or version not in (0, SCHEMA_VERSION)):
                # A pool of another schema version: its rows mean nothing to this code.
                self._recreated = f"pool file of schema version {version}"
                db.execute("DROP TABLE presignatures")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

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

    def discard_all(self) -> Discarded:
        """Erase every row (available, consumed, rejected) in one transaction,
        overwritten on disk (``secure_delete``), then checkpoint and truncate the WAL
        so no frame keeps an old payload. What the signer does at every start: a
        restored copy of this file can never hand out a presignature again. Rows
        sealed for another signer are erased like the others (they never opened)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                count, keys = self._db.execute(
                    "SELECT COUNT(*), COUNT(DISTINCT key_id) FROM presignatures "
                    "WHERE status = 'available'"
                ).fetchone()
                self._db.execute("DELETE FROM presignatures")
                self._db.execute("COMMIT")  # WAL + synchronous=FULL: fsynced here
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            self._checkpoint()
        return Discarded(int(count), int(keys), self._recreated)

    def discard_key(self, key_id: str) -> int:
        """Delete every presignature (and tombstone) of ``key_id``, overwritten on
        disk; returns how many rows went."""
        with self._lock:
            cur = self._db.execute("DELETE FROM presignatures WHERE key_id = ?", (key_id,))
            self._checkpoint()
        return int(cur.rowcount)
