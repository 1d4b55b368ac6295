"""Project Wycheproof Ed25519 verification vectors against our own Ed25519 verifier:
decoding the public key with ``ED25519.decode_point`` and verifying with the
FROST(Ed25519, SHA-512) ciphersuite (RFC 9591 signatures are RFC 8032 signatures).

Data: ``tests/vectors/wycheproof-ed25519_test.json`` (C2SP/wycheproof
``testvectors_v1/ed25519_test.json``, verbatim). Its results are only "valid" and
"invalid" (no "acceptable"); flags name what a case probes (see the file's ``notes``).
Every case is also checked with PyNaCl (libsodium's ``crypto_sign_open``) and with the
generic RFC 9591 Appendix B verifier (strict ``decode_point``/``decode_scalar`` of R
and S, then the cofactorless equation), so a disagreement between Wycheproof, PyNaCl
and us fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing
import pytest

from shardvault.crypto.groups import ED25519, Point
from shardvault.errors import InvalidEncoding, InvalidPoint, InvalidScalar
from shardvault.protocols.frost.ciphersuites import FROST_ED25519, Ciphersuite

VECTORS_FILE = Path(__file__).resolve().parent.parent / "vectors" / "wycheproof-ed25519_test.json"
DATA: dict[str, Any] = json.loads(VECTORS_FILE.read_text())
CASES: list[tuple[str, dict[str, Any]]] = [
    (group["publicKey"]["pk"], test) for group in DATA["testGroups"] for test in group["tests"]
]
IDS = [f"tc{test['tcId']}" for _, test in CASES]

#: Invalid 64-byte signatures whose R and S both decode (R a canonical prime-order
#: point, S < L): bit 2, 31, 248 of R modified (another valid point; S recomputed so
#: the hash matches) and bit 255 flipped (-R). Only the verification equation fails.
EQUATION_ONLY_FAILURES = {44, 48, 56, 59}


def _decode_public_key(pk_hex: str) -> Point:
    return ED25519.decode_point(bytes.fromhex(pk_hex))


def _ours(pk_hex: str, msg: bytes, sig: bytes) -> bool:
    """Our verdict; a typed decode error of the public key counts as a rejection."""
    try:
        key = _decode_public_key(pk_hex)
    except InvalidEncoding:
        return False
    return FROST_ED25519.verify(key, msg, sig)


def _pynacl(pk_hex: str, msg: bytes, sig: bytes) -> bool:
    try:
        nacl.signing.VerifyKey(bytes.fromhex(pk_hex)).verify(msg, sig)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True


def test_vector_file_contents() -> None:
    assert DATA["algorithm"] == "EDDSA"
    assert DATA["schema"] == "eddsa_verify_schema_v1.json"
    assert DATA["numberOfTests"] == len(CASES) == 151
    assert len({t["tcId"] for _, t in CASES}) == len(CASES)
    for group in DATA["testGroups"]:
        assert group["type"] == "EddsaVerify"
        assert group["publicKey"]["curve"] == "edwards25519"
        assert len(bytes.fromhex(group["publicKey"]["pk"])) == 32
    results = [t["result"] for _, t in CASES]
    assert results.count("valid") == 88
    assert results.count("invalid") == 63
    assert "acceptable" not in results
    assert {f for _, t in CASES for f in t["flags"]} <= set(DATA["notes"])


def test_every_public_key_decodes() -> None:
    """No group uses a small-order, mixed-order or non-canonical key, so every case
    exercises the signature checks rather than stopping at the key."""
    for group in DATA["testGroups"]:
        _decode_public_key(group["publicKey"]["pk"])


@pytest.mark.parametrize(("pk_hex", "case"), CASES, ids=IDS)
def test_verify_matches_wycheproof(pk_hex: str, case: dict[str, Any]) -> None:
    msg = bytes.fromhex(case["msg"])
    sig = bytes.fromhex(case["sig"])
    expected = case["result"] == "valid"
    # Only a typed decode error may escape key decoding; anything else fails the test.
    assert _ours(pk_hex, msg, sig) is expected
    assert _pynacl(pk_hex, msg, sig) is expected
    # The generic RFC 9591 verifier (strict decoding of R and S) agrees.
    assert Ciphersuite.verify(FROST_ED25519, _decode_public_key(pk_hex), msg, sig) is expected


@pytest.mark.parametrize(
    ("pk_hex", "case"),
    [(pk, t) for pk, t in CASES if t["result"] == "invalid"],
    ids=[i for i, (_, t) in zip(IDS, CASES, strict=True) if t["result"] == "invalid"],
)
def test_invalid_signature_is_rejected_for_the_expected_reason(
    pk_hex: str, case: dict[str, Any]
) -> None:
    """Wrong length, or R not a canonical prime-order point (small order, off the
    curve, y >= p, x = 0 with the sign bit set, mixed order), or S >= L -- all
    rejected by our decoders with a typed error -- except the few cases whose R and S
    are well formed and only the equation fails."""
    sig = bytes.fromhex(case["sig"])
    if len(sig) != 64:
        with pytest.raises(InvalidEncoding):
            FROST_ED25519.decode_signature(sig)
        return
    r_ok = s_ok = True
    try:
        ED25519.decode_point(sig[:32])
    except InvalidPoint:
        r_ok = False
    try:
        ED25519.decode_scalar(sig[32:])
    except InvalidScalar:
        s_ok = False
    assert (r_ok and s_ok) is (case["tcId"] in EQUATION_ONLY_FAILURES)
