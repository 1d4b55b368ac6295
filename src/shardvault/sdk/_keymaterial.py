"""Private key bytes <-> signing scalars, client side only."""

from __future__ import annotations

from typing import Literal

from shardvault.crypto import keyformats
from shardvault.sdk.errors import InvalidArgument

__all__ = ["CURVES", "Ed25519Format", "private_key_to_scalar", "scalar_to_private_key"]

Ed25519Format = Literal["seed", "solana", "scalar"]
CURVES = ("ed25519", "secp256k1")
_ED25519_FORMATS = ("seed", "solana", "scalar")


def private_key_to_scalar(
    private_key: bytes, *, curve: str, ed25519_format: str | None = None
) -> int:
    """The signing scalar of ``private_key``.

    * secp256k1: the 32-byte big-endian private key.
    * ed25519: ``"seed"`` (32-byte RFC 8032 seed; the default for 32 bytes),
      ``"solana"`` (64-byte seed || public key, checked; the default for 64 bytes) or
      ``"scalar"`` (32-byte little-endian signing scalar, only when asked for).
    """
    n = len(private_key)
    if curve == "secp256k1":
        if ed25519_format is not None:
            raise InvalidArgument("ed25519_format applies to ed25519 keys only")
        if n != 32:
            raise InvalidArgument(f"a secp256k1 private key is 32 bytes, got {n}")
        return keyformats.secp256k1_scalar_from_bytes(private_key)
    if curve != "ed25519":
        raise InvalidArgument(f"unknown curve {curve!r} (expected one of {', '.join(CURVES)})")
    fmt = ed25519_format
    if fmt is None:
        if n == 64:
            fmt = "solana"
        elif n == 32:
            fmt = "seed"
        else:
            raise InvalidArgument(
                f"an ed25519 private key is a 32-byte seed or a 64-byte Solana keypair, got {n}"
            )
    if fmt not in _ED25519_FORMATS:
        raise InvalidArgument(
            f"unknown ed25519_format {fmt!r} (expected one of {', '.join(_ED25519_FORMATS)})"
        )
    expected = 64 if fmt == "solana" else 32
    if n != expected:
        raise InvalidArgument(f"an ed25519 {fmt} is {expected} bytes, got {n}")
    if fmt == "seed":
        return keyformats.ed25519_scalar_from_seed(private_key)
    if fmt == "solana":
        return keyformats.ed25519_scalar_from_solana_keypair(private_key)
    return keyformats.ed25519_scalar_from_bytes(private_key)


def scalar_to_private_key(curve: str, k: int) -> bytes:
    """secp256k1: 32-byte big-endian private key; ed25519: 32-byte little-endian scalar."""
    return keyformats.scalar_to_private_key_bytes(curve, k)
