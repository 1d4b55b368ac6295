"""minSigners 1 is refused for import and key generation, for every protocol
(issue 12 section 5; docs/security.md item 31): every signer would hold the whole key.
Import's 400 is also in test_api_import_export.py (validation codes) and the SDK and
protocol checks in tests/sdk and tests/protocols."""

from __future__ import annotations

from pathlib import Path

import pytest
from apihelpers import FakeVault, error_of
from conftest import _build
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("scheme", "curve"), [("EdDSA", "ed25519"), ("Schnorr", "secp256k1"), ("ECDSA", "secp256k1")]
)
def test_key_generation_with_min_signers_one_is_400(
    vault: FakeVault, database_url: str, tmp_path: Path, scheme: str, curve: str
) -> None:
    app, creds = _build(vault, database_url, tmp_path, default_min_signers=1)
    with TestClient(app) as client:
        r = client.post(
            "/keys",
            json={"scheme": scheme, "curve": curve},
            headers={"Authorization": f"Bearer {creds['token']}"},
        )
    assert r.status_code == 400, r.text
    err = error_of(r)
    assert err["code"] == "InvalidMinSigners"
    assert "every signer would hold the whole key" in err["message"]
    assert vault.calls.get("generate_key", 0) == 0
