"""RFC 9180 HPKE, base mode, single-shot seal/open for exactly one cipher suite.

Suite: DHKEM(X25519, HKDF-SHA256) (kem 0x0020), HKDF-SHA256 (kdf 0x0001),
ChaCha20-Poly1305 (aead 0x0003) -- RFC 9180 Appendix A.2.

Why this suite:

* X25519 and ChaCha20-Poly1305 are constant-time in plain software (no table
  lookups indexed by secrets, no reliance on AES-NI being present), so every
  signer host gets the same side-channel posture.
* Keys are 32 bytes with no point-format choices: the encapsulated key ``enc``
  and a public key are both 32 raw bytes, any 32-byte string is a private key.
* The signer's HPKE key type is X25519, so this is the only suite it needs.

All of the HPKE work (DHKEM, key schedule, AEAD) is done by the maintained
``pyhpke`` library; this module only fixes the suite, validates inputs, frames
the output as ``enc || ciphertext`` and turns every library failure into a
:mod:`shardvault.errors` type. Only the first message of a context (sequence
number 0) is ever produced, which is what "single-shot" means in RFC 9180
section 6.

Python cannot wipe memory: a private key held by :class:`HpkeKeyPair` lives as
long as the garbage collector keeps the underlying objects.
"""

from __future__ import annotations

import struct
from typing import Final

from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKeyPair, PyHPKEError

from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.errors import DecryptionError, InvalidEncoding, InvalidParameters

__all__ = [
    "ENC_SIZE",
    "PUBLIC_KEY_SIZE",
    "SUITE_ID",
    "HpkeKeyPair",
    "open_sealed",
    "seal",
    "seal_with_ephemeral",
    "validate_public_key",
]

_KEM_ID: Final = KEMId.DHKEM_X25519_HKDF_SHA256
_KDF_ID: Final = KDFId.HKDF_SHA256
_AEAD_ID: Final = AEADId.CHACHA20_POLY1305

SUITE_ID: Final[bytes] = b"HPKE" + struct.pack(">HHH", _KEM_ID.value, _KDF_ID.value, _AEAD_ID.value)
"""RFC 9180 ``suite_id`` (``"HPKE" || I2OSP(kem_id, 2) || I2OSP(kdf_id, 2) || I2OSP(aead_id, 2)``).

pyhpke binds it into the key schedule itself; it is exported so callers can
name the suite in documentation or bind it into their own AAD."""

PUBLIC_KEY_SIZE: Final = 32
"""Npk for DHKEM(X25519, HKDF-SHA256)."""

ENC_SIZE: Final = 32
"""Nenc for DHKEM(X25519, HKDF-SHA256): the encapsulated key that prefixes every sealed box."""

_PRIVATE_KEY_SIZE: Final = 32  # Nsk
_TAG_SIZE: Final = 16  # Nt for ChaCha20-Poly1305

# p = 2^255 - 19. A canonical X25519 public key is the little-endian encoding of u < p,
# which also means bit 255 is clear.
_FIELD_PRIME: Final = 2**255 - 19

# A fixed, public X25519 scalar used only to test public keys for small order. After
# RFC 7748 clamping every scalar is 8*k' with 2^251 <= k' < 2^252, smaller than the
# large prime factor of both the curve order (8*l) and the twist order (4*l'), so the
# X25519 output is all-zero exactly when the point's order divides 8 -- whatever the
# scalar. That all-zero output is the condition RFC 9180 section 7.1.4 makes senders
# and recipients abort on; OpenSSL (via cryptography) reports it as ValueError.
_SMALL_ORDER_PROBE: Final = X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))

_SUITE: Final = CipherSuite.new(_KEM_ID, _KDF_ID, _AEAD_ID)


class HpkeKeyPair:
    """An X25519 HPKE key pair (recipient key, or an ephemeral key for test vectors).

    ``repr`` shows only the public key.
    """

    __slots__ = ("_key_pair", "_public_key")

    def __init__(self, key_pair: KEMKeyPair) -> None:
        """Internal: use :meth:`generate` or :meth:`from_private_bytes`."""
        self._key_pair = key_pair
        self._public_key = bytes(key_pair.public_key.to_public_bytes())

    @classmethod
    def generate(cls, rng: Rng = OS_RNG) -> HpkeKeyPair:
        """A fresh key pair: RFC 9180 ``DeriveKeyPair(ikm)`` on 32 bytes from ``rng``
        (default the OS CSPRNG).

        RFC 9180 section 7.1.3 allows ``GenerateKeyPair()`` to be implemented this way.
        """
        return cls(_SUITE.kem.derive_key_pair(rng.token_bytes(_PRIVATE_KEY_SIZE)))

    @classmethod
    def from_private_bytes(cls, sk: bytes) -> HpkeKeyPair:
        """Load a raw 32-byte X25519 private key (any 32 bytes are valid; X25519 clamps).

        Raises :class:`InvalidEncoding` if ``sk`` is not exactly 32 bytes.
        """
        sk = bytes(sk)
        if len(sk) != _PRIVATE_KEY_SIZE:
            raise InvalidEncoding(
                f"HPKE private key must be {_PRIVATE_KEY_SIZE} bytes, got {len(sk)}"
            )
        try:
            private_key = _SUITE.kem.deserialize_private_key(sk)
            public_raw = bytes(private_key.raw.public_key().public_bytes_raw())
            public_key = _SUITE.kem.deserialize_public_key(public_raw)
        except (PyHPKEError, ValueError):
            raise InvalidEncoding("HPKE private key could not be loaded") from None
        return cls(KEMKeyPair(private_key, public_key))

    def private_bytes(self) -> bytes:
        """The raw 32-byte X25519 private key. Handle with care."""
        return bytes(self._key_pair.private_key.to_private_bytes())

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte X25519 public key (``pkRm`` / ``pkEm`` in RFC 9180 terms)."""
        return self._public_key

    def __repr__(self) -> str:
        return f"HpkeKeyPair(public_key={self._public_key.hex()})"


def validate_public_key(pk: bytes) -> bytes:
    """Check an X25519 public key and return it as ``bytes``.

    Rejects, with :class:`InvalidEncoding`:

    * a length other than 32;
    * a non-canonical encoding (u >= 2^255 - 19, which includes bit 255 set), so one
      public key has exactly one byte string;
    * a point of small order (all-zero, u = 1, the order-8 points, ...): X25519 with
      such a point gives the all-zero shared secret RFC 9180 forbids.
    """
    pk = bytes(pk)
    if len(pk) != PUBLIC_KEY_SIZE:
        raise InvalidEncoding(f"HPKE public key must be {PUBLIC_KEY_SIZE} bytes, got {len(pk)}")
    if int.from_bytes(pk, "little") >= _FIELD_PRIME:
        raise InvalidEncoding("HPKE public key is not a canonical X25519 encoding")
    try:
        _SMALL_ORDER_PROBE.exchange(X25519PublicKey.from_public_bytes(pk))
    except ValueError:
        raise InvalidEncoding("HPKE public key is a small-order X25519 point") from None
    return pk


def _seal(
    recipient_public_key: bytes,
    plaintext: bytes,
    info: bytes,
    aad: bytes,
    ephemeral: KEMKeyPair | None,
) -> bytes:
    pkr = _SUITE.kem.deserialize_public_key(validate_public_key(recipient_public_key))
    try:
        enc, context = _SUITE.create_sender_context(pkr, bytes(info), eks=ephemeral)
        ciphertext = context.seal(bytes(plaintext), bytes(aad))
    except (PyHPKEError, ValueError):
        # The key was validated above, so what is left is the AEAD refusing its input
        # (cryptography limits plaintext and aad to 2^31 - 1 bytes each).
        raise InvalidParameters("HPKE seal failed (plaintext or aad too long?)") from None
    return bytes(enc) + bytes(ciphertext)


def seal(recipient_public_key: bytes, plaintext: bytes, *, info: bytes, aad: bytes) -> bytes:
    """HPKE base-mode single-shot encryption: ``SealBase(pkR, info, aad, pt)``.

    Returns ``enc || ciphertext`` (32 + len(plaintext) + 16 bytes). A fresh ephemeral
    key is drawn for every call by the library (``X25519PrivateKey.generate()``, OpenSSL's
    CSPRNG); :func:`seal_with_ephemeral` takes one instead. Raises
    :class:`InvalidEncoding` for a bad recipient key.
    """
    return _seal(recipient_public_key, plaintext, info, aad, None)


def seal_with_ephemeral(
    recipient_public_key: bytes,
    plaintext: bytes,
    *,
    info: bytes,
    aad: bytes,
    ephemeral: HpkeKeyPair,
) -> bytes:
    """:func:`seal` with a caller-chosen ephemeral key: for test vectors, and for
    protocols that draw every random value from the ``rng`` they are given (the
    refresh's round-3 dealings draw a fresh ``HpkeKeyPair.generate(rng)`` per box).

    The key must be fresh for every call: reusing an ephemeral key for two messages to
    the same recipient and ``info`` reuses the AEAD key and nonce, which destroys
    ChaCha20-Poly1305's security.
    """
    return _seal(recipient_public_key, plaintext, info, aad, ephemeral._key_pair)


def open_sealed(key_pair: HpkeKeyPair, sealed: bytes, *, info: bytes, aad: bytes) -> bytes:
    """HPKE base-mode single-shot decryption of ``enc || ciphertext``: ``OpenBase``.

    Raises :class:`DecryptionError` -- and only that -- on any failure: input too short,
    small-order ``enc``, wrong key, wrong ``info`` or ``aad``, or tampered bytes. The
    error does not say which, so it cannot serve as an oracle.
    """
    sealed = bytes(sealed)
    if len(sealed) < ENC_SIZE + _TAG_SIZE:
        raise DecryptionError("HPKE sealed box could not be opened")
    enc, ciphertext = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
    try:
        context = _SUITE.create_recipient_context(enc, key_pair._key_pair.private_key, bytes(info))
        plaintext = context.open(ciphertext, bytes(aad))
    except (PyHPKEError, ValueError):
        raise DecryptionError("HPKE sealed box could not be opened") from None
    return bytes(plaintext)
