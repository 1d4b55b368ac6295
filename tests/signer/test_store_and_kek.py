"""Signer store: secrets sealed at rest under a KEK kept away from the data, 0600 files,
persistent session ids, erasure (docs/security.md items 2, 22)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shardvault.errors import Conflict, DecryptionError, InvalidParameters, NotFound, SessionReused
from shardvault.signer.kek import KEK_ENV, derive_store_key, load_or_create_kek, parse_kek
from shardvault.signer.store import SignerStore


def test_secrets_are_sealed_on_disk(tmp_path: Path) -> None:
    kek = os.urandom(32)
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    secret = os.urandom(32)
    store.put_secret("identity_key", secret)
    store.put_share("key-1", "FROST", "ed25519", b'{"share": "' + secret.hex().encode() + b'"}')
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
    store.put_share("key-1", "FROST", "ed25519", b"{}")
    with pytest.raises(Conflict):
        store.put_share("key-1", "FROST", "ed25519", b"{}")
    store.close()
    store = SignerStore(tmp_path / "s.sqlite3", "sgn-a", kek)
    with pytest.raises(SessionReused):
        store.claim(sid)
    assert store.erase_share("key-1")
    assert not store.erase_share("key-1")
    with pytest.raises(NotFound):
        store.get_share("key-1")


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
