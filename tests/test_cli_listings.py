"""The CLI's listings (keys, wallets, signatures, signers, networks) in an 80-column
terminal: one line per row with the id in full and every default column readable;
``--wide`` prints every value in full."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest
from clihelpers import invoke
from rich.console import Console

from shardvault.cli.keys import keys_table
from shardvault.sdk import Key

PUBLIC_KEY = "02" + "ab" * 32


def _key(n: int, name: str | None, scheme: str, curve: str, protocol: str, **extra: Any) -> Any:
    return {
        "id": f"key-01jd3k8w2x7q9m4v6t5r3p{n:04d}",
        "scheme": scheme,
        "curve": curve,
        "publicKey": PUBLIC_KEY if curve == "secp256k1" else "cd" * 32,
        "name": name,
        "status": "Active",
        "dateCreated": "2024-05-01T12:00:00Z",
        "protocol": protocol,
        "minSigners": 2,
        "signers": ["sgn-a", "sgn-b", "sgn-c"],
        **extra,
    }


KEYS = [
    _key(1, "treasury hot wallet of the operations team", "ECDSA", "secp256k1", "CGGMP24"),
    _key(2, None, "EdDSA", "ed25519", "FROST", exported=True),
    _key(3, "btc", "Schnorr", "secp256k1", "FROST_BITCOIN"),
]
TAPROOT = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
WALLETS = [
    {
        "id": f"wa-01jd3k8w2x7q9m4v6t5r3p000{n}",
        "network": network,
        "address": address,
        "name": name,
        "signingKey": {
            "id": KEYS[0]["id"],
            "scheme": "ECDSA",
            "curve": "secp256k1",
            "publicKey": PUBLIC_KEY,
        },
        "status": "Active",
        "tags": [],
        "dateCreated": "2026-11-25T12:00:00.000Z",
    }
    for n, network, address, name in [
        (1, "EthereumSepolia", "0x71C7656EC7ab88b098defB751B7401B5f6d8976F", "ops treasury"),
        (2, "BitcoinTestnet3", TAPROOT, None),
    ]
]
SIGNATURES = [
    {
        "id": f"sig-01jd3k8w2x7q9m4v6t5r3p000{n}",
        "keyId": KEYS[0]["id"],
        "status": "Signed",
        "requestBody": {"kind": kind},
        "signature": {"r": "0x01", "s": "0x02", "encoded": "0x" + "30" * 70},
        "dateRequested": "2026-11-25T12:00:00.123Z",
    }
    for n, kind in [(1, "Transaction"), (2, "Hash")]
]
IDENTITY_KEY = "z3igIxzPlb5zqkAqi8Jtnq69kUPZ5kxoHjAL38YPR3w"
SIGNERS = {
    "clusters": [
        {
            "clusterId": "cl-026537c6b2ec331f",
            "signers": [
                {
                    "signerId": f"sgn-01jd3k8w2x7q9m4v6t5r3p000{n}",
                    "encryptionKey": "A" * 43,
                    "identityKey": IDENTITY_KEY,
                    "encryptionKeySignature": "A" * 86,
                }
                for n in range(1, 4)
            ],
        }
    ]
}
ECDSA = {"scheme": "ECDSA", "curve": "secp256k1"}
NETWORKS = {
    "items": [
        {"network": "EthereumSepolia", "family": "EVM", "chainId": 11155111,
         "allowedSchemes": [ECDSA], "defaultScheme": ECDSA},
        {"network": "BitcoinTestnet3", "family": "Bitcoin",
         "allowedSchemes": [ECDSA, {"scheme": "Schnorr", "curve": "secp256k1"}],
         "defaultScheme": ECDSA},
    ]
}  # fmt: skip


def _handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/keys":
        return httpx.Response(200, json={"items": KEYS})
    if path == "/wallets":
        return httpx.Response(200, json={"items": WALLETS})
    if path.endswith("/signatures"):
        return httpx.Response(200, json={"items": SIGNATURES})
    if path == "/signers":
        return httpx.Response(200, json=SIGNERS)
    return httpx.Response(200, json=NETWORKS)


def _row(output: str, row_id: str) -> str:
    """The one line of ``output`` that shows ``row_id`` (in full)."""
    (line,) = [line for line in output.splitlines() if row_id in line]
    return line


#: command, then per row: its id and what its line shows besides the id.
LISTINGS = [
    (["keys", "list"], [(k["id"], [k["scheme"], "2-of-3"]) for k in KEYS]),
    (["wallets", "list"], [(w["id"], [w["network"], w["address"][:6]]) for w in WALLETS]),
    (
        ["signatures", "list", KEYS[0]["id"]],
        [(s["id"], ["Signed", s["requestBody"]["kind"], "2026-11-25T12:00:00Z"])
         for s in SIGNATURES],
    ),
    (["signers", "list"], [(s["signerId"], ["cl-026537c6b2ec331f", "z3igIx", "INVALID"])
                           for s in SIGNERS["clusters"][0]["signers"]]),
    (["networks"], [("EthereumSepolia", ["EVM", "11155111", "ECDSA/secp256k1"]),
                    ("BitcoinTestnet3", ["Bitcoin", "ECDSA/secp256k1, Schnorr/secp256k1"])]),
]  # fmt: skip


@pytest.mark.parametrize(("args", "rows"), LISTINGS, ids=[a[0] for a, _ in LISTINGS])
def test_listings_fit_80_columns(
    mock_api: Any, monkeypatch: pytest.MonkeyPatch, args: list[str], rows: Any
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    mock_api(_handler)
    result = invoke(*args)
    assert all(len(line) <= 80 for line in result.output.splitlines()), result.output
    for row_id, shown in rows:
        line = _row(result.output, row_id)
        for value in shown:
            assert value in line, f"{value!r} not on the line of {row_id}:\n{result.output}"


def test_keys_list_status_and_names_at_80_columns(
    mock_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    mock_api(_handler)
    output = invoke("keys", "list").output
    assert "Active (exported)" in _row(output, KEYS[1]["id"])
    assert "treasury h" in _row(output, KEYS[0]["id"])  # shortened with …, on one line
    assert "…" in _row(output, KEYS[0]["id"])
    assert "btc" in _row(output, KEYS[2]["id"])


def test_keys_table_in_a_console_of_width_80() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, highlight=False, markup=False)
    console.print(keys_table([Key.model_validate(k) for k in KEYS]))
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1 + len(KEYS)  # a header, then one line per key
    assert lines[0].split() == ["id", "name", "scheme", "status", "t-of-n"]
    assert all(len(line) <= 80 for line in lines)
    for line, key in zip(lines[1:], KEYS, strict=True):
        assert line.startswith(key["id"] + " ")


@pytest.mark.parametrize(
    ("args", "full_values"),
    [
        (["keys", "list", "--wide"], [PUBLIC_KEY, "secp256k1", "FROST_BITCOIN", KEYS[0]["name"]]),
        (["wallets", "list", "--wide"], [TAPROOT, KEYS[0]["id"]]),
        (["signatures", "list", KEYS[0]["id"], "--wide"], ["0x" + "30" * 70]),
        (["signers", "list", "--wide"], [IDENTITY_KEY]),
    ],
)
def test_wide_listings_print_values_in_full(
    mock_api: Any, monkeypatch: pytest.MonkeyPatch, args: list[str], full_values: list[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    mock_api(_handler)
    output = invoke(*args).output
    for value in full_values:
        assert value in output


def test_json_listings_are_unchanged_by_wide(mock_api: Any) -> None:
    mock_api(_handler)
    plain = json.loads(invoke("keys", "list", "--json").output)
    assert plain == json.loads(invoke("keys", "list", "--json", "--wide").output)
    assert [k["id"] for k in plain["items"]] == [k["id"] for k in KEYS]
