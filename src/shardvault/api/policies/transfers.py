"""What a signature request moves, read from the transaction itself (for the
``TransactionAmountLimit`` and ``TransactionRecipientWhitelist`` rules). Fees count
in the amount: they leave the key as surely as a payment.

* EVM ``Transaction``: the native value plus the most it may pay for gas (``gas *
  gasPrice``, EIP-1559/7702: ``gas * maxFeePerGas``; wei, 18 decimals) and ``to``. A
  transaction with calldata (a contract call: it may move tokens) or without ``to``
  (a contract creation) has no amount or recipient that can be trusted: unknown.
* Bitcoin ``Psbt``: the outputs that do not pay back to this key's own address plus
  the fee (inputs minus outputs; satoshis, 8 decimals) and their addresses; an input
  without its amount (no ``witness_utxo`` / ``non_witness_utxo``) makes the amount
  unknown, as do outputs above the inputs. An input whose sighash type is not
  ``SIGHASH_ALL`` (or, Taproot, ``SIGHASH_DEFAULT``) signs a transaction whose
  outputs the requester may still change (``NONE``, ``SINGLE``, ``ANYONECANPAY``):
  unknown.
* Solana ``Transaction``: System Program transfers (lamports, 9 decimals) from the
  key to other accounts and their addresses, plus, when the key pays the fees (first
  account), the base fee (5000 lamports a signature) and the priority fee
  (``SetComputeUnitPrice`` micro-lamports x ``SetComputeUnitLimit`` units, by default
  200,000 an instruction up to 1,400,000, rounded up). A transaction with any other
  instruction (another Compute Budget instruction, or one given twice, included) or
  with address-table lookups is unknown.

Every other request (``Hash``, ``Message``, ``Eip191``, ``Eip712``, ``Bip322``)
moves something the vault cannot see: unknown. Rules fail closed on unknowns (as
Dfns does): the policy triggers.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shardvault.api.encoding import parse_hex0x
from shardvault.chains import btc_address, evm, evm_tx, solana
from shardvault.chains.btc_tx import SIGHASH_ALL, SIGHASH_DEFAULT
from shardvault.chains.networks import Network
from shardvault.chains.psbt import Psbt
from shardvault.errors import ShardvaultError

__all__ = ["NATIVE_ASSETS", "Transfer", "transfer_of"]

#: Each network's native asset and its decimals.
NATIVE_ASSETS: dict[str, tuple[str, int]] = {
    "Ethereum": ("ETH", 18),
    "EthereumSepolia": ("ETH", 18),
    "Base": ("ETH", 18),
    "BaseSepolia": ("ETH", 18),
    "ArbitrumOne": ("ETH", 18),
    "Optimism": ("ETH", 18),
    "Polygon": ("POL", 18),
    "Bsc": ("BNB", 18),
    "AvalancheC": ("AVAX", 18),
    "Bitcoin": ("BTC", 8),
    "BitcoinTestnet3": ("BTC", 8),
    "BitcoinSignet": ("BTC", 8),
    "BitcoinRegtest": ("BTC", 8),
    "Solana": ("SOL", 9),
    "SolanaDevnet": ("SOL", 9),
}

_SYSTEM_PROGRAM = bytes(32)
_COMPUTE_BUDGET = solana.decode_address("ComputeBudget111111111111111111111111111111")
_SYSTEM_TRANSFER = (2).to_bytes(4, "little")
_LAMPORTS_PER_SIGNATURE = 5000
_SET_COMPUTE_UNIT_LIMIT = 2
_SET_COMPUTE_UNIT_PRICE = 3
_DEFAULT_UNITS_PER_INSTRUCTION = 200_000
_MAX_COMPUTE_UNITS = 1_400_000


@dataclass(frozen=True, slots=True)
class Transfer:
    """What a request moves: ``amount`` in ``currency`` (None: unknown) and the
    recipients' addresses (None: unknown). ``case_sensitive``: how addresses compare
    (hex and bech32 addresses are not; base58 ones are)."""

    currency: str | None
    amount: Decimal | None
    recipients: tuple[str, ...] | None
    case_sensitive: bool = False


UNKNOWN = Transfer(None, None, None)


def _scaled(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def _evm(raw: bytes, network: Network, currency: str, decimals: int) -> Transfer:
    assert network.chain_id is not None
    tx = evm_tx.parse_unsigned_transaction(raw, network.chain_id)
    if tx.data or tx.to is None:
        return Transfer(currency, None, None)
    gas_price = tx.gas_price if tx.gas_price is not None else tx.max_fee_per_gas
    if gas_price is None:  # pragma: no cover - every parsed type has one
        return Transfer(currency, None, None)
    amount = tx.value + tx.gas_limit * gas_price
    return Transfer(currency, _scaled(amount, decimals), (evm.checksum_encode(tx.to),))


def _psbt(raw: bytes, network: Network | None, scheme: str, public_key: bytes) -> Transfer:
    psbt = Psbt.parse(raw)
    committing = {SIGHASH_ALL, SIGHASH_DEFAULT} if scheme == "Schnorr" else {SIGHASH_ALL}
    if any(
        pin.sighash_type is not None and pin.sighash_type not in committing for pin in psbt.inputs
    ):
        return Transfer("BTC", None, None)  # the signatures would not commit to the outputs
    own = (
        btc_address.script_pubkey_p2tr(public_key)
        if scheme == "Schnorr"
        else btc_address.script_pubkey_p2wpkh(public_key)
    )
    spent = [psbt.spent_output(i) for i in range(len(psbt.inputs))]
    fee: int | None = None
    if all(utxo is not None for utxo in spent):
        fee = sum(utxo.amount for utxo in spent if utxo is not None) - sum(
            out.amount for out in psbt.unsigned_tx.outputs
        )
    total = 0
    recipients: list[str] | None = []
    for out in psbt.unsigned_tx.outputs:
        if out.script_pubkey == own:
            continue  # change back to this key
        total += out.amount
        if recipients is not None:
            if network is None or network.hrp is None:
                recipients = None
                continue
            try:
                recipients.append(
                    btc_address.script_pubkey_to_address(out.script_pubkey, network.hrp)
                )
            except ShardvaultError:
                recipients = None  # not a segwit output: its address is not comparable
    amount = _scaled(total + fee, 8) if fee is not None and fee >= 0 else None
    return Transfer("BTC", amount, tuple(recipients) if recipients is not None else None)


def _solana(raw: bytes, public_key: bytes) -> Transfer:
    payload = solana.prepare(raw)
    message = payload.parsed
    if message.address_table_lookups:
        return Transfer("SOL", None, None, case_sensitive=True)
    keys = message.account_keys
    total = 0
    recipients: list[str] = []
    budget: dict[int, int] = {}
    for ins in message.instructions:
        program = keys[ins.program_id_index]
        if program == _COMPUTE_BUDGET:
            setting = _compute_budget(ins.data)
            if setting is None or setting[0] in budget:
                return Transfer("SOL", None, None, case_sensitive=True)
            budget[setting[0]] = setting[1]
            continue
        data = ins.data
        if not (
            program == _SYSTEM_PROGRAM
            and len(data) == 12
            and data[:4] == _SYSTEM_TRANSFER
            and len(ins.accounts) >= 2
        ):
            return Transfer("SOL", None, None, case_sensitive=True)
        source, dest = keys[ins.accounts[0]], keys[ins.accounts[1]]
        if source != public_key:
            return Transfer("SOL", None, None, case_sensitive=True)  # someone else's funds
        if dest == public_key:
            continue
        total += int.from_bytes(data[4:12], "little")
        recipients.append(solana.address_from_public_key(dest))
    if keys[0] == public_key:  # the fee payer
        total += _LAMPORTS_PER_SIGNATURE * message.num_required_signatures
        others = len(message.instructions) - len(budget)
        units = budget.get(
            _SET_COMPUTE_UNIT_LIMIT,
            min(_DEFAULT_UNITS_PER_INSTRUCTION * others, _MAX_COMPUTE_UNITS),
        )
        micro_lamports = budget.get(_SET_COMPUTE_UNIT_PRICE, 0) * units
        total += -(-micro_lamports // 1_000_000)  # rounded up
    return Transfer("SOL", _scaled(total, 9), tuple(recipients), case_sensitive=True)


def _compute_budget(data: bytes) -> tuple[int, int] | None:
    """A ``SetComputeUnitLimit`` (u32) or ``SetComputeUnitPrice`` (u64, micro-lamports)
    instruction as ``(discriminator, value)``; None for any other."""
    if len(data) == 5 and data[0] == _SET_COMPUTE_UNIT_LIMIT:
        return data[0], int.from_bytes(data[1:], "little")
    if len(data) == 9 and data[0] == _SET_COMPUTE_UNIT_PRICE:
        return data[0], int.from_bytes(data[1:], "little")
    return None


def transfer_of(
    request: dict[str, Any], network: Network | None, scheme: str, public_key: bytes
) -> Transfer:
    """What the (normalized, already validated) signature request moves."""
    kind = request.get("kind")
    native = NATIVE_ASSETS.get(network.name) if network is not None else None
    try:
        if kind == "Transaction" and network is not None and native is not None:
            raw = parse_hex0x(request["transaction"], "transaction")
            if network.family == "EVM":
                return _evm(raw, network, *native)
            if network.family == "Solana":
                return _solana(raw, public_key)
        if kind == "Psbt":
            return _psbt(base64.b64decode(request["psbt"]), network, scheme, public_key)
    except ShardvaultError:
        return UNKNOWN  # validated before; a parse failure here is still fail-closed
    return Transfer(native[0] if native else None, None, None)
