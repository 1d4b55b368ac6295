"""Helpers of the wallet API tests (test_api_wallets.py over the FakeVault and
test_api_contract_wallets.py over both back ends)."""

from __future__ import annotations

import os
from typing import Any

import rlp
from apihelpers import Api
from embit import script as escript
from embit.psbt import PSBT
from embit.transaction import Transaction as ETx
from embit.transaction import TransactionInput, TransactionOutput
from eth_account._utils.legacy_transactions import serializable_unsigned_transaction_from_dict
from eth_utils import keccak, to_bytes, to_checksum_address

TO = to_checksum_address("0x" + "5a" * 20)


def create_wallet(api: Api, network: str, **extra: Any) -> Any:
    r = api.post("/wallets", {"network": network, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def signatures_of(api: Api, key_id: str) -> list[Any]:
    r = api.get(f"/keys/{key_id}/signatures")
    assert r.status_code == 200
    return list(r.json()["items"])


def legacy_unsigned(chain_id: int, nonce: int = 0) -> tuple[bytes, dict[str, Any]]:
    tx = {
        "nonce": nonce,
        "gasPrice": 20 * 10**9,
        "gas": 21000,
        "to": TO,
        "value": 10**15,
        "data": b"",
        "chainId": chain_id,
    }
    raw = rlp.encode(
        [nonce, tx["gasPrice"], tx["gas"], to_bytes(hexstr=TO), tx["value"], b"", chain_id, 0, 0]
    )
    assert keccak(raw) == serializable_unsigned_transaction_from_dict(tx).hash()
    return raw, tx


def psbt_for(spk: escript.Script, other: escript.Script) -> tuple[PSBT, list[int]]:
    """Two inputs: one paying ``spk`` (100000 sat), one paying ``other`` (50000 sat)."""
    values = [100_000, 50_000]
    tx = ETx(
        vin=[TransactionInput(os.urandom(32), 0), TransactionInput(os.urandom(32), 1)],
        vout=[TransactionOutput(140_000, other)],
    )
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(values[0], spk)
    psbt.inputs[1].witness_utxo = TransactionOutput(values[1], other)
    return psbt, values
