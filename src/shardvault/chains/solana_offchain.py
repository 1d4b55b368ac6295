"""Solana off-chain messages: the bytes a Solana wallet signs for a text message.

Implemented: the format of the released ``solana-offchain-message`` crate v3.0.0
(anza-xyz/solana-sdk, ``offchain-message/src/lib.rs`` on master), which is what
``solana sign-offchain-message`` in agave produces (``OffchainMessage::new(0, text)``)::

    b"\\xffsolana offchain" || version:u8 (=0) || format:u8 || len:u16 LE || message

Format 0 = restricted ASCII (every byte in 0x20..=0x7e, at most 1212 bytes), 1 = limited
UTF-8 (at most 1212 bytes), 2 = extended UTF-8 (at most 65515 bytes); the first that fits
is chosen, as agave does. The newer proposal in agave's ``off-chain-message-signing.md``
(application domain, signer list, newline in restricted ASCII) is *not* implemented: it
is not in the released crate nor in what the CLI signs.

``offchain_message(message: bytes | str, *, version: int = 0) -> bytes``
    The bytes to sign (the caller signs them with Ed25519). Errors
    (:class:`~shardvault.errors.InvalidParameters`, code ``InvalidMessage``): empty,
    too long, not UTF-8, version other than 0.
``parse_offchain_message(data: bytes) -> OffchainMessage``
    Strict inverse: signing domain, version 0, a known format whose rules (charset and
    maximum length) the body meets, length field equal to the body length, no trailing
    bytes. Like agave's deserializer it accepts a body in a wider format than
    :func:`offchain_message` would pick (e.g. ASCII text tagged limited UTF-8). Errors:
    :class:`~shardvault.errors.InvalidEncoding`, code ``InvalidMessage``.
``verify_offchain_message(data: bytes, public_key: bytes, signature: bytes) -> bool``
    Parses ``data`` strictly and checks the Ed25519 signature with PyNaCl.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from shardvault.chains.solana import PUBKEY_LEN, SIGNATURE_LEN, verify_ed25519
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "OFFCHAIN_SIGNING_DOMAIN",
    "OffchainFormat",
    "OffchainMessage",
    "offchain_message",
    "parse_offchain_message",
    "verify_offchain_message",
]

OFFCHAIN_SIGNING_DOMAIN: Final = b"\xffsolana offchain"
#: Signing domain (16) + header version (1).
OFFCHAIN_HEADER_LEN: Final = len(OFFCHAIN_SIGNING_DOMAIN) + 1
#: Version 0 header: format (1) + message length (2).
OFFCHAIN_V0_HEADER_LEN: Final = 3
#: Ledger limit: PACKET_DATA_SIZE (1232) minus both headers.
OFFCHAIN_MAX_LEN_LEDGER: Final = 1232 - OFFCHAIN_HEADER_LEN - OFFCHAIN_V0_HEADER_LEN
#: u16::MAX minus both headers.
OFFCHAIN_MAX_LEN: Final = 0xFFFF - OFFCHAIN_HEADER_LEN - OFFCHAIN_V0_HEADER_LEN


class OffchainFormat(IntEnum):
    RESTRICTED_ASCII = 0
    LIMITED_UTF8 = 1
    EXTENDED_UTF8 = 2


@dataclass(frozen=True)
class OffchainMessage:
    version: int
    format: OffchainFormat
    message: bytes


def _is_printable_ascii(data: bytes) -> bool:
    return all(0x20 <= b <= 0x7E for b in data)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return False
    return True


def _format_fits(fmt: OffchainFormat, body: bytes) -> bool:
    if fmt is OffchainFormat.RESTRICTED_ASCII:
        return len(body) <= OFFCHAIN_MAX_LEN_LEDGER and _is_printable_ascii(body)
    if fmt is OffchainFormat.LIMITED_UTF8:
        return len(body) <= OFFCHAIN_MAX_LEN_LEDGER and _is_utf8(body)
    return len(body) <= OFFCHAIN_MAX_LEN and _is_utf8(body)


def offchain_message(message: bytes | str, *, version: int = 0) -> bytes:
    """The serialized off-chain message (the bytes to Ed25519-sign)."""
    if version != 0:
        raise InvalidParameters("only off-chain message version 0 exists", code="InvalidMessage")
    if isinstance(message, str):
        body = message.encode("utf-8")
    elif isinstance(message, bytes | bytearray):
        body = bytes(message)
    else:
        raise InvalidParameters("an off-chain message is text or bytes", code="InvalidMessage")
    if not body:
        raise InvalidParameters("an off-chain message cannot be empty", code="InvalidMessage")
    if len(body) > OFFCHAIN_MAX_LEN:
        raise InvalidParameters(
            f"an off-chain message is at most {OFFCHAIN_MAX_LEN} bytes", code="InvalidMessage"
        )
    for fmt in OffchainFormat:
        if _format_fits(fmt, body):
            break
    else:
        raise InvalidParameters("an off-chain message must be UTF-8", code="InvalidMessage")
    return OFFCHAIN_SIGNING_DOMAIN + bytes([version, fmt]) + len(body).to_bytes(2, "little") + body


def parse_offchain_message(data: bytes) -> OffchainMessage:
    """Strictly parse a serialized off-chain message (agave's ``deserialize`` rules)."""

    def bad(why: str) -> InvalidEncoding:
        return InvalidEncoding(f"not a Solana off-chain message: {why}", code="InvalidMessage")

    if not isinstance(data, bytes | bytearray):
        raise bad("not bytes")
    data = bytes(data)
    if len(data) <= OFFCHAIN_HEADER_LEN + OFFCHAIN_V0_HEADER_LEN:
        raise bad("too short")
    if not data.startswith(OFFCHAIN_SIGNING_DOMAIN):
        raise bad("wrong signing domain")
    version = data[len(OFFCHAIN_SIGNING_DOMAIN)]
    if version != 0:
        raise bad(f"unsupported version {version}")
    rest = data[OFFCHAIN_HEADER_LEN:]
    try:
        fmt = OffchainFormat(rest[0])
    except ValueError as exc:
        raise bad(f"unknown format {rest[0]}") from exc
    length = int.from_bytes(rest[1:3], "little")
    body = rest[OFFCHAIN_V0_HEADER_LEN:]
    if length != len(body):
        raise bad("length field does not match the message")
    if not _format_fits(fmt, body):
        raise bad(f"content does not fit format {fmt.name}")
    return OffchainMessage(version=version, format=fmt, message=body)


def verify_offchain_message(data: bytes, public_key: bytes, signature: bytes) -> bool:
    """Parse ``data`` strictly, then check the Ed25519 signature (PyNaCl)."""
    parse_offchain_message(data)
    if len(public_key) != PUBKEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    return verify_ed25519(bytes(public_key), bytes(data), bytes(signature))
