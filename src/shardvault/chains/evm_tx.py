"""EVM transactions: strict parsing of an unsigned transaction, the hash to sign, and
the signed transaction assembled from the vault's ``(r, s, recid)``.

Pure functions, no I/O. Keccak-256, addresses and the signature checks are
``shardvault.chains.evm``'s.

- ``parse_unsigned_transaction(raw: bytes, expected_chain_id: int) -> EvmTransaction``.
  Supported encodings (all strictly canonical RLP, see ``shardvault.chains.rlp``):

  * legacy ``rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0])`` (EIP-155
    unsigned form). ``chainId`` must equal ``expected_chain_id`` (else ``ChainIdMismatch``);
    non-empty ``r``/``s`` means the transaction is already signed (``InvalidTransaction``).
  * legacy ``rlp([nonce, gasPrice, gas, to, value, data])`` (pre-EIP-155 unsigned form):
    **accepted and signed with EIP-155 replay protection for ``expected_chain_id``** — the
    vault never produces a signature that is valid on every chain.
  * ``0x01 || rlp([chainId, nonce, gasPrice, gas, to, value, data, accessList])`` (EIP-2930).
  * ``0x02 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data,
    accessList])`` (EIP-1559; ``maxPriorityFeePerGas <= maxFeePerGas`` is required).
  * ``0x04 || rlp([chainId, nonce, maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data,
    accessList, authorizationList])`` (EIP-7702). ``to`` must be an address, the
    authorization list must be non-empty and each entry ``[chainId, address, nonce, yParity,
    r, s]`` is checked structurally as the EIP requires (``chainId < 2**256``, 20-byte
    address, ``nonce < 2**64``, ``yParity < 2**8``, ``r, s < 2**256``). Whether a tuple is
    usable (its chain id, signature, nonce) is decided on chain; callers can inspect
    ``EvmTransaction.authorization_list``.

  Typed transactions must carry ``chainId == expected_chain_id`` (``ChainIdMismatch``). A
  typed transaction with signature fields is rejected (``InvalidTransaction``). Blob
  transactions (``0x03``) and unknown types are rejected (``InvalidTransaction``). Numeric
  limits: ``nonce < 2**64 - 1`` (EIP-2681), ``gas < 2**64``, amounts and chain ids
  ``< 2**256``; ``to`` is empty (contract creation) or 20 bytes; access-list storage keys
  are 32 bytes.
- ``EvmTransaction.signing_payload() -> bytes`` and ``EvmTransaction.signing_hash() ->
  bytes``: the unsigned payload and its Keccak-256 (legacy: over
  ``[..., chainId, 0, 0]``; typed: ``type || rlp(unsigned fields)``).
- ``EvmTransaction.assemble(r: int, s: int, recid: int) -> bytes``: the signed serialized
  transaction, ready for ``eth_sendRawTransaction`` (legacy ``v = 35 + 2*chainId + recid``;
  typed ``yParity = recid``). Its Keccak-256 is the transaction hash.

Error codes
-----------
``InvalidTransaction`` (``InvalidEncoding``): malformed or already signed transaction
(``InvalidParameters`` with the same code when an ``EvmTransaction`` is built directly
with out-of-range fields: the dataclass re-checks everything in ``__post_init__``).
``ChainIdMismatch`` (``InvalidParameters``): the transaction names another network.
``InvalidSignature`` (``InvalidParameters``): ``(r, s, recid)`` out of range.
``InvalidParameters``: a bad argument type or ``expected_chain_id`` (not ``1 <= id < 2**256``).
"""

from __future__ import annotations

from dataclasses import dataclass

from shardvault.chains import rlp
from shardvault.chains.evm import check_signature, checksum_encode, is_int, keccak256
from shardvault.chains.rlp import RlpItem
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "AccessListEntry",
    "Authorization",
    "EvmTransaction",
    "parse_unsigned_transaction",
    "transaction_chain_id",
]

TX_LEGACY = 0x00
TX_ACCESS_LIST = 0x01
TX_DYNAMIC_FEE = 0x02
TX_BLOB = 0x03
TX_SET_CODE = 0x04

_UNSIGNED_FIELD_COUNT = {TX_ACCESS_LIST: 8, TX_DYNAMIC_FEE: 9, TX_SET_CODE: 10}

_UINT64_MAX = 2**64 - 1


def _bad_tx(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code="InvalidTransaction")


def _uint(item: RlpItem, name: str, bits: int = 256) -> int:
    if not isinstance(item, bytes):
        raise _bad_tx(f"transaction field {name} must be an integer, not a list")
    if item[:1] == b"\x00":
        raise _bad_tx(f"transaction field {name} has leading zero bytes")
    if len(item) * 8 > bits:
        raise _bad_tx(f"transaction field {name} exceeds {bits} bits")
    return int.from_bytes(item, "big")


def _nonce(item: RlpItem, name: str = "nonce") -> int:
    value = _uint(item, name, 64)
    if value >= _UINT64_MAX:
        raise _bad_tx(f"transaction field {name} must be below 2**64 - 1 (EIP-2681)")
    return value


def _bytes(item: RlpItem, name: str, size: int | None = None) -> bytes:
    """A byte-string field (of exactly ``size`` bytes, when given)."""
    if not isinstance(item, bytes):
        raise _bad_tx(f"transaction field {name} must be a byte string, not a list")
    if size is not None and len(item) != size:
        raise _bad_tx(f"{name} must be {size} bytes")
    return item


def _to(item: RlpItem, *, allow_creation: bool) -> bytes | None:
    raw = _bytes(item, "to")
    if raw == b"" and allow_creation:
        return None
    if len(raw) != 20:
        raise _bad_tx(
            "transaction field to must be a 20-byte address"
            + (" or empty (contract creation)" if allow_creation else "")
        )
    return raw


def _list(item: RlpItem, name: str) -> list[RlpItem]:
    if not isinstance(item, list):
        raise _bad_tx(f"transaction field {name} must be a list")
    return item


def _bad_field(message: str) -> InvalidParameters:
    return InvalidParameters(message, code="InvalidTransaction")


def _check_uint(value: object, name: str, bits: int = 256) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**bits:
        raise _bad_field(f"{name} must be an integer in [0, 2**{bits})")


def _req(value: int | None) -> int:
    if value is None:
        raise _bad_field("missing fee field")
    return value


def _is_bytes(value: object, size: int) -> bool:
    return isinstance(value, bytes) and len(value) == size


@dataclass(frozen=True)
class AccessListEntry:
    """One EIP-2930 access-list entry: a 20-byte address and its 32-byte storage keys."""

    address: bytes
    storage_keys: tuple[bytes, ...]

    def to_rlp(self) -> RlpItem:
        return [self.address, list(self.storage_keys)]


@dataclass(frozen=True)
class Authorization:
    """One EIP-7702 authorization tuple ``[chainId, address, nonce, yParity, r, s]``."""

    chain_id: int
    address: bytes
    nonce: int
    y_parity: int
    r: int
    s: int

    @property
    def address_checksummed(self) -> str:
        return checksum_encode(self.address)

    def to_rlp(self) -> RlpItem:
        return [
            rlp.encode_uint(self.chain_id),
            self.address,
            rlp.encode_uint(self.nonce),
            rlp.encode_uint(self.y_parity),
            rlp.encode_uint(self.r),
            rlp.encode_uint(self.s),
        ]


def _access_list(item: RlpItem) -> tuple[AccessListEntry, ...]:
    entries = []
    for entry in _list(item, "accessList"):
        pair = _list(entry, "accessList entry")
        if len(pair) != 2:
            raise _bad_tx("access-list entry must be [address, storageKeys]")
        address = _bytes(pair[0], "accessList address", 20)
        keys = tuple(
            _bytes(key, "accessList storage key", 32)
            for key in _list(pair[1], "accessList storageKeys")
        )
        entries.append(AccessListEntry(address, keys))
    return tuple(entries)


def _authorization_list(item: RlpItem) -> tuple[Authorization, ...]:
    entries = []
    for entry in _list(item, "authorizationList"):
        fields = _list(entry, "authorization")
        if len(fields) != 6:
            raise _bad_tx("authorization must be [chainId, address, nonce, yParity, r, s]")
        address = _bytes(fields[1], "authorization address", 20)
        entries.append(
            Authorization(
                chain_id=_uint(fields[0], "authorization chainId"),
                address=address,
                nonce=_uint(fields[2], "authorization nonce", 64),
                y_parity=_uint(fields[3], "authorization yParity", 8),
                r=_uint(fields[4], "authorization r"),
                s=_uint(fields[5], "authorization s"),
            )
        )
    if not entries:
        raise _bad_tx("EIP-7702 authorization list must not be empty")
    return tuple(entries)


@dataclass(frozen=True)
class EvmTransaction:
    """An unsigned EVM transaction, parsed and validated.

    ``tx_type`` is 0 (legacy, always signed with EIP-155), 1, 2 or 4. Fee fields not used
    by the type are ``None``; ``to`` is ``None`` for contract creation.
    """

    tx_type: int
    chain_id: int
    nonce: int
    gas_limit: int
    to: bytes | None
    value: int
    data: bytes
    gas_price: int | None = None
    max_priority_fee_per_gas: int | None = None
    max_fee_per_gas: int | None = None
    access_list: tuple[AccessListEntry, ...] = ()
    authorization_list: tuple[Authorization, ...] = ()

    def __post_init__(self) -> None:
        """Re-check every field, so that directly built instances are as safe as parsed ones."""
        _check_uint(self.tx_type, "tx_type", 8)
        if self.tx_type not in (TX_LEGACY, *_UNSIGNED_FIELD_COUNT):
            raise _bad_field("unsupported transaction type")
        _check_uint(self.chain_id, "chain_id")
        if self.chain_id == 0:
            raise _bad_field("chain_id must not be 0")
        _check_uint(self.nonce, "nonce", 64)
        if self.nonce == _UINT64_MAX:
            raise _bad_field("nonce must be below 2**64 - 1 (EIP-2681)")
        _check_uint(self.gas_limit, "gas_limit", 64)
        _check_uint(self.value, "value")
        if not isinstance(self.data, bytes):
            raise _bad_field("data must be bytes")
        if self.to is None:
            if self.tx_type == TX_SET_CODE:
                raise _bad_field("EIP-7702 transactions cannot create contracts")
        elif not isinstance(self.to, bytes) or len(self.to) != 20:
            raise _bad_field("to must be a 20-byte address or None")
        if self.tx_type in (TX_LEGACY, TX_ACCESS_LIST):
            _check_uint(self.gas_price, "gas_price")
            if self.max_fee_per_gas is not None or self.max_priority_fee_per_gas is not None:
                raise _bad_field("this transaction type has a gas price, not EIP-1559 fees")
        else:
            _check_uint(self.max_priority_fee_per_gas, "max_priority_fee_per_gas")
            _check_uint(self.max_fee_per_gas, "max_fee_per_gas")
            if _req(self.max_priority_fee_per_gas) > _req(self.max_fee_per_gas):
                raise _bad_field("max_priority_fee_per_gas exceeds max_fee_per_gas")
            if self.gas_price is not None:
                raise _bad_field("EIP-1559 transactions have no gas price")
        if self.tx_type == TX_LEGACY and self.access_list:
            raise _bad_field("legacy transactions have no access list")
        for entry in self.access_list:
            if not isinstance(entry, AccessListEntry) or not _is_bytes(entry.address, 20):
                raise _bad_field("access-list entries need a 20-byte address")
            if not all(_is_bytes(key, 32) for key in entry.storage_keys):
                raise _bad_field("access-list storage keys are 32 bytes")
        if (self.tx_type == TX_SET_CODE) != bool(self.authorization_list):
            raise _bad_field("EIP-7702 transactions (only) carry a non-empty authorization list")
        for auth in self.authorization_list:
            if not isinstance(auth, Authorization) or not _is_bytes(auth.address, 20):
                raise _bad_field("authorizations need a 20-byte address")
            _check_uint(auth.chain_id, "authorization chain_id")
            _check_uint(auth.nonce, "authorization nonce", 64)
            _check_uint(auth.y_parity, "authorization y_parity", 8)
            _check_uint(auth.r, "authorization r")
            _check_uint(auth.s, "authorization s")

    @property
    def to_address(self) -> str | None:
        """EIP-55 recipient, or ``None`` for contract creation."""
        return None if self.to is None else checksum_encode(self.to)

    def _body_fields(self) -> list[RlpItem]:
        """The type's unsigned fields, without legacy's EIP-155 ``[chainId, 0, 0]`` tail."""
        u = rlp.encode_uint
        to = self.to if self.to is not None else b""
        if self.tx_type == TX_LEGACY:
            return [
                u(self.nonce),
                u(_req(self.gas_price)),
                u(self.gas_limit),
                to,
                u(self.value),
                self.data,
            ]
        access: list[RlpItem] = [entry.to_rlp() for entry in self.access_list]
        if self.tx_type == TX_ACCESS_LIST:
            return [
                u(self.chain_id),
                u(self.nonce),
                u(_req(self.gas_price)),
                u(self.gas_limit),
                to,
                u(self.value),
                self.data,
                access,
            ]
        fields: list[RlpItem] = [
            u(self.chain_id),
            u(self.nonce),
            u(_req(self.max_priority_fee_per_gas)),
            u(_req(self.max_fee_per_gas)),
            u(self.gas_limit),
            to,
            u(self.value),
            self.data,
            access,
        ]
        if self.tx_type == TX_SET_CODE:
            fields.append([auth.to_rlp() for auth in self.authorization_list])
        return fields

    def signing_payload(self) -> bytes:
        """The bytes whose Keccak-256 is signed."""
        if self.tx_type == TX_LEGACY:
            return rlp.encode([*self._body_fields(), rlp.encode_uint(self.chain_id), b"", b""])
        return bytes([self.tx_type]) + rlp.encode(self._body_fields())

    def signing_hash(self) -> bytes:
        """Keccak-256 of ``signing_payload()``: the 32 bytes the vault signs."""
        return keccak256(self.signing_payload())

    def assemble(self, r: int, s: int, recid: int) -> bytes:
        """Signed serialized transaction for ``(r, s, recid)`` from the vault."""
        check_signature(r, s, recid)
        sig = [rlp.encode_uint(r), rlp.encode_uint(s)]
        if self.tx_type == TX_LEGACY:
            v = 35 + 2 * self.chain_id + recid
            return rlp.encode([*self._body_fields(), rlp.encode_uint(v), *sig])
        return bytes([self.tx_type]) + rlp.encode(
            [*self._body_fields(), rlp.encode_uint(recid), *sig]
        )


def _check_chain_id(found: int, expected: int) -> None:
    if found != expected:
        raise InvalidParameters(
            f"transaction is for chain id {found}, expected {expected}", code="ChainIdMismatch"
        )


def _parse_legacy(fields: list[RlpItem], expected_chain_id: int) -> EvmTransaction:
    if len(fields) == 9:
        v = _uint(fields[6], "v (chainId)")
        r = _uint(fields[7], "r")
        s = _uint(fields[8], "s")
        if r != 0 or s != 0:
            raise _bad_tx("transaction is already signed")
        if v == 0:
            raise _bad_tx("EIP-155 unsigned transaction with chain id 0")
        _check_chain_id(v, expected_chain_id)
    elif len(fields) != 6:
        raise _bad_tx("legacy transaction must have 6 or 9 (EIP-155) fields")
    return EvmTransaction(
        tx_type=TX_LEGACY,
        chain_id=expected_chain_id,
        nonce=_nonce(fields[0]),
        gas_price=_uint(fields[1], "gasPrice"),
        gas_limit=_uint(fields[2], "gas", 64),
        to=_to(fields[3], allow_creation=True),
        value=_uint(fields[4], "value"),
        data=_bytes(fields[5], "data"),
    )


def _parse_typed(tx_type: int, fields: list[RlpItem], expected_chain_id: int) -> EvmTransaction:
    unsigned = _UNSIGNED_FIELD_COUNT[tx_type]
    if len(fields) == unsigned + 3:
        raise _bad_tx("transaction is already signed")
    if len(fields) != unsigned:
        raise _bad_tx(f"type {tx_type} transaction must have {unsigned} unsigned fields")
    chain_id = _uint(fields[0], "chainId")
    _check_chain_id(chain_id, expected_chain_id)
    nonce = _nonce(fields[1])
    if tx_type == TX_ACCESS_LIST:
        return EvmTransaction(
            tx_type=tx_type,
            chain_id=chain_id,
            nonce=nonce,
            gas_price=_uint(fields[2], "gasPrice"),
            gas_limit=_uint(fields[3], "gas", 64),
            to=_to(fields[4], allow_creation=True),
            value=_uint(fields[5], "value"),
            data=_bytes(fields[6], "data"),
            access_list=_access_list(fields[7]),
        )
    priority = _uint(fields[2], "maxPriorityFeePerGas")
    max_fee = _uint(fields[3], "maxFeePerGas")
    if priority > max_fee:
        raise _bad_tx("maxPriorityFeePerGas exceeds maxFeePerGas")
    return EvmTransaction(
        tx_type=tx_type,
        chain_id=chain_id,
        nonce=nonce,
        max_priority_fee_per_gas=priority,
        max_fee_per_gas=max_fee,
        gas_limit=_uint(fields[4], "gas", 64),
        to=_to(fields[5], allow_creation=tx_type != TX_SET_CODE),
        value=_uint(fields[6], "value"),
        data=_bytes(fields[7], "data"),
        access_list=_access_list(fields[8]),
        authorization_list=(_authorization_list(fields[9]) if tx_type == TX_SET_CODE else ()),
    )


def parse_unsigned_transaction(raw: bytes, expected_chain_id: int) -> EvmTransaction:
    """Parse and validate an unsigned transaction for the network ``expected_chain_id``."""
    if not is_int(expected_chain_id) or not 1 <= expected_chain_id < 2**256:
        raise InvalidParameters("expected_chain_id must be an integer in [1, 2**256)")
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise InvalidParameters("transaction must be bytes")
    data = bytes(raw)
    if not data:
        raise _bad_tx("empty transaction")
    first = data[0]
    if first >= 0xC0:
        tx_type, body = TX_LEGACY, data
    elif first in _UNSIGNED_FIELD_COUNT:
        tx_type, body = first, data[1:]
    elif first == TX_BLOB:
        raise _bad_tx("blob (type 3) transactions are not supported")
    else:
        raise _bad_tx(f"unknown transaction type 0x{first:02x}")
    try:
        decoded = rlp.decode(body)
    except InvalidEncoding as exc:
        raise _bad_tx(f"transaction is not canonical RLP: {exc.message}") from exc
    if not isinstance(decoded, list):
        raise _bad_tx("transaction payload must be an RLP list")
    if tx_type == TX_LEGACY:
        return _parse_legacy(decoded, expected_chain_id)
    return _parse_typed(tx_type, decoded, expected_chain_id)


def transaction_chain_id(raw: bytes) -> int | None:
    """The chain id an unsigned transaction names (typed: its ``chainId``; legacy
    EIP-155: its ``v``), or ``None`` for a pre-EIP-155 legacy transaction, which names
    none. Malformed input raises ``InvalidTransaction``; the full checks are
    :func:`parse_unsigned_transaction`'s."""
    data = bytes(raw)
    if not data:
        raise _bad_tx("empty transaction")
    body = data if data[0] >= 0xC0 else data[1:]
    try:
        decoded = rlp.decode(body)
    except InvalidEncoding as exc:
        raise _bad_tx(f"transaction is not canonical RLP: {exc.message}") from exc
    if not isinstance(decoded, list) or not decoded:
        raise _bad_tx("transaction payload must be a non-empty RLP list")
    if data[0] >= 0xC0:
        return _uint(decoded[6], "v (chainId)") if len(decoded) == 9 else None
    return _uint(decoded[0], "chainId")
