"""The user-action challenge commitment, canonical JSON and clientData checks."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from shardvault.protocols.user_action import (
    CHALLENGE_DOMAIN,
    DuplicateJsonKey,
    UserActionCommitment,
    UserActionError,
    canonical_json,
    canonical_payload,
    check_client_data,
    loads_strict,
)


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": [1, "é", {"d": None, "c": True}]}) == (
        '{"a":[1,"é",{"c":true,"d":null}],"b":1}'.encode()
    )
    # the TS (JSON.stringify) and Python SDK (json.dumps) serialisations agree once parsed
    body = {"network": "Ethereum", "name": "w é", "tags": ["x"]}
    ts = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    py = json.dumps(body, separators=(",", ":"))
    assert ts != py
    assert canonical_json(loads_strict(ts)) == canonical_json(loads_strict(py))


def test_empty_payloads() -> None:
    assert canonical_payload(None) == canonical_payload({}) == b""
    assert canonical_payload([]) == b"[]"


def test_duplicate_keys_and_constants_refused() -> None:
    with pytest.raises(DuplicateJsonKey):
        loads_strict('{"scheme":"Schnorr","curve":"secp256k1","scheme":"ECDSA"}')
    with pytest.raises(DuplicateJsonKey):
        loads_strict('{"a":{"x":1,"x":2}}')
    with pytest.raises(ValueError):
        loads_strict('{"a":NaN}')


def test_challenge_is_a_recomputable_commitment() -> None:
    c = UserActionCommitment.new(
        org_id="or-1",
        user_id="sa-1",
        method="post",
        path="/keys",
        payload_sha256=hashlib.sha256(b'{"scheme":"EdDSA"}').hexdigest(),
        expires_at=1_800_000_000,
    )
    assert c.method == "POST" and len(c.nonce) == 32
    fields = json.loads(c.canonical())
    assert set(fields) == {
        "orgId",
        "userId",
        "method",
        "path",
        "payloadSha256",
        "expiresAt",
        "nonce",
    }
    expected = hashlib.sha256(CHALLENGE_DOMAIN + c.canonical()).digest()
    assert base64.urlsafe_b64decode(c.challenge() + "=") == expected
    # any field changes the challenge
    for change in ({"path": "/wallets"}, {"user_id": "sa-2"}, {"expires_at": 1}):
        other = UserActionCommitment(**{**_fields(c), **change})
        assert other.challenge() != c.challenge()
    again = UserActionCommitment.new(**{k: v for k, v in _fields(c).items() if k != "nonce"})
    assert again.challenge() != c.challenge()  # a fresh nonce


def _fields(c: UserActionCommitment) -> dict[str, object]:
    return {name: getattr(c, name) for name in c.__slots__}


ORIGINS = ("http://localhost", "https://vault.example")


def _cd(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_client_data_accepts_both_sdk_shapes() -> None:
    check_client_data(_cd(type="key.get", challenge="abc"), "abc", ORIGINS)
    check_client_data(
        _cd(type="key.get", challenge="abc", origin="https://vault.example", crossOrigin=False),
        "abc",
        ORIGINS,
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"not json", "InvalidClientData"),
        (b"[1]", "InvalidClientData"),
        (b'{"type":"key.get","type":"key.get","challenge":"abc"}', "InvalidClientData"),
        (_cd(type="key.create", challenge="abc"), "WrongClientDataType"),
        (_cd(type="webauthn.get", challenge="abc"), "WrongClientDataType"),
        (_cd(type="key.get", challenge="abd"), "ChallengeMismatch"),
        (_cd(type="key.get"), "ChallengeMismatch"),
        (_cd(type="key.get", challenge="abc", origin="https://evil.example"), "OriginNotAllowed"),
        (
            _cd(type="key.get", challenge="abc", origin="http://localhost", crossOrigin=True),
            "OriginNotAllowed",
        ),
    ],
)
def test_client_data_refusals(data: bytes, code: str) -> None:
    with pytest.raises(UserActionError) as info:
        check_client_data(data, "abc", ORIGINS)
    assert info.value.code == code
