"""Signer store: secrets sealed at rest under a KEK kept away from the data, 0600 files,
persistent session ids, erasure (docs/security.md items 2, 22)."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from shardvault.errors import (
    Conflict,
    DecryptionError,
    InvalidImport,
    InvalidParameters,
    NotFound,
    SessionReused,
)
from shardvault.signer.kek import KEK_ENV, derive_store_key, load_or_create_kek, parse_kek
from shardvault.signer.store import SignerStore


def test_secrets_are_sealed_on_disk(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    secret = os.urandom(32)
    store.put_secret("identity_key", secret)
    store.put_share(
        "key-1",
        "FROST",
        "ed25519",
        b'{"share": "' + secret.hex().encode() + b'"}',
        public_key=b"pk-1",
    )
    store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret not in raw and secret.hex().encode() not in raw
    assert stat.S_IMODE((tmp_path / "s.sqlite3").stat().st_mode) == 0o600
    reopened = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    assert reopened.get_secret("identity_key") == secret
    assert secret.hex() in reopened.get_share("key-1").record.decode()
    assert "share" not in repr(reopened.get_share("key-1"))


def test_wrong_kek_or_moved_rows_do_not_open(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    store.put_secret("identity_key", b"x" * 32)
    store.close()
    with pytest.raises(DecryptionError):
        SignerStore(tmp_path / "s.sqlite3", "sgn-a", os.urandom(32)).get_secret("identity_key")
    with pytest.raises(DecryptionError):  # same file opened as another signer
        SignerStore(tmp_path / "s.sqlite3", "sgn-b", kek).get_secret("identity_key")
    other = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    sealed = other.seal("meta", "identity_key", b"y")
    with pytest.raises(DecryptionError):
        other.open("meta", "encryption_key", sealed)


def test_sessions_persist_and_shares_erase(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    sid = os.urandom(32)
    store.claim(sid)
    store.put_share("key-1", "FROST", "ed25519", b"{}", public_key=b"pk-1")
    with pytest.raises(Conflict):
        store.put_share("key-1", "FROST", "ed25519", b"{}", public_key=b"pk-1")
    store.close()
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    with pytest.raises(SessionReused):
        store.claim(sid)
    assert store.erase_share("key-1")
    assert not store.erase_share("key-1")
    with pytest.raises(NotFound):
        store.get_share("key-1")


def test_one_live_share_per_public_key(tmp_path: Path) -> None:
    """docs/security.md item 27: a second live share of a public key is refused (even
    under another key id); erasing the first frees the public key again."""
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", os.urandom(32))
    store.put_share("key-1", "FROST", "ed25519", b"{}", public_key=b"pk", status="Pending")
    assert store.holds_public_key(b"pk") == "key-1"
    with pytest.raises(Conflict) as info:
        store.put_share("key-2", "FROST", "ed25519", b"{}", public_key=b"pk")
    assert info.value.code == "DuplicateKey"
    assert store.key_ids() == ["key-1"]  # nothing half-stored
    assert store.erase_share("key-1")
    assert store.holds_public_key(b"pk") is None
    store.put_share("key-2", "FROST", "ed25519", b"{}", public_key=b"pk")
    assert store.holds_public_key(b"pk") == "key-2"


def test_import_ids_are_consumed_durably_and_pruned(tmp_path: Path) -> None:
    """docs/security.md item 27: an import id is used once, across a restart; ids
    older than the signers' acceptance window are forgotten."""
    kek = os.urandom(32)
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    store.consume_import_id(b"i" * 16, 1000, forget_before=0)
    store.consume_import_id(b"o" * 16, 10, forget_before=0)
    store.close()
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    with pytest.raises(InvalidImport) as info:
        store.consume_import_id(b"i" * 16, 1000, forget_before=0)
    assert info.value.code == "ImportContextUsed" and info.value.signers == ("sgn-a",)
    store.consume_import_id(b"n" * 16, 2000, forget_before=500)  # prunes issued_at 10
    store.consume_import_id(b"o" * 16, 10, forget_before=0)


def test_stray_erase_only_touches_old_pending_shares(tmp_path: Path) -> None:
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", os.urandom(32))
    store.put_share("key-p", "FROST", "ed25519", b"{}", public_key=b"p", status="Pending")
    store.put_share("key-a", "FROST", "ed25519", b"{}", public_key=b"a")
    now = time.time() + 1
    assert not store.erase_share("key-a", only_pending_before=now)  # Active: kept
    assert not store.erase_share("key-p", only_pending_before=now - 3600)  # too young
    assert store.key_ids() == ["key-a", "key-p"]
    assert store.erase_share("key-p", only_pending_before=now)
    assert store.was_erased("key-p") and store.key_ids() == ["key-a"]


def test_kek_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEK_ENV, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    kek_file = tmp_path / "keys" / "kek"
    first = load_or_create_kek(data, kek_file)
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    assert load_or_create_kek(data, kek_file) == first
    with pytest.raises(InvalidParameters):  # never beside the data
        load_or_create_kek(data, data / "kek")
    kek_file.chmod(0o644)
    with pytest.raises(InvalidParameters):
        load_or_create_kek(data, kek_file)
    monkeypatch.setenv(KEK_ENV, "11" * 32)
    assert load_or_create_kek(data, kek_file) == bytes.fromhex("11" * 32)
    for bad in ("", "zz" * 32, "11" * 31):
        with pytest.raises(InvalidParameters):
            parse_kek(bad)
    assert derive_store_key(first, "sgn-a") != derive_store_key(first, "sgn-b")
