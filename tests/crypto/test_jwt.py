"""EdDSA JWTs (crypto/jwt.py): round trip, expiry, tampering, foreign keys and headers."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shardvault.crypto import jwt


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_round_trip_and_header() -> None:
    key = Ed25519PrivateKey.generate()
    claims = {"sub": "sa-1", "exp": int(time.time()) + 60, "x": {"y": 1}}
    token = jwt.encode(claims, key, "sk-1")
    assert jwt.header_kid(token) == "sk-1"
    head = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert head == {"alg": "EdDSA", "typ": "JWT", "kid": "sk-1"}
    assert jwt.decode(token, key.public_key()) == claims


def test_expired_tampered_and_foreign_tokens_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    now = int(time.time())
    token = jwt.encode({"exp": now + 60}, key, "k")
    with pytest.raises(jwt.JwtError) as info:
        jwt.decode(token, key.public_key(), now=now + 60)
    assert info.value.code == "TokenExpired"
    head, _body, sig = token.split(".")
    with pytest.raises(jwt.JwtError):
        jwt.decode(f"{head}.{_b64({'exp': now + 120})}.{sig}", key.public_key())
    with pytest.raises(jwt.JwtError):
        jwt.decode(token, Ed25519PrivateKey.generate().public_key())
    none_alg = _b64({"alg": "none", "typ": "JWT", "kid": "k"})
    with pytest.raises(jwt.JwtError):
        jwt.decode(f"{none_alg}.{token.split('.')[1]}.{sig}", key.public_key())
    with pytest.raises(jwt.JwtError):
        jwt.decode(jwt.encode({"sub": "no exp"}, key, "k"), key.public_key())
    for junk in ("", "a.b", "a.b.c.d", "!!.!!.!!", "x" * 5000):
        with pytest.raises(jwt.JwtError):
            jwt.decode(junk, key.public_key())
