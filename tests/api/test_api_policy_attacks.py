"""The attacks of the security review on approval policies, as tests: each one got
past a policy before its fix. Transactions are built by independent libraries
(embit for PSBTs, rlp/eth-account for EVM, solders for Solana)."""

from __future__ import annotations

import base64
import os
from typing import Any

import coincurve
import rlp
from apihelpers import Api, b64u, error_of
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.psbt import PSBT
from embit.transaction import Transaction as ETx
from embit.transaction import TransactionInput, TransactionOutput
from eth_utils import to_bytes, to_checksum_address
from test_api_policies import add_user, approval_policy
from wallethelpers import create_wallet

from shardvault.api.policies.transfers import transfer_of
from shardvault.chains.networks import get_network


def create_policy(api: Api, body: dict[str, Any]) -> Any:
    r = api.post("/v2/policies", body)
    assert r.status_code == 200, r.text
    return r.json()


def block_above(api: Api, limit: str, currency: str) -> Any:
    return create_policy(
        api,
        {"name": f"max {limit} {currency}", "activityKind": "Wallets:Sign",
         "rule": {"kind": "TransactionAmountLimit",
                  "configuration": {"limit": limit, "currency": currency}},
         "action": {"kind": "Block"}},
    )  # fmt: skip


# -- 1: a PSBT input signed with SIGHASH_NONE / SINGLE / ANYONECANPAY commits to no (or
# not all) outputs: the requester can swap them after signing ---------------------------------
def _self_paying_psbt(pub: bytes, sighash: int | None) -> str:
    own = escript.p2wpkh(EPublicKey.parse(pub))
    tx = ETx(
        vin=[TransactionInput(os.urandom(32), 0)],
        vout=[TransactionOutput(99_999_000, own)],  # all back to the wallet, fee 1000 sat
    )
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(100_000_000, own)
    if sighash is not None:
        psbt.inputs[0].sighash_type = sighash
    return base64.b64encode(psbt.serialize()).decode()


def test_psbt_sighash_other_than_all_fails_closed(api: Api) -> None:
    wallet = create_wallet(api, "Bitcoin")
    pub = bytes.fromhex(wallet["signingKey"]["publicKey"])
    block_above(api, "0.001", "BTC")
    path = f"/wallets/{wallet['id']}/signatures"
    assert api.post(path, {"kind": "Psbt", "psbt": _self_paying_psbt(pub, None)}).status_code == 200
    assert api.post(path, {"kind": "Psbt", "psbt": _self_paying_psbt(pub, 0x01)}).status_code == 200
    for sighash in (0x02, 0x03, 0x81, 0x82, 0x83):
        r = api.post(path, {"kind": "Psbt", "psbt": _self_paying_psbt(pub, sighash)})
        assert r.status_code == 403, (hex(sighash), r.text)
        assert error_of(r)["code"] == "PolicyBlocked"
        reason = error_of(r)["details"]["evaluations"][0]["reason"]
        assert "cannot be read" in reason


def test_psbt_sighash_unknown_for_whitelists_and_taproot() -> None:
    pub = coincurve.PrivateKey().public_key.format(compressed=True)
    btc = get_network("Bitcoin")

    def moved(sighash: int | None, scheme: str) -> Any:
        request = {"kind": "Psbt", "psbt": _self_paying_psbt(pub, sighash)}
        return transfer_of(request, btc, scheme, pub)

    assert moved(0x01, "ECDSA").recipients == ()
    none = moved(0x02, "ECDSA")
    assert none.amount is None and none.recipients is None  # whitelists fail closed too
    assert moved(0x00, "Schnorr").recipients is not None  # SIGHASH_DEFAULT commits to all
    assert moved(0x00, "ECDSA").recipients is None
    assert moved(0x81, "Schnorr").recipients is None


# -- 2: the key route signs the same chain transactions as the wallet route: a wallet filter
# applies to it when any wallet of the key matches, and wallet velocity counts it ----------------
TO = to_checksum_address("0x" + "5a" * 20)


def evm_tx(value: int, gas_price: int = 0, to: str = TO) -> str:
    return "0x" + rlp.encode([0, gas_price, 21000, to_bytes(hexstr=to), value, b"", 1, 0, 0]).hex()


def on_wallet(api: Api, wallet: Any, tx: str) -> Any:
    return api.post(
        f"/wallets/{wallet['id']}/signatures", {"kind": "Transaction", "transaction": tx}
    )


def on_key(api: Api, wallet: Any, tx: str) -> Any:
    return api.post(
        f"/keys/{wallet['signingKey']['id']}/signatures",
        {"kind": "Transaction", "network": "Ethereum", "transaction": tx},
    )


def test_wallet_tag_filter_applies_on_the_key_route(api: Api) -> None:
    tagged = create_wallet(api, "Ethereum", tags=["treasury"])
    plain = create_wallet(api, "Ethereum")
    create_policy(
        api,
        {"name": "treasury", "activityKind": "Wallets:Sign", "rule": {"kind": "AlwaysTrigger"},
         "action": {"kind": "Block"}, "filters": {"walletTags": {"hasAny": ["treasury"]}}},
    )  # fmt: skip
    tx = evm_tx(10**21)
    assert on_wallet(api, tagged, tx).status_code == 403
    blocked = on_key(api, tagged, tx)
    assert blocked.status_code == 403 and error_of(blocked)["code"] == "PolicyBlocked"
    # a key with a second, untagged wallet: still one tagged wallet of the key
    polygon = create_wallet(api, "Polygon", signingKey={"id": tagged["signingKey"]["id"]})
    assert polygon["signingKey"]["id"] == tagged["signingKey"]["id"]
    assert on_key(api, tagged, tx).status_code == 403
    assert on_key(api, plain, tx).status_code == 200
    assert on_wallet(api, plain, tx).status_code == 200


def test_wallet_id_filter_applies_on_the_key_route(api: Api) -> None:
    governed = create_wallet(api, "Ethereum")
    free = create_wallet(api, "Ethereum")
    create_policy(
        api,
        {"name": "max 1 ETH", "activityKind": "Keys:Signatures",
         "rule": {"kind": "TransactionAmountLimit",
                  "configuration": {"limit": "1", "currency": "ETH"}},
         "action": {"kind": "Block"}, "filters": {"walletId": {"in": [governed["id"]]}}},
    )  # fmt: skip
    assert on_wallet(api, governed, evm_tx(10**21)).status_code == 403
    assert on_key(api, governed, evm_tx(10**21)).status_code == 403
    assert on_key(api, governed, evm_tx(10**18)).status_code == 200
    assert on_key(api, free, evm_tx(10**21)).status_code == 200


def test_wallet_velocity_counts_the_key_route(api: Api) -> None:
    wallet = create_wallet(api, "Ethereum")
    create_policy(
        api,
        {"name": "at most 2 an hour", "activityKind": "Wallets:Sign",
         "rule": {"kind": "TransactionCountVelocity",
                  "configuration": {"limit": 2, "timeframe": 60}},
         "action": {"kind": "Block"}, "filters": {"walletId": {"in": [wallet["id"]]}}},
    )  # fmt: skip
    assert on_key(api, wallet, evm_tx(1)).status_code == 200
    assert on_wallet(api, wallet, evm_tx(2)).status_code == 200
    third = on_key(api, wallet, evm_tx(3))
    assert third.status_code == 403
    reason = error_of(third)["details"]["evaluations"][0]["reason"]
    assert reason == "number of requests (3) in 60 min is above limit (2)"
    fourth = on_wallet(api, wallet, evm_tx(4))
    assert fourth.status_code == 403  # the key-route request counts for the wallet


# -- 5: an approved import binds the key's exportability ------------------------------------------
def test_an_approved_import_binds_exportable(api: Api) -> None:
    alice = add_user(api, "alice")
    create_policy(api, {**approval_policy([alice.id], 1), "activityKind": "Keys:Import"})
    shares = [
        {"signerId": s["signerId"], "encryptedKeyShare": b64u(os.urandom(48))}
        for s in api.get("/signers").json()["clusters"][0]["signers"]
    ]
    body = {"protocol": "FROST", "curve": "ed25519", "minSigners": 2, "encryptedKeyShares": shares}
    held = api.post("/keys/import", api.with_context({**body, "exportable": False}))
    assert held.status_code == 202 and held.json()["body"]["exportable"] is False
    assert alice.decide(held.json()["approvalId"], "Approved").status_code == 200
    # approved as not exportable: an exportable import is another request, asked again
    again = api.post("/keys/import", api.with_context({**body, "exportable": True}))
    assert again.status_code == 202 and again.json()["approvalId"] != held.json()["approvalId"]
    assert api.vault.calls.get("import_key", 0) == 0
    # the approved request itself goes through (to the back end, which refuses these shares)
    api.post("/keys/import", api.with_context({**body, "exportable": False}))
    assert api.vault.calls.get("import_key", 0) == 1
