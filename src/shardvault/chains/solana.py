"""Solana and SolanaDevnet: addresses and transactions.

Pure functions, no I/O. Signing is a callback ``sign(message: bytes) -> bytes`` into the
vault, which returns a 64-byte Ed25519 (RFC 8032) signature of ``message``.

Addresses
---------
``address_from_public_key(pub32: bytes) -> str``
    The base58 (Bitcoin alphabet) encoding of the 32-byte Ed25519 public key. The same on
    Solana and SolanaDevnet.
``decode_address(addr: str) -> bytes``
    The 32 bytes of a base58 address; anything else (bad character, whitespace, wrong
    length) raises :class:`~shardvault.errors.InvalidEncoding` with code ``InvalidAddress``.

Transactions
------------
``parse_message(data: bytes) -> SolanaMessage``
    Strict parser of a serialized Solana message, legacy or versioned v0 (prefix byte
    ``0x80``). Layout: ``[prefix 0x80 (v0 only)] header[3] shortvec(account keys, 32 bytes
    each) recent_blockhash[32] shortvec(instructions)`` and, for v0,
    ``shortvec(address table lookups)``. An instruction is ``program_id_index:u8
    shortvec(account index:u8) shortvec(data bytes)``; a lookup is ``table key[32]
    shortvec(writable index:u8) shortvec(readonly index:u8)``. Shortvec (compact-u16) must
    be minimally encoded, at most 3 bytes and at most 0xffff. The checks are those of the
    Solana runtime's message ``sanitize``: at least one writable signer (the fee payer),
    ``num_required_signatures + num_readonly_unsigned <= len(static keys)``, at most 256
    account keys (static + looked up), every lookup selects at least one index, every
    program id index is a static key other than the fee payer (0), every account index in
    range, no version other than legacy and v0, no trailing bytes. Duplicate account keys
    are not rejected (the runtime does that); a key present in several signer slots gets
    all of them signed. Failure: :class:`~shardvault.errors.InvalidEncoding` with code
    ``InvalidTransaction``.
``prepare(raw: bytes, *, kind: PayloadKind | None = None) -> SolanaPayload``
    Accepts a serialized message or a serialized (unsigned or partially signed)
    transaction ``shortvec(signatures, 64 bytes each) message`` and says which it was
    (``kind``), the message bytes (what every signer signs), the required signers (the
    first ``num_required_signatures`` account keys) and the signatures (as many as
    signers; all zero when the input was a bare message). A transaction must carry
    exactly ``num_required_signatures`` signatures. Without ``kind`` both readings are
    tried; an input that parses both ways is refused as ambiguous (it never happens with
    an unsigned transaction, whose zero signatures cannot start a valid message).
``sign_transaction(raw: bytes, public_key: bytes, sign: Callable[[bytes], bytes]) -> bytes``
    Calls ``sign(message_bytes)`` once and puts the signature in *every* required-signer
    slot whose key is ``public_key``; other slots keep their signature (zeros when absent).
    Returns the serialized transaction ``shortvec(signatures) message``. The signature is
    verified with PyNaCl first. Errors: ``InvalidTransaction`` (see above),
    ``KeyNotASigner`` (:class:`~shardvault.errors.InvalidParameters`; the key is not a
    required signer), ``InvalidEncoding`` (public key not 32 bytes), ``InvalidSignature``
    (:class:`~shardvault.errors.ProtocolError`; the callback returned something that is
    not a valid 64-byte signature of the message under ``public_key``).
``place_signature(payload: SolanaPayload, public_key: bytes, signature: bytes) -> bytes``
    The second half of ``sign_transaction``, for a payload already prepared and a
    signature already made (same checks and errors).
``serialize_transaction(signatures: Sequence[bytes], message: bytes) -> bytes``
    ``shortvec(len) || signatures || message``.

Off-chain messages (the ``Message`` kind) are ``shardvault.chains.solana_offchain``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

import base58
import nacl.exceptions
import nacl.signing

from shardvault.crypto.codec import ByteReader
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError

__all__ = [
    "AddressTableLookup",
    "CompiledInstruction",
    "PayloadKind",
    "SolanaMessage",
    "SolanaPayload",
    "address_from_public_key",
    "decode_address",
    "decode_shortvec",
    "encode_shortvec",
    "parse_message",
    "place_signature",
    "prepare",
    "serialize_transaction",
    "sign_transaction",
    "verify_ed25519",
]


PUBKEY_LEN: Final = 32
SIGNATURE_LEN: Final = 64
HASH_LEN: Final = 32
#: Account indices are u8: no message can address more keys.
MAX_ACCOUNT_KEYS: Final = 256
#: Top bit of the first message byte marks a versioned message.
VERSION_PREFIX_MASK: Final = 0x80

PayloadKind = Literal["message", "transaction"]
MessageVersion = Literal["legacy", "v0"]

_ZERO_SIGNATURE: Final = bytes(SIGNATURE_LEN)


def _bad_tx(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code="InvalidTransaction")


# ---------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------


def address_from_public_key(pub32: bytes) -> str:
    """Base58 address of a 32-byte Ed25519 public key."""
    if not isinstance(pub32, bytes | bytearray) or len(pub32) != PUBKEY_LEN:
        raise InvalidEncoding("a Solana public key is 32 bytes", code="InvalidPublicKey")
    return base58.b58encode(bytes(pub32)).decode("ascii")


def decode_address(addr: str) -> bytes:
    """The 32 bytes behind a base58 Solana address (strict: canonical, exactly 32 bytes)."""
    if not isinstance(addr, str) or not addr or len(addr) > 64 or not addr.isascii():
        raise InvalidEncoding("not a base58 Solana address", code="InvalidAddress")
    try:
        raw = base58.b58decode(addr)
    except ValueError as exc:
        raise InvalidEncoding("not a base58 Solana address", code="InvalidAddress") from exc
    if len(raw) != PUBKEY_LEN or base58.b58encode(raw).decode("ascii") != addr:
        raise InvalidEncoding("a Solana address decodes to 32 bytes", code="InvalidAddress")
    return raw


# ---------------------------------------------------------------------------
# Shortvec (compact-u16)
# ---------------------------------------------------------------------------


def encode_shortvec(value: int) -> bytes:
    """Compact-u16 encoding of ``0 <= value <= 0xffff``."""
    if not 0 <= value <= 0xFFFF:
        raise InvalidParameters("shortvec values are 0..65535", code="InvalidTransaction")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def decode_shortvec(data: bytes, offset: int) -> tuple[int, int]:
    """Decode a compact-u16 at ``offset``; returns ``(value, new_offset)``.

    Same rules as the Solana runtime: at most 3 bytes, the third without continuation
    bit, no zero byte after the first (non-minimal alias), value at most 0xffff.
    """
    value = 0
    for nth in range(3):
        if offset + nth >= len(data):
            raise _bad_tx("truncated shortvec")
        byte = data[offset + nth]
        if byte == 0 and nth != 0:
            raise _bad_tx("non-minimal shortvec encoding")
        if nth == 2 and byte & 0x80:
            raise _bad_tx("shortvec longer than 3 bytes")
        value |= (byte & 0x7F) << (7 * nth)
        if value > 0xFFFF:
            raise _bad_tx("shortvec value above 65535")
        if not byte & 0x80:
            return value, offset + nth + 1
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledInstruction:
    program_id_index: int
    accounts: bytes
    data: bytes


@dataclass(frozen=True)
class AddressTableLookup:
    account_key: bytes
    writable_indexes: bytes
    readonly_indexes: bytes


@dataclass(frozen=True)
class SolanaMessage:
    """A parsed (and sanitized) Solana message."""

    version: MessageVersion
    num_required_signatures: int
    num_readonly_signed: int
    num_readonly_unsigned: int
    account_keys: tuple[bytes, ...]
    recent_blockhash: bytes
    instructions: tuple[CompiledInstruction, ...]
    address_table_lookups: tuple[AddressTableLookup, ...]

    @property
    def signers(self) -> tuple[bytes, ...]:
        """The required signers, in signature-slot order (slot 0 is the fee payer)."""
        return self.account_keys[: self.num_required_signatures]


class _Reader(ByteReader):
    __slots__ = ()

    def __init__(self, data: bytes, pos: int = 0) -> None:
        super().__init__(data, error=_bad_tx)
        self.pos = pos

    def u8(self, what: str) -> int:
        return self.byte(what)

    def shortvec(self) -> int:
        value, self.pos = decode_shortvec(self.data, self.pos)
        return value

    def short_bytes(self, what: str) -> bytes:
        return self.take(self.shortvec(), what)


def _parse_message_at(reader: _Reader) -> SolanaMessage:
    first = reader.u8("message header")
    version: MessageVersion
    if first & VERSION_PREFIX_MASK:
        if first & ~VERSION_PREFIX_MASK != 0:
            raise _bad_tx(f"unsupported message version {first & ~VERSION_PREFIX_MASK}")
        version = "v0"
        num_required = reader.u8("message header")
    else:
        version = "legacy"
        num_required = first
    num_readonly_signed = reader.u8("message header")
    num_readonly_unsigned = reader.u8("message header")

    n_keys = reader.shortvec()
    keys = tuple(reader.take(PUBKEY_LEN, "account keys") for _ in range(n_keys))
    blockhash = reader.take(HASH_LEN, "recent blockhash")

    n_ix = reader.shortvec()
    instructions: list[CompiledInstruction] = []
    for _ in range(n_ix):
        program_id_index = reader.u8("instruction")
        accounts = reader.short_bytes("instruction accounts")
        data = reader.short_bytes("instruction data")
        instructions.append(CompiledInstruction(program_id_index, accounts, data))

    lookups: list[AddressTableLookup] = []
    if version == "v0":
        n_lookups = reader.shortvec()
        for _ in range(n_lookups):
            table = reader.take(PUBKEY_LEN, "address table lookup")
            writable = reader.short_bytes("address table lookup")
            readonly = reader.short_bytes("address table lookup")
            lookups.append(AddressTableLookup(table, writable, readonly))

    msg = SolanaMessage(
        version=version,
        num_required_signatures=num_required,
        num_readonly_signed=num_readonly_signed,
        num_readonly_unsigned=num_readonly_unsigned,
        account_keys=keys,
        recent_blockhash=blockhash,
        instructions=tuple(instructions),
        address_table_lookups=tuple(lookups),
    )
    _sanitize(msg)
    return msg


def _sanitize(msg: SolanaMessage) -> None:
    n_static = len(msg.account_keys)
    if msg.num_required_signatures + msg.num_readonly_unsigned > n_static:
        raise _bad_tx("header counts more accounts than the message has")
    if msg.num_readonly_signed >= msg.num_required_signatures:
        raise _bad_tx("the message has no writable signer (fee payer)")
    n_dynamic = 0
    for lookup in msg.address_table_lookups:
        if not lookup.writable_indexes and not lookup.readonly_indexes:
            raise _bad_tx("address table lookup selects no account")
        n_dynamic += len(lookup.writable_indexes) + len(lookup.readonly_indexes)
    n_total = n_static + n_dynamic
    if n_total > MAX_ACCOUNT_KEYS:
        raise _bad_tx("more than 256 account keys")
    for ix in msg.instructions:
        if ix.program_id_index >= n_static:
            raise _bad_tx("program id index out of range")
        if ix.program_id_index == 0:
            raise _bad_tx("the fee payer cannot be a program")
        if any(a >= n_total for a in ix.accounts):
            raise _bad_tx("account index out of range")


def parse_message(data: bytes) -> SolanaMessage:
    """Parse a whole serialized message (legacy or v0) strictly; see the module docstring."""
    if not isinstance(data, bytes | bytearray):
        raise _bad_tx("a Solana message is bytes")
    reader = _Reader(bytes(data))
    msg = _parse_message_at(reader)
    if reader.pos != len(reader.data):
        raise _bad_tx("trailing bytes after the message")
    return msg


# ---------------------------------------------------------------------------
# Payloads (message or transaction)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SolanaPayload:
    """What :func:`prepare` found in a raw payload."""

    kind: PayloadKind
    #: The serialized message: the exact bytes every signer signs.
    message: bytes
    parsed: SolanaMessage
    #: Required signers' public keys, in slot order (slot 0 is the fee payer).
    signers: tuple[bytes, ...]
    #: One per signer; all zero bytes for a bare message or an empty slot.
    signatures: tuple[bytes, ...]

    @property
    def version(self) -> MessageVersion:
        return self.parsed.version

    @property
    def signer_addresses(self) -> tuple[str, ...]:
        return tuple(address_from_public_key(k) for k in self.signers)

    def is_signed(self, index: int) -> bool:
        return self.signatures[index] != _ZERO_SIGNATURE


def _as_message(raw: bytes) -> SolanaPayload:
    msg = parse_message(raw)
    signers = msg.signers
    return SolanaPayload(
        kind="message",
        message=raw,
        parsed=msg,
        signers=signers,
        signatures=(_ZERO_SIGNATURE,) * len(signers),
    )


def _as_transaction(raw: bytes) -> SolanaPayload:
    reader = _Reader(raw)
    n_sigs = reader.shortvec()
    sigs = tuple(reader.take(SIGNATURE_LEN, "signatures") for _ in range(n_sigs))
    message = raw[reader.pos :]
    msg = parse_message(message)
    if n_sigs != msg.num_required_signatures:
        raise _bad_tx(
            f"transaction has {n_sigs} signatures, its message requires "
            f"{msg.num_required_signatures}"
        )
    return SolanaPayload(
        kind="transaction",
        message=message,
        parsed=msg,
        signers=msg.signers,
        signatures=sigs,
    )


def prepare(raw: bytes, *, kind: PayloadKind | None = None) -> SolanaPayload:
    """Parse a serialized message or transaction; see the module docstring."""
    if not isinstance(raw, bytes | bytearray):
        raise _bad_tx("a Solana payload is bytes")
    raw = bytes(raw)
    if kind == "message":
        return _as_message(raw)
    if kind == "transaction":
        return _as_transaction(raw)
    if kind is not None:
        raise InvalidParameters("kind is 'message' or 'transaction'", code="InvalidParameters")
    as_message: SolanaPayload | None = None
    as_tx: SolanaPayload | None = None
    errors: list[InvalidEncoding] = []
    try:
        as_message = _as_message(raw)
    except InvalidEncoding as exc:
        errors.append(exc)
    try:
        as_tx = _as_transaction(raw)
    except InvalidEncoding as exc:
        errors.append(exc)
    if as_message is not None and as_tx is not None:
        raise _bad_tx("payload parses both as a message and as a transaction; say which")
    if as_message is not None:
        return as_message
    if as_tx is not None:
        return as_tx
    detail = "; ".join(
        f"as {w}: {e.message}" for w, e in zip(("message", "transaction"), errors, strict=True)
    )
    raise _bad_tx(f"not a Solana message or transaction ({detail})")


def serialize_transaction(signatures: Sequence[bytes], message: bytes) -> bytes:
    """``shortvec(len(signatures)) || signatures || message``."""
    for sig in signatures:
        if len(sig) != SIGNATURE_LEN:
            raise InvalidEncoding("a Solana signature is 64 bytes", code="InvalidSignature")
    return encode_shortvec(len(signatures)) + b"".join(signatures) + message


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` (PyNaCl)."""
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False
    return True


def sign_transaction(raw: bytes, public_key: bytes, sign: Callable[[bytes], bytes]) -> bytes:
    """Sign every required-signer slot of ``public_key``; see the module docstring."""
    _check_public_key(public_key)
    payload = prepare(raw)
    _signer_slots(payload, public_key)  # not a signer: refused before signing
    return place_signature(payload, public_key, sign(payload.message))


def place_signature(payload: SolanaPayload, public_key: bytes, signature: bytes) -> bytes:
    """The serialized transaction with ``signature`` (checked with libsodium against the
    message first) in every required-signer slot of ``public_key``."""
    slots = _signer_slots(payload, public_key)
    if (
        not isinstance(signature, bytes | bytearray)
        or len(signature) != SIGNATURE_LEN
        or not verify_ed25519(bytes(public_key), payload.message, bytes(signature))
    ):
        raise ProtocolError(
            "the vault's signature does not verify against the transaction message",
            check="solana-ed25519-verify",
            code="InvalidSignature",
        )
    signatures = list(payload.signatures)
    for i in slots:
        signatures[i] = bytes(signature)
    return serialize_transaction(signatures, payload.message)


def _check_public_key(public_key: object) -> None:
    if not isinstance(public_key, bytes | bytearray) or len(public_key) != PUBKEY_LEN:
        raise InvalidEncoding("a Solana public key is 32 bytes", code="InvalidPublicKey")


def _signer_slots(payload: SolanaPayload, public_key: bytes) -> list[int]:
    """The signature slots of ``public_key`` (``KeyNotASigner`` when there are none)."""
    _check_public_key(public_key)
    slots = [i for i, key in enumerate(payload.signers) if key == public_key]
    if not slots:
        raise InvalidParameters(
            f"{address_from_public_key(bytes(public_key))} is not a required signer of this "
            "transaction",
            code="KeyNotASigner",
        )
    return slots
