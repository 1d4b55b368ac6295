"""Private-key formats accepted by key import and produced by key export.

A threshold key shares one *scalar* ``k`` (the private key as the group sees it,
``public key = k·G``). Wallets hold private keys in other shapes; this module turns
them into that scalar and back, and validates every input exactly.

Ed25519 (RFC 8032 section 5.1.5)
    An RFC 8032 private key is a 32-byte *seed*. Signing hashes it,
    ``h = SHA-512(seed)``, clamps the first half into ``s`` (clear bits 0-2 and 255,
    set bit 254) and reads it little-endian; the public key is ``A = s·B``. The second
    half of ``h`` is the deterministic-nonce prefix, which threshold signing does not
    use (FROST draws its nonces itself).

    The clamped ``s`` lies in ``[2^254, 2^255)``, above the group order ``L``. What the
    threshold key shares is ``a = s mod L``: since ``B`` has order ``L``,
    ``a·B = s·B = A``, so reducing changes nothing about the public key or about the
    signatures it verifies. ``a`` is never zero: ``s`` is a nonzero multiple of 8
    below ``2^255 < 8·L`` and ``L`` is an odd prime, so ``L`` does not divide ``s``.

    The seed cannot be recovered from ``a`` (SHA-512 is one-way), so an export returns
    the 32-byte little-endian scalar ``a``, never a seed.

    A Solana keypair file is the 64 bytes ``seed || A``.

secp256k1
    A private key is the 32-byte big-endian scalar ``k`` with ``1 <= k < n``
    (SEC 1 section 2.3.6, what Bitcoin and Ethereum tools print as hex).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final, Literal

from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.errors import InvalidEncoding, InvalidParameters, InvalidScalar

__all__ = [
    "ED25519_SEED_SIZE",
    "PRIVATE_KEY_SIZE",
    "SOLANA_KEYPAIR_SIZE",
    "ed25519_scalar_from_bytes",
    "ed25519_scalar_from_seed",
    "ed25519_scalar_from_solana_keypair",
    "public_key_from_scalar",
    "scalar_from_private_key_bytes",
    "scalar_to_private_key_bytes",
    "secp256k1_scalar_from_bytes",
]

ED25519_SEED_SIZE: Final = 32
SOLANA_KEYPAIR_SIZE: Final = 64
PRIVATE_KEY_SIZE: Final = 32
"""Size of an encoded private scalar on both curves."""


def _as_bytes(data: object, what: str, size: int) -> bytes:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidEncoding(f"{what} must be bytes")
    raw = bytes(data)
    if len(raw) != size:
        raise InvalidEncoding(f"{what} must be {size} bytes, got {len(raw)}")
    return raw


def _clamp(h: bytes) -> int:
    a = bytearray(h[:32])
    a[0] &= 0xF8
    a[31] &= 0x7F
    a[31] |= 0x40
    return int.from_bytes(a, "little")


def ed25519_scalar_from_seed(seed: bytes) -> int:
    """The signing scalar ``a = clamp(SHA-512(seed)[:32]) mod L`` of an RFC 8032 seed.

    ``a·B`` is the RFC 8032 public key of ``seed`` (the reduction mod ``L`` does not
    change it). Raises :class:`InvalidEncoding` unless ``seed`` is exactly 32 bytes.
    """
    raw = _as_bytes(seed, "Ed25519 seed", ED25519_SEED_SIZE)
    a = _clamp(hashlib.sha512(raw).digest()) % ED25519.order
    if a == 0:  # pragma: no cover - impossible: see the module docstring
        raise InvalidEncoding("Ed25519 seed gives a zero scalar")
    return a


def ed25519_scalar_from_solana_keypair(keypair: bytes) -> int:
    """The signing scalar of a 64-byte Solana keypair ``seed || public key``.

    Raises :class:`InvalidEncoding` for a wrong length or when the public half is not
    the public key of the seed half.
    """
    raw = _as_bytes(keypair, "Solana keypair", SOLANA_KEYPAIR_SIZE)
    a = ed25519_scalar_from_seed(raw[:32])
    if not hmac.compare_digest(ED25519.mul_base(a).encode(), raw[32:]):
        raise InvalidEncoding("Solana keypair: the public key does not match the seed")
    return a


def ed25519_scalar_from_bytes(raw: bytes) -> int:
    """A raw Ed25519 scalar: 32 bytes little-endian, canonical, in ``[1, L)``.

    Raises :class:`InvalidEncoding` for a wrong length and :class:`InvalidScalar` (a
    subclass) for zero or a value ``>= L``.
    """
    data = _as_bytes(raw, "Ed25519 private scalar", PRIVATE_KEY_SIZE)
    k = int.from_bytes(data, "little")
    if not (0 < k < ED25519.order):
        raise InvalidScalar("Ed25519 private scalar must be in [1, L) (canonical, nonzero)")
    return k


def secp256k1_scalar_from_bytes(raw: bytes) -> int:
    """A secp256k1 private key: 32 bytes big-endian in ``[1, n)``.

    Raises :class:`InvalidEncoding` for a wrong length and :class:`InvalidScalar` (a
    subclass) for zero or a value ``>= n``.
    """
    data = _as_bytes(raw, "secp256k1 private key", PRIVATE_KEY_SIZE)
    k = int.from_bytes(data, "big")
    if not (0 < k < SECP256K1.order):
        raise InvalidScalar("secp256k1 private key must be in [1, n)")
    return k


def scalar_from_private_key_bytes(curve: str, raw: bytes) -> int:
    """Inverse of :func:`scalar_to_private_key_bytes` (Ed25519: raw scalar, not a seed)."""
    if curve == "ed25519":
        return ed25519_scalar_from_bytes(raw)
    if curve == "secp256k1":
        return secp256k1_scalar_from_bytes(raw)
    raise InvalidParameters(f"unknown curve {curve!r}")


def scalar_to_private_key_bytes(curve: str, k: int) -> bytes:
    """Encode a private scalar: Ed25519 32-byte little-endian, secp256k1 32-byte big-endian.

    Raises :class:`InvalidParameters` for an unknown curve and :class:`InvalidScalar`
    unless ``1 <= k < order``.
    """
    byteorder: Literal["little", "big"]
    if curve == "ed25519":
        order, byteorder = ED25519.order, "little"
    elif curve == "secp256k1":
        order, byteorder = SECP256K1.order, "big"
    else:
        raise InvalidParameters(f"unknown curve {curve!r}")
    if isinstance(k, bool) or not isinstance(k, int) or not (0 < k < order):
        raise InvalidScalar(f"{curve} private scalar must be an int in [1, order)")
    return k.to_bytes(PRIVATE_KEY_SIZE, byteorder)


def public_key_from_scalar(curve: str, k: int) -> bytes:
    """The encoded public key ``k·G``: 32-byte Ed25519 or 33-byte compressed SEC1."""
    scalar_to_private_key_bytes(curve, k)  # validates curve and range
    group = ED25519 if curve == "ed25519" else SECP256K1
    return group.mul_base(k).encode()
