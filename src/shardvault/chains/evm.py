"""EVM networks: Keccak-256, addresses, message hashes and signature encodings.

Pure functions, no I/O. The vault signs a 32-byte hash with ECDSA over secp256k1 and
answers ``(r, s, recid)`` with low ``s``; this module (messages) and ``evm_tx``
(transactions) compute the hash to sign and build the signed, broadcastable result.
Keccak-256 comes from pycryptodome, point decompression and recovery from coincurve
(libsecp256k1).

API
---
Hashing and addresses:

- ``keccak256(data: bytes) -> bytes``: Keccak-256 (the pre-standard SHA-3 Ethereum uses).
- ``address_from_public_key(pub: bytes) -> str``: EIP-55 address of a 33-byte compressed
  (``02``/``03``) or 65-byte uncompressed (``04``) secp256k1 key. Raises ``InvalidPoint``.
- ``checksum_encode(address: bytes) -> str``: EIP-55 ``"0x…"`` text of a 20-byte address.
- ``checksum_address(address: str) -> str``: validates ``"0x"`` + 40 hex digits and returns
  the EIP-55 form. All-lower and all-upper digits are accepted as unchecksummed; mixed case
  must be a correct EIP-55 checksum. Raises ``InvalidParameters`` (code ``"InvalidAddress"``).
- ``is_checksum_address(address: str) -> bool``: well formed *and* exactly EIP-55 cased.
- ``address_to_bytes(address: str) -> bytes``: the 20 bytes, after ``checksum_address``.

Messages and signatures:

- ``eip191_hash(message: bytes) -> bytes``: ``personal_sign`` (EIP-191 version ``0x45``)
  hash ``keccak256(b"\\x19Ethereum Signed Message:\\n" + str(len(message)) + message)``.
- ``signature_65(r: int, s: int, recid: int) -> bytes``: ``r || s || (27 + recid)``, the
  65-byte form wallets and eth_account expect.
- ``recover_address(msg_hash: bytes, r: int, s: int, recid: int) -> str``: EIP-55 address
  of the signer, to check a vault signature before broadcasting it.
- EIP-712 lives in ``shardvault.chains.eip712``.

Signature checks (``check_signature``: ``signature_65``, ``recover_address`` and
``evm_tx``'s ``assemble``): ``1 <= r < n``, ``1 <= s <= n/2`` (low s, EIP-2) and
``recid in (0, 1)``. A recovery id of 2 or 3 (``R.x >= n``, practically never) cannot be
expressed on EVM networks and is rejected rather than mis-encoded. All raise
``InvalidParameters`` with code ``"InvalidSignature"``.

Error codes
-----------
``InvalidAddress`` (``InvalidParameters``): malformed address text or bad checksum.
``InvalidSignature`` (``InvalidParameters``): ``(r, s, recid)`` out of range.
``InvalidPoint`` (``InvalidEncoding``): not a secp256k1 public key.

Transactions (parse, hash, assemble) are ``shardvault.chains.evm_tx``.
"""

from __future__ import annotations

import re

import coincurve
from Crypto.Hash import keccak as _keccak

from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidParameters, InvalidPoint

__all__ = [
    "SECP256K1_N",
    "address_from_public_key",
    "address_to_bytes",
    "check_signature",
    "checksum_address",
    "checksum_encode",
    "eip191_hash",
    "is_checksum_address",
    "is_int",
    "keccak256",
    "recover_address",
    "signature_65",
]

#: Order of the secp256k1 group.
SECP256K1_N = SECP256K1.order


_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")


# ---------------------------------------------------------------------------
# Hashing and addresses
# ---------------------------------------------------------------------------


def keccak256(data: bytes) -> bytes:
    """Keccak-256 of ``data`` (Ethereum's hash, not FIPS-202 SHA3-256)."""
    return _keccak.new(digest_bits=256, data=bytes(data)).digest()


def _bad_address(message: str) -> InvalidParameters:
    return InvalidParameters(message, code="InvalidAddress")


def checksum_encode(address: bytes) -> str:
    """EIP-55 mixed-case ``"0x…"`` text of a 20-byte address."""
    if not isinstance(address, bytes | bytearray) or len(address) != 20:
        raise _bad_address("an EVM address is 20 bytes")
    hex_lower = bytes(address).hex()
    digest = keccak256(hex_lower.encode("ascii")).hex()
    chars = [
        c.upper() if c.isalpha() and int(h, 16) >= 8 else c
        for c, h in zip(hex_lower, digest, strict=False)
    ]
    return "0x" + "".join(chars)


def checksum_address(address: str) -> str:
    """Validate ``"0x"`` + 40 hex digits and return the EIP-55 form.

    All-lowercase or all-uppercase digits carry no checksum and are accepted; mixed case
    must match EIP-55 exactly.
    """
    if not isinstance(address, str) or _ADDRESS_RE.fullmatch(address) is None:
        raise _bad_address("an EVM address is '0x' followed by 40 hexadecimal digits")
    digits = address[2:]
    expected = checksum_encode(bytes.fromhex(digits))
    if digits != digits.lower() and digits != digits.upper() and address != expected:
        raise _bad_address("EVM address has an invalid EIP-55 checksum")
    return expected


def is_checksum_address(address: str) -> bool:
    """True when ``address`` is well formed and exactly in EIP-55 case."""
    try:
        return checksum_address(address) == address
    except InvalidParameters:
        return False


def address_to_bytes(address: str) -> bytes:
    """The 20 bytes of a (validated) address text."""
    return bytes.fromhex(checksum_address(address)[2:])


def address_from_public_key(pub: bytes) -> str:
    """EIP-55 address of a secp256k1 public key (33-byte compressed or 65-byte ``04…``)."""
    if not isinstance(pub, bytes | bytearray):
        raise InvalidPoint("public key must be bytes")
    raw = bytes(pub)
    if not ((len(raw) == 33 and raw[0] in (2, 3)) or (len(raw) == 65 and raw[0] == 4)):
        raise InvalidPoint("secp256k1 public key must be 33 bytes (02/03) or 65 bytes (04)")
    try:
        point = coincurve.PublicKey(raw).format(compressed=False)
    except (ValueError, TypeError) as exc:
        raise InvalidPoint("not a point on secp256k1") from exc
    return checksum_encode(keccak256(point[1:])[12:])


# ---------------------------------------------------------------------------
# Signatures and messages
# ---------------------------------------------------------------------------


def _bad_signature(message: str) -> InvalidParameters:
    return InvalidParameters(message, code="InvalidSignature")


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_signature(r: int, s: int, recid: int) -> None:
    if not (is_int(r) and is_int(s) and is_int(recid)):
        raise _bad_signature("r, s and recid must be integers")
    if not 1 <= r < SECP256K1_N:
        raise _bad_signature("signature r out of range")
    if not 1 <= s <= SECP256K1_N // 2:
        raise _bad_signature("signature s must be in [1, n/2] (low s)")
    if recid in (2, 3):
        raise _bad_signature("recovery id >= 2 (R.x >= n) cannot be encoded on EVM networks")
    if recid not in (0, 1):
        raise _bad_signature("recovery id must be 0 or 1")


def signature_65(r: int, s: int, recid: int) -> bytes:
    """``r || s || v`` with ``v = 27 + recid``, the 65-byte signature wallets expect."""
    check_signature(r, s, recid)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([27 + recid])


def recover_address(msg_hash: bytes, r: int, s: int, recid: int) -> str:
    """EIP-55 address of the key that produced ``(r, s, recid)`` over ``msg_hash``."""
    check_signature(r, s, recid)
    if not isinstance(msg_hash, bytes | bytearray) or len(msg_hash) != 32:
        raise InvalidParameters("message hash must be 32 bytes")
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recid])
    try:
        pub = coincurve.PublicKey.from_signature_and_message(sig, bytes(msg_hash), hasher=None)
    except (ValueError, TypeError) as exc:
        raise _bad_signature("signature does not recover to a public key") from exc
    return address_from_public_key(pub.format(compressed=False))


def eip191_hash(message: bytes) -> bytes:
    """``personal_sign`` hash (EIP-191 version ``0x45``) of ``message``."""
    if not isinstance(message, bytes | bytearray):
        raise InvalidParameters("EIP-191 message must be bytes")
    body = bytes(message)
    prefix = b"\x19Ethereum Signed Message:\n" + str(len(body)).encode("ascii")
    return keccak256(prefix + body)
