"""Reading a private key from a file or a stream, for :meth:`KeysApi.import_key`.

A key file holds a 32- or 64-byte key as hex text (``0x`` optional, surrounding
whitespace ignored), as a JSON array of byte values (``solana-keygen`` keypair
files) or as the raw bytes. At most ``MAX_KEY_FILE_SIZE`` bytes are read; the
read buffer is zeroed once parsed, and no error message echoes the content.
"""

from __future__ import annotations

import json
import os
import re
import stat
import warnings
from os import PathLike
from pathlib import Path
from typing import BinaryIO

from shardvault.sdk.errors import InvalidArgument

__all__ = [
    "MAX_KEY_FILE_SIZE",
    "KeyFilePermissionWarning",
    "parse_private_key_material",
    "read_private_key",
    "read_private_key_file",
]

#: Largest key file read (a key is at most 64 bytes; hex/JSON text a few hundred).
MAX_KEY_FILE_SIZE = 4096

_HEX_TEXT = re.compile(rb"(?:0[xX])?((?:[0-9a-fA-F]{2})+)")
_KEY_SIZES = (32, 64)


class KeyFilePermissionWarning(UserWarning):
    """A private key file that users other than its owner can read."""


def parse_private_key_material(data: bytes) -> bytearray:
    """Private key bytes from a key file's content.

    Accepted: hex text (optionally ``0x``-prefixed, surrounding whitespace ignored), a
    JSON array of byte values (``solana-keygen`` keypair files), or the raw 32 or
    64 bytes. Raises :class:`InvalidArgument` otherwise (without echoing the content).
    """
    text = bytes(data).strip()
    match = _HEX_TEXT.fullmatch(text)
    if match is not None and len(match.group(1)) // 2 in _KEY_SIZES:
        return bytearray(bytes.fromhex(match.group(1).decode("ascii")))
    if text.startswith(b"[") and text.endswith(b"]"):
        try:
            values = json.loads(text)
        except ValueError:
            values = None
        if (
            isinstance(values, list)
            and len(values) in _KEY_SIZES
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 256 for v in values)
        ):
            return bytearray(values)
        raise InvalidArgument("the key file holds a JSON value that is not a 32/64-byte array")
    if len(data) in _KEY_SIZES:
        return bytearray(data)
    raise InvalidArgument(
        "the key file must hold a 32- or 64-byte key: raw bytes, hex text (0x optional) "
        "or a JSON byte array"
    )


def _parse_and_wipe(raw: bytearray) -> bytearray:
    try:
        if len(raw) > MAX_KEY_FILE_SIZE:
            raise InvalidArgument(f"the key file is larger than {MAX_KEY_FILE_SIZE} bytes")
        return parse_private_key_material(bytes(raw))
    finally:
        raw[:] = bytes(len(raw))


def read_private_key(stream: BinaryIO) -> bytearray:
    """The private key in a binary stream (e.g. ``sys.stdin.buffer``), read to its end
    or to ``MAX_KEY_FILE_SIZE`` + 1 bytes; formats as :func:`parse_private_key_material`."""
    data = stream.read(MAX_KEY_FILE_SIZE + 1)
    return _parse_and_wipe(bytearray(data.encode() if isinstance(data, str) else data))


def read_private_key_file(path: str | PathLike[str]) -> bytearray:
    """The private key in the file at ``path``; formats as
    :func:`parse_private_key_material`. A file that users other than its owner can
    read is still read, with a :class:`KeyFilePermissionWarning`. ``OSError`` (a
    missing or unreadable file) propagates; a directory is an :class:`InvalidArgument`."""
    path = Path(path)
    if path.is_dir():
        raise InvalidArgument(f"{path} is a directory")
    with path.open("rb") as fh:
        st = os.fstat(fh.fileno())
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o077 and stat.S_ISREG(st.st_mode):
            warnings.warn(
                f"{path} is readable by other users (mode {mode:o}); "
                "private keys belong in 0600 files",
                KeyFilePermissionWarning,
                stacklevel=2,
            )
        return read_private_key(fh)
