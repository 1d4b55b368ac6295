"""Unsigned EVM transactions for tests, each checked against eth-account's own hashing
before use (so a test that signs one signs what eth-account would)."""

from __future__ import annotations

from typing import Any

import coincurve
import rlp
from eth_account.typed_transactions import TypedTransaction
from eth_utils import keccak, to_bytes

from shardvault.chains.evm import SECP256K1_N

#: The EVM networks the vault supports and their chain ids (the issue's list): what the
#: tests expect of GET /networks and of chains.networks.
EVM_CHAIN_IDS: dict[str, int] = {
    "Ethereum": 1,
    "EthereumSepolia": 11155111,
    "Base": 8453,
    "BaseSepolia": 84532,
    "ArbitrumOne": 42161,
    "Optimism": 10,
    "Polygon": 137,
    "Bsc": 56,
    "AvalancheC": 43114,
}

#: A recipient address (EIP-155's example).
TO = "0x3535353535353535353535353535353535353535"


def eip1559_unsigned(
    chain_id: int, *, to: str = TO, nonce: int = 7, gas: int = 50000, data: bytes = b"\x01\x02"
) -> tuple[bytes, dict[str, Any]]:
    """The unsigned EIP-1559 transaction (``0x02 || rlp(...)``) and its eth-account dict."""
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "maxFeePerGas": 30 * 10**9,
        "maxPriorityFeePerGas": 2 * 10**9,
        "gas": gas,
        "to": to,
        "value": 12345,
        "data": data,
        "accessList": [],
    }
    fields = [chain_id, nonce, tx["maxPriorityFeePerGas"], tx["maxFeePerGas"], gas]
    raw = b"\x02" + rlp.encode([*fields, to_bytes(hexstr=to), 12345, data, []])
    assert keccak(raw) == TypedTransaction.from_dict(tx).hash()
    return raw, tx


def vault_sign(key: bytes, msg_hash: bytes) -> tuple[int, int, int]:
    """What the vault answers for an ECDSA hash signature, made with one key by
    libsecp256k1: (r, s, recid) with low s."""
    sig = coincurve.PrivateKey(key).sign_recoverable(msg_hash, hasher=None)
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:64], "big")
    recid = sig[64]
    if s > SECP256K1_N // 2:
        s, recid = SECP256K1_N - s, recid ^ 1
    return r, s, recid
