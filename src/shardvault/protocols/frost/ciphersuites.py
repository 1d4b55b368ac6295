"""FROST ciphersuites (RFC 9591 section 6) and the BIP 340 (Taproot) variant.

* ``FROST_ED25519`` -- FROST(Ed25519, SHA-512), contextString "FROST-ED25519-SHA512-v1";
  signatures are RFC 8032 Ed25519 signatures.
* ``FROST_SECP256K1`` -- FROST(secp256k1, SHA-256), contextString
  "FROST-secp256k1-SHA256-v1"; hash_to_field per RFC 9380.
* ``FROST_SECP256K1_TR`` -- the BIP 340 variant: same group and H1/H3/H4/H5 with
  contextString "FROST-secp256k1-SHA256-TR-v1", the challenge is BIP 340's
  tagged hash over x-only R and x-only group key, the group key and the group
  commitment are normalised to even y, and signatures are 64-byte BIP 340
  signatures ``x(R) || z``.
"""

from __future__ import annotations

import hashlib
from typing import Final

from nacl import bindings as sodium

from shardvault.crypto import bip340
from shardvault.crypto.groups import ED25519, SECP256K1, Group, Point, Secp256k1Group
from shardvault.crypto.hashing import expand_message_xmd_sha256, tagged_hash
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "FROST_ED25519",
    "FROST_SECP256K1",
    "FROST_SECP256K1_TR",
    "Bip340Ciphersuite",
    "Ciphersuite",
    "Ed25519Ciphersuite",
    "Secp256k1Ciphersuite",
    "ciphersuite_by_name",
]


class Ciphersuite:
    """Hash functions and encodings of one FROST ciphersuite."""

    name: str
    context: bytes
    group: Group
    #: True for the BIP 340 variant (even-y key and nonce handling).
    bip340: bool = False
    signature_size: int

    # H1..H5 (RFC 9591 section 6) ---------------------------------------
    def h1(self, m: bytes) -> int:
        raise NotImplementedError

    def h2(self, m: bytes) -> int:
        raise NotImplementedError

    def h3(self, m: bytes) -> int:
        raise NotImplementedError

    def h4(self, m: bytes) -> bytes:
        raise NotImplementedError

    def h5(self, m: bytes) -> bytes:
        raise NotImplementedError

    def hdkg(self, m: bytes) -> int:
        """Challenge hash for the DKG proof of knowledge (domain "dkg")."""
        raise NotImplementedError

    # Challenge and signatures --------------------------------------------
    def challenge(self, group_commitment: Point, group_public_key: Point, msg: bytes) -> int:
        """RFC 9591 section 4.6 ``compute_challenge``."""
        return self.h2(group_commitment.encode() + group_public_key.encode() + msg)

    def encode_signature(self, group_commitment: Point, z: int) -> bytes:
        return group_commitment.encode() + self.group.encode_scalar(z)

    def decode_signature(self, sig: bytes) -> tuple[Point, int]:
        if len(sig) != self.signature_size:
            raise InvalidEncoding(
                f"{self.name}: signature must be {self.signature_size} bytes, got {len(sig)}"
            )
        n = self.group.element_size
        return self.group.decode_point(sig[:n]), self.group.decode_scalar(sig[n:])

    def verify(self, group_public_key: Point, msg: bytes, sig: bytes) -> bool:
        """RFC 9591 Appendix B verification (prime-order group: no cofactor)."""
        try:
            r, z = self.decode_signature(sig)
        except InvalidEncoding:
            return False
        c = self.challenge(r, group_public_key, msg)
        return self.group.mul_base(z) == r + group_public_key * c

    def __repr__(self) -> str:
        return f"<Ciphersuite {self.name}>"


def _sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


class Ed25519Ciphersuite(Ciphersuite):
    """RFC 9591 section 6.1, FROST(Ed25519, SHA-512)."""

    name = "FROST-ED25519-SHA512-v1"
    context = b"FROST-ED25519-SHA512-v1"
    group = ED25519
    signature_size = 64

    def _to_scalar(self, digest: bytes) -> int:
        # The 64-byte digest mod L, by libsodium (crypto_core_ed25519_scalar_reduce,
        # constant-time: H3's output is a secret nonce).
        return self.group.scalars.reduce_wide(digest)

    def h1(self, m: bytes) -> int:
        return self._to_scalar(_sha512(self.context + b"rho" + m))

    def h2(self, m: bytes) -> int:
        return self._to_scalar(_sha512(m))

    def h3(self, m: bytes) -> int:
        return self._to_scalar(_sha512(self.context + b"nonce" + m))

    def h4(self, m: bytes) -> bytes:
        return _sha512(self.context + b"msg" + m)

    def h5(self, m: bytes) -> bytes:
        return _sha512(self.context + b"com" + m)

    def hdkg(self, m: bytes) -> int:
        return self._to_scalar(_sha512(self.context + b"dkg" + m))

    def verify(self, group_public_key: Point, msg: bytes, sig: bytes) -> bool:
        """Verification by libsodium (RFC 8032, as PyNaCl does)."""
        if len(sig) != 64:
            return False
        try:
            sodium.crypto_sign_open(sig + msg, group_public_key.encode())
        except Exception:  # nacl.exceptions.BadSignatureError and friends
            return False
        return True


#: RFC 9380 hash_to_field's L for secp256k1: ceil((256 + 128) / 8).
HASH_TO_FIELD_BYTES: Final = 48


class Secp256k1Ciphersuite(Ciphersuite):
    """RFC 9591 section 6.5, FROST(secp256k1, SHA-256)."""

    name = "FROST-secp256k1-SHA256-v1"
    context = b"FROST-secp256k1-SHA256-v1"
    group: Secp256k1Group = SECP256K1
    signature_size = 65

    def _h2f(self, m: bytes, tag: bytes) -> int:
        """RFC 9380 hash_to_field (48 bytes of expand_message_xmd, mod n), reduced by
        libsecp256k1 (constant-time: H3's output is a secret nonce)."""
        return self.group.scalars.reduce_wide(
            expand_message_xmd_sha256(m, self.context + tag, HASH_TO_FIELD_BYTES)
        )

    def h1(self, m: bytes) -> int:
        return self._h2f(m, b"rho")

    def h2(self, m: bytes) -> int:
        return self._h2f(m, b"chal")

    def h3(self, m: bytes) -> int:
        return self._h2f(m, b"nonce")

    def h4(self, m: bytes) -> bytes:
        return hashlib.sha256(self.context + b"msg" + m).digest()

    def h5(self, m: bytes) -> bytes:
        return hashlib.sha256(self.context + b"com" + m).digest()

    def hdkg(self, m: bytes) -> int:
        return self._h2f(m, b"dkg")


class Bip340Ciphersuite(Secp256k1Ciphersuite):
    """The BIP 340 variant of FROST(secp256k1, SHA-256) (not in RFC 9591): its own
    context string, BIP 340's challenge and 64-byte signatures (module docstring)."""

    name = "FROST-secp256k1-SHA256-TR-v1"
    context = b"FROST-secp256k1-SHA256-TR-v1"
    bip340 = True
    signature_size = 64

    def challenge(self, group_commitment: Point, group_public_key: Point, msg: bytes) -> int:
        g = self.group
        e = tagged_hash(
            "BIP0340/challenge", g.xonly(group_commitment) + g.xonly(group_public_key) + msg
        )
        return int.from_bytes(e, "big") % g.order

    def encode_signature(self, group_commitment: Point, z: int) -> bytes:
        return self.group.xonly(group_commitment) + self.group.encode_scalar(z)

    def decode_signature(self, sig: bytes) -> tuple[Point, int]:
        if len(sig) != 64:
            raise InvalidEncoding(f"BIP 340 signature must be 64 bytes, got {len(sig)}")
        return self.group.lift_x(sig[:32]), self.group.decode_scalar(sig[32:])

    def verify(self, group_public_key: Point, msg: bytes, sig: bytes) -> bool:
        return bip340.verify(self.group.xonly(group_public_key), msg, sig)


FROST_ED25519: Final = Ed25519Ciphersuite()
FROST_SECP256K1: Final = Secp256k1Ciphersuite()
FROST_SECP256K1_TR: Final = Bip340Ciphersuite()

_SUITES: Final[dict[str, Ciphersuite]] = {
    s.name: s for s in (FROST_ED25519, FROST_SECP256K1, FROST_SECP256K1_TR)
}


def ciphersuite_by_name(name: str) -> Ciphersuite:
    try:
        return _SUITES[name]
    except KeyError:
        raise InvalidParameters(f"unknown FROST ciphersuite {name!r}") from None


#: REST protocol name -> (curve, ciphersuite). "FROST_BITCOIN" is the BIP 340 variant.
SUITES_BY_PROTOCOL: Final[dict[str, tuple[str, Ciphersuite]]] = {
    "FROST": ("ed25519", FROST_ED25519),
    "FROST_BITCOIN": ("secp256k1", FROST_SECP256K1_TR),
}


def suite_for(protocol: str, curve: str) -> Ciphersuite:
    """The ciphersuite of a (protocol, curve) pair as the REST API names them."""
    entry = SUITES_BY_PROTOCOL.get(protocol)
    if entry is None or entry[0] != curve:
        raise InvalidParameters(f"unsupported protocol/curve {protocol}/{curve}")
    return entry[1]
