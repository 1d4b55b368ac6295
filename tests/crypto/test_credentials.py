"""Credential keys: parsing and signature verification for each accepted kind."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa, x25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from shardvault.crypto.credentials import CredentialError, parse_public_key, verify_signature

MESSAGE = b'{"type":"key.get","challenge":"abc"}'

Signer = Callable[[bytes], bytes]


def _pem(private: object) -> str:
    public = private.public_key()  # type: ignore[attr-defined]
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _raw_ecdsa(key: ec.EllipticCurvePrivateKey) -> Signer:
    def sign(msg: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def _cases() -> list[tuple[str, str, Signer]]:
    ed = ed25519.Ed25519PrivateKey.generate()
    p256 = ec.generate_private_key(ec.SECP256R1())
    k1 = ec.generate_private_key(ec.SECP256K1())
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        ("Ed25519", _pem(ed), ed.sign),
        ("ECDSA-P256-SHA256", _pem(p256), lambda m: p256.sign(m, ec.ECDSA(hashes.SHA256()))),
        ("ECDSA-P256-SHA256", _pem(p256), _raw_ecdsa(p256)),
        ("ECDSA-secp256k1-SHA256", _pem(k1), lambda m: k1.sign(m, ec.ECDSA(hashes.SHA256()))),
        ("ECDSA-secp256k1-SHA256", _pem(k1), _raw_ecdsa(k1)),
        (
            "RSA-PKCS1v15-SHA256",
            _pem(rs),
            lambda m: rs.sign(m, padding.PKCS1v15(), hashes.SHA256()),
        ),
    ]


CASES = _cases()
IDS = ["ed25519", "p256-der", "p256-raw", "k1-der", "k1-raw", "rsa"]


@pytest.mark.parametrize(("algorithm", "pem", "sign"), CASES, ids=IDS)
def test_signature_verifies(algorithm: str, pem: str, sign: Signer) -> None:
    key = parse_public_key(pem)
    assert key.algorithm == algorithm
    key.verify(sign(MESSAGE), MESSAGE)
    verify_signature(parse_public_key(pem.encode()), sign(MESSAGE), MESSAGE)


@pytest.mark.parametrize(("algorithm", "pem", "sign"), CASES, ids=IDS)
def test_tampered_message_or_signature_is_refused(algorithm: str, pem: str, sign: Signer) -> None:
    key = parse_public_key(pem)
    sig = sign(MESSAGE)
    with pytest.raises(CredentialError) as info:
        key.verify(sig, MESSAGE + b" ")
    assert info.value.code == "InvalidSignature"
    flipped = bytes([sig[0], sig[1], sig[2] ^ 1]) + sig[3:]
    with pytest.raises(CredentialError) as info:
        key.verify(flipped, MESSAGE)
    assert info.value.code == "InvalidSignature"
    for junk in (b"", b"\x00" * 64, sig[:-1]):
        with pytest.raises(CredentialError):
            key.verify(junk, MESSAGE)


@pytest.mark.parametrize(("algorithm", "pem", "sign"), CASES, ids=IDS)
def test_signature_of_another_key_is_refused(algorithm: str, pem: str, sign: Signer) -> None:
    other_sign = next(s for _a, p, s in CASES if p != pem)
    with pytest.raises(CredentialError) as info:
        parse_public_key(pem).verify(other_sign(MESSAGE), MESSAGE)
    assert info.value.code == "InvalidSignature"


def test_pem_is_canonicalised() -> None:
    ed = ed25519.Ed25519PrivateKey.generate()
    pem = _pem(ed)
    sloppy = "\n\n" + pem.replace("\n", "\r\n") + "\n"
    assert parse_public_key(sloppy).pem == pem


@pytest.mark.parametrize(
    "private",
    [
        ed448.Ed448PrivateKey.generate(),
        ec.generate_private_key(ec.SECP384R1()),
        x25519.X25519PrivateKey.generate(),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
    ],
    ids=["ed448", "p384", "x25519", "rsa1024"],
)
def test_wrong_key_types_are_refused(private: object) -> None:
    with pytest.raises(CredentialError) as info:
        parse_public_key(_pem(private))
    assert info.value.code == "UnsupportedKeyType"


@pytest.mark.parametrize(
    "text",
    ["", "not a pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "A" * 9000],
)
def test_malformed_pem_is_refused(text: str) -> None:
    with pytest.raises(CredentialError) as info:
        parse_public_key(text)
    assert info.value.code == "InvalidPublicKey"


def test_private_key_pem_is_not_a_public_key() -> None:
    ed = ed25519.Ed25519PrivateKey.generate()
    private_pem = ed.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(CredentialError) as info:
        parse_public_key(private_pem)
    assert info.value.code == "InvalidPublicKey"
