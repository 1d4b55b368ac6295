"""Reading a private key from a file or a stream (``shardvault.sdk.keyfiles``), as
``shardvault import-key`` does it: the formats, the size limit, the permission
warning, and errors that never echo the content."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from shardvault.sdk import (
    InvalidArgument,
    KeyFilePermissionWarning,
    parse_private_key_material,
    read_private_key,
    read_private_key_file,
)
from shardvault.sdk.keyfiles import MAX_KEY_FILE_SIZE


def test_parse_private_key_material() -> None:
    k32, k64 = os.urandom(32), os.urandom(64)
    assert parse_private_key_material(k32.hex().encode()) == k32
    assert parse_private_key_material(b"0x" + k32.hex().upper().encode() + b"\n") == k32
    assert parse_private_key_material(b"  " + k64.hex().encode() + b"\r\n") == k64
    assert parse_private_key_material(json.dumps(list(k64)).encode()) == k64
    assert parse_private_key_material(k32) == k32
    assert parse_private_key_material(k64) == k64
    for bad in (b"", b"00" * 31, os.urandom(33), b"[1, 2, 3]", b"[" + b"300," * 31 + b"1]"):
        with pytest.raises(InvalidArgument):
            parse_private_key_material(bad)


def test_read_private_key_file(tmp_path: Path) -> None:
    key = os.urandom(32)
    path = tmp_path / "key.hex"
    path.write_text("0x" + key.hex() + "\n")
    path.chmod(0o600)
    assert read_private_key_file(path) == key
    assert read_private_key_file(str(path)) == key
    path.chmod(0o644)
    with pytest.warns(KeyFilePermissionWarning, match="readable by other users"):
        assert read_private_key_file(path) == key


def test_read_private_key_file_errors_do_not_echo_the_content(tmp_path: Path) -> None:
    secret_text = "41" * 33  # 33 bytes: wrong size
    path = tmp_path / "key.hex"
    path.write_text(secret_text)
    path.chmod(0o600)
    with pytest.raises(InvalidArgument, match="the key file must hold") as info:
        read_private_key_file(path)
    assert secret_text not in str(info.value)
    with pytest.raises(FileNotFoundError):
        read_private_key_file(tmp_path / "missing")
    with pytest.raises(InvalidArgument, match="is a directory"):
        read_private_key_file(tmp_path)
    path.write_bytes(b"0" * (MAX_KEY_FILE_SIZE + 1))
    with pytest.raises(InvalidArgument, match=f"larger than {MAX_KEY_FILE_SIZE} bytes"):
        read_private_key_file(path)


def test_read_private_key_from_a_stream() -> None:
    key = os.urandom(64)
    assert read_private_key(io.BytesIO(json.dumps(list(key)).encode())) == key
    with pytest.raises(InvalidArgument, match="larger than"):
        read_private_key(io.BytesIO(b"x" * 5000))
