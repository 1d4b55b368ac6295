"""The key-encryption key (KEK) that protects every signer's store at rest.

Sources, in order: the ``SHARDVAULT_KEK`` environment variable (32 bytes as hex or
base64url), an explicit ``kek_file``, or a default file under
``~/.config/shardvault/`` named after the data directory. A KEK file must be
mode 0600 and must not live inside the data directory it protects (never beside
the data). Each signer derives its own store key with HKDF, so one signer's key
opens nothing of another's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shardvault.errors import InvalidParameters

__all__ = ["KEK_ENV", "default_kek_file", "derive_store_key", "load_or_create_kek", "parse_kek"]

KEK_ENV = "SHARDVAULT_KEK"
KEK_SIZE = 32


def parse_kek(text: str) -> bytes:
    """32 bytes from hex (64 chars) or base64url (43 chars, no padding)."""
    value = text.strip()
    try:
        raw = bytes.fromhex(value) if len(value) == 64 else base64.urlsafe_b64decode(value + "=")
    except (ValueError, binascii.Error) as exc:
        raise InvalidParameters("the KEK must be 32 bytes as hex or base64url") from exc
    if len(raw) != KEK_SIZE:
        raise InvalidParameters("the KEK must be exactly 32 bytes")
    return raw


def default_kek_file(data_dir: Path) -> Path:
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path.home() / ".config" / "shardvault" / f"kek-{tag}"


def _inside(path: Path, directory: Path) -> bool:
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def load_or_create_kek(data_dir: Path, kek_file: Path | None = None) -> bytes:
    """Read the KEK (env var, then file), creating a fresh 0600 file on first use."""
    env = os.environ.get(KEK_ENV)
    if env:
        return parse_kek(env)
    path = kek_file or default_kek_file(data_dir)
    if _inside(path, data_dir):
        raise InvalidParameters(
            f"the KEK file {path} is inside the data directory {data_dir}; keep it elsewhere"
        )
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise InvalidParameters(f"the KEK file {path} must be mode 0600 (it is {mode:o})")
        return parse_kek(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    kek = secrets.token_bytes(KEK_SIZE)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(kek.hex() + "\n")
    return kek


def derive_store_key(kek: bytes, signer_id: str) -> bytes:
    """The AEAD key of one signer's store: HKDF-SHA256(kek, info = label || signer id)."""
    if len(kek) != KEK_SIZE:
        raise InvalidParameters("the KEK must be exactly 32 bytes")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"shardvault/store-kek/v1",
        info=b"shardvault/signer-store/v1/" + signer_id.encode(),
    ).derive(kek)
