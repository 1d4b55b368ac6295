"""Credential public keys and their signatures (Dfns "Key" credentials).

A credential is a public key registered to a user or service account; its owner
signs user-action challenges with the private key. Accepted keys (PEM,
SubjectPublicKeyInfo) and signatures:

* Ed25519: the 64-byte signature over the message itself;
* ECDSA on P-256 or secp256k1 over SHA-256: the signature DER-encoded (what
  ``cryptography``, OpenSSL and Node's ``crypto.sign`` write) or raw ``r || s``
  (64 bytes, IEEE P1363, what WebCrypto writes);
* RSA (2048 bits or more) PKCS#1 v1.5 over SHA-256.

Pure functions, no I/O. Every failure is a :class:`CredentialError` with a stable
``code``: ``InvalidPublicKey``, ``UnsupportedKeyType`` (a key of another kind or
curve) or ``InvalidSignature``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from shardvault.errors import ShardvaultError

__all__ = [
    "ALGORITHMS",
    "MAX_PEM_BYTES",
    "MIN_RSA_BITS",
    "Algorithm",
    "CredentialError",
    "CredentialKey",
    "parse_public_key",
    "verify_signature",
]

Algorithm = Literal["Ed25519", "ECDSA-P256-SHA256", "ECDSA-secp256k1-SHA256", "RSA-PKCS1v15-SHA256"]
ALGORITHMS: tuple[Algorithm, ...] = (
    "Ed25519",
    "ECDSA-P256-SHA256",
    "ECDSA-secp256k1-SHA256",
    "RSA-PKCS1v15-SHA256",
)
#: A PEM longer than this is refused before parsing (an RSA-8192 SPKI is ~1.5 kB).
MAX_PEM_BYTES = 8192
MIN_RSA_BITS = 2048
_MAX_RSA_BITS = 8192
_EC_CURVES: dict[str, tuple[Algorithm, int]] = {
    "secp256r1": ("ECDSA-P256-SHA256", 32),
    "secp256k1": ("ECDSA-secp256k1-SHA256", 32),
}


class CredentialError(ShardvaultError):
    """A credential key or signature that is not acceptable; ``code`` says why."""

    code = "InvalidCredential"


PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class CredentialKey:
    """A parsed credential public key: its algorithm and its canonical PEM (SPKI)."""

    algorithm: Algorithm
    key: PublicKey
    pem: str

    def verify(self, signature: bytes, message: bytes) -> None:
        """Raises :class:`CredentialError` ``InvalidSignature`` unless ``signature``
        is this key's signature of ``message``."""
        verify_signature(self, signature, message)


def parse_public_key(pem: str | bytes) -> CredentialKey:
    """Parse a PEM SubjectPublicKeyInfo of an accepted kind (see the module doc)."""
    raw = pem.encode("utf-8") if isinstance(pem, str) else bytes(pem)
    if len(raw) > MAX_PEM_BYTES:
        raise CredentialError("public key PEM is too long", code="InvalidPublicKey")
    try:
        key = serialization.load_pem_public_key(raw)
    except UnsupportedAlgorithm:
        raise CredentialError("unsupported public key type", code="UnsupportedKeyType") from None
    except (ValueError, TypeError):
        raise CredentialError(
            "not a PEM-encoded public key (SubjectPublicKeyInfo)", code="InvalidPublicKey"
        ) from None
    algorithm: Algorithm
    if isinstance(key, ed25519.Ed25519PublicKey):
        algorithm = "Ed25519"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        curve = _EC_CURVES.get(key.curve.name)
        if curve is None:
            raise CredentialError(
                f"unsupported elliptic curve {key.curve.name}", code="UnsupportedKeyType"
            )
        algorithm = curve[0]
    elif isinstance(key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= key.key_size <= _MAX_RSA_BITS:
            raise CredentialError(
                f"RSA keys must have {MIN_RSA_BITS} to {_MAX_RSA_BITS} bits",
                code="UnsupportedKeyType",
            )
        algorithm = "RSA-PKCS1v15-SHA256"
    else:
        raise CredentialError("unsupported public key type", code="UnsupportedKeyType")
    canonical = key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    return CredentialKey(algorithm, key, canonical)


def _bad_signature() -> CredentialError:
    return CredentialError("the signature does not verify", code="InvalidSignature")


def _ecdsa_der(signature: bytes, size: int) -> bytes:
    """DER as given, or the DER of a raw ``r || s`` of 2 * ``size`` bytes."""
    if len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        return encode_dss_signature(r, s)
    return signature


def verify_signature(credential: CredentialKey, signature: bytes, message: bytes) -> None:
    """Raises :class:`CredentialError` ``InvalidSignature`` unless ``signature`` by
    ``credential`` verifies over ``message``."""
    key = credential.key
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            if len(signature) != 64:
                raise _bad_signature()
            key.verify(signature, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            _alg, size = _EC_CURVES[key.curve.name]
            key.verify(_ecdsa_der(signature, size), message, ec.ECDSA(hashes.SHA256()))
        else:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (_CryptoInvalidSignature, ValueError):
        raise _bad_signature() from None
