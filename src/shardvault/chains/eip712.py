"""EIP-712 typed structured data hashing (``eth_signTypedData_v4``), hand-written per the EIP.

Pure functions, no I/O. Input is the JSON-like document wallets receive::

    {"types": {...}, "domain": {...}, "primaryType": "Mail", "message": {...}}

API
---
- ``hash_typed_data(typed_data: Mapping[str, Any]) -> TypedDataHash``: validates the
  document and returns ``TypedDataHash(digest, domain_separator, message_hash,
  primary_type, chain_id, verifying_contract)``. ``digest`` is what the vault signs:
  ``keccak256(0x19 0x01 || domainSeparator || hashStruct(message))``, or
  ``keccak256(0x19 0x01 || domainSeparator)`` when ``primaryType`` is ``EIP712Domain``
  (``message_hash`` is then ``None`` and ``message`` must be ``{}``). ``chain_id`` is the
  domain's ``chainId`` (or ``None``) so the caller can check it against the network;
  ``verifying_contract`` is the EIP-55 domain contract (or ``None``).
- ``eip712_hash(typed_data: Mapping[str, Any]) -> bytes``: ``hash_typed_data(...).digest``.
- ``encode_type(primary_type: str, types: Mapping[str, Any]) -> str`` and
  ``hash_struct(primary_type: str, types: Mapping[str, Any], data: Mapping[str, Any]) ->
  bytes``: the EIP's ``encodeType`` and ``hashStruct`` (``types`` validated as below).

Rules (anything else raises ``InvalidParameters`` with code ``"InvalidEip712"``):

- The document has exactly the keys ``types``, ``domain``, ``primaryType``, ``message``.
- ``types`` maps struct names (identifiers ``[A-Za-z_$][A-Za-z0-9_$]*`` of at most 256
  characters, not atomic type names) to lists of ``{"name": ..., "type": ...}`` (exactly
  those keys, unique identifier names). Field types are atomic (``bool``, ``address``,
  ``string``, ``bytes``,
  ``bytes1``..``bytes32``, ``uint8``..``uint256`` and ``int8``..``int256`` in steps of 8;
  bare ``uint``/``int`` are not EIP-712 types), defined structs, or arrays of those with
  up to ``MAX_ARRAY_DIMENSIONS`` (8) dimensions, fixed (``T[3]``, length >= 1) or dynamic
  (``T[]``). Every type referenced anywhere in ``types`` must be defined. At most
  ``MAX_STRUCT_TYPES`` (256) struct types with ``MAX_FIELDS`` (2048) fields in all.
- ``EIP712Domain``: if present in ``types``, its fields may only be the standard ones
  with their standard types (``name string``, ``version string``, ``chainId uint256``,
  ``verifyingContract address``, ``salt bytes32``), in the order given (which is what gets
  hashed). If absent it is derived from the keys of ``domain`` in that canonical order,
  as eth_account does.
- ``primaryType`` must name a type in ``types`` (or ``EIP712Domain``).
- ``encodeType`` lists the primary type then its transitive dependencies sorted by name;
  recursive (self-referencing) structs are supported.
- Values: a struct is a mapping with exactly its fields (missing or extra keys are
  errors). ``uintN``/``intN`` take an ``int`` (not ``bool``), a decimal string or a
  ``0x`` hex string, range-checked. ``bool`` takes ``True``/``False`` only. ``address``
  takes ``0x`` + 40 hex digits (mixed case must be a valid EIP-55 checksum) or 20 bytes.
  ``bytesN`` takes ``0x`` + exactly ``2N`` hex digits or ``N`` bytes. ``bytes`` takes a
  ``0x`` hex string or bytes. ``string`` takes a ``str``. Arrays take a list or tuple
  (fixed arrays of exactly their length). Values nest at most ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shardvault.chains.evm import address_to_bytes, checksum_address, checksum_encode, keccak256
from shardvault.errors import InvalidParameters

__all__ = [
    "DOMAIN_FIELDS",
    "MAX_ARRAY_DIMENSIONS",
    "MAX_DEPTH",
    "MAX_FIELDS",
    "MAX_STRUCT_TYPES",
    "TypedDataHash",
    "eip712_hash",
    "encode_type",
    "hash_struct",
    "hash_typed_data",
]

ERROR_CODE = "InvalidEip712"

#: Deepest value nesting (structs and arrays) accepted.
MAX_DEPTH = 48
#: Bounds on the ``types`` table, so hashing a document stays cheap whatever its shape
#: (real documents -- permits, orders, votes -- use a handful of types, a few dozen
#: fields and one or two array dimensions).
MAX_STRUCT_TYPES = 256
MAX_FIELDS = 2048
MAX_ARRAY_DIMENSIONS = 8

#: Standard ``EIP712Domain`` fields, in the canonical order used when deriving the type.
DOMAIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)
_DOMAIN_TYPE = "EIP712Domain"
_TOP_LEVEL_KEYS = frozenset({"types", "domain", "primaryType", "message"})

_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,255}")
_TYPE_RE = re.compile(r"([A-Za-z_$][A-Za-z0-9_$]{0,255})((?:\[(?:[1-9][0-9]{0,17})?\])*)")
_DIM_RE = re.compile(r"\[([0-9]*)\]")
_HEX_RE = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_HEX_INT_RE = re.compile(r"0x[0-9a-fA-F]{1,64}")
_DEC_INT_RE = re.compile(r"-?[0-9]{1,80}")

_ATOMIC: frozenset[str] = frozenset(
    ["bool", "address", "string", "bytes"]
    + [f"bytes{n}" for n in range(1, 33)]
    + [f"uint{8 * n}" for n in range(1, 33)]
    + [f"int{8 * n}" for n in range(1, 33)]
)

Types = dict[str, tuple[tuple[str, str], ...]]


def _fail(message: str) -> InvalidParameters:
    return InvalidParameters(message, code=ERROR_CODE)


def _show(value: object) -> str:
    """A bounded ``repr`` for error messages (documents come from API callers)."""
    text = repr(value)
    return text if len(text) <= 48 else text[:45] + "..."


@dataclass(frozen=True)
class TypedDataHash:
    """Result of ``hash_typed_data``: the digest to sign and what the caller must check."""

    digest: bytes
    domain_separator: bytes
    message_hash: bytes | None
    primary_type: str
    chain_id: int | None
    verifying_contract: str | None


# ---------------------------------------------------------------------------
# Types
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _split_type(type_str: str) -> tuple[str, tuple[int | None, ...]]:
    """``"Person[2][]"`` -> (``"Person"``, (2, None)) (dimensions innermost first)."""
    match = _TYPE_RE.fullmatch(type_str)
    if match is None:
        raise _fail(f"malformed type {_show(type_str)}")
    dims = tuple(int(d) if d else None for d in _DIM_RE.findall(match.group(2)))
    if len(dims) > MAX_ARRAY_DIMENSIONS:
        raise _fail(f"type {_show(type_str)} has more than {MAX_ARRAY_DIMENSIONS} dimensions")
    return match.group(1), dims


def _validate_types(raw_types: object) -> Types:
    if not isinstance(raw_types, Mapping):
        raise _fail("types must be an object")
    if len(raw_types) > MAX_STRUCT_TYPES:
        raise _fail(f"at most {MAX_STRUCT_TYPES} struct types")
    types: Types = {}
    total_fields = 0
    for name, fields in raw_types.items():
        if not isinstance(name, str) or _IDENT_RE.fullmatch(name) is None:
            raise _fail(f"invalid struct name {_show(name)}")
        if name in _ATOMIC:
            raise _fail(f"struct name {_show(name)} shadows an atomic type")
        if isinstance(fields, str | bytes) or not isinstance(fields, Sequence):
            raise _fail(f"fields of {name} must be a list")
        total_fields += len(fields)
        if total_fields > MAX_FIELDS:
            raise _fail(f"at most {MAX_FIELDS} fields in all struct types")
        parsed: list[tuple[str, str]] = []
        seen: set[str] = set()
        for field in fields:
            if not isinstance(field, Mapping) or set(field.keys()) != {"name", "type"}:
                raise _fail(f"each field of {name} must be {{'name': ..., 'type': ...}}")
            f_name, f_type = field["name"], field["type"]
            if not isinstance(f_name, str) or _IDENT_RE.fullmatch(f_name) is None:
                raise _fail(f"invalid field name {_show(f_name)} in {name}")
            if not isinstance(f_type, str):
                raise _fail(f"type of {name}.{f_name} must be a string")
            if f_name in seen:
                raise _fail(f"duplicate field {name}.{f_name}")
            seen.add(f_name)
            parsed.append((f_name, f_type))
        types[name] = tuple(parsed)
    for name, fields in types.items():
        for f_name, f_type in fields:
            base, _ = _split_type(f_type)
            if base not in _ATOMIC and base not in types:
                raise _fail(f"unknown type {_show(base)} in {name}.{f_name}")
    return types


def _dependencies(primary: str, types: Types) -> list[str]:
    """Struct types ``primary`` references, transitively, excluding itself, sorted."""
    found: set[str] = set()
    stack = [primary]
    while stack:
        current = stack.pop()
        for _, f_type in types[current]:
            base, _ = _split_type(f_type)
            if base in types and base not in found and base != primary:
                found.add(base)
                stack.append(base)
    return sorted(found)


def _encode_type(primary: str, types: Types) -> str:
    def one(name: str) -> str:
        return name + "(" + ",".join(f"{t} {n}" for n, t in types[name]) + ")"

    return one(primary) + "".join(one(dep) for dep in _dependencies(primary, types))


def encode_type(primary_type: str, types: Mapping[str, Any]) -> str:
    """EIP-712 ``encodeType``: ``Primary(...)`` followed by its dependencies sorted by name."""
    checked = _validate_types(types)
    if primary_type not in checked:
        raise _fail(f"type {_show(primary_type)} is not defined")
    return _encode_type(primary_type, checked)


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------


def _int_value(value: object, type_str: str, bits: int, signed: bool) -> int:
    if isinstance(value, bool):
        raise _fail(f"{type_str} value must be an integer, not a bool")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        if _HEX_INT_RE.fullmatch(value):
            number = int(value, 16)
        elif _DEC_INT_RE.fullmatch(value):
            number = int(value, 10)
        else:
            raise _fail(f"{type_str} value {_show(value)} is not a decimal or 0x-hex integer")
    else:
        raise _fail(f"{type_str} value must be an integer")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    if not low <= number < high:
        raise _fail(f"{type_str} value out of range")
    return number % 2**256


def _bytes_value(value: object, type_str: str) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and _HEX_RE.fullmatch(value):
        return bytes.fromhex(value[2:])
    raise _fail(f"{type_str} value must be 0x-prefixed hex (whole bytes) or bytes")


def _encode_atomic(type_str: str, value: object) -> bytes:
    if type_str == "bool":
        if not isinstance(value, bool):
            raise _fail("bool value must be true or false")
        return (1 if value else 0).to_bytes(32, "big")
    if type_str == "address":
        if isinstance(value, bytes | bytearray) and len(value) == 20:
            return bytes(12) + bytes(value)
        if not isinstance(value, str):
            raise _fail("address value must be a 0x-prefixed string or 20 bytes")
        try:
            return bytes(12) + address_to_bytes(value)
        except InvalidParameters as exc:
            raise _fail(f"bad address {_show(value)}: {exc.message}") from exc
    if type_str == "string":
        if not isinstance(value, str):
            raise _fail("string value must be a string")
        try:
            return keccak256(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise _fail("string value is not valid Unicode") from exc
    if type_str == "bytes":
        return keccak256(_bytes_value(value, type_str))
    if type_str.startswith("bytes"):
        size = int(type_str[5:])
        raw = _bytes_value(value, type_str)
        if len(raw) != size:
            raise _fail(f"{type_str} value must be exactly {size} bytes, got {len(raw)}")
        return raw + bytes(32 - size)
    signed = type_str.startswith("int")
    bits = int(type_str[3:] if signed else type_str[4:])
    return _int_value(value, type_str, bits, signed).to_bytes(32, "big")


class _Encoder:
    """Hashes values of one validated ``types`` table, caching each type hash."""

    def __init__(self, types: Types) -> None:
        self.types = types
        self._type_hashes: dict[str, bytes] = {}

    def type_hash(self, name: str) -> bytes:
        cached = self._type_hashes.get(name)
        if cached is None:
            cached = keccak256(_encode_type(name, self.types).encode("utf-8"))
            self._type_hashes[name] = cached
        return cached

    def hash_struct(self, name: str, data: object, depth: int = 0) -> bytes:
        if depth > MAX_DEPTH:
            raise _fail("value nested too deeply")
        if not isinstance(data, Mapping):
            raise _fail(f"value of struct {name} must be an object")
        fields = self.types[name]
        names = {f_name for f_name, _ in fields}
        missing = [f_name for f_name, _ in fields if f_name not in data]
        if missing:
            raise _fail(f"{name} is missing field(s) {_show(missing)}")
        extra = [key for key in data if key not in names]
        if extra:
            raise _fail(f"{name} has unknown field(s) {_show(extra)}")
        parts = [self.type_hash(name)]
        parts.extend(
            self.encode_value(f_type, data[f_name], depth + 1) for f_name, f_type in fields
        )
        return keccak256(b"".join(parts))

    def encode_value(self, type_str: str, value: object, depth: int) -> bytes:
        if depth > MAX_DEPTH:
            raise _fail("value nested too deeply")
        base, dims = _split_type(type_str)
        if dims:
            length = dims[-1]
            inner = type_str[: type_str.rindex("[")]
            if isinstance(value, str | bytes) or not isinstance(value, Sequence):
                raise _fail(f"{type_str} value must be an array")
            if length is not None and len(value) != length:
                raise _fail(f"{type_str} value must have exactly {length} elements")
            return keccak256(b"".join(self.encode_value(inner, v, depth + 1) for v in value))
        if base in self.types:
            return self.hash_struct(base, value, depth)
        return _encode_atomic(base, value)


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------


def _domain_type(types: Types, domain: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    standard = dict(DOMAIN_FIELDS)
    if _DOMAIN_TYPE in types:
        fields = types[_DOMAIN_TYPE]
        for f_name, f_type in fields:
            if standard.get(f_name) != f_type:
                raise _fail(f"EIP712Domain field {_show(f_type)} {f_name} is not a standard field")
        return fields
    for key in domain:
        if key not in standard:
            raise _fail(f"unknown domain field {_show(key)}")
    return tuple((n, t) for n, t in DOMAIN_FIELDS if n in domain)


def hash_struct(primary_type: str, types: Mapping[str, Any], data: Mapping[str, Any]) -> bytes:
    """EIP-712 ``hashStruct(data)`` for the struct type ``primary_type``."""
    checked = _validate_types(types)
    if primary_type not in checked:
        raise _fail(f"type {_show(primary_type)} is not defined")
    return _Encoder(checked).hash_struct(primary_type, data)


def hash_typed_data(typed_data: Mapping[str, Any]) -> TypedDataHash:
    """Validate an EIP-712 document and compute its signing digest (see module docstring)."""
    if not isinstance(typed_data, Mapping):
        raise _fail("typed data must be an object")
    keys = set(typed_data.keys())
    if keys != _TOP_LEVEL_KEYS:
        missing = sorted(_TOP_LEVEL_KEYS - keys)
        extra = sorted(map(str, keys - _TOP_LEVEL_KEYS))
        raise _fail(f"typed data keys: missing {missing}, unexpected {_show(extra)}")
    types = _validate_types(typed_data["types"])
    domain = typed_data["domain"]
    if not isinstance(domain, Mapping):
        raise _fail("domain must be an object")
    types[_DOMAIN_TYPE] = _domain_type(types, domain)
    primary = typed_data["primaryType"]
    if not isinstance(primary, str) or primary not in types:
        raise _fail(f"primaryType {_show(primary)} is not defined in types")
    message = typed_data["message"]

    encoder = _Encoder(types)
    domain_separator = encoder.hash_struct(_DOMAIN_TYPE, domain)
    message_hash: bytes | None
    if primary == _DOMAIN_TYPE:
        if message != {}:
            raise _fail("message must be empty when primaryType is EIP712Domain")
        message_hash = None
        digest = keccak256(b"\x19\x01" + domain_separator)
    else:
        message_hash = encoder.hash_struct(primary, message)
        digest = keccak256(b"\x19\x01" + domain_separator + message_hash)

    chain_id = None
    if "chainId" in domain:
        chain_id = _int_value(domain["chainId"], "uint256", 256, False)
    verifying_contract = None
    if "verifyingContract" in domain:
        contract = domain["verifyingContract"]
        verifying_contract = (
            checksum_encode(bytes(contract))
            if isinstance(contract, bytes | bytearray)
            else checksum_address(str(contract))
        )
    return TypedDataHash(
        digest=digest,
        domain_separator=domain_separator,
        message_hash=message_hash,
        primary_type=primary,
        chain_id=chain_id,
        verifying_contract=verifying_contract,
    )


def eip712_hash(typed_data: Mapping[str, Any]) -> bytes:
    """The 32-byte EIP-712 digest to sign (``hash_typed_data(typed_data).digest``)."""
    return hash_typed_data(typed_data).digest
