"""A signer's persistent pool of CGGMP24 presignatures (SECURITY.md item 15).

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
import struct
import threading
import time
from pathlib import Path

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.errors import DecryptionError, InvalidEncoding, InvalidParameters
from shardvault.protocols.cggmp.presign import Presignature, PresignaturePublic
from shardvault.signer.store import SignerStore

__all__ = [
    "DEFAULT_TARGET",
    "TABLE",
    "PresignaturePool",
    "presignature_from_bytes",
    "presignature_to_bytes",
    "public_from_bytes",
    "public_to_bytes",
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

# -- serialization ---------------------------------------------------------------------

_MAGIC = b"shardvault/presig/v1\x00"
_U32 = struct.Struct(">I")
_SC = SECP256K1.scalar_size


def _u32(n: int) -> bytes:
    if not 0 <= n < 2**32:
        raise InvalidParameters("presignature field out of range")
    return _U32.pack(n)


def _point(p: Point) -> bytes:
    if p.group is not SECP256K1:
        raise InvalidParameters("presignature points must be on secp256k1")
    if p.is_identity():
        return b"\x00"
    data = p.encode()
    return bytes([len(data)]) + data


def _point_map(m: dict[int, Point]) -> bytes:
    out = [_u32(len(m))]
    for j in sorted(m):
        out += [_u32(j), _point(m[j])]
    return b"".join(out)


def presignature_to_bytes(presig: Presignature) -> bytes:
    """Encode every field of ``presig`` (including the secret scalars ``k_i`` and
    ``chi_i``: seal the result, never store or log it in the clear). A consumed
    presignature has no secrets left and is refused."""
    if presig.consumed:
        raise InvalidParameters("a consumed presignature cannot be stored")
    return b"".join(
        [
            _MAGIC,
            _u32(presig.me),
            presig.k_i.to_bytes(_SC, "big"),
            presig.chi_i.to_bytes(_SC, "big"),
            public_to_bytes(presig.public),
        ]
    )


def public_to_bytes(pub: PresignaturePublic) -> bytes:
    """The public part of a presignature (what the combiner needs), canonical: equal
    bytes at every signer of the session."""
    return b"".join(
        [
            _u32(len(pub.session_id)),
            pub.session_id,
            _u32(len(pub.signers)),
            *(_u32(i) for i in pub.signers),
            _point(pub.public_key),
            _point(pub.R),
            _point(pub.Gamma),
            _point_map(pub.Delta),
            _point_map(pub.S),
        ]
    )


class _Reader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise InvalidEncoding("presignature encoding is truncated")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def u32(self) -> int:
        value: int = _U32.unpack(self.take(4))[0]
        return value

    def scalar(self) -> int:
        return SECP256K1.decode_scalar(self.take(_SC))

    def point(self) -> Point:
        n = self.take(1)[0]
        if n == 0:
            return SECP256K1.identity
        return SECP256K1.decode_point(self.take(n))

    def point_map(self) -> dict[int, Point]:
        out: dict[int, Point] = {}
        for _ in range(self.u32()):
            j = self.u32()
            if j in out:
                raise InvalidEncoding("presignature encoding repeats a party index")
            out[j] = self.point()
        return out

    def end(self) -> None:
        if self._pos != len(self._data):
            raise InvalidEncoding("presignature encoding has trailing bytes")


def presignature_from_bytes(data: bytes) -> Presignature:
    """Inverse of ``presignature_to_bytes``; raises ``InvalidEncoding`` (or
    ``InvalidParameters`` for out-of-range scalars) on anything malformed."""
    r = _Reader(data)
    if r.take(len(_MAGIC)) != _MAGIC:
        raise InvalidEncoding("not a presignature encoding (v1)")
    me = r.u32()
    k_i = r.scalar()
    chi_i = r.scalar()
    public = _read_public(r)
    r.end()
    return Presignature(me, k_i, chi_i, public)


def public_from_bytes(data: bytes) -> PresignaturePublic:
    """Inverse of ``public_to_bytes``; ``InvalidEncoding`` on anything malformed."""
    r = _Reader(data)
    public = _read_public(r)
    r.end()
    return public


def _read_public(r: _Reader) -> PresignaturePublic:
    session_id = r.take(r.u32())
    signers = tuple(r.u32() for _ in range(r.u32()))
    public_key = r.point()
    big_r = r.point()
    gamma = r.point()
    delta = r.point_map()
    s = r.point_map()
    return PresignaturePublic(session_id, signers, public_key, big_r, gamma, delta, s)


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
