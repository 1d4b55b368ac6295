"""The published Dfns TypeScript SDK (``@dfns/sdk`` 0.8.21 + ``@dfns/sdk-keysigner``
0.8.3, pinned by tests/interop/ts/package-lock.json and installed with ``npm ci``
outside the source tree) against the live vault: tests/interop/ts/run.mjs lists
keys, creates keys and a wallet and signs with them, every write through the SDK's
user-action flow (``AsymmetricKeySigner``: clientData without ``origin``); this
test checks every signature it got with PyNaCl, coincurve and eth-account.

Skipped with the reason when node/npm are missing, a failure under ``CI=true``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from dfns_sdk import DfnsClient
from eth_account import Account
from eth_account.messages import encode_defunct
from interophelpers import TS_DIR, Credentials, check_ed25519, check_secp256k1, unhex


def _run_ts(node: str, where: Path, creds: Credentials) -> dict[str, Any]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "SHARDVAULT_BASE_URL": creds.base_url,
        "SHARDVAULT_ORG_ID": creds.org_id,
        "SHARDVAULT_TOKEN": creds.token,
        "SHARDVAULT_CREDENTIAL_ID": creds.credential_id,
        "SHARDVAULT_PRIVATE_KEY": creds.private_key,
        "SHARDVAULT_NODE_PROJECT": str(where),
    }
    done = subprocess.run(
        [node, str(TS_DIR / "run.mjs")],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"run.mjs printed nothing (exit {done.returncode}):\n{done.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    assert done.returncode == 0 and "error" not in out, out.get("error", done.stderr)
    return out


def test_typescript_sdk_creates_keys_and_a_wallet_and_signs(
    ts_sdk: tuple[str, Path], creds: Credentials, admin: DfnsClient
) -> None:
    node, where = ts_sdk
    out = _run_ts(node, where, creds)
    check_ts_output(out)
    # What the TS SDK wrote, the Python SDK reads back the same.
    ecdsa_sig = out["ecdsaSignature"]
    assert admin.keys.get_signature(ecdsa_sig["keyId"], ecdsa_sig["id"]) == ecdsa_sig


def check_ts_output(out: dict[str, Any]) -> None:
    """Every signature run.mjs got verifies; the keys it made are listed."""
    eddsa, ecdsa = out["eddsaKey"], out["ecdsaKey"]
    assert (eddsa["scheme"], eddsa["curve"]) == ("EdDSA", "ed25519")
    assert (ecdsa["scheme"], ecdsa["curve"]) == ("ECDSA", "secp256k1")
    for sig, key in ((out["eddsaSignature"], eddsa), (out["ecdsaSignature"], ecdsa)):
        assert sig["status"] == "Signed" and sig["keyId"] == key["id"], sig
    check_ed25519(eddsa["publicKey"], unhex(out["eddsaHash"]), out["eddsaSignature"]["signature"])
    check_secp256k1(ecdsa["publicKey"], unhex(out["ecdsaHash"]), out["ecdsaSignature"]["signature"])
    assert out["fetchedSignature"] == out["ecdsaSignature"]

    wallet, sig = out["wallet"], out["walletSignature"]
    assert wallet["network"] == "EthereumSepolia" and sig["status"] == "Signed", sig
    value = sig["signature"]
    vrs = (27 + value["recid"], int(value["r"], 16), int(value["s"], 16))
    message = unhex(out["walletMessage"])
    assert Account.recover_message(encode_defunct(message), vrs=vrs) == wallet["address"]

    before = {k["id"] for k in out["listedBefore"]["items"]}
    after = {k["id"] for k in out["listedAfter"]["items"]}
    created = {eddsa["id"], ecdsa["id"], wallet["signingKey"]["id"]}
    assert after == before | created and not before & created
