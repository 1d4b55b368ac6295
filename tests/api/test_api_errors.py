"""Authentication and the error envelope on every failure path."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import pytest
from apihelpers import Api, error_of
from sqlalchemy import update

from shardvault import errors
from shardvault.api.auth import token_digest
from shardvault.api.errors import ApiError, api_error_from, http_status
from shardvault.db import ApiToken, make_engine
from shardvault.db.models import utcnow


# -- public endpoints -------------------------------------------------------------------
def test_health_needs_no_auth(api: Api) -> None:
    r = api.client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "ecdsaReady": True, "auxInfoProgress": 1.0}


def test_openapi_is_public_and_documents_bearer_auth(api: Api) -> None:
    r = api.client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert "/keys/{keyId}/signatures" in spec["paths"]
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    # camelCase in the published schemas too
    assert "publicKey" in spec["components"]["schemas"]["KeyOut"]["properties"]


# -- authentication ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
        "Bearer sv_" + "A" * 43,  # well formed, unknown
        "Bearer sv_" + "A" * 42,
    ],
)
def test_missing_or_invalid_token_is_401_envelope(api: Api, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = api.client.get("/keys", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    err = error_of(r)
    assert err["code"] == "Unauthorized"


def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    r = api.client.get("/keys", headers={"Authorization": f"bearer {api.token}"})
    assert r.status_code == 200


def test_every_route_but_health_needs_auth(api: Api) -> None:
    key = api.create_key()
    kid = key["id"]
    calls = [
        ("GET", "/signers"),
        ("GET", "/keys"),
        ("POST", "/keys"),
        ("POST", "/keys/import"),
        ("GET", f"/keys/{kid}"),
        ("PUT", f"/keys/{kid}"),
        ("DELETE", f"/keys/{kid}"),
        ("POST", f"/keys/{kid}/export"),
        ("POST", f"/keys/{kid}/refresh"),
        ("POST", f"/keys/{kid}/signatures"),
        ("GET", f"/keys/{kid}/signatures"),
        ("GET", f"/keys/{kid}/signatures/sig-01m89z0nft2daegte03ehe5fph"),
        ("GET", "/no/such/route"),
    ]
    for method, path in calls:
        r = api.client.request(method, path, json={})
        assert r.status_code == 401, (method, path)
        assert error_of(r)["code"] == "Unauthorized"
    assert api.get(f"/keys/{kid}").json()["status"] == "Active"  # nothing happened


def test_auth_is_checked_before_the_body_is_parsed(api: Api) -> None:
    r = api.client.post("/keys", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 401


def test_revoked_token_is_refused(api: Api) -> None:
    assert api.get("/keys").status_code == 200
    engine = make_engine(api.database_url)
    with engine.begin() as conn:
        conn.execute(
            update(ApiToken)
            .where(ApiToken.token_sha256 == token_digest(api.token))
            .values(date_revoked=utcnow())
        )
    engine.dispose()
    assert api.get("/keys").status_code == 401


# -- routing errors ---------------------------------------------------------------------
def test_unknown_route_is_404_envelope(api: Api) -> None:
    r = api.get("/policies")
    assert r.status_code == 404
    assert error_of(r)["code"] == "NotFound"


def test_wrong_method_is_405_envelope_with_allow(api: Api) -> None:
    r = api.client.post("/health")
    assert r.status_code == 405
    assert error_of(r)["code"] == "MethodNotAllowed"
    assert "GET" in r.headers["allow"]
    r = api.client.patch("/keys", headers=api.auth)
    assert r.status_code == 405
    assert error_of(r)["code"] == "MethodNotAllowed"


# -- body and validation errors ---------------------------------------------------------
def test_malformed_json_is_400(api: Api) -> None:
    r = api.post(
        "/keys", content=b'{"scheme": "EdDSA",', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert error_of(r)["code"] == "MalformedJson"


def test_body_that_is_not_an_object_is_400(api: Api) -> None:
    for body in ([], "EdDSA", 3, None):
        r = api.post("/keys", json=body)
        assert r.status_code == 400, body
        assert error_of(r)["code"] == "InvalidRequest"


def test_missing_content_type_is_400_and_says_json(api: Api) -> None:
    r = api.post("/keys", content=json.dumps({"scheme": "EdDSA", "curve": "ed25519"}).encode())
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidRequest"
    assert "JSON" in err["message"]


def test_validation_errors_are_400_with_field_details(api: Api) -> None:
    r = api.post("/keys", {"scheme": 5, "extra": True})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidRequest"
    fields = {e["field"]: e["type"] for e in err["details"]["errors"]}
    assert fields == {"scheme": "string_type", "curve": "missing", "extra": "extra_forbidden"}
    for e in err["details"]["errors"]:
        assert set(e) == {"location", "field", "message", "type"}
        assert e["location"] == "body"


def test_validation_errors_never_echo_input(api: Api) -> None:
    secret = "S3CRET-" + "x" * 20
    r = api.post(
        "/keys/import",
        {
            "curve": "ed25519",
            "protocol": "FROST",
            "minSigners": "two",
            "encryptedKeyShares": [{"signerId": "sgn-test1", "encryptedKeyShare": 7}],
            "note": secret,
        },
    )
    assert r.status_code == 400
    assert secret not in r.text
    assert "two" not in r.text


def test_snake_case_fields_are_rejected(api: Api) -> None:
    key = api.create_key()
    r = api.post(
        f"/keys/{key['id']}/signatures", {"kind": "Message", "message": "0x00", "external_id": "a"}
    )
    assert r.status_code == 400
    assert error_of(r)["details"]["errors"][0]["field"] == "external_id"


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten"])
def test_bad_query_parameters_are_400(api: Api, limit: str) -> None:
    r = api.get("/keys", params={"limit": limit})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "InvalidRequest"
    assert err["details"]["errors"][0]["location"] == "query"


# -- body size --------------------------------------------------------------------------
def test_oversized_body_by_content_length(api: Api) -> None:
    big = b'{"scheme": "EdDSA", "curve": "ed25519", "name": "' + b"a" * 70_000 + b'"}'
    r = api.post("/keys", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    err = error_of(r)
    assert err["code"] == "BodyTooLarge"
    assert err["details"]["maxBytes"] == 64 * 1024
    assert api.vault.calls.get("generate_key", 0) == 0


def test_oversized_chunked_body_is_counted(api: Api) -> None:
    def chunks() -> Any:
        yield b'{"name": "'
        for _ in range(20):
            yield b"a" * 4096
        yield b'"}'

    r = api.post("/keys", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert error_of(r)["code"] == "BodyTooLarge"


def test_body_exactly_at_the_limit_is_accepted(api: Api) -> None:
    body = json.dumps({"scheme": "EdDSA", "curve": "ed25519"}).encode()
    body += b" " * (64 * 1024 - len(body))
    r = api.post("/keys", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text


def test_lying_content_length_is_caught_by_counting(api: Api) -> None:
    """Raw ASGI: declares 10 bytes, sends more than the limit."""
    sent: list[dict[str, Any]] = []
    chunks = [b"x" * 40_000, b"x" * 40_000]

    async def receive() -> dict[str, Any]:
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/keys",
        "raw_path": b"/keys",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", b"10"),
            (b"authorization", f"Bearer {api.token}".encode()),
        ],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    anyio.run(api.app, scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert start["status"] == 400
    assert json.loads(body)["error"]["code"] == "BodyTooLarge"


def test_invalid_content_length_is_400(api: Api) -> None:
    scope_headers = {**api.auth, "Content-Type": "application/json", "Content-Length": "abc"}
    r = api.client.post("/keys", content=b"{}", headers=scope_headers)
    # httpx may correct the header; either way the answer is an envelope, never a crash
    assert r.status_code == 400
    error_of(r)


# -- unexpected exceptions --------------------------------------------------------------
def test_unhandled_exception_is_500_envelope_without_details(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.vault.fail["list_signers"] = RuntimeError("boom 0xdeadbeefcafe secret material")
    with caplog.at_level(logging.ERROR, logger="shardvault.api"):
        r = api.get("/signers")
    assert r.status_code == 500
    assert error_of(r) == {"code": "InternalError", "message": "internal server error"}
    assert "deadbeef" not in r.text and "Traceback" not in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "RuntimeError" in logged  # logged for the operator...
    assert "deadbeef" not in logged  # ...without the exception's message


def test_nothing_secret_is_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        key = api.create_key()
        msg = "0x" + b"top secret message".hex()
        api.post(f"/keys/{key['id']}/signatures", {"kind": "Message", "message": msg})
        api.post("/keys", content=b"{bad", headers={"Content-Type": "application/json"})
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert api.token not in text
    assert b"top secret message".hex() not in text


def test_typed_backend_errors_map_to_status_and_details(api: Api) -> None:
    from shardvault.errors import SignerMisbehaved, SignersUnavailable

    api.vault.fail["list_signers"] = SignersUnavailable(
        "2 of 3 signers unreachable", signers=("sgn-test2", "sgn-test3")
    )
    r = api.get("/signers")
    assert r.status_code == 503
    err = error_of(r)
    assert err["code"] == "SignersUnavailable"
    assert err["details"] == {"signers": ["sgn-test2", "sgn-test3"]}

    api.vault.fail["list_signers"] = SignerMisbehaved(
        "bad share", signers=("sgn-test1",), check="signature-share"
    )
    r = api.get("/signers")
    assert r.status_code == 502
    assert error_of(r)["details"] == {"signers": ["sgn-test1"], "check": "signature-share"}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidEncoding("x"), 400),
        (errors.InvalidScalar("x"), 400),
        (errors.InvalidPoint("x"), 400),
        (errors.InvalidParameters("x"), 400),
        (errors.InvalidImport("x", code="InvalidShare"), 400),
        (errors.DecryptionError("x"), 400),
        (errors.Unauthorized("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.Conflict("x"), 409),
        (errors.SignerMisbehaved("x"), 502),
        (errors.ProtocolError("x"), 502),
        (errors.SessionReused("x"), 502),
        (errors.NonceReused("x"), 502),
        (errors.SignersUnavailable("x"), 503),
        (errors.AuxInfoNotReady("x"), 503),
        (errors.ShardvaultError("x"), 500),
        (ApiError(409, "KeyArchived", "x"), 409),
    ],
)
def test_every_error_type_has_its_status(error: errors.ShardvaultError, status: int) -> None:
    """The API's table (api/errors.py), most specific class first; the root error
    types themselves carry no HTTP status."""
    assert http_status(error) == status
    assert api_error_from(error).status == status
    assert not hasattr(errors, "http_status") and not hasattr(errors, "HTTP_STATUS")
