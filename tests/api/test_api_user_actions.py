"""Signed user actions from the wire format alone: a client written with httpx and
``cryptography`` only (not shardvault's SDK), each credential type, and every
refusal with its own code.

These requests carry the header ``X-Test-No-User-Action`` so the suite's
transparent signing (tests/signinghelpers.py) leaves them alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apihelpers import BASE_URL, Api, FakeVault, error_of
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from fastapi import Request
from fastapi.testclient import TestClient
from signinghelpers import NO_SIGN_HEADER, signer_for
from sqlalchemy import update

from shardvault.api import create_app, ensure_admin
from shardvault.db import make_engine, write_sessionmaker
from shardvault.db.models import UserActionChallengeRow, UserActionTokenRow


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class WireCredential:
    """A credential key and how this client signs with it."""

    name: str
    private: Any
    sign: Callable[[bytes], bytes]

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )


def _ecdsa_raw(key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return sign


def _credentials() -> list[WireCredential]:
    ed = ed25519.Ed25519PrivateKey.generate()
    p256 = ec.generate_private_key(ec.SECP256R1())
    k1 = ec.generate_private_key(ec.SECP256K1())
    k1raw = ec.generate_private_key(ec.SECP256K1())
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return [
        WireCredential("ed25519", ed, ed.sign),
        WireCredential("p256-der", p256, lambda d: p256.sign(d, ec.ECDSA(hashes.SHA256()))),
        WireCredential("secp256k1-der", k1, lambda d: k1.sign(d, ec.ECDSA(hashes.SHA256()))),
        WireCredential("secp256k1-raw", k1raw, _ecdsa_raw(k1raw)),
        WireCredential("rsa", rs, lambda d: rs.sign(d, padding.PKCS1v15(), hashes.SHA256())),
    ]


CREDENTIALS = _credentials()


@dataclass
class WireClient:
    """A Dfns-style client over the test app: bearer token, credential id, key."""

    api: Api
    token: str
    credential_id: str
    credential: WireCredential

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", NO_SIGN_HEADER: "1"}

    def init(self, method: str, path: str, payload: str) -> dict[str, Any]:
        r = self.api.client.post(
            "/auth/action/init",
            json={
                "userActionPayload": payload,
                "userActionHttpMethod": method,
                "userActionHttpPath": path,
                "userActionServerKind": "Api",
            },
            headers=self.auth,
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    def answer(
        self,
        challenge: dict[str, Any],
        *,
        client_data: dict[str, Any] | None = None,
        cred_id: str | None = None,
        sign: Callable[[bytes], bytes] | None = None,
    ) -> Any:
        data = client_data or {"type": "key.get", "challenge": challenge["challenge"]}
        raw = json.dumps(data, separators=(",", ":")).encode()
        return self.api.client.post(
            "/auth/action",
            json={
                "challengeIdentifier": challenge["challengeIdentifier"],
                "firstFactor": {
                    "kind": "Key",
                    "credentialAssertion": {
                        "credId": cred_id or self.credential_id,
                        "clientData": b64u(raw),
                        "signature": b64u((sign or self.credential.sign)(raw)),
                    },
                },
            },
            headers=self.auth,
        )

    def user_action(self, method: str, path: str, payload: str) -> str:
        r = self.answer(self.init(method, path, payload))
        assert r.status_code == 200, r.text
        return str(r.json()["userAction"])

    def send(self, method: str, path: str, content: str, token: str | None) -> Any:
        headers = {**self.auth, "Content-Type": "application/json"}
        if token is not None:
            headers["X-DFNS-USERACTION"] = token
        return self.api.client.request(
            method, path, content=content.encode() if content else None, headers=headers
        )


def _service_account(api: Api, credential: WireCredential) -> WireClient:
    """A service account created over the wire by the org's admin (itself signed)."""
    role = api.post(
        "/permissions",
        {"name": f"role-{credential.name}", "operations": ["Keys:Create", "Auth:Creds:Update"]},
    )
    assert role.status_code == 200, role.text
    r = api.post(
        "/auth/service-accounts",
        {
            "name": f"svc-{credential.name}",
            "publicKey": credential.public_pem,
            "permissionId": role.json()["id"],
        },
    )
    assert r.status_code == 200, r.text
    out = r.json()
    token = out["accessTokens"][0]["accessToken"]
    cred_id = out["accessTokens"][0]["credId"]
    assert out["userInfo"]["credentialUuid"] == cred_id
    return WireClient(api, token, cred_id, credential)


@pytest.fixture
def admin(api: Api) -> WireClient:
    signer = signer_for(api.token)
    ed = ed25519.Ed25519PrivateKey.generate()  # unused: the admin signs with its own key
    cred = WireCredential("admin", ed, signer._sign)
    return WireClient(api, api.token, signer.credential_id, cred)


# -- each credential type --------------------------------------------------------------
@pytest.mark.parametrize("credential", CREDENTIALS, ids=[c.name for c in CREDENTIALS])
def test_wire_client_creates_a_key_with_each_credential_type(
    api: Api, credential: WireCredential
) -> None:
    client = _service_account(api, credential)
    body = '{"scheme":"EdDSA","curve":"ed25519","name":"wire"}'
    challenge = client.init("POST", "/keys", body)
    assert challenge["allowCredentials"] == {
        "key": [{"type": "public-key", "id": client.credential_id}],
        "webauthn": [],
    }
    assert challenge["supportedCredentialKinds"] == [
        {"kind": "Key", "factor": "first", "requiresSecondFactor": False}
    ]
    assert challenge["externalAuthenticationUrl"] == ""
    r = client.answer(challenge)
    assert r.status_code == 200, r.text
    r = client.send("POST", "/keys", body, r.json()["userAction"])
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "wire"


def test_python_sdk_client_data_with_origin_is_accepted(admin: WireClient) -> None:
    challenge = admin.init("POST", "/keys", '{"scheme":"EdDSA","curve":"ed25519"}')
    r = admin.answer(
        challenge,
        client_data={
            "type": "key.get",
            "challenge": challenge["challenge"],
            "origin": "http://localhost",
            "crossOrigin": False,
        },
    )
    assert r.status_code == 200, r.text


# -- the payload, compared as parsed JSON ----------------------------------------------
def test_ts_and_python_serialisations_of_the_same_body_match(admin: WireClient) -> None:
    body = {"scheme": "EdDSA", "curve": "ed25519", "name": "café ☕"}
    ts = json.dumps(body, separators=(",", ":"), ensure_ascii=False)  # JSON.stringify
    py = json.dumps(body)  # json.dumps defaults: spaces, \\u escapes
    reordered = json.dumps(dict(reversed(list(body.items()))), indent=2)
    for signed, sent in ((ts, py), (py, ts), (py, reordered)):
        token = admin.user_action("POST", "/keys", signed)
        r = admin.send("POST", "/keys", sent, token)
        assert r.status_code == 200, r.text


def test_empty_payload_matches_empty_object_and_no_body(admin: WireClient, api: Api) -> None:
    key = api.create_key()
    token = admin.user_action("DELETE", f"/keys/{key['id']}", "")
    r = admin.send("DELETE", f"/keys/{key['id']}", "", token)
    assert r.status_code == 200, r.text
    token = admin.user_action("POST", "/keys/import/context", "")  # Python SDK: "" for {}
    assert admin.send("POST", "/keys/import/context", "{}", token).status_code == 200


def test_a_different_body_is_refused(admin: WireClient) -> None:
    token = admin.user_action("POST", "/keys", '{"scheme":"EdDSA","curve":"ed25519"}')
    r = admin.send("POST", "/keys", '{"scheme":"ECDSA","curve":"secp256k1"}', token)
    assert r.status_code == 401
    assert error_of(r)["code"] == "UserActionPayloadMismatch"


def test_duplicate_json_keys_are_refused(admin: WireClient, api: Api) -> None:
    dup = '{"scheme":"Schnorr","curve":"secp256k1","scheme":"ECDSA"}'
    # unsigned, signed, and as the signed payload itself
    r = api.post("/keys", content=dup.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and error_of(r)["code"] == "DuplicateJsonKey"
    token = admin.user_action("POST", "/keys", '{"scheme":"ECDSA","curve":"secp256k1"}')
    r = admin.send("POST", "/keys", dup, token)
    assert r.status_code == 400 and error_of(r)["code"] == "DuplicateJsonKey"
    r = api.client.post(
        "/auth/action/init",
        json={
            "userActionPayload": dup,
            "userActionHttpMethod": "POST",
            "userActionHttpPath": "/keys",
            "userActionServerKind": "Api",
        },
        headers=admin.auth,
    )
    assert r.status_code == 400 and error_of(r)["code"] == "DuplicateJsonKey"
    r = api.client.post(
        "/auth/action/init",
        content=b'{"userActionPayload":"","userActionPayload":"{}"}',
        headers={**admin.auth, "Content-Type": "application/json"},
    )
    assert r.status_code == 400 and error_of(r)["code"] == "DuplicateJsonKey"


@pytest.mark.parametrize("payload", ['{"n":1e999}', '{"s":"\\ud800"}'], ids=["inf", "surrogate"])
def test_payloads_json_parses_but_cannot_canonicalise_are_400(
    admin: WireClient, api: Api, payload: str
) -> None:
    """A number that parses to infinity, a lone surrogate: 400 at init and on the
    request itself (with a user-action header), never a 500."""
    r = api.client.post(
        "/auth/action/init",
        json={
            "userActionPayload": payload,
            "userActionHttpMethod": "POST",
            "userActionHttpPath": "/keys",
            "userActionServerKind": "Api",
        },
        headers=admin.auth,
    )
    assert r.status_code == 400 and error_of(r)["code"] == "InvalidUserActionPayload", r.text
    r = admin.send("POST", "/keys", payload, "not-a-token")
    assert r.status_code == 400 and error_of(r)["code"] == "MalformedJson", r.text


# -- refusals of the request -----------------------------------------------------------
BODY = '{"scheme":"EdDSA","curve":"ed25519"}'


def _code(r: Any) -> str:
    assert r.status_code == 401, r.text
    return str(error_of(r)["code"])


def test_missing_header(admin: WireClient) -> None:
    assert _code(admin.send("POST", "/keys", BODY, None)) == "UserActionRequired"


def test_unknown_token(admin: WireClient) -> None:
    assert _code(admin.send("POST", "/keys", BODY, "ua_" + "A" * 43)) == "UnknownUserAction"
    assert _code(admin.send("POST", "/keys", BODY, "garbage")) == "UnknownUserAction"


def test_replay_is_refused(admin: WireClient) -> None:
    token = admin.user_action("POST", "/keys", BODY)
    assert admin.send("POST", "/keys", BODY, token).status_code == 200
    assert _code(admin.send("POST", "/keys", BODY, token)) == "UserActionReplayed"


def test_expired_token(admin: WireClient, api: Api) -> None:
    token = admin.user_action("POST", "/keys", BODY)
    _expire(api, UserActionTokenRow)
    assert _code(admin.send("POST", "/keys", BODY, token)) == "UserActionExpired"


def test_token_for_another_method_or_path(admin: WireClient, api: Api) -> None:
    key = api.create_key()
    token = admin.user_action("POST", "/keys", BODY)
    assert _code(admin.send("PUT", f"/keys/{key['id']}", BODY, token)) == "UserActionWrongRequest"
    token = admin.user_action("POST", "/wallets", BODY)
    assert _code(admin.send("POST", "/keys", BODY, token)) == "UserActionWrongRequest"


def test_token_of_another_user(admin: WireClient, api: Api) -> None:
    other = _service_account(api, CREDENTIALS[0])
    token = admin.user_action("POST", "/keys", BODY)
    assert _code(other.send("POST", "/keys", BODY, token)) == "UserActionOfAnotherUser"
    # another org's token: unknown here
    _org, other_auth = api.other_org()
    r = api.client.post(
        "/keys",
        content=BODY.encode(),
        headers={
            **other_auth,
            NO_SIGN_HEADER: "1",
            "Content-Type": "application/json",
            "X-DFNS-USERACTION": admin.user_action("POST", "/keys", BODY),
        },
    )
    assert _code(r) == "UnknownUserAction"


def test_credential_deactivated_after_signing(admin: WireClient, api: Api) -> None:
    client = _service_account(api, CREDENTIALS[1])
    token = client.user_action("POST", "/keys", BODY)
    _deactivate(client)
    assert _code(client.send("POST", "/keys", BODY, token)) == "CredentialInactive"


# -- refusals of the assertion ---------------------------------------------------------
def test_challenge_signed_by_another_credential(admin: WireClient, api: Api) -> None:
    other = _service_account(api, CREDENTIALS[2])
    challenge = admin.init("POST", "/keys", BODY)
    # admin's credential id, another key's signature
    assert _code(admin.answer(challenge, sign=other.credential.sign)) == "InvalidSignature"
    # another user's credential (and its valid signature)
    r = admin.answer(challenge, cred_id=other.credential_id, sign=other.credential.sign)
    assert _code(r) == "CredentialOfAnotherUser"
    assert _code(admin.answer(challenge, cred_id="cr-" + "0" * 26)) == "UnknownCredential"


def test_deactivated_credential(api: Api) -> None:
    client = _service_account(api, CREDENTIALS[3])
    challenge = client.init("POST", "/keys", BODY)
    _deactivate(client)
    assert _code(client.answer(challenge)) == "CredentialInactive"


def test_wrong_client_data_type_and_challenge(admin: WireClient) -> None:
    challenge = admin.init("POST", "/keys", BODY)
    for kind in ("key.create", "webauthn.get"):
        data = {"type": kind, "challenge": challenge["challenge"]}
        assert _code(admin.answer(challenge, client_data=data)) == "WrongClientDataType"
    other = admin.init("POST", "/keys", BODY)
    data = {"type": "key.get", "challenge": other["challenge"]}
    assert _code(admin.answer(challenge, client_data=data)) == "ChallengeMismatch"
    # the challenge was not taken by the refused attempts
    assert admin.answer(challenge).status_code == 200
    assert _code(admin.answer(challenge)) == "ChallengeAlreadyUsed"


def test_origin_not_allowed(admin: WireClient) -> None:
    challenge = admin.init("POST", "/keys", BODY)
    for origin, cross in (("https://app.dfns.io", False), ("http://localhost", True)):
        data = {
            "type": "key.get",
            "challenge": challenge["challenge"],
            "origin": origin,
            "crossOrigin": cross,
        }
        assert _code(admin.answer(challenge, client_data=data)) == "OriginNotAllowed"


def test_expired_and_unknown_challenge(admin: WireClient, api: Api) -> None:
    challenge = admin.init("POST", "/keys", BODY)
    _expire(api, UserActionChallengeRow)
    assert _code(admin.answer(challenge)) == "ChallengeExpired"
    unknown = {**challenge, "challengeIdentifier": "ch-" + "0" * 26}
    assert _code(admin.answer(unknown)) == "UnknownChallenge"


def test_challenge_of_another_user(admin: WireClient, api: Api) -> None:
    other = _service_account(api, CREDENTIALS[0])
    challenge = admin.init("POST", "/keys", BODY)
    assert _code(other.answer(challenge)) == "ChallengeOfAnotherUser"


def test_signing_flow_needs_a_bearer_token(api: Api) -> None:
    r = api.client.post("/auth/action/init", json={})
    assert r.status_code == 401 and error_of(r)["code"] == "Unauthorized"


# -- helpers ---------------------------------------------------------------------------
def _expire(api: Api, table: Any, hours: float = 0.0) -> None:
    """Every row of ``table`` (of every org) expired ``hours`` (and a second) ago."""
    from datetime import UTC, datetime, timedelta

    engine = make_engine(api.database_url)
    when = datetime.now(UTC) - timedelta(hours=hours, seconds=1)
    with write_sessionmaker(engine).begin() as s:
        s.execute(update(table).values(expires_at=when))
    engine.dispose()


def _deactivate(client: WireClient) -> None:
    token = client.user_action(
        "PUT", "/auth/credentials/deactivate", json.dumps({"credentialUuid": client.credential_id})
    )
    r = client.send(
        "PUT",
        "/auth/credentials/deactivate",
        json.dumps({"credentialUuid": client.credential_id}),
        token,
    )
    assert r.status_code == 200, r.text


def test_routes_added_later_are_covered_and_see_the_action(
    database_url: str, tmp_path: Path
) -> None:
    """A route another part adds after create_app is enforced too, and reads the
    verified action from request.state.user_action."""
    creds = json.loads(ensure_admin(database_url, tmp_path / "d", BASE_URL).read_text())
    app = create_app(FakeVault(), database_url)
    seen: list[Any] = []

    async def probe(request: Request) -> dict[str, str]:
        seen.append(getattr(request.state, "user_action", None))
        return {"ok": "yes"}

    app.add_api_route("/probe/{x}", probe, methods=["POST"])
    auth = {"Authorization": f"Bearer {creds['token']}"}
    with TestClient(app) as client:
        r = client.post("/probe/1", json={"b": [1, 2]}, headers={**auth, NO_SIGN_HEADER: "1"})
        assert r.status_code == 401 and error_of(r)["code"] == "UserActionRequired"
        assert client.post("/probe/1", json={"b": [1, 2]}, headers=auth).status_code == 200
    (action,) = seen
    assert action.user_id == creds["userId"] and action.credential_id == creds["credentialId"]
    assert (action.method, action.path) == ("POST", "/probe/1")
    assert action.challenge_identifier.startswith("ch-")
    assert action.payload_sha256 == hashlib.sha256(b'{"b":[1,2]}').hexdigest()


def test_expired_rows_are_purged(admin: WireClient, api: Api) -> None:
    token = admin.user_action("POST", "/keys", BODY)
    admin.init("POST", "/keys", BODY)  # a challenge without a token
    identity = api.app.state.identity
    assert identity.purge_expired() == 0  # nothing expired yet
    _expire(api, UserActionTokenRow, hours=2)
    _expire(api, UserActionChallengeRow, hours=2)
    assert identity.purge_expired() >= 3
    assert _code(admin.send("POST", "/keys", BODY, token)) == "UnknownUserAction"
