"""What a signature request moves (api/policies/transfers.py), read from real
transactions built by independent libraries: a PSBT (embit) paying others and
change, a Solana System Program transfer (solders), EVM value transfers (rlp)."""

from __future__ import annotations

import base64
import os
from decimal import Decimal

import coincurve
import rlp
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.psbt import PSBT
from embit.transaction import Transaction as ETx
from embit.transaction import TransactionInput, TransactionOutput
from eth_utils import to_bytes, to_checksum_address
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer

from shardvault.api.policies.transfers import transfer_of
from shardvault.chains.btc_address import script_pubkey_to_address
from shardvault.chains.networks import get_network


def test_psbt_counts_outputs_to_others_not_change() -> None:
    pub = coincurve.PrivateKey().public_key.format(compressed=True)
    own = escript.p2wpkh(EPublicKey.parse(pub))
    other = escript.p2wpkh(EPublicKey.parse(coincurve.PrivateKey().public_key.format()))
    tx = ETx(
        vin=[TransactionInput(os.urandom(32), 0)],
        vout=[TransactionOutput(120_000, other), TransactionOutput(30_000, own)],
    )
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(160_000, own)
    request = {"kind": "Psbt", "psbt": base64.b64encode(psbt.serialize()).decode()}
    moved = transfer_of(request, get_network("Bitcoin"), "ECDSA", pub)
    # 0.0012 BTC paid and a fee of 0.0001 BTC (inputs 0.0016, outputs 0.0015)
    assert moved.currency == "BTC" and moved.amount == Decimal("0.0013")
    assert moved.recipients == (script_pubkey_to_address(other.data, "bc"),)


def test_solana_system_transfers() -> None:
    payer = Keypair()
    to = Pubkey.from_bytes(os.urandom(32))
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=2_500_000_000))
    message = Message.new_with_blockhash([ix], payer.pubkey(), Hash.new_unique())
    request = {"kind": "Transaction", "transaction": "0x" + bytes(message).hex()}
    moved = transfer_of(request, get_network("Solana"), "EdDSA", bytes(payer.pubkey()))
    # 2.5 SOL and the base fee of one signature, 5000 lamports
    assert moved.currency == "SOL" and moved.amount == Decimal("2.500005")
    assert moved.recipients == (str(to),) and moved.case_sensitive
    # someone else's funds, or any other program: unknown
    stranger = transfer_of(request, get_network("Solana"), "EdDSA", os.urandom(32))
    assert stranger.amount is None and stranger.recipients is None


def test_evm_value_and_unknowns() -> None:
    to = to_checksum_address("0x" + "5a" * 20)

    def tx(value: int, data: bytes = b"", chain_id: int = 1) -> dict[str, str]:
        raw = rlp.encode([0, 1, 21000, to_bytes(hexstr=to), value, data, chain_id, 0, 0])
        return {"kind": "Transaction", "transaction": "0x" + raw.hex()}

    eth = get_network("Ethereum")
    moved = transfer_of(tx(1234 * 10**15), eth, "ECDSA", b"")
    # the value and the most the gas may cost (21000 gas at 1 wei)
    expected = Decimal("1.234") + Decimal(21000).scaleb(-18)
    assert (moved.currency, moved.amount, moved.recipients) == ("ETH", expected, (to,))
    call = transfer_of(tx(0, b"\x01"), eth, "ECDSA", b"")
    assert call.amount is None and call.recipients is None
    on_polygon = transfer_of(tx(1, chain_id=137), get_network("Polygon"), "ECDSA", b"")
    assert (on_polygon.currency, on_polygon.amount) == ("POL", Decimal("21001e-18"))
    hashed = transfer_of({"kind": "Hash", "hash": "0x" + "00" * 32}, None, "ECDSA", b"")
    assert hashed.amount is None and hashed.recipients is None
