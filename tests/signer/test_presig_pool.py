"""Persistent presignature pool (docs/security.md item 15): presignatures sealed at rest,
bound to (key id, binding), handed out at most once — across threads, across two
pool instances on one file, and across a crash between ``take`` and sending.

The pool does no crypto on presignatures, so these tests build ``Presignature``
objects directly with random fields of the right types (a real one needs 3072-bit
aux info, ~18 s) — only the serialization and the at-most-once bookkeeping are
under test here.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from shardvault.crypto.groups import SECP256K1
from shardvault.errors import DecryptionError, InvalidEncoding, InvalidParameters
from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic
from shardvault.protocols.cggmp.presignature_codec import (
    presignature_from_bytes,
    presignature_to_bytes,
)
from shardvault.protocols.cggmp.sign import sign_share
from shardvault.signer.presig_pool import PresignaturePool
from shardvault.signer.store import SignerStore

KEY = "key-1"
BIND = b"key-1/m/44'/60'/0'/0/0"


def fake_presig(me: int = 1, signers: tuple[int, ...] = (1, 2)) -> Presignature:
    public = PresignaturePublic(
        session_id=os.urandom(32),
        signers=signers,
        public_key=SECP256K1.mul_base(SECP256K1.random_scalar()),
        R=SECP256K1.mul_base(SECP256K1.random_scalar()),
        Gamma=SECP256K1.mul_base(SECP256K1.random_scalar()),
        Delta={j: SECP256K1.mul_base(SECP256K1.random_scalar()) for j in signers},
        S={j: SECP256K1.mul_base(SECP256K1.random_scalar()) for j in signers},
    )
    return Presignature(me, SECP256K1.random_scalar(), SECP256K1.random_scalar(), public)


def same(a: Presignature, b: Presignature) -> bool:
    return (a.me, a.k_i, a.chi_i, a.public) == (b.me, b.k_i, b.chi_i, b.public)


@pytest.fixture
def kek() -> bytes:
    return os.urandom(32)


@pytest.fixture
def store(tmp_path: Path, kek: bytes) -> SignerStore:
    return SignerStore(tmp_path / "signer.sqlite3", "sgn-a", kek)


def pool_at(tmp_path: Path, store: SignerStore) -> PresignaturePool:
    return PresignaturePool(tmp_path / "presigs.sqlite3", store)


def raw(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "presigs.sqlite3", isolation_level=None)


def test_serialization_round_trip_and_malformed_refused() -> None:
    p = fake_presig(me=2, signers=(1, 2, 3))
    p.public.Delta[3] = SECP256K1.identity  # the identity survives a round trip too
    data = presignature_to_bytes(p)
    q = presignature_from_bytes(data)
    assert same(p, q) and not q.consumed
    with pytest.raises(InvalidEncoding):
        presignature_from_bytes(data[:-1])
    with pytest.raises(InvalidEncoding):
        presignature_from_bytes(data + b"\x00")
    with pytest.raises(InvalidEncoding):
        presignature_from_bytes(b"x" + data[1:])
    p.consume()
    with pytest.raises(InvalidParameters):  # a spent presignature has no secrets left
        presignature_to_bytes(p)


def test_add_take_count_refill(tmp_path: Path, store: SignerStore) -> None:
    pool = pool_at(tmp_path, store)
    assert pool.count(KEY, BIND) == 0 and pool.needs_refill(KEY, BIND) == 8
    made = [fake_presig() for _ in range(3)]
    ids = [pool.add(KEY, BIND, p) for p in made[:2]]
    ids.append(pool.add(KEY, BIND, presignature_to_bytes(made[2])))  # bytes accepted too
    assert len(set(ids)) == 3
    assert pool.count(KEY, BIND) == 3
    assert pool.needs_refill(KEY, BIND) == 5 and pool.needs_refill(KEY, BIND, target=2) == 0
    assert pool.count("key-2", BIND) == 0
    got = []
    while (taken := pool.take(KEY, BIND)) is not None:
        got.append(taken)
        assert pool.status(taken[0]) == "consumed"
    assert [i for i, _ in got] == ids  # oldest first
    assert all(same(p, q) for p, (_, q) in zip(made, got, strict=True))
    assert pool.count(KEY, BIND) == 0 and pool.needs_refill(KEY, BIND, target=4) == 4
    assert sign_share(got[0][1], os.urandom(32)) >= 0  # usable once by the signer
    with pytest.raises(InvalidParameters):
        pool.add(KEY, b"", fake_presig())
    with pytest.raises(InvalidEncoding):
        pool.add(KEY, BIND, b"not a presignature")
    pool.close()


def test_file_is_private_and_payloads_sealed(tmp_path: Path, store: SignerStore) -> None:
    pool = pool_at(tmp_path, store)
    presigs = [fake_presig() for _ in range(4)]
    for p in presigs:
        pool.add(KEY, BIND, p)
    secrets_ = [
        x.to_bytes(32, "big") for p in presigs for x in (p.k_i, p.chi_i)
    ]  # before take erases them from the objects
    assert pool.take(KEY, BIND) is not None
    for f in tmp_path.glob("presigs.sqlite3*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    pool.close()
    disk = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.is_file())
    for s in secrets_:
        assert s not in disk and s.hex().encode() not in disk


def test_two_pools_racing_hand_out_each_row_once(tmp_path: Path, store: SignerStore) -> None:
    pools = [pool_at(tmp_path, store), pool_at(tmp_path, store)]
    n = 40
    expected = {pools[i % 2].add(KEY, BIND, fake_presig()) for i in range(n)}
    won: list[tuple[str, int]] = []
    won_lock = threading.Lock()
    start = threading.Barrier(8)

    def worker(pool: PresignaturePool) -> None:
        start.wait()
        while (taken := pool.take(KEY, BIND)) is not None:
            with won_lock:
                won.append((taken[0], taken[1].k_i))

    threads = [threading.Thread(target=worker, args=(pools[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for i, _ in won]
    assert len(ids) == n and set(ids) == expected  # every row exactly once
    assert len({k for _, k in won}) == n
    assert all(p.count(KEY, BIND) == 0 and p.take(KEY, BIND) is None for p in pools)
    for p in pools:
        p.close()


def test_crash_between_take_and_send_never_reuses(
    tmp_path: Path, store: SignerStore, kek: bytes
) -> None:
    pool = pool_at(tmp_path, store)
    first = pool.add(KEY, BIND, fake_presig())
    second = pool.add(KEY, BIND, fake_presig())
    taken = pool.take(KEY, BIND)
    assert taken is not None and taken[0] == first
    # "Crash": the partial signature was never sent. A fresh pool on the same file
    # (while the dead one's connection is still open, as after a kill) sees the row
    # consumed; so does one opened after a close, with a fresh store object.
    survivor = pool_at(tmp_path, store)
    assert survivor.status(first) == "consumed"
    assert survivor.count(KEY, BIND) == 1
    survivor.close()
    pool.close()
    reopened_store = SignerStore(store.path, "sgn-a", kek)
    reopened = pool_at(tmp_path, reopened_store)
    assert reopened.status(first) == "consumed"
    again = reopened.take(KEY, BIND)
    assert again is not None and again[0] == second
    assert reopened.take(KEY, BIND) is None
    with raw(tmp_path) as db:  # consumed payloads are erased, not just flagged
        rows = db.execute("SELECT status, length(sealed) FROM presignatures").fetchall()
    assert rows == [("consumed", 0), ("consumed", 0)]
    reopened.close()


_CHILD = """
import os, sys
from pathlib import Path
from shardvault.signer.presig_pool import PresignaturePool
from shardvault.signer.store import SignerStore
store = SignerStore(Path(sys.argv[1]), "sgn-a", bytes.fromhex(sys.argv[3]))
taken = PresignaturePool(Path(sys.argv[2]), store).take(sys.argv[4], bytes.fromhex(sys.argv[5]))
assert taken is not None
print(taken[0], flush=True)
os._exit(0)  # killed before the partial signature is sent: no close, no cleanup
"""


def test_process_killed_after_take_never_reuses(
    tmp_path: Path, store: SignerStore, kek: bytes
) -> None:
    pool = pool_at(tmp_path, store)
    ids = [pool.add(KEY, BIND, fake_presig()) for _ in range(2)]
    args = [str(store.path), str(pool.path), kek.hex(), KEY, BIND.hex()]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ids[0]
    assert pool.status(ids[0]) == "consumed" and pool.count(KEY, BIND) == 1
    pool.close()
    reopened = pool_at(tmp_path, store)
    taken = reopened.take(KEY, BIND)
    assert taken is not None and taken[0] == ids[1]
    assert reopened.take(KEY, BIND) is None
    reopened.close()


def test_wrong_binding_refused(tmp_path: Path, store: SignerStore) -> None:
    pool = pool_at(tmp_path, store)
    pid = pool.add(KEY, BIND, fake_presig())
    other = b"key-1/m/44'/60'/0'/0/1"
    assert pool.count(KEY, other) == 0 and pool.take(KEY, other) is None
    with raw(tmp_path) as db:  # relabel the row to another derivation path
        db.execute("UPDATE presignatures SET binding = ? WHERE id = ?", (other, pid))
    with pytest.raises(DecryptionError):
        pool.take(KEY, other)
    assert pool.status(pid) == "rejected"  # refused durably, never retried
    assert pool.take(KEY, other) is None and pool.take(KEY, BIND) is None
    pool.close()


def test_row_copied_to_another_key_is_refused(tmp_path: Path, store: SignerStore) -> None:
    pool = pool_at(tmp_path, store)
    pid = pool.add(KEY, BIND, fake_presig())
    with raw(tmp_path) as db:
        db.execute(
            "INSERT INTO presignatures (id, key_id, binding, status, sealed, created) "
            "SELECT 'copied', 'key-2', binding, status, sealed, created "
            "FROM presignatures WHERE id = ?",
            (pid,),
        )
    with pytest.raises(DecryptionError):
        pool.take("key-2", BIND)
    assert pool.status("copied") == "rejected" and pool.take("key-2", BIND) is None
    taken = pool.take(KEY, BIND)  # the genuine row is unaffected
    assert taken is not None and taken[0] == pid
    # Another signer's KEK (or signer id) cannot open this file's rows either.
    pid2 = pool.add(KEY, BIND, fake_presig())
    pool.close()
    stranger = SignerStore(tmp_path / "other.sqlite3", "sgn-b", os.urandom(32))
    foreign = pool_at(tmp_path, stranger)
    with pytest.raises(DecryptionError):
        foreign.take(KEY, BIND)
    assert foreign.status(pid2) == "rejected"
    foreign.close()


def test_discard_key(tmp_path: Path, store: SignerStore) -> None:
    pool = pool_at(tmp_path, store)
    for _ in range(3):
        pool.add(KEY, BIND, fake_presig())
    pool.add("key-2", BIND, fake_presig())
    assert pool.take(KEY, BIND) is not None
    assert pool.discard_key(KEY) == 3
    assert pool.count(KEY, BIND) == 0 and pool.take(KEY, BIND) is None
    assert pool.count("key-2", BIND) == 1
    pool.close()


def test_discard_all_erases_every_row_on_disk(tmp_path: Path, store: SignerStore) -> None:
    """What a signer does at every start (docs/security.md item 29): every row goes,
    and neither the database file nor its WAL keeps a sealed payload."""
    pool = pool_at(tmp_path, store)
    ids = [pool.add(KEY, BIND, fake_presig()) for _ in range(3)]
    pool.add("key-2", BIND, fake_presig())
    assert pool.take(KEY, BIND) is not None
    with raw(tmp_path) as db:
        payloads = [bytes(r[0]) for r in db.execute("SELECT sealed FROM presignatures")]
    discarded = pool.discard_all()
    assert (discarded.presignatures, discarded.keys, discarded.recreated) == (3, 2, None)
    assert all(pool.status(i) is None for i in ids) and pool.take(KEY, BIND) is None
    on_disk = b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("presigs.sqlite3")
    )
    assert not any(payload and payload[:32] in on_disk for payload in payloads)
    assert pool.discard_all().as_json() == {"presignatures": 0, "keys": 0}
    pool.close()


def test_discard_all_erases_another_signers_rows(tmp_path: Path, store: SignerStore) -> None:
    stranger = SignerStore(tmp_path / "other.sqlite3", "sgn-b", os.urandom(32))
    theirs = pool_at(tmp_path, stranger)
    theirs.add(KEY, BIND, fake_presig())
    theirs.close()
    mine = pool_at(tmp_path, store)  # their file, copied into this signer's directory
    assert mine.discard_all().presignatures == 1
    assert mine.available(KEY) == {}
    mine.add(KEY, BIND, fake_presig())
    assert mine.take(KEY, BIND) is not None
    mine.close()


def test_a_pool_file_of_another_version_is_recreated(tmp_path: Path, store: SignerStore) -> None:
    with raw(tmp_path) as db:
        db.execute("CREATE TABLE presignatures (id TEXT PRIMARY KEY, payload BLOB)")
        db.execute("INSERT INTO presignatures VALUES ('x', x'00')")
        db.execute("PRAGMA user_version = 7")
    pool = pool_at(tmp_path, store)
    discarded = pool.discard_all()
    assert discarded.presignatures == 0
    assert discarded.recreated == "pool file of schema version 7"
    pid = pool.add(KEY, BIND, fake_presig())
    assert pool.take(KEY, BIND) is not None and pool.status(pid) == "consumed"
    pool.close()


def test_an_unreadable_pool_file_is_recreated(tmp_path: Path, store: SignerStore) -> None:
    (tmp_path / "presigs.sqlite3").write_bytes(b"not a database, " * 512)
    pool = pool_at(tmp_path, store)
    assert pool.discard_all().recreated == "unreadable pool file (DatabaseError)"
    pool.add(KEY, BIND, fake_presig())
    assert pool.count(KEY, BIND) == 1
    assert stat.S_IMODE((tmp_path / "presigs.sqlite3").stat().st_mode) == 0o600
    pool.close()
