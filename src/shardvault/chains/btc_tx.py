"""Bitcoin transactions: (de)serialization and the segwit signature hashes. Pure, no I/O.

API
---
- ``TxIn(prev_txid, prev_index, script_sig=b"", sequence=0xFFFFFFFF, witness=())`` where
  ``prev_txid`` is the 32-byte txid in *internal* byte order (as serialized);
  ``TxOut(amount, script_pubkey)``;
  ``Transaction(version, inputs, outputs, locktime)``.
- ``Transaction.parse(data, *, allow_witness=True) -> Transaction``: strict (no trailing
  bytes, canonical compact sizes). ``allow_witness=False`` reads the legacy format only
  (what BIP 174 requires of the PSBT unsigned transaction).
- ``Transaction.serialize(*, include_witness=True) -> bytes``: BIP 144 segwit format when
  an input carries a witness and ``include_witness``, else the legacy format.
- ``Transaction.txid() -> bytes`` (internal order) and ``Transaction.txid_hex() -> str``
  (display order, reversed).
- ``sighash_segwit_v0(tx, index, script_code, amount, sighash_type, *, precomputed=None)
  -> bytes``: BIP 143.
- ``p2wpkh_script_code(pubkey_hash20) -> bytes``: BIP 143 scriptCode of a P2WPKH output.
- ``taproot_sig_message(tx, index, prevouts, sighash_type, *, precomputed=None) -> bytes``
  and ``sighash_taproot(...)``: BIP 341 key-path (ext_flag 0, no annex). ``prevouts`` are
  the spent outputs of *every* input, in order.
- ``PrecomputedHashes(tx, prevouts=None)``: the hashes over all inputs and outputs that
  BIP 143 and BIP 341 share between inputs, each computed once; pass it as
  ``precomputed`` when signing several inputs of one transaction, so n inputs cost O(n)
  hashing instead of O(n^2) (the quadratic-hashing problem both BIPs were designed to
  remove).

Errors: ``InvalidEncoding`` (code ``InvalidTransaction``) for malformed bytes;
``InvalidParameters`` (code ``InvalidSighashType``) for an unsupported sighash type and
(code ``InvalidParameters``) for an input index out of range / SIGHASH_SINGLE without a
matching output in BIP 341.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from shardvault.crypto import codec
from shardvault.crypto.hashing import tagged_hash
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "ECDSA_SIGHASH_TYPES",
    "SIGHASH_ALL",
    "SIGHASH_ANYONECANPAY",
    "SIGHASH_DEFAULT",
    "SIGHASH_NONE",
    "SIGHASH_SINGLE",
    "TAPROOT_SIGHASH_TYPES",
    "ByteReader",
    "PrecomputedHashes",
    "Transaction",
    "TxIn",
    "TxOut",
    "hash256",
    "p2wpkh_script_code",
    "read_witness",
    "ser_compact_size",
    "ser_var_bytes",
    "serialize_witness",
    "sighash_segwit_v0",
    "sighash_taproot",
    "taproot_sig_message",
]

SIGHASH_DEFAULT = 0x00
SIGHASH_ALL = 0x01
SIGHASH_NONE = 0x02
SIGHASH_SINGLE = 0x03
SIGHASH_ANYONECANPAY = 0x80

#: The sighash types a segwit v0 (ECDSA) signature may carry, and a BIP 341 one.
ECDSA_SIGHASH_TYPES = frozenset({0x01, 0x02, 0x03, 0x81, 0x82, 0x83})
TAPROOT_SIGHASH_TYPES = frozenset({0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83})
_MAX_TX_BYTES = 4_000_000


def _bad_tx(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code="InvalidTransaction")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash256(data: bytes) -> bytes:
    """Double SHA-256."""
    return sha256(sha256(data))


def ser_compact_size(n: int) -> bytes:
    if n < 0:
        raise InvalidParameters("compact size must be non-negative")
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def ser_var_bytes(data: bytes) -> bytes:
    return ser_compact_size(len(data)) + data


class ByteReader(codec.ByteReader):
    """The shared strict cursor (:class:`shardvault.crypto.codec.ByteReader`) with
    Bitcoin's little-endian integers and compact sizes; every short read raises
    ``error_cls("unexpected end of data", code=code)``."""

    __slots__ = ("_code", "_error_cls")

    def __init__(
        self,
        data: bytes,
        *,
        error_cls: type[InvalidEncoding] = InvalidEncoding,
        code: str = "InvalidTransaction",
    ) -> None:
        super().__init__(bytes(data), error=self._make_error, truncated="unexpected end of data")
        self._error_cls = error_cls
        self._code = code

    def _make_error(self, message: str) -> InvalidEncoding:
        return self._error_cls(message, code=self._code)

    def error(self, message: str) -> InvalidEncoding:
        return self._make_error(message)

    def read(self, n: int) -> bytes:
        return self.take(n)

    def read_int(self, n: int) -> int:
        return int.from_bytes(self.read(n), "little")

    def read_compact_size(self) -> int:
        first = self.read(1)[0]
        if first < 0xFD:
            return first
        width = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        value = self.read_int(width)
        if value < {2: 0xFD, 4: 0x10000, 8: 0x100000000}[width]:
            raise self.error("non-canonical compact size")
        return value

    def read_var_bytes(self) -> bytes:
        n = self.read_compact_size()
        if n > self.remaining:
            raise self.error("length prefix exceeds the data")
        return self.read(n)


@dataclass(frozen=True)
class TxIn:
    prev_txid: bytes  # 32 bytes, internal (serialized) byte order
    prev_index: int
    script_sig: bytes = b""
    sequence: int = 0xFFFFFFFF
    witness: tuple[bytes, ...] = ()

    def outpoint(self) -> bytes:
        return self.prev_txid + self.prev_index.to_bytes(4, "little")

    def serialize(self) -> bytes:
        return (
            self.outpoint() + ser_var_bytes(self.script_sig) + self.sequence.to_bytes(4, "little")
        )


@dataclass(frozen=True)
class TxOut:
    amount: int
    script_pubkey: bytes

    def serialize(self) -> bytes:
        return self.amount.to_bytes(8, "little") + ser_var_bytes(self.script_pubkey)

    @classmethod
    def parse(cls, data: bytes) -> TxOut:
        r = ByteReader(data)
        out = cls.read_from(r)
        if not r.at_end():
            raise _bad_tx("trailing bytes after transaction output")
        return out

    @classmethod
    def read_from(cls, r: ByteReader) -> TxOut:
        amount = r.read_int(8)
        if amount > 21_000_000 * 100_000_000:
            raise r.error("output amount above the money supply")
        return cls(amount, r.read_var_bytes())


def serialize_witness(stack: Sequence[bytes]) -> bytes:
    """A witness stack as serialized in a transaction (BIP 144)."""
    return ser_compact_size(len(stack)) + b"".join(ser_var_bytes(item) for item in stack)


def read_witness(r: ByteReader) -> tuple[bytes, ...]:
    """Read one serialized witness stack."""
    n = r.read_compact_size()
    if n > r.remaining:
        raise r.error("witness item count exceeds the data")
    return tuple(r.read_var_bytes() for _ in range(n))


@dataclass(frozen=True)
class Transaction:
    version: int
    inputs: tuple[TxIn, ...]
    outputs: tuple[TxOut, ...]
    locktime: int

    @property
    def has_witness(self) -> bool:
        return any(txin.witness for txin in self.inputs)

    def serialize(self, *, include_witness: bool = True) -> bytes:
        segwit = include_witness and self.has_witness
        parts = [self.version.to_bytes(4, "little", signed=True)]
        if segwit:
            parts.append(b"\x00\x01")
        parts.append(ser_compact_size(len(self.inputs)))
        parts.extend(txin.serialize() for txin in self.inputs)
        parts.append(ser_compact_size(len(self.outputs)))
        parts.extend(txout.serialize() for txout in self.outputs)
        if segwit:
            parts.extend(serialize_witness(txin.witness) for txin in self.inputs)
        parts.append(self.locktime.to_bytes(4, "little"))
        return b"".join(parts)

    def txid(self) -> bytes:
        """The txid in internal byte order (what an outpoint carries)."""
        return hash256(self.serialize(include_witness=False))

    def txid_hex(self) -> str:
        """The txid as explorers display it (byte-reversed hex)."""
        return self.txid()[::-1].hex()

    def wtxid(self) -> bytes:
        return hash256(self.serialize())

    @classmethod
    def parse(cls, data: bytes, *, allow_witness: bool = True) -> Transaction:
        if len(data) > _MAX_TX_BYTES:
            raise _bad_tx("transaction too large")
        r = ByteReader(data)
        tx = cls.read_from(r, allow_witness=allow_witness)
        if not r.at_end():
            raise _bad_tx("trailing bytes after transaction")
        return tx

    @classmethod
    def read_from(cls, r: ByteReader, *, allow_witness: bool = True) -> Transaction:
        version = int.from_bytes(r.read(4), "little", signed=True)
        segwit = False
        if allow_witness and r.remaining >= 2 and r.peek() == 0:
            r.read(1)
            flag = r.read(1)[0]
            if flag != 1:
                raise r.error("unknown segwit flag")
            segwit = True
        n_in = r.read_compact_size()
        if n_in > r.remaining // 41 + 1:
            raise r.error("input count exceeds the data")
        raw_inputs = []
        for _ in range(n_in):
            prev_txid = r.read(32)
            prev_index = r.read_int(4)
            script_sig = r.read_var_bytes()
            sequence = r.read_int(4)
            raw_inputs.append((prev_txid, prev_index, script_sig, sequence))
        n_out = r.read_compact_size()
        if n_out > r.remaining // 9 + 1:
            raise r.error("output count exceeds the data")
        outputs = tuple(TxOut.read_from(r) for _ in range(n_out))
        witnesses: list[tuple[bytes, ...]] = [() for _ in raw_inputs]
        if segwit:
            if not raw_inputs:
                raise r.error("segwit transaction without inputs")
            witnesses = [read_witness(r) for _ in raw_inputs]
            if not any(witnesses):
                raise r.error("segwit serialization with empty witnesses")
        locktime = r.read_int(4)
        inputs = tuple(
            TxIn(t, i, s, q, w) for (t, i, s, q), w in zip(raw_inputs, witnesses, strict=True)
        )
        return cls(version, inputs, outputs, locktime)


def p2wpkh_script_code(pubkey_hash: bytes) -> bytes:
    """BIP 143: the scriptCode of a P2WPKH input is the P2PKH script of the key hash."""
    if len(pubkey_hash) != 20:
        raise InvalidParameters("P2WPKH key hash must be 20 bytes")
    return b"\x76\xa9\x14" + pubkey_hash + b"\x88\xac"


def _check_index(tx: Transaction, index: int) -> None:
    if not 0 <= index < len(tx.inputs):
        raise InvalidParameters(f"input index {index} out of range")


class PrecomputedHashes:
    """The per-transaction parts of the BIP 143 and BIP 341 signature hashes, each
    computed on first use and then shared by every input (Bitcoin Core's
    ``PrecomputedTransactionData``). BIP 341's are single SHA-256; BIP 143's are the
    double SHA-256 of the same bytes, i.e. SHA-256 of BIP 341's."""

    def __init__(self, tx: Transaction, prevouts: Sequence[TxOut] | None = None) -> None:
        self.tx = tx
        self.prevouts = prevouts

    @cached_property
    def sha_prevouts(self) -> bytes:
        return sha256(b"".join(i.outpoint() for i in self.tx.inputs))

    @cached_property
    def sha_sequences(self) -> bytes:
        return sha256(b"".join(i.sequence.to_bytes(4, "little") for i in self.tx.inputs))

    @cached_property
    def sha_outputs(self) -> bytes:
        return sha256(b"".join(o.serialize() for o in self.tx.outputs))

    @cached_property
    def sha_amounts(self) -> bytes:
        return sha256(b"".join(p.amount.to_bytes(8, "little") for p in self._prevouts()))

    @cached_property
    def sha_script_pubkeys(self) -> bytes:
        return sha256(b"".join(ser_var_bytes(p.script_pubkey) for p in self._prevouts()))

    def _prevouts(self) -> Sequence[TxOut]:
        if self.prevouts is None or len(self.prevouts) != len(self.tx.inputs):
            raise InvalidParameters("BIP 341 needs the spent output of every input")
        return self.prevouts


def _precomputed_for(
    tx: Transaction, prevouts: Sequence[TxOut] | None, precomputed: PrecomputedHashes | None
) -> PrecomputedHashes:
    if precomputed is None:
        return PrecomputedHashes(tx, prevouts)
    if precomputed.tx is not tx or (prevouts is not None and precomputed.prevouts is not prevouts):
        raise InvalidParameters("precomputed hashes belong to another transaction")
    return precomputed


def sighash_segwit_v0(
    tx: Transaction,
    index: int,
    script_code: bytes,
    amount: int,
    sighash_type: int,
    *,
    precomputed: PrecomputedHashes | None = None,
) -> bytes:
    """BIP 143 signature hash of input ``index`` (``script_code`` without length prefix)."""
    if sighash_type not in ECDSA_SIGHASH_TYPES:
        raise InvalidParameters(
            f"unsupported sighash type {sighash_type:#x}", code="InvalidSighashType"
        )
    _check_index(tx, index)
    pre = _precomputed_for(tx, None, precomputed)
    base = sighash_type & 0x1F
    anyone = bool(sighash_type & SIGHASH_ANYONECANPAY)
    zero = bytes(32)
    hash_prevouts = zero if anyone else sha256(pre.sha_prevouts)
    if anyone or base in (SIGHASH_SINGLE, SIGHASH_NONE):
        hash_sequence = zero
    else:
        hash_sequence = sha256(pre.sha_sequences)
    if base not in (SIGHASH_SINGLE, SIGHASH_NONE):
        hash_outputs = sha256(pre.sha_outputs)
    elif base == SIGHASH_SINGLE and index < len(tx.outputs):
        hash_outputs = hash256(tx.outputs[index].serialize())
    else:
        hash_outputs = zero
    txin = tx.inputs[index]
    preimage = b"".join(
        [
            tx.version.to_bytes(4, "little", signed=True),
            hash_prevouts,
            hash_sequence,
            txin.outpoint(),
            ser_var_bytes(script_code),
            amount.to_bytes(8, "little"),
            txin.sequence.to_bytes(4, "little"),
            hash_outputs,
            tx.locktime.to_bytes(4, "little"),
            sighash_type.to_bytes(4, "little"),
        ]
    )
    return hash256(preimage)


def taproot_sig_message(
    tx: Transaction,
    index: int,
    prevouts: Sequence[TxOut],
    sighash_type: int,
    *,
    precomputed: PrecomputedHashes | None = None,
) -> bytes:
    """BIP 341 SigMsg(hash_type, ext_flag=0) for a key-path spend without annex, prefixed
    with the epoch byte 0x00 (what the BIP 341 wallet vectors call ``sigMsg``)."""
    if sighash_type not in TAPROOT_SIGHASH_TYPES:
        raise InvalidParameters(
            f"unsupported sighash type {sighash_type:#x}", code="InvalidSighashType"
        )
    _check_index(tx, index)
    if len(prevouts) != len(tx.inputs):
        raise InvalidParameters("BIP 341 needs the spent output of every input")
    pre = _precomputed_for(tx, prevouts, precomputed)
    base = sighash_type & 0x03
    anyone = bool(sighash_type & SIGHASH_ANYONECANPAY)
    parts = [
        b"\x00",
        bytes([sighash_type]),
        tx.version.to_bytes(4, "little", signed=True),
        tx.locktime.to_bytes(4, "little"),
    ]
    if not anyone:
        parts.append(pre.sha_prevouts)
        parts.append(pre.sha_amounts)
        parts.append(pre.sha_script_pubkeys)
        parts.append(pre.sha_sequences)
    if base not in (SIGHASH_NONE, SIGHASH_SINGLE):
        parts.append(pre.sha_outputs)
    parts.append(b"\x00")  # spend_type: ext_flag 0, no annex
    txin = tx.inputs[index]
    if anyone:
        spent = prevouts[index]
        parts.append(txin.outpoint())
        parts.append(spent.amount.to_bytes(8, "little"))
        parts.append(ser_var_bytes(spent.script_pubkey))
        parts.append(txin.sequence.to_bytes(4, "little"))
    else:
        parts.append(index.to_bytes(4, "little"))
    if base == SIGHASH_SINGLE:
        if index >= len(tx.outputs):
            raise InvalidParameters("SIGHASH_SINGLE without a matching output")
        parts.append(sha256(tx.outputs[index].serialize()))
    return b"".join(parts)


def sighash_taproot(
    tx: Transaction,
    index: int,
    prevouts: Sequence[TxOut],
    sighash_type: int,
    *,
    precomputed: PrecomputedHashes | None = None,
) -> bytes:
    """BIP 341 key-path signature hash: hash_TapSighash(0x00 || SigMsg)."""
    return tagged_hash(
        "TapSighash",
        taproot_sig_message(tx, index, prevouts, sighash_type, precomputed=precomputed),
    )
