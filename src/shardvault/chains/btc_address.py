"""Bitcoin networks, segwit scripts and bech32/bech32m addresses (BIP 173, BIP 350). Pure.

The ``bech32`` package (sipa's reference code) only implements the BIP 173 checksum, so the
BIP 350 bech32m constant is applied here on top of its ``bech32_polymod``/``convertbits``.

API
---
- ``NETWORKS: dict[str, BitcoinNetwork]`` keyed by network name ("Bitcoin",
  "BitcoinTestnet3", "BitcoinSignet", "BitcoinRegtest"); ``hrp_for_network(name) -> str``.
- ``hash160(data) -> bytes``.
- ``taproot_output_key(pub, merkle_root=b"") -> bytes``: 32-byte x-only BIP 341 output key
  (``b""`` = BIP 86, no script tree). ``pub`` is 33-byte compressed or 32-byte x-only.
- ``script_pubkey_p2wpkh(pub33) -> bytes``, ``script_pubkey_p2tr(pub) -> bytes``.
- ``p2wpkh_address(pub33, hrp) -> str``, ``p2tr_address(pub, hrp) -> str``.
- ``encode_segwit_address(hrp, version, program) -> str``.
- ``decode_address(address, hrp=None) -> SegwitAddress`` (raises ``InvalidEncoding`` with
  code ``InvalidAddress``); ``is_valid_address(address, hrp=None) -> bool``;
  ``address_to_script_pubkey(address, hrp=None) -> bytes``;
  ``script_pubkey_to_address(script_pubkey, hrp) -> str``.
"""

from __future__ import annotations

from dataclasses import dataclass

import bech32 as _ref
from Crypto.Hash import RIPEMD160

from shardvault.chains.btc_tx import sha256
from shardvault.crypto import bip340
from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "NETWORKS",
    "BitcoinNetwork",
    "SegwitAddress",
    "address_to_script_pubkey",
    "decode_address",
    "encode_segwit_address",
    "hash160",
    "hrp_for_network",
    "is_valid_address",
    "p2tr_address",
    "p2wpkh_address",
    "script_pubkey_p2tr",
    "script_pubkey_p2wpkh",
    "script_pubkey_to_address",
    "taproot_output_key",
    "xonly_public_key",
]

_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


@dataclass(frozen=True)
class BitcoinNetwork:
    name: str
    hrp: str


NETWORKS: dict[str, BitcoinNetwork] = {
    n.name: n
    for n in (
        BitcoinNetwork("Bitcoin", "bc"),
        BitcoinNetwork("BitcoinTestnet3", "tb"),
        BitcoinNetwork("BitcoinSignet", "tb"),
        BitcoinNetwork("BitcoinRegtest", "bcrt"),
    )
}


def hrp_for_network(network: str) -> str:
    try:
        return NETWORKS[network].hrp
    except KeyError:
        raise InvalidParameters(
            f"unknown Bitcoin network {network!r}", code="UnsupportedNetwork"
        ) from None


def hash160(data: bytes) -> bytes:
    return RIPEMD160.new(sha256(data)).digest()


def _bad_address(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code="InvalidAddress")


def _compressed_pubkey(pub33: bytes) -> bytes:
    if len(pub33) != 33 or pub33[0] not in (2, 3):
        raise InvalidEncoding("expected a 33-byte compressed secp256k1 public key")
    SECP256K1.decode_point(pub33)  # raises InvalidPoint when off the curve
    return bytes(pub33)


def xonly_public_key(pub: bytes) -> bytes:
    """The 32-byte x-only form of a 33-byte compressed or 32-byte x-only key (validated)."""
    if len(pub) == 33:
        return _compressed_pubkey(pub)[1:]
    if len(pub) == 32:
        SECP256K1.lift_x(pub)  # raises InvalidPoint when not an x coordinate on the curve
        return bytes(pub)
    raise InvalidEncoding("expected a 33-byte compressed or 32-byte x-only public key")


def taproot_output_key(pub: bytes, merkle_root: bytes = b"") -> bytes:
    """BIP 341 output key x(Q), Q = lift_x(P) + hash_TapTweak(P || merkle_root) G."""
    q, _ = bip340.tweak_public_key(xonly_public_key(pub), merkle_root)
    return SECP256K1.xonly(q)


def script_pubkey_p2wpkh(pub33: bytes) -> bytes:
    return b"\x00\x14" + hash160(_compressed_pubkey(pub33))


def script_pubkey_p2tr(pub: bytes) -> bytes:
    """BIP 86 P2TR scriptPubKey: OP_1 <32-byte tweaked output key>."""
    return b"\x51\x20" + taproot_output_key(pub)


def _create_checksum(hrp: str, data: list[int], const: int) -> list[int]:
    values = _ref.bech32_hrp_expand(hrp) + data
    polymod = _ref.bech32_polymod([*values, 0, 0, 0, 0, 0, 0]) ^ const
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def _check_program(version: int, program: bytes) -> None:
    if not 0 <= version <= 16:
        raise _bad_address("witness version out of range")
    if not 2 <= len(program) <= 40:
        raise _bad_address("witness program length out of range")
    if version == 0 and len(program) not in (20, 32):
        raise _bad_address("witness v0 program must be 20 or 32 bytes")


def encode_segwit_address(hrp: str, version: int, program: bytes) -> str:
    """BIP 173 (v0, bech32) / BIP 350 (v1+, bech32m) segwit address."""
    _check_program(version, program)
    if not hrp or hrp.lower() != hrp or any(not 33 <= ord(c) <= 126 for c in hrp):
        raise InvalidParameters("invalid bech32 human-readable part")
    five = _ref.convertbits(program, 8, 5)
    assert five is not None
    data = [version, *five]
    const = _BECH32_CONST if version == 0 else _BECH32M_CONST
    combined = data + _create_checksum(hrp, data, const)
    return hrp + "1" + "".join(_ref.CHARSET[d] for d in combined)


@dataclass(frozen=True)
class SegwitAddress:
    hrp: str
    version: int
    program: bytes

    @property
    def script_pubkey(self) -> bytes:
        op = 0 if self.version == 0 else 0x50 + self.version
        return bytes([op, len(self.program)]) + self.program


def decode_address(address: str, hrp: str | None = None) -> SegwitAddress:
    """Decode and validate a segwit address (BIP 173/350); ``hrp`` pins the network."""
    if len(address) > 90:
        raise _bad_address("address longer than 90 characters")
    if any(not 33 <= ord(c) <= 126 for c in address):
        raise _bad_address("address has characters outside US-ASCII 33..126")
    if address.lower() != address and address.upper() != address:
        raise _bad_address("address mixes upper and lower case")
    addr = address.lower()
    pos = addr.rfind("1")
    if pos < 1 or pos + 7 > len(addr):
        raise _bad_address("address has no valid separator")
    got_hrp = addr[:pos]
    if any(c not in _ref.CHARSET for c in addr[pos + 1 :]):
        raise _bad_address("address has characters outside the bech32 alphabet")
    data = [_ref.CHARSET.find(c) for c in addr[pos + 1 :]]
    const = _ref.bech32_polymod(_ref.bech32_hrp_expand(got_hrp) + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST):
        raise _bad_address("address checksum is invalid")
    if hrp is not None and got_hrp != hrp:
        raise _bad_address(f"address is for another network (hrp {got_hrp!r}, want {hrp!r})")
    payload = data[:-6]
    if not payload:
        raise _bad_address("address has no witness version")
    version = payload[0]
    program_list = _ref.convertbits(payload[1:], 5, 8, False)
    if program_list is None:
        raise _bad_address("address has invalid padding")
    program = bytes(program_list)
    _check_program(version, program)
    want = _BECH32_CONST if version == 0 else _BECH32M_CONST
    if const != want:
        raise _bad_address("address uses the wrong checksum variant for its witness version")
    return SegwitAddress(got_hrp, version, program)


def is_valid_address(address: str, hrp: str | None = None) -> bool:
    try:
        decode_address(address, hrp)
    except InvalidEncoding:
        return False
    return True


def address_to_script_pubkey(address: str, hrp: str | None = None) -> bytes:
    return decode_address(address, hrp).script_pubkey


def script_pubkey_to_address(script_pubkey: bytes, hrp: str) -> str:
    """The segwit address of a witness-program scriptPubKey."""
    spk = script_pubkey
    if len(spk) < 4 or spk[1] != len(spk) - 2:
        raise _bad_address("scriptPubKey is not a witness program")
    if spk[0] == 0:
        version = 0
    elif 0x51 <= spk[0] <= 0x60:
        version = spk[0] - 0x50
    else:
        raise _bad_address("scriptPubKey is not a witness program")
    return encode_segwit_address(hrp, version, spk[2:])


def p2wpkh_address(pub33: bytes, hrp: str) -> str:
    return encode_segwit_address(hrp, 0, script_pubkey_p2wpkh(pub33)[2:])


def p2tr_address(pub: bytes, hrp: str) -> str:
    """BIP 86 address: the internal key tweaked with no script tree."""
    return encode_segwit_address(hrp, 1, taproot_output_key(pub))
