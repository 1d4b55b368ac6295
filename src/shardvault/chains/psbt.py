"""PSBT v0 (BIP 174, Taproot fields of BIP 371): strict parsing and exact
re-serialization. Pure functions and value types, no I/O.

Parsing
-------
``Psbt.parse(data: bytes | str) -> Psbt`` accepts raw bytes, hex or base64 (as ``str`` or
ASCII ``bytes``). Every key-value record is kept in its original order, so
``Psbt.serialize()`` reproduces the input byte for byte (unknown and proprietary records
included); typed fields are validated at parse time and read through properties
(``PsbtInput.non_witness_utxo``, ``witness_utxo``, ``partial_sigs``, ``sighash_type``,
``bip32_derivation``, ``final_scriptsig``, ``final_scriptwitness``, ``tap_key_sig``,
``tap_internal_key``, ``tap_bip32_derivation``, ``tap_merkle_root``, ``unknown``).
Malformed input raises ``InvalidEncoding`` with code ``InvalidPsbt``.

Signing the inputs of one vault key is ``chains.psbt_signing``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property

import coincurve

from shardvault.chains.btc_tx import (
    ByteReader,
    Transaction,
    TxOut,
    ser_var_bytes,
)
from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidEncoding, InvalidPoint

__all__ = [
    "PSBT_MAGIC",
    "Psbt",
    "PsbtGlobal",
    "PsbtInput",
    "PsbtOutput",
    "decode_psbt_text",
]

PSBT_MAGIC = b"psbt\xff"

# Global types
G_UNSIGNED_TX, G_XPUB, G_VERSION, G_PROPRIETARY = 0x00, 0x01, 0xFB, 0xFC
_G_V2_ONLY = frozenset({0x02, 0x03, 0x04, 0x05, 0x06})
# Input types
I_NON_WITNESS_UTXO, I_WITNESS_UTXO, I_PARTIAL_SIG, I_SIGHASH_TYPE = 0x00, 0x01, 0x02, 0x03
I_REDEEM_SCRIPT, I_WITNESS_SCRIPT, I_BIP32_DERIVATION = 0x04, 0x05, 0x06
I_FINAL_SCRIPTSIG, I_FINAL_SCRIPTWITNESS, I_POR_COMMITMENT = 0x07, 0x08, 0x09
I_RIPEMD160, I_SHA256, I_HASH160, I_HASH256 = 0x0A, 0x0B, 0x0C, 0x0D
_I_V2_ONLY = frozenset({0x0E, 0x0F, 0x10, 0x11, 0x12})
I_TAP_KEY_SIG, I_TAP_SCRIPT_SIG, I_TAP_LEAF_SCRIPT = 0x13, 0x14, 0x15
I_TAP_BIP32_DERIVATION, I_TAP_INTERNAL_KEY, I_TAP_MERKLE_ROOT = 0x16, 0x17, 0x18
# Output types
O_REDEEM_SCRIPT, O_WITNESS_SCRIPT, O_BIP32_DERIVATION = 0x00, 0x01, 0x02
_O_V2_ONLY = frozenset({0x03, 0x04})
O_TAP_INTERNAL_KEY, O_TAP_TREE, O_TAP_BIP32_DERIVATION = 0x05, 0x06, 0x07
_PROPRIETARY = 0xFC

_KNOWN_INPUT_TYPES = frozenset(range(0x00, 0x0E)) | frozenset(range(0x13, 0x19))
_KNOWN_OUTPUT_TYPES = frozenset({0x00, 0x01, 0x02, 0x05, 0x06, 0x07})
_KNOWN_GLOBAL_TYPES = frozenset({G_UNSIGNED_TX, G_XPUB, G_VERSION})

Record = tuple[bytes, bytes]  # (full key incl. type, value)


def _bad(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code="InvalidPsbt")


def _key_type(key: bytes) -> tuple[int, bytes]:
    r = ByteReader(key, code="InvalidPsbt")
    t = r.read_compact_size()
    return t, key[r.pos :]


def _check_pubkey(data: bytes, what: str) -> None:
    if len(data) == 33:
        try:
            SECP256K1.decode_point(data)
        except InvalidPoint:
            raise _bad(f"{what}: invalid public key") from None
    elif len(data) == 65:
        if data[0] != 4:
            raise _bad(f"{what}: invalid uncompressed public key")
        try:
            coincurve.PublicKey(data)
        except ValueError:
            raise _bad(f"{what}: invalid public key") from None
    else:
        raise _bad(f"{what}: public key must be 33 or 65 bytes")


def _check_xonly(data: bytes, what: str) -> None:
    if len(data) != 32:
        raise _bad(f"{what}: x-only public key must be 32 bytes")
    try:
        SECP256K1.lift_x(data)
    except InvalidPoint:
        raise _bad(f"{what}: invalid x-only public key") from None


def _parse_keypath(value: bytes, what: str) -> tuple[bytes, tuple[int, ...]]:
    if len(value) < 4 or len(value) % 4:
        raise _bad(f"{what}: key origin must be a 4-byte fingerprint and 4-byte indices")
    path = tuple(int.from_bytes(value[i : i + 4], "little") for i in range(4, len(value), 4))
    return value[:4], path


def _parse_witness_stack(value: bytes, what: str) -> tuple[bytes, ...]:
    r = ByteReader(value, code="InvalidPsbt")
    n = r.read_compact_size()
    if n > r.remaining:
        raise _bad(f"{what}: witness item count exceeds the data")
    items = tuple(r.read_var_bytes() for _ in range(n))
    if not r.at_end():
        raise _bad(f"{what}: trailing bytes")
    return items


def _parse_tap_bip32(value: bytes, what: str) -> tuple[tuple[bytes, ...], bytes, tuple[int, ...]]:
    r = ByteReader(value, code="InvalidPsbt")
    n = r.read_compact_size()
    if n * 32 > r.remaining:
        raise _bad(f"{what}: leaf hash count exceeds the data")
    leaves = tuple(r.read(32) for _ in range(n))
    fingerprint, path = _parse_keypath(r.read(r.remaining), what)
    return leaves, fingerprint, path


def _parse_tx(value: bytes, what: str, *, allow_witness: bool) -> Transaction:
    try:
        return Transaction.parse(value, allow_witness=allow_witness)
    except InvalidEncoding as exc:
        raise _bad(f"{what}: {exc.message}") from None


def _key_only(keydata: bytes, what: str) -> None:
    if keydata:
        raise _bad(f"{what}: key must be the type byte only")


@dataclass
class _Map:
    records: list[Record] = field(default_factory=list)

    def _find(self, key: bytes) -> bytes | None:
        for k, v in self.records:
            if k == key:
                return v
        return None

    def _by_type(self, key_type: int) -> Iterator[tuple[bytes, bytes]]:
        for k, v in self.records:
            t, keydata = _key_type(k)
            if t == key_type:
                yield keydata, v

    def set_record(self, key: bytes, value: bytes) -> None:
        """Replace the record with this key in place, or append it."""
        for i, (k, _) in enumerate(self.records):
            if k == key:
                self.records[i] = (key, value)
                return
        self.records.append((key, value))

    def serialize(self) -> bytes:
        out = [ser_var_bytes(k) + ser_var_bytes(v) for k, v in self.records]
        return b"".join(out) + b"\x00"

    def unknown_records(self, known: frozenset[int]) -> list[Record]:
        return [(k, v) for k, v in self.records if _key_type(k)[0] not in known]


@dataclass
class PsbtInput(_Map):
    @cached_property
    def non_witness_utxo(self) -> Transaction | None:
        # Parsed once: signing only ever adds signature records.
        v = self._find(bytes([I_NON_WITNESS_UTXO]))
        return None if v is None else Transaction.parse(v)

    @property
    def witness_utxo(self) -> TxOut | None:
        v = self._find(bytes([I_WITNESS_UTXO]))
        return None if v is None else TxOut.parse(v)

    @property
    def partial_sigs(self) -> dict[bytes, bytes]:
        return dict(self._by_type(I_PARTIAL_SIG))

    @property
    def sighash_type(self) -> int | None:
        v = self._find(bytes([I_SIGHASH_TYPE]))
        return None if v is None else int.from_bytes(v, "little")

    @property
    def bip32_derivation(self) -> dict[bytes, tuple[bytes, tuple[int, ...]]]:
        return {k: _parse_keypath(v, "bip32") for k, v in self._by_type(I_BIP32_DERIVATION)}

    @property
    def final_scriptsig(self) -> bytes | None:
        return self._find(bytes([I_FINAL_SCRIPTSIG]))

    @property
    def final_scriptwitness(self) -> tuple[bytes, ...] | None:
        v = self._find(bytes([I_FINAL_SCRIPTWITNESS]))
        return None if v is None else _parse_witness_stack(v, "final_scriptwitness")

    @property
    def tap_key_sig(self) -> bytes | None:
        return self._find(bytes([I_TAP_KEY_SIG]))

    @property
    def tap_internal_key(self) -> bytes | None:
        return self._find(bytes([I_TAP_INTERNAL_KEY]))

    @property
    def tap_merkle_root(self) -> bytes | None:
        return self._find(bytes([I_TAP_MERKLE_ROOT]))

    @property
    def tap_bip32_derivation(
        self,
    ) -> dict[bytes, tuple[tuple[bytes, ...], bytes, tuple[int, ...]]]:
        return {
            k: _parse_tap_bip32(v, "tap_bip32") for k, v in self._by_type(I_TAP_BIP32_DERIVATION)
        }

    @property
    def unknown(self) -> list[Record]:
        return self.unknown_records(_KNOWN_INPUT_TYPES)

    @property
    def is_finalized(self) -> bool:
        return self.final_scriptsig is not None or self.final_scriptwitness is not None


@dataclass
class PsbtOutput(_Map):
    @property
    def bip32_derivation(self) -> dict[bytes, tuple[bytes, tuple[int, ...]]]:
        return {k: _parse_keypath(v, "bip32") for k, v in self._by_type(O_BIP32_DERIVATION)}

    @property
    def tap_internal_key(self) -> bytes | None:
        return self._find(bytes([O_TAP_INTERNAL_KEY]))

    @property
    def unknown(self) -> list[Record]:
        return self.unknown_records(_KNOWN_OUTPUT_TYPES)


@dataclass
class PsbtGlobal(_Map):
    @property
    def unknown(self) -> list[Record]:
        return self.unknown_records(_KNOWN_GLOBAL_TYPES)


def _validate_global(keytype: int, keydata: bytes, value: bytes) -> None:
    if keytype == G_UNSIGNED_TX:
        _key_only(keydata, "unsigned tx")
    elif keytype == G_XPUB:
        if len(keydata) != 78:
            raise _bad("global xpub: key must be a 78-byte extended public key")
        _parse_keypath(value, "global xpub")
    elif keytype == G_VERSION:
        _key_only(keydata, "version")
        if len(value) != 4:
            raise _bad("version must be 4 bytes")
        if int.from_bytes(value, "little") != 0:
            raise _bad("only PSBT version 0 is supported")
    elif keytype in _G_V2_ONLY:
        raise _bad(f"global type {keytype:#x} is not allowed in PSBT version 0")


def _validate_input(keytype: int, keydata: bytes, value: bytes) -> None:
    if keytype in _I_V2_ONLY:
        raise _bad(f"input type {keytype:#x} is not allowed in PSBT version 0")
    if keytype in (
        I_NON_WITNESS_UTXO,
        I_WITNESS_UTXO,
        I_SIGHASH_TYPE,
        I_REDEEM_SCRIPT,
        I_WITNESS_SCRIPT,
        I_FINAL_SCRIPTSIG,
        I_FINAL_SCRIPTWITNESS,
        I_POR_COMMITMENT,
        I_TAP_KEY_SIG,
        I_TAP_INTERNAL_KEY,
        I_TAP_MERKLE_ROOT,
    ):
        _key_only(keydata, f"input type {keytype:#x}")
    if keytype == I_NON_WITNESS_UTXO:
        _parse_tx(value, "non_witness_utxo", allow_witness=True)
    elif keytype == I_WITNESS_UTXO:
        try:
            TxOut.parse(value)
        except InvalidEncoding as exc:
            raise _bad(f"witness_utxo: {exc.message}") from None
    elif keytype == I_PARTIAL_SIG:
        _check_pubkey(keydata, "partial_sig")
        if not value:
            raise _bad("partial_sig: empty signature")
    elif keytype == I_SIGHASH_TYPE:
        if len(value) != 4:
            raise _bad("sighash_type must be 4 bytes")
    elif keytype == I_BIP32_DERIVATION:
        _check_pubkey(keydata, "bip32_derivation")
        _parse_keypath(value, "bip32_derivation")
    elif keytype == I_FINAL_SCRIPTWITNESS:
        _parse_witness_stack(value, "final_scriptwitness")
    elif keytype in (I_RIPEMD160, I_HASH160):
        if len(keydata) != 20:
            raise _bad("hash preimage key must carry a 20-byte hash")
    elif keytype in (I_SHA256, I_HASH256):
        if len(keydata) != 32:
            raise _bad("hash preimage key must carry a 32-byte hash")
    elif keytype == I_TAP_KEY_SIG:
        if len(value) not in (64, 65):
            raise _bad("tap_key_sig must be 64 or 65 bytes")
    elif keytype == I_TAP_SCRIPT_SIG:
        if len(keydata) != 64:
            raise _bad("tap_script_sig key must be x-only key and leaf hash (64 bytes)")
        _check_xonly(keydata[:32], "tap_script_sig")
        if len(value) not in (64, 65):
            raise _bad("tap_script_sig must be 64 or 65 bytes")
    elif keytype == I_TAP_LEAF_SCRIPT:
        if len(keydata) < 33 or (len(keydata) - 33) % 32 or (len(keydata) - 33) // 32 > 128:
            raise _bad("tap_leaf_script: invalid control block length")
        if not value:
            raise _bad("tap_leaf_script: missing leaf version")
    elif keytype == I_TAP_BIP32_DERIVATION:
        _check_xonly(keydata, "tap_bip32_derivation")
        _parse_tap_bip32(value, "tap_bip32_derivation")
    elif keytype == I_TAP_INTERNAL_KEY:
        _check_xonly(value, "tap_internal_key")
    elif keytype == I_TAP_MERKLE_ROOT and len(value) != 32:
        raise _bad("tap_merkle_root must be 32 bytes")


def _validate_output(keytype: int, keydata: bytes, value: bytes) -> None:
    if keytype in _O_V2_ONLY:
        raise _bad(f"output type {keytype:#x} is not allowed in PSBT version 0")
    if keytype in (O_REDEEM_SCRIPT, O_WITNESS_SCRIPT, O_TAP_INTERNAL_KEY, O_TAP_TREE):
        _key_only(keydata, f"output type {keytype:#x}")
    if keytype == O_BIP32_DERIVATION:
        _check_pubkey(keydata, "output bip32_derivation")
        _parse_keypath(value, "output bip32_derivation")
    elif keytype == O_TAP_INTERNAL_KEY:
        _check_xonly(value, "output tap_internal_key")
    elif keytype == O_TAP_TREE:
        r = ByteReader(value, code="InvalidPsbt")
        if r.at_end():
            raise _bad("tap_tree must not be empty")
        while not r.at_end():
            depth = r.read(1)[0]
            leaf_version = r.read(1)[0]
            r.read_var_bytes()
            if depth > 128 or leaf_version & 1:
                raise _bad("tap_tree: invalid depth or leaf version")
    elif keytype == O_TAP_BIP32_DERIVATION:
        _check_xonly(keydata, "output tap_bip32_derivation")
        _parse_tap_bip32(value, "output tap_bip32_derivation")


def _read_map(
    r: ByteReader, validate: Callable[[int, bytes, bytes], None], what: str
) -> list[Record]:
    records: list[Record] = []
    seen: set[bytes] = set()
    while True:
        if r.at_end():
            raise _bad(f"{what}: missing separator (truncated PSBT)")
        key = r.read_var_bytes()
        if not key:
            return records
        value = r.read_var_bytes()
        if key in seen:
            raise _bad(f"{what}: duplicate key {key.hex()}")
        seen.add(key)
        keytype, keydata = _key_type(key)
        if keytype == _PROPRIETARY:
            pr = ByteReader(keydata, code="InvalidPsbt")
            pr.read_var_bytes()  # identifier
            pr.read_compact_size()  # subtype
        else:
            validate(keytype, keydata, value)
        records.append((key, value))


def decode_psbt_text(data: bytes | str) -> bytes:
    """Raw PSBT bytes from raw bytes, hex or base64 (``str`` or ASCII ``bytes``)."""
    if isinstance(data, bytes | bytearray):
        if bytes(data[:5]) == PSBT_MAGIC:
            return bytes(data)
        try:
            text = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            raise _bad("PSBT is neither raw bytes with magic, hex nor base64") from None
    else:
        text = data
    text = text.strip()
    if text[:10].lower() == PSBT_MAGIC.hex():
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise _bad("PSBT hex is malformed") from None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("PSBT is neither hex nor valid base64") from None


@dataclass
class Psbt:
    global_map: PsbtGlobal
    inputs: list[PsbtInput]
    outputs: list[PsbtOutput]
    #: the global map's unsigned transaction, parsed by :meth:`parse` (signing never
    #: changes the global map)
    unsigned_tx: Transaction = field(repr=False, compare=False)

    @classmethod
    def parse(cls, data: bytes | str) -> Psbt:
        raw = decode_psbt_text(data)
        r = ByteReader(raw, code="InvalidPsbt")
        if raw[:5] != PSBT_MAGIC:
            raise _bad("missing PSBT magic")
        r.read(5)
        try:
            return cls._parse_body(r)
        except InvalidEncoding as exc:
            if exc.code == "InvalidPsbt":
                raise
            raise _bad(exc.message) from None

    @classmethod
    def _parse_body(cls, r: ByteReader) -> Psbt:
        g = PsbtGlobal(_read_map(r, _validate_global, "global map"))
        tx_bytes = g._find(bytes([G_UNSIGNED_TX]))
        if tx_bytes is None:
            raise _bad("PSBT has no unsigned transaction")
        tx = _parse_tx(tx_bytes, "unsigned tx", allow_witness=False)
        if any(i.script_sig or i.witness for i in tx.inputs):
            raise _bad("unsigned tx has a non-empty scriptSig or witness")
        inputs = [
            PsbtInput(_read_map(r, _validate_input, f"input {i}")) for i in range(len(tx.inputs))
        ]
        outputs = [
            PsbtOutput(_read_map(r, _validate_output, f"output {i}"))
            for i in range(len(tx.outputs))
        ]
        if not r.at_end():
            raise _bad("trailing bytes after the PSBT")
        for i, (pin, txin) in enumerate(zip(inputs, tx.inputs, strict=True)):
            nwu = pin.non_witness_utxo
            if nwu is not None:
                if nwu.txid() != txin.prev_txid:
                    raise _bad(f"input {i}: non_witness_utxo does not match the outpoint txid")
                if txin.prev_index >= len(nwu.outputs):
                    raise _bad(f"input {i}: outpoint index not in non_witness_utxo")
        return cls(g, inputs, outputs, tx)

    def serialize(self) -> bytes:
        parts = [PSBT_MAGIC, self.global_map.serialize()]
        parts.extend(m.serialize() for m in self.inputs)
        parts.extend(m.serialize() for m in self.outputs)
        return b"".join(parts)

    def to_base64(self) -> str:
        return base64.b64encode(self.serialize()).decode()

    def spent_output(self, index: int) -> TxOut | None:
        """The output input ``index`` spends, from witness_utxo or non_witness_utxo.

        Raises ``InvalidPsbt`` when both are present and disagree."""
        pin = self.inputs[index]
        txin = self.unsigned_tx.inputs[index]
        wu = pin.witness_utxo
        nwu = pin.non_witness_utxo
        from_nwu = None if nwu is None else nwu.outputs[txin.prev_index]
        if wu is not None and from_nwu is not None and wu != from_nwu:
            raise _bad(f"input {index}: witness_utxo and non_witness_utxo disagree")
        return wu if wu is not None else from_nwu
