"""SDK behaviour that needs no server: request encoding, response and error parsing,
credentials, and the client half of import/export against the real key_import/key_export code
(``FakeApi`` in conftest plays the signers; see there)."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import coincurve
import httpx
import pytest
from nacl.signing import SigningKey

from shardvault.crypto.keyformats import ed25519_scalar_from_seed
from shardvault.errors import InvalidEncoding, SignerMisbehaved
from shardvault.sdk import (
    ApiConnectionError,
    Client,
    CredentialsError,
    InvalidArgument,
    InvalidResponse,
    Key,
    ShardvaultApiError,
    Signature,
    SignerVerificationError,
)
from shardvault.sdk.encoding import b64url_decode, b64url_encode, hex_decode

BASE = "http://vault.test"


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> Client:
    return Client(BASE, token="tok-secret", transport=httpx.MockTransport(handler), **kw)


def key_json(**over: Any) -> dict[str, Any]:
    base = {
        "id": "key-1",
        "scheme": "EdDSA",
        "curve": "ed25519",
        "publicKey": bytes(SigningKey.generate().verify_key).hex(),
        "status": "Active",
        "custodial": True,
        "dateCreated": "2024-05-01T12:00:00Z",
        "protocol": "FROST",
        "minSigners": 2,
        "signers": ["sgn-a", "sgn-b", "sgn-c"],
    }
    base.update(over)
    return base


# -- errors ------------------------------------------------------------------------------


def test_error_envelope_with_details_is_parsed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            json={
                "error": {
                    "code": "SignersUnavailable",
                    "message": "2 of 3 signers unreachable",
                    "details": {"signers": ["sgn-b", "sgn-c"]},
                }
            },
        )

    with mock_client(handler) as client, pytest.raises(ShardvaultApiError) as info:
        client.keys.sign("key-1", hash=bytes(32))
    err = info.value
    assert (err.status_code, err.code, err.message) == (
        503,
        "SignersUnavailable",
        "2 of 3 signers unreachable",
    )
    assert err.details == {"signers": ["sgn-b", "sgn-c"]}
    assert "SignersUnavailable" in repr(err)


def test_non_json_error_body_falls_back_to_the_status_line() -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 1000 + "</body></html>"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=html, headers={"content-type": "text/html"})

    with mock_client(handler) as client, pytest.raises(ShardvaultApiError) as info:
        client.keys.get("key-1")
    assert info.value.status_code == 502
    assert info.value.code == "BadGateway"
    assert info.value.message.startswith("HTTP 502 Bad Gateway: <html>")
    assert len(info.value.message) < 400  # shortened
    assert info.value.details is None


def test_fastapi_detail_body_and_unknown_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/keys":
            return httpx.Response(422, json={"detail": [{"loc": ["body", "curve"]}]})
        return httpx.Response(418, content=b"")

    with mock_client(handler) as client:
        with pytest.raises(ShardvaultApiError) as info:
            client.keys.create(scheme="EdDSA", curve="nope")
        assert info.value.code == "ValidationError"
        assert "curve" in info.value.message
        assert info.value.details == [{"loc": ["body", "curve"]}]
        with pytest.raises(ShardvaultApiError) as info:
            client.keys.get("key-1")
        assert (info.value.code, info.value.status_code) == ("Http418", 418)


def test_malformed_success_bodies_raise_invalid_response() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/signers":
            return httpx.Response(200, text="not json")
        return httpx.Response(200, json={"id": "key-1"})  # fields missing

    with mock_client(handler) as client:
        with pytest.raises(InvalidResponse):
            client.signers.list()
        with pytest.raises(InvalidResponse, match=r"publicKey|scheme"):
            client.keys.get("key-1")


def test_unreachable_server_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}", token="t", timeout=2) as client:
        with pytest.raises(ApiConnectionError) as info:
            client.keys.list()
    assert info.value.code == "ConnectionFailed"
    assert str(port) in info.value.message


# -- requests ------------------------------------------------------------------------------


def test_token_is_sent_and_never_shown() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": []})

    client = mock_client(handler)
    assert client.keys.list().items == []
    assert seen[0].headers["authorization"] == "Bearer tok-secret"
    assert "tok-secret" not in repr(client)
    client.close()
    with pytest.raises(InvalidArgument):
        Client(BASE, token="")
    with pytest.raises(InvalidArgument):
        Client("ftp://x", token="t")
    with pytest.raises(InvalidArgument):
        Client(BASE, token="a\r\nX-Evil: 1")


def test_sign_request_encoding() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        assert request.url.path == "/keys/key-1/signatures"
        return httpx.Response(
            200,
            json={
                "id": "sig-1",
                "keyId": "key-1",
                "status": "Signed",
                "requestBody": body,
                "signature": {"r": "0x" + "11" * 32, "s": "0x" + "22" * 32},
                "dateRequested": "2024-05-01T12:00:00Z",
                "dateSigned": "2024-05-01T12:00:01.5Z",
            },
        )

    digest, root = os.urandom(32), os.urandom(32)
    with mock_client(handler) as client:
        sig = client.keys.sign("key-1", hash=digest)
        client.keys.sign("key-1", hash=digest, taproot_merkle_root=b"")
        client.keys.sign("key-1", hash=digest, taproot_merkle_root=root, external_id="ext-1")
        client.keys.sign("key-1", message=b"hello")
        client.keys.sign("key-1", message=b"")
        with pytest.raises(InvalidArgument):
            client.keys.sign("key-1")
        with pytest.raises(InvalidArgument):
            client.keys.sign("key-1", hash=digest, message=b"x")
        with pytest.raises(InvalidArgument):
            client.keys.sign("key-1", message="text")  # type: ignore[arg-type]
    assert bodies == [
        {"kind": "Hash", "hash": "0x" + digest.hex()},
        {"kind": "Hash", "hash": "0x" + digest.hex(), "taprootMerkleRoot": ""},
        {
            "kind": "Hash",
            "hash": "0x" + digest.hex(),
            "taprootMerkleRoot": "0x" + root.hex(),
            "externalId": "ext-1",
        },
        {"kind": "Message", "message": "0x" + b"hello".hex()},
        {"kind": "Message", "message": "0x"},
    ]
    assert isinstance(sig, Signature)
    assert sig.signature is not None
    # no `encoded`: r || s
    assert sig.signature.encoded_bytes == bytes([0x11]) * 32 + bytes([0x22]) * 32
    assert sig.date_signed is not None and sig.date_signed.microsecond == 500000


def test_ids_are_confined_to_one_path_segment() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(404, json={"error": {"code": "NotFound", "message": "nope"}})

    with mock_client(handler) as client:
        with pytest.raises(ShardvaultApiError):
            client.keys.get("a/../../signers")
        with pytest.raises(ShardvaultApiError):
            client.keys.get_signature("key-1", "sig?x=1")
        for bad in ("", ".", ".."):
            with pytest.raises(InvalidArgument):
                client.keys.get(bad)
    assert paths == ["/keys/a%2F..%2F..%2Fsigners", "/keys/key-1/signatures/sig%3Fx%3D1"]


def test_pagination_follows_tokens() -> None:
    all_keys = [key_json(id=f"key-{i}") for i in range(7)]
    queries: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        q = dict(request.url.params)
        queries.append(q)
        start = int(q.get("paginationToken", "0"))
        limit = int(q.get("limit", "3"))
        body: dict[str, Any] = {"items": all_keys[start : start + limit]}
        if start + limit < len(all_keys):
            body["nextPageToken"] = str(start + limit)
        return httpx.Response(200, json=body)

    with mock_client(handler) as client:
        page = client.keys.list(limit=2)
        assert [k.id for k in page.items] == ["key-0", "key-1"]
        assert page.next_page_token == "2"
        assert [k.id for k in client.keys.iter_all()] == [k["id"] for k in all_keys]
    assert queries[0] == {"limit": "2"}
    assert queries[1] == {}
    assert queries[2] == {"paginationToken": "3"}


def test_list_signatures_follows_pages() -> None:
    def sig(i: int) -> dict[str, Any]:
        return {
            "id": f"sig-{i}",
            "keyId": "key-1",
            "status": "Signed",
            "requestBody": {"kind": "Message", "message": "0x00"},
            "signature": {"r": "0x01", "s": "0x02", "encoded": "0x0102"},
            "dateRequested": "2024-05-01T12:00:00Z",
        }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("paginationToken") == "p2":
            return httpx.Response(200, json={"items": [sig(2)]})
        return httpx.Response(200, json={"items": [sig(0), sig(1)], "nextPageToken": "p2"})

    with mock_client(handler) as client:
        sigs = client.keys.list_signatures("key-1")
    assert [s.id for s in sigs] == ["sig-0", "sig-1", "sig-2"]
    assert sigs[0].signature is not None and sigs[0].signature.encoded_bytes == b"\x01\x02"


def test_delete_accepts_an_empty_answer() -> None:
    archived = key_json(status="Archived")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=archived)

    with mock_client(handler) as client:
        assert client.keys.delete("key-1").status == "Archived"


# -- models --------------------------------------------------------------------------------


def test_key_model_round_trip_and_byte_properties() -> None:
    pk = coincurve.PrivateKey().public_key.format(compressed=True)
    data = key_json(
        scheme="Schnorr",
        curve="secp256k1",
        protocol="FROST_BITCOIN",
        publicKey=pk.hex(),
        exported=True,
        dateExported="2024-05-02T00:00:00Z",
        somethingNew="ignored",
    )
    key = Key.model_validate(data)
    assert key.public_key_bytes == pk and key.xonly_public_key_bytes == pk[1:]
    assert key.min_signers == 2 and key.exported and not key.imported
    assert key.date_exported is not None and key.date_exported.tzinfo is not None
    out = key.to_json_dict()
    assert out["publicKey"] == pk.hex() and out["minSigners"] == 2
    assert "somethingNew" not in out and "public_key" not in out
    assert Key(**key.model_dump()) == key  # populate by field name
    with pytest.raises(ValueError):
        Key.model_validate(key_json()).xonly_public_key_bytes  # noqa: B018


def test_strict_encodings() -> None:
    assert b64url_decode(b64url_encode(b"\xff\xfe")) == b"\xff\xfe"
    for bad in ("a", "ab=", "a+b/", "AB"):  # "AB": non-zero trailing bits
        with pytest.raises(InvalidArgument):
            b64url_decode(bad)
    assert hex_decode("0xAbCd") == b"\xab\xcd"
    for bad in ("0x1", "zz", "ab cd", "0x 12"):
        with pytest.raises(InvalidArgument):
            hex_decode(bad)
    with pytest.raises(InvalidArgument):
        hex_decode("abcd", require_prefix=True)


# -- credentials ---------------------------------------------------------------------------


def test_from_credentials_file(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    with pytest.raises(CredentialsError, match="no credentials"):
        Client.from_credentials_file(path)
    path.write_text("{not json")
    with pytest.raises(CredentialsError, match="not valid JSON"):
        Client.from_credentials_file(path)
    path.write_text(json.dumps({"baseUrl": BASE}))
    with pytest.raises(CredentialsError, match="token"):
        Client.from_credentials_file(path)
    path.write_text(json.dumps({"baseUrl": BASE + "/", "token": "t0k", "orgId": "or-1"}))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"clusters": []})

    with Client.from_credentials_file(path, transport=httpx.MockTransport(handler)) as client:
        assert client.base_url == BASE
        assert client.signers.list() == []
    assert str(seen[0].url) == BASE + "/signers"
    assert seen[0].headers["authorization"] == "Bearer t0k"


# -- import / export, client half -----------------------------------------------------------


def _sent_bytes(fake: Any) -> bytes:
    return b"".join(bytes(r.url.raw_path) + r.content for r in fake.requests)


def _assert_secret_not_sent(fake: Any, secret: bytes) -> None:
    sent = _sent_bytes(fake)
    for form in (secret, secret.hex().encode(), b64url_encode(secret).encode()):
        assert form not in sent


def test_import_ed25519_seed_and_export_scalar(fake_api: Any) -> None:
    seed = os.urandom(32)
    with mock_client(fake_api.handle) as client:
        key = client.keys.import_key(
            seed, curve="ed25519", protocol="FROST", min_signers=2, name="imported"
        )
        assert key.imported and key.name == "imported" and key.scheme == "EdDSA"
        assert key.public_key_bytes == bytes(SigningKey(seed).verify_key)
        body = json.loads(fake_api.requests[-1].content)
        assert sorted(body) == [
            "curve",
            "encryptedKeyShares",
            "importId",
            "minSigners",
            "name",
            "protocol",
        ]
        # the context was fetched just before (one per import) and sealed into the shares
        assert fake_api.requests[-2].url.path == "/keys/import/context"
        assert fake_api.used_contexts == set(fake_api.contexts)
        assert [s["signerId"] for s in body["encryptedKeyShares"]] == sorted(
            s.signer_id for s in fake_api.signers
        )
        _assert_secret_not_sent(fake_api, seed)
        exported = client.keys.export_key(key.id)
    # the seed cannot come back: export returns the little-endian signing scalar
    assert exported == ed25519_scalar_from_seed(seed).to_bytes(32, "little")


def test_import_solana_keypair_and_scalar_formats(fake_api: Any) -> None:
    seed = os.urandom(32)
    public = bytes(SigningKey(seed).verify_key)
    scalar = ed25519_scalar_from_seed(seed).to_bytes(32, "little")
    with mock_client(fake_api.handle) as client:
        k1 = client.keys.import_key(seed + public, curve="ed25519", protocol="FROST", min_signers=2)
        k2 = client.keys.import_key(
            scalar, curve="ed25519", protocol="FROST", min_signers=3, ed25519_format="scalar"
        )
        assert k1.public_key_bytes == k2.public_key_bytes == public
        assert k2.min_signers == 3
        with pytest.raises(InvalidEncoding, match="does not match"):
            client.keys.import_key(
                seed + bytes(32), curve="ed25519", protocol="FROST", min_signers=2
            )
        with pytest.raises(InvalidArgument):
            client.keys.import_key(
                seed, curve="ed25519", protocol="FROST", min_signers=2, ed25519_format="solana"
            )
        with pytest.raises(InvalidArgument):
            client.keys.import_key(seed[:31], curve="ed25519", protocol="FROST", min_signers=2)


def test_import_secp256k1_frost_bitcoin_and_export(fake_api: Any) -> None:
    priv = coincurve.PrivateKey()
    with mock_client(fake_api.handle) as client:
        key = client.keys.import_key(
            priv.secret, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2
        )
        assert key.public_key_bytes == priv.public_key.format(compressed=True)
        assert (
            key.xonly_public_key_bytes == coincurve.PublicKeyXOnly.from_secret(priv.secret).format()
        )
        _assert_secret_not_sent(fake_api, priv.secret)
        assert client.keys.export_key(key.id) == priv.secret


@pytest.mark.parametrize("protocol", ["CGGMP24", "CGGMP21"])
def test_import_secp256k1_ecdsa_and_export(fake_api: Any, protocol: str) -> None:
    priv = coincurve.PrivateKey()
    with mock_client(fake_api.handle) as client:
        key = client.keys.import_key(
            priv.secret, curve="secp256k1", protocol=protocol, min_signers=2, name="eth"
        )
        # the alias is resolved before the shares are sealed (their AAD binds CGGMP24)
        body = json.loads(fake_api.requests[-1].content)
        assert body["protocol"] == "CGGMP24" and body["curve"] == "secp256k1"
        assert (key.scheme, key.protocol) == ("ECDSA", "CGGMP24")
        assert key.public_key_bytes == priv.public_key.format(compressed=True)
        _assert_secret_not_sent(fake_api, priv.secret)
        assert client.keys.export_key(key.id) == priv.secret
        export_request = json.loads(fake_api.requests[-1].content)
        assert export_request["supportedSchemes"] == [{"protocol": "CGGMP24", "curve": "secp256k1"}]


def test_import_ecdsa_refuses_wrong_curve_and_sizes(fake_api: Any) -> None:
    with mock_client(fake_api.handle) as client:
        with pytest.raises(InvalidArgument, match="CGGMP24/ed25519"):
            client.keys.import_key(
                os.urandom(32), curve="ed25519", protocol="CGGMP24", min_signers=2
            )
        with pytest.raises(InvalidArgument, match="32 bytes"):
            client.keys.import_key(
                os.urandom(33), curve="secp256k1", protocol="CGGMP24", min_signers=2
            )
        with pytest.raises(InvalidArgument):
            client.keys.import_key(
                os.urandom(32).hex(),  # type: ignore[arg-type]
                curve="secp256k1",
                protocol="CGGMP24",
                min_signers=2,
            )
    assert all(r.method == "GET" for r in fake_api.requests)  # nothing was imported
    assert fake_api.keys == {}


def test_refresh_posts_to_the_refresh_route() -> None:
    key = key_json(scheme="ECDSA", curve="secp256k1", protocol="CGGMP24")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=key)

    with mock_client(handler) as client:
        refreshed = client.keys.refresh("key-1")
    assert refreshed.protocol == "CGGMP24" and refreshed.id == "key-1"
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/keys/key-1/refresh")
    assert json.loads(request.content) == {}


def test_refresh_errors_are_raised_with_their_code() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            503,
            json={"error": {"code": "AuxInfoNotReady", "message": "aux info is not ready"}},
        )

    with mock_client(handler) as client, pytest.raises(ShardvaultApiError) as info:
        client.keys.refresh("key-1")
    assert info.value.status_code == 503 and info.value.code == "AuxInfoNotReady"


def test_import_refuses_bad_arguments_before_sending(fake_api: Any) -> None:
    with mock_client(fake_api.handle) as client:
        with pytest.raises(InvalidArgument, match="unsupported protocol"):
            client.keys.import_key(
                os.urandom(32), curve="ed25519", protocol="FROST_BITCOIN", min_signers=2
            )
        with pytest.raises(InvalidArgument):
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=0)
        with pytest.raises(InvalidArgument, match="whole key"):
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=1)
        with pytest.raises(InvalidArgument, match="exceeds"):
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=4)
        with pytest.raises(InvalidArgument, match="ed25519 keys only"):
            client.keys.import_key(
                os.urandom(32),
                curve="secp256k1",
                protocol="FROST_BITCOIN",
                min_signers=2,
                ed25519_format="seed",
            )
        with pytest.raises(InvalidEncoding):  # zero is not a private key
            client.keys.import_key(
                bytes(32), curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2
            )
    assert all(r.method == "GET" for r in fake_api.requests)


def test_import_refuses_a_signer_with_a_bad_signature(fake_api: Any) -> None:
    bad = fake_api.signers[1].signer_id
    fake_api.bad_signature.add(bad)
    with mock_client(fake_api.handle) as client, pytest.raises(SignerVerificationError) as info:
        client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)
    assert info.value.signer_id == bad and bad in info.value.message
    assert info.value.code == "SignerVerificationFailed"
    assert [r.method for r in fake_api.requests] == ["GET"]  # nothing was posted


def test_pinned_identity_keys(fake_api: Any) -> None:
    pins = {s.signer_id: bytes(s.identity.verify_key) for s in fake_api.signers}
    with mock_client(fake_api.handle, pinned_identity_keys=pins) as client:
        client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)
    victim = fake_api.signers[2].signer_id
    swapped = dict(pins, **{victim: bytes(SigningKey.generate().verify_key)})
    with mock_client(fake_api.handle, pinned_identity_keys=swapped) as client:
        with pytest.raises(SignerVerificationError) as info:
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)
    assert info.value.signer_id == victim and info.value.code == "SignerNotPinned"
    del pins[victim]
    with mock_client(fake_api.handle, pinned_identity_keys=pins) as client:
        with pytest.raises(SignerVerificationError, match="not among the pinned"):
            client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)


def test_import_detects_a_server_reporting_another_public_key(fake_api: Any) -> None:
    fake_api.lie_about_public_key = True
    with mock_client(fake_api.handle) as client, pytest.raises(InvalidResponse):
        client.keys.import_key(os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2)


def test_export_names_a_signer_whose_share_is_tampered(fake_api: Any) -> None:
    priv = coincurve.PrivateKey()
    with mock_client(fake_api.handle) as client:
        key = client.keys.import_key(
            priv.secret, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2
        )
        bad = fake_api.signers[0].signer_id
        fake_api.bad_export.add(bad)
        with pytest.raises(SignerMisbehaved) as info:
            client.keys.export_key(key.id)
    assert info.value.signers == (bad,)
    assert bad in info.value.message


def test_export_refuses_a_signer_with_a_bad_signature(fake_api: Any) -> None:
    with mock_client(fake_api.handle) as client:
        key = client.keys.import_key(
            os.urandom(32), curve="ed25519", protocol="FROST", min_signers=2
        )
        bad = fake_api.signers[2].signer_id
        fake_api.bad_signature.add(bad)
        with pytest.raises(SignerVerificationError) as info:
            client.keys.export_key(key.id)
    assert info.value.signer_id == bad
    assert not any(r.url.path.endswith("/export") for r in fake_api.requests)


# -- exportable ---------------------------------------------------------------------------


def test_exportable_is_sent_and_read() -> None:
    sent: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append((request.method, json.loads(request.content)))
        return httpx.Response(200, json=key_json(exportable=False))

    with mock_client(handler) as client:
        assert (
            client.keys.create(scheme="EdDSA", curve="ed25519", exportable=False).exportable
            is False
        )
        client.keys.create(scheme="EdDSA", curve="ed25519")
        client.keys.update("key-1", exportable=False)
        client.keys.update("key-1", name="n")
        with pytest.raises(InvalidArgument):
            client.keys.update("key-1")
    assert sent == [
        ("POST", {"scheme": "EdDSA", "curve": "ed25519", "exportable": False}),
        ("POST", {"scheme": "EdDSA", "curve": "ed25519"}),
        ("PUT", {"exportable": False}),
        ("PUT", {"name": "n"}),
    ]
    assert Key.model_validate(key_json()).exportable is True  # an older server


def test_client_signs_state_changing_requests_as_user_actions() -> None:
    """With a signer, a write is init + action + the request carrying the token; the
    signed payload is the exact body sent; reads are not signed."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from shardvault.sdk.user_actions import UserActionSigner

    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/action/init":
            return httpx.Response(200, json={"challenge": "chal", "challengeIdentifier": "ch-1"})
        if request.url.path == "/auth/action":
            return httpx.Response(200, json={"userAction": "ua_token"})
        return httpx.Response(200, json={"ok": True})

    signer = UserActionSigner("cr-1", pem)
    with Client(
        "http://vault.test", token="t", transport=httpx.MockTransport(handle), signer=signer
    ) as client:
        client.request("POST", "/keys", json_body={"scheme": "EdDSA", "name": "é"})
        client.request("GET", "/keys")
    init, action, write, read = seen
    payload = json.loads(init.content)
    assert payload["userActionHttpMethod"] == "POST"
    assert payload["userActionHttpPath"] == "/keys"
    assert payload["userActionPayload"] == write.content.decode()
    assertion = json.loads(action.content)["firstFactor"]["credentialAssertion"]
    assert assertion["credId"] == "cr-1"
    client_data = base64.urlsafe_b64decode(assertion["clientData"] + "==")
    assert json.loads(client_data) == {"type": "key.get", "challenge": "chal"}
    key.public_key().verify(base64.urlsafe_b64decode(assertion["signature"] + "=="), client_data)
    assert write.headers["X-DFNS-USERACTION"] == "ua_token"
    assert "X-DFNS-USERACTION" not in read.headers
    assert "cr-1" in repr(signer) and "PRIVATE" not in repr(signer)


def test_user_action_signed_beforehand() -> None:
    from cryptography.hazmat.primitives.asymmetric.ec import SECP256K1, generate_private_key
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    from shardvault.sdk.user_actions import UserActionSigner

    key = generate_private_key(SECP256K1())
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/auth/action/init":
            return httpx.Response(200, json={"challenge": "c", "challengeIdentifier": "ch-1"})
        if request.url.path == "/auth/action":
            return httpx.Response(200, json={"userAction": "ua_early"})
        return httpx.Response(200, json={})

    body = {"kind": "Hash", "hash": "00" * 32}
    with Client(
        "http://vault.test",
        token="t",
        transport=httpx.MockTransport(handle),
        signer=UserActionSigner("cr-2", pem),
    ) as client:
        token = client.sign_user_action("post", "/keys/k/signatures", body)
        assert token == "ua_early" and len(seen) == 2
        assert json.loads(seen[0].content)["userActionPayload"] == json.dumps(
            body, separators=(",", ":")
        )
        client.request("POST", "/keys/k/signatures", json_body=body, user_action=token)
    assert len(seen) == 3 and seen[2].headers["X-DFNS-USERACTION"] == "ua_early"
    with (
        Client("http://vault.test", token="t") as unsigned,
        pytest.raises(InvalidArgument),
    ):
        unsigned.sign_user_action("POST", "/keys")
