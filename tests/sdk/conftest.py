"""Fixtures for SDK tests that need no server.

``FakeApi`` is an ``httpx.MockTransport`` handler that plays the *signer side* of the
REST API with the real key_import/key_export code: it opens import shares with each
signer's HPKE key (``open_import_share``), keeps the opened shares, and seals export
shares signed by each signer's identity key (``seal_export_share``). Nothing it answers
is canned: the public key it reports is the one the signers reconstructed from what the
SDK sent. It exists to test the client half of import/export, including signers that
cheat, which a real server cannot be made to do.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nacl.signing import SigningKey

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.protocols.key_export import seal_export_share
from shardvault.protocols.key_import import ImportContext, open_import_share
from shardvault.protocols.registry import scheme_for_protocol
from shardvault.sdk.encoding import b64url_decode, b64url_encode
from shardvault.transport.identity import encryption_key_statement


@dataclass
class FakeSigner:
    signer_id: str
    identity: SigningKey = field(default_factory=SigningKey.generate)
    hpke: HpkeKeyPair = field(default_factory=HpkeKeyPair.generate)

    def to_json(self, *, bad_signature: bool = False) -> dict[str, str]:
        statement = encryption_key_statement(self.signer_id, self.hpke.public_key)
        sig = self.identity.sign(statement).signature
        if bad_signature:
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        return {
            "signerId": self.signer_id,
            "encryptionKey": b64url_encode(self.hpke.public_key),
            "identityKey": b64url_encode(bytes(self.identity.verify_key)),
            "encryptionKeySignature": b64url_encode(sig),
        }


@dataclass
class FakeApi:
    signers: list[FakeSigner]
    requests: list[httpx.Request] = field(default_factory=list)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    shares: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    #: signer ids whose encryptionKeySignature is tampered with in GET /signers
    bad_signature: set[str] = field(default_factory=set)
    #: signer ids whose export share is tampered with
    bad_export: set[str] = field(default_factory=set)
    #: report another public key than the imported one
    lie_about_public_key: bool = False
    #: import contexts issued (import id -> issue time) and those used
    contexts: dict[bytes, int] = field(default_factory=dict)
    used_contexts: set[bytes] = field(default_factory=set)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/signers":
            return httpx.Response(
                200,
                json={
                    "clusters": [
                        {
                            "clusterId": "cl-test",
                            "signers": [
                                s.to_json(bad_signature=s.signer_id in self.bad_signature)
                                for s in self.signers
                            ],
                        }
                    ]
                },
            )
        if request.method == "POST" and path == "/keys/import/context":
            ctx = ImportContext.issue()
            self.contexts[ctx.import_id] = ctx.issued_at
            issued = datetime.fromtimestamp(ctx.issued_at, UTC)
            return httpx.Response(
                200,
                json={
                    "importId": b64url_encode(ctx.import_id),
                    "issuedAt": issued.isoformat().replace("+00:00", ".000Z"),
                    "expiresAt": (issued + timedelta(minutes=10))
                    .isoformat()
                    .replace("+00:00", ".000Z"),
                },
            )
        if request.method == "POST" and path == "/keys/import":
            return self._import(json.loads(request.content))
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "keys" and parts[1] in self.keys:
            key = self.keys[parts[1]]
            if request.method == "GET" and len(parts) == 2:
                return httpx.Response(200, json=key)
            if request.method == "POST" and parts[2:] == ["export"]:
                return self._export(key, json.loads(request.content))
        return httpx.Response(
            404, json={"error": {"code": "NotFound", "message": f"no route {path}"}}
        )

    def _import(self, body: dict[str, Any]) -> httpx.Response:
        ids = [s["signerId"] for s in body["encryptedKeyShares"]]
        import_id = b64url_decode(body["importId"])
        assert import_id in self.contexts and import_id not in self.used_contexts
        self.used_contexts.add(import_id)
        context = ImportContext(import_id, self.contexts[import_id])
        opened = {}
        for entry in body["encryptedKeyShares"]:
            signer = next(s for s in self.signers if s.signer_id == entry["signerId"])
            opened[signer.signer_id] = open_import_share(
                b64url_decode(entry["encryptedKeyShare"]),
                key_pair=signer.hpke,
                my_signer_id=signer.signer_id,
                context=context,
                curve=body["curve"],
                protocol=body["protocol"],
                min_signers=body["minSigners"],
                signer_ids=ids,
            )
        hashes = {o.commitments_hash for o in opened.values()}
        assert len(hashes) == 1, "signers saw different commitments"
        public_key = next(iter(opened.values())).group_public_key
        if self.lie_about_public_key:
            public_key = bytes([public_key[0]]) + bytes(len(public_key) - 1)
        key_id = "key-" + secrets.token_hex(8)
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        self.keys[key_id] = {
            "id": key_id,
            "scheme": scheme_for_protocol(body["protocol"], body["curve"]),
            "curve": body["curve"],
            "publicKey": public_key.hex(),
            "status": "Active",
            "custodial": True,
            "imported": True,
            "dateCreated": now,
            "protocol": body["protocol"],
            "minSigners": body["minSigners"],
            "signers": sorted(ids),
            **({"name": body["name"]} if "name" in body else {}),
        }
        self.shares[key_id] = {sid: (o.index, o.value) for sid, o in opened.items()}
        return httpx.Response(200, json=self.keys[key_id])

    def _export(self, key: dict[str, Any], body: dict[str, Any]) -> httpx.Response:
        assert body["supportedSchemes"] == [{"protocol": key["protocol"], "curve": key["curve"]}]
        requester = b64url_decode(body["encryptionKey"])
        out = []
        for signer in self.signers:
            index, value = self.shares[key["id"]][signer.signer_id]
            blob = seal_export_share(
                identity_key=signer.identity,
                signer_id=signer.signer_id,
                key_id=key["id"],
                curve=key["curve"],
                protocol=key["protocol"],
                group_public_key=bytes.fromhex(key["publicKey"]),
                min_signers=key["minSigners"],
                index=index,
                share_value=value,
                requester_encryption_key=requester,
            )
            if signer.signer_id in self.bad_export:
                blob = blob[:-1] + bytes([blob[-1] ^ 1])
            out.append({"signerId": signer.signer_id, "encryptedKeyShare": b64url_encode(blob)})
        key["exported"] = True
        return httpx.Response(
            200,
            json={
                "publicKey": key["publicKey"],
                "protocol": key["protocol"],
                "curve": key["curve"],
                "minSigners": key["minSigners"],
                "encryptedKeyShares": out,
            },
        )


@pytest.fixture
def fake_api() -> FakeApi:
    return FakeApi([FakeSigner(f"sgn-{secrets.token_hex(4)}") for _ in range(3)])
