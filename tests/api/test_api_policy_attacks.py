"""The attacks of the security review on approval policies, as tests: each one got
past a policy before its fix. Transactions are built by independent libraries
(embit for PSBTs, rlp/eth-account for EVM, solders for Solana)."""

from __future__ import annotations

import base64
import os
from decimal import Decimal
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
from solders.compute_budget import (
    request_heap_frame,
    set_compute_unit_limit,
    set_compute_unit_price,
)
from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
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


# -- 3: fees are moved too: an EVM gas price, a PSBT's inputs minus outputs, a Solana priority
# fee count in the amount -------------------------------------------------------------------------
def eip1559_tx(value: int, gas: int, max_fee: int, to: str = TO) -> str:
    fields = [1, 0, 1, max_fee, gas, to_bytes(hexstr=to), value, b"", []]
    return "0x02" + rlp.encode(fields).hex()


def whitelist(api: Api, *addresses: str) -> Any:
    return create_policy(
        api,
        {"name": "whitelist", "activityKind": "Wallets:Sign",
         "rule": {"kind": "TransactionRecipientWhitelist",
                  "configuration": {"addresses": list(addresses)}},
         "action": {"kind": "Block"}},
    )  # fmt: skip


def test_evm_gas_counts_in_the_amount(api: Api) -> None:
    wallet = create_wallet(api, "Ethereum")
    block_above(api, "0.01", "ETH")
    whitelist(api, TO)
    fee_500_eth = 10**18 * 500 // 21000
    legacy = on_wallet(api, wallet, evm_tx(0, gas_price=fee_500_eth))
    assert legacy.status_code == 403, legacy.text
    reason = error_of(legacy)["details"]["evaluations"][0]["reason"]
    assert reason.startswith("amount 499.999999999999989 ETH") and "above limit 0.01" in reason
    assert on_wallet(api, wallet, eip1559_tx(0, 21000, fee_500_eth)).status_code == 403
    # value + gas * maxFeePerGas: 0.009 ETH + 21000 * 50 gwei = 0.01005 ETH
    over = on_wallet(api, wallet, eip1559_tx(9 * 10**15, 21000, 50 * 10**9))
    assert over.status_code == 403
    assert "amount 0.01005 ETH is above" in error_of(over)["details"]["evaluations"][0]["reason"]
    # 0.009 ETH + 21000 * 40 gwei = 0.00984 ETH
    assert on_wallet(api, wallet, eip1559_tx(9 * 10**15, 21000, 40 * 10**9)).status_code == 200
    assert on_wallet(api, wallet, evm_tx(9 * 10**15, gas_price=40 * 10**9)).status_code == 200


def _fee_psbt(pub: bytes, inputs: list[int | None], outputs: list[tuple[int, bool]]) -> str:
    own = escript.p2wpkh(EPublicKey.parse(pub))
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    tx = ETx(
        vin=[TransactionInput(os.urandom(32), 0) for _ in inputs],
        vout=[TransactionOutput(amount, own if mine else other) for amount, mine in outputs],
    )
    psbt = PSBT(tx)
    for pin, amount in zip(psbt.inputs, inputs, strict=True):
        if amount is not None:
            pin.witness_utxo = TransactionOutput(amount, own)
    return base64.b64encode(psbt.serialize()).decode()


def test_psbt_fee_counts_in_the_amount(api: Api) -> None:
    wallet = create_wallet(api, "Bitcoin")
    pub = bytes.fromhex(wallet["signingKey"]["publicKey"])
    block_above(api, "0.001", "BTC")
    path = f"/wallets/{wallet['id']}/signatures"

    def sign(inputs: list[int | None], outputs: list[tuple[int, bool]]) -> Any:
        return api.post(path, {"kind": "Psbt", "psbt": _fee_psbt(pub, inputs, outputs)})

    # the attack: 1 BTC in, 0.01 BTC back to the wallet, 0.99 BTC left to the miner
    burnt = sign([100_000_000], [(1_000_000, True)])
    assert burnt.status_code == 403
    assert "amount 0.99 BTC is above" in error_of(burnt)["details"]["evaluations"][0]["reason"]
    # 0.0005 BTC paid + 0.00049 BTC fee: 0.00099 BTC; one satoshi more of fee is above
    assert sign([1_000_000], [(50_000, False), (901_000, True)]).status_code == 200
    assert sign([1_000_000], [(50_000, False), (900_000, True)]).status_code == 200
    assert sign([1_000_000], [(50_000, False), (899_999, True)]).status_code == 403
    # an input without its amount: the fee cannot be read (fails closed)
    missing = sign([1_000_000, None], [(50_000, False), (940_000, True)])
    assert missing.status_code == 403
    assert "cannot be read" in error_of(missing)["details"]["evaluations"][0]["reason"]


def _solana_request(payer: Keypair, *instructions: Instruction) -> dict[str, str]:
    message = Message.new_with_blockhash(list(instructions), payer.pubkey(), Hash.new_unique())
    return {"kind": "Transaction", "transaction": "0x" + bytes(message).hex()}


def test_solana_fees_count_in_the_amount() -> None:
    payer = Keypair()
    to = Pubkey.from_bytes(os.urandom(32))
    pay = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=1_000_000))
    sol = get_network("Solana")

    def moved(*instructions: Instruction) -> Any:
        return transfer_of(
            _solana_request(payer, *instructions), sol, "EdDSA", bytes(payer.pubkey())
        )

    # the base fee: 5000 lamports for the one signature
    assert moved(pay).amount == Decimal("0.001005")
    # a priority fee of 10 SOL: 10**10 micro-lamports per unit for 1_000_000 units
    expensive = moved(set_compute_unit_limit(1_000_000), set_compute_unit_price(10**10), pay)
    assert expensive.amount == Decimal("10.001005")
    assert expensive.recipients == (str(to),)
    # without a limit the runtime's default: 200_000 units an instruction other than the
    # compute budget's (here one), at 1 lamport a unit
    default = moved(set_compute_unit_price(10**6), pay)
    assert default.amount == Decimal("0.001005") + Decimal("0.0002")
    # a fee paid by someone else is not this key's
    other_payer = Keypair()
    message = Message.new_with_blockhash(
        [set_compute_unit_price(10**13), pay], other_payer.pubkey(), Hash.new_unique()
    )
    request = {"kind": "Transaction", "transaction": "0x" + bytes(message).hex()}
    assert transfer_of(request, sol, "EdDSA", bytes(payer.pubkey())).amount == Decimal("0.001")
    # a compute budget instruction the vault does not read: unknown
    heap = moved(request_heap_frame(64 * 1024), pay)
    assert heap.amount is None


def test_solana_priority_fee_blocked_on_the_wallet_route(api: Api) -> None:
    wallet = create_wallet(api, "Solana")
    block_above(api, "0.01", "SOL")
    # the vault key is the fee payer: build the message around its public key
    key = Pubkey.from_bytes(bytes.fromhex(wallet["signingKey"]["publicKey"]))
    to = Pubkey.from_bytes(os.urandom(32))
    pay = transfer(TransferParams(from_pubkey=key, to_pubkey=to, lamports=1_000_000))
    path = f"/wallets/{wallet['id']}/signatures"

    def sign(*instructions: Instruction) -> Any:
        message = Message.new_with_blockhash(list(instructions), key, Hash.new_unique())
        body = {"kind": "Transaction", "transaction": "0x" + bytes(message).hex()}
        return api.post(path, body)

    assert sign(pay).status_code == 200
    r = sign(set_compute_unit_limit(1_000_000), set_compute_unit_price(10**10), pay)
    assert r.status_code == 403
    assert "amount 10.001005 SOL is above" in error_of(r)["details"]["evaluations"][0]["reason"]
