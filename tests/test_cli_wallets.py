"""``shardvault wallets``, ``shardvault networks`` and the chain options of ``shardvault
sign`` (request encoding and output, against a mock transport)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from clihelpers import flat, invoke

WALLET = {
    "id": "wa-1",
    "network": "Bitcoin",
    "address": "bc1qexampleaddress",
    "signingKey": {"id": "key-1", "scheme": "ECDSA", "curve": "secp256k1",
                   "publicKey": "02" + "11" * 32},
    "status": "Active",
    "name": "cold",
    "tags": ["a", "b"],
    "dateCreated": "2026-11-25T12:00:00.000Z",
}  # fmt: skip
SIGNATURE = {
    "id": "sig-1",
    "keyId": "key-1",
    "walletId": "wa-1",
    "network": "Bitcoin",
    "status": "Signed",
    "requestBody": {"kind": "Psbt"},
    "signedData": "cHNidP8BAA==",
    "signedInputs": [0],
    "skippedInputs": [{"index": 1, "reason": "scriptPubKey does not pay this key"}],
    "dateRequested": "2026-11-25T12:00:00.000Z",
    "dateSigned": "2026-11-25T12:00:00.100Z",
}


def test_help_lists_wallet_commands() -> None:
    out = invoke("--help").output
    assert "wallets" in out and "networks" in out
    out = invoke("wallets", "--help").output
    for command in ("create", "list", "get"):
        assert command in out
    out = invoke("sign", "--help").output
    for option in ("--wallet", "--transaction", "--psbt", "--eip712"):
        assert option in out


def test_wallets_create_get_list(mock_api: Any) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/wallets" and request.method == "GET":
            return httpx.Response(200, json={"items": [WALLET]})
        return httpx.Response(200, json=WALLET)

    seen = mock_api(handler)
    result = invoke(
        "wallets", "create", "--network", "Bitcoin", "--scheme", "Schnorr", "--name", "cold",
        "--tag", "a", "--tag", "b", "--external-id", "e1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(seen[-1].content) == {
        "network": "Bitcoin",
        "signingKey": {"scheme": "Schnorr", "curve": "secp256k1"},
        "name": "cold",
        "externalId": "e1",
        "tags": ["a", "b"],
    }
    assert "bc1qexampleaddress" in flat(result.output)
    result = invoke("wallets", "create", "--network", "Ethereum", "--key-id", "key-1", "--json")
    assert result.exit_code == 0
    assert json.loads(seen[-1].content) == {"network": "Ethereum", "signingKey": {"id": "key-1"}}
    assert json.loads(result.output)["id"] == "wa-1"
    result = invoke("wallets", "get", "wa-1")
    assert result.exit_code == 0 and "key-1" in flat(result.output)
    assert seen[-1].url.path == "/wallets/wa-1"
    result = invoke("wallets", "list")
    assert result.exit_code == 0 and "wa-1" in flat(result.output)
    result = invoke("wallets", "list", "--json")
    assert json.loads(result.output)["items"][0]["address"] == "bc1qexampleaddress"
    result = invoke(
        "wallets", "create", "--network", "Bitcoin", "--key-id", "key-1", "--scheme", "ECDSA"
    )
    assert result.exit_code == 2


def test_wallet_errors_are_printed(mock_api: Any) -> None:
    mock_api(
        lambda r: httpx.Response(
            400,
            json={"error": {"code": "SchemeNotSupportedByNetwork", "message": "no EdDSA here"}},
        )
    )
    result = invoke("wallets", "create", "--network", "Ethereum", "--scheme", "EdDSA")
    assert result.exit_code == 1
    assert "error SchemeNotSupportedByNetwork: no EdDSA here" in result.output


def test_networks(mock_api: Any) -> None:
    mock_api(
        lambda r: httpx.Response(
            200,
            json={
                "items": [
                    {
                        "network": "Base",
                        "family": "EVM",
                        "chainId": 8453,
                        "allowedSchemes": [{"scheme": "ECDSA", "curve": "secp256k1"}],
                        "defaultScheme": {"scheme": "ECDSA", "curve": "secp256k1"},
                    }
                ]
            },
        )
    )
    result = invoke("networks")
    assert result.exit_code == 0
    assert "Base EVM 8453 ECDSA/secp256k1" in flat(result.output)
    assert json.loads(invoke("networks", "--json").output)["items"][0]["chainId"] == 8453


def test_sign_with_a_wallet(mock_api: Any, tmp_path: Path) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json=SIGNATURE))
    result = invoke("sign", "--wallet", "wa-1", "--transaction", "0xf86c")
    assert result.exit_code == 0, result.output
    assert seen[-1].url.path == "/wallets/wa-1/signatures"
    assert json.loads(seen[-1].content) == {"kind": "Transaction", "transaction": "0xf86c"}
    out = flat(result.output)
    assert "cHNidP8BAA==" in out and "signedInputs 0" in out and "skippedInputs 1" in out

    binary = tmp_path / "tx.psbt"
    binary.write_bytes(b"psbt\xff\x01\x00")
    invoke("sign", "--wallet", "wa-1", "--psbt", str(binary))
    assert json.loads(seen[-1].content) == {
        "kind": "Psbt",
        "psbt": base64.b64encode(b"psbt\xff\x01\x00").decode(),
    }
    text = tmp_path / "tx.txt"
    text.write_text("cHNidP8BAA==\n")
    invoke("sign", "--wallet", "wa-1", "--psbt", str(text), "--external-id", "p1")
    assert json.loads(seen[-1].content) == {
        "kind": "Psbt",
        "psbt": "cHNidP8BAA==",
        "externalId": "p1",
    }
    doc = {"types": {}, "domain": {}, "primaryType": "EIP712Domain", "message": {}}
    typed = tmp_path / "typed.json"
    typed.write_text(json.dumps(doc))
    invoke("sign", "--wallet", "wa-1", "--eip712", str(typed))
    assert json.loads(seen[-1].content) == {"kind": "Eip712", **doc}
    invoke("sign", "--wallet", "wa-1", "--message", "0x6869", "--kind", "Bip322")
    assert json.loads(seen[-1].content) == {"kind": "Bip322", "message": "0x6869"}
    # key id with a network
    invoke("sign", "key-1", "--transaction", "0x02", "--network", "Base", "--json")
    assert seen[-1].url.path == "/keys/key-1/signatures"
    assert json.loads(seen[-1].content) == {
        "kind": "Transaction",
        "transaction": "0x02",
        "network": "Base",
    }


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sign", "--wallet", "wa-1"], "exactly one of --hash or --message"),
        (["sign", "key-1", "--wallet", "wa-1", "--hash", "0x00"], "KEY_ID or --wallet"),
        (["sign", "--hash", "0x00"], "KEY_ID or --wallet"),
        (["sign", "--wallet", "wa-1", "--transaction", "0xzz"], "--transaction"),
        (["sign", "--wallet", "wa-1", "--hash", "0x00", "--kind", "Eip191"], "--kind"),
        (["sign", "--wallet", "wa-1", "--message", "0x00", "--network", "Base"], "--network"),
        (["sign", "--wallet", "wa-1", "--transaction", "0x00", "--psbt", "x"], "exactly one"),
    ],
)
def test_sign_argument_errors(mock_api: Any, args: list[str], needle: str) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json=SIGNATURE))
    result = invoke(*args)
    assert result.exit_code == 2
    assert needle in flat(result.output)
    assert seen == []


def test_sign_bad_eip712_file(mock_api: Any, tmp_path: Path) -> None:
    seen = mock_api(lambda r: httpx.Response(200, json=SIGNATURE))
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = invoke("sign", "--wallet", "wa-1", "--eip712", str(bad))
    assert result.exit_code == 2 and "--eip712" in flat(result.output)
    bad.write_text("{not json")
    assert invoke("sign", "--wallet", "wa-1", "--eip712", str(bad)).exit_code == 2
    assert seen == []
