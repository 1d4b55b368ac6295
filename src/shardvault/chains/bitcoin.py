"""Bitcoin for the vault: addresses, transactions, PSBT signing and BIP 322 simple
message signatures. Pure functions, no I/O; signing is a callback into the vault.

Keys: an ECDSA secp256k1 key (33-byte compressed) -> P2WPKH (bech32); a Schnorr BIP 340
key (32-byte x-only or 33-byte compressed) -> P2TR (bech32m) with the BIP 86 key-path
tweak (no script tree). Networks and their bech32 hrp: Bitcoin "bc", BitcoinTestnet3 and
BitcoinSignet "tb", BitcoinRegtest "bcrt".

This module re-exports the building blocks:

- ``btc_address``: ``NETWORKS``, ``hrp_for_network``, ``p2wpkh_address(pub33, hrp)``,
  ``p2tr_address(pub, hrp)``, ``script_pubkey_p2wpkh(pub33)``, ``script_pubkey_p2tr(pub)``,
  ``taproot_output_key(pub, merkle_root=b"")``, ``decode_address(address, hrp=None)``,
  ``is_valid_address``, ``address_to_script_pubkey``, ``script_pubkey_to_address``.
- ``btc_tx``: ``Transaction``/``TxIn``/``TxOut`` (legacy and segwit serialization),
  ``sighash_segwit_v0`` (BIP 143), ``sighash_taproot`` (BIP 341 key path).
- ``psbt``: ``Psbt``, ``sign_psbt``, ``PsbtSignResult``.

BIP 322 ("simple" variant, P2WPKH and P2TR addresses only)
----------------------------------------------------------
- ``bip322_message_hash(message) -> bytes``: tagged hash "BIP0322-signed-message".
- ``bip322_to_sign(message, address) -> Bip322Challenge(to_spend, to_sign, sighash,
  sighash_type, address)``: the two virtual transactions and the hash to sign (BIP 143 with
  SIGHASH_ALL for P2WPKH; BIP 341 with SIGHASH_DEFAULT for P2TR, BIP 86 tweaked key).
- ``bip322_encode_simple(witness, *, prefix=True) -> str``: base64 of the serialized witness
  stack, prefixed with "smp" (current BIP 322; ``prefix=False`` gives the older form).
- ``bip322_decode_simple(signature) -> tuple[bytes, ...]`` (accepts both forms).
- ``bip322_sign_simple(message, address, *, public_key, scheme, sign_ecdsa=None,
  sign_schnorr=None, prefix=True) -> str``: signs through the callback and self-verifies;
  in two steps, ``bip322_to_sign`` then ``bip322_complete_simple(challenge, *, public_key,
  scheme, signature, prefix=True)`` with one 64-byte signature (ECDSA r || s).
- ``bip322_verify_simple(message, address, signature) -> bool``.

Messages are ``str`` (UTF-8 encoded) or ``bytes``. Errors: ``InvalidEncoding`` code
``InvalidAddress`` / ``InvalidSignature``; ``InvalidParameters`` code
``UnsupportedAddressType`` for addresses other than P2WPKH/P2TR, ``KeyDoesNotMatchAddress``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import coincurve

from shardvault.chains.btc_address import (
    NETWORKS,
    BitcoinNetwork,
    SegwitAddress,
    address_to_script_pubkey,
    decode_address,
    encode_segwit_address,
    hash160,
    hrp_for_network,
    is_valid_address,
    p2tr_address,
    p2wpkh_address,
    script_pubkey_p2tr,
    script_pubkey_p2wpkh,
    script_pubkey_to_address,
    taproot_output_key,
    xonly_public_key,
)
from shardvault.chains.btc_tx import (
    ECDSA_SIGHASH_TYPES,
    SIGHASH_ALL,
    SIGHASH_ANYONECANPAY,
    SIGHASH_DEFAULT,
    SIGHASH_NONE,
    SIGHASH_SINGLE,
    ByteReader,
    Transaction,
    TxIn,
    TxOut,
    p2wpkh_script_code,
    read_witness,
    serialize_witness,
    sighash_segwit_v0,
    sighash_taproot,
)
from shardvault.chains.psbt import Psbt
from shardvault.chains.psbt_signing import PsbtSignResult, der_encode_signature, sign_psbt
from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.hashing import tagged_hash
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError

__all__ = [
    "NETWORKS",
    "SIGHASH_ALL",
    "SIGHASH_ANYONECANPAY",
    "SIGHASH_DEFAULT",
    "SIGHASH_NONE",
    "SIGHASH_SINGLE",
    "Bip322Challenge",
    "BitcoinNetwork",
    "Psbt",
    "PsbtSignResult",
    "SegwitAddress",
    "Transaction",
    "TxIn",
    "TxOut",
    "address_to_script_pubkey",
    "bip322_complete_simple",
    "bip322_decode_simple",
    "bip322_encode_simple",
    "bip322_message_hash",
    "bip322_sign_simple",
    "bip322_to_sign",
    "bip322_to_spend",
    "bip322_verify_simple",
    "decode_address",
    "der_encode_signature",
    "encode_segwit_address",
    "hash160",
    "hrp_for_network",
    "is_valid_address",
    "p2tr_address",
    "p2wpkh_address",
    "script_pubkey_p2tr",
    "script_pubkey_p2wpkh",
    "script_pubkey_to_address",
    "sighash_segwit_v0",
    "sighash_taproot",
    "sign_psbt",
    "taproot_output_key",
]

_SIMPLE_PREFIX = "smp"
_N = SECP256K1.order


def _message_bytes(message: str | bytes) -> bytes:
    return message.encode("utf-8") if isinstance(message, str) else bytes(message)


def bip322_message_hash(message: str | bytes) -> bytes:
    return tagged_hash("BIP0322-signed-message", _message_bytes(message))


def bip322_to_spend(message: str | bytes, script_pubkey: bytes) -> Transaction:
    """BIP 322 ``to_spend``: spends 0000..00:0xFFFFFFFF, scriptSig OP_0 PUSH32[msg hash]."""
    script_sig = b"\x00\x20" + bip322_message_hash(message)
    txin = TxIn(bytes(32), 0xFFFFFFFF, script_sig, 0)
    return Transaction(0, (txin,), (TxOut(0, script_pubkey),), 0)


def _unsigned_to_sign(to_spend: Transaction) -> Transaction:
    txin = TxIn(to_spend.txid(), 0, b"", 0)
    return Transaction(0, (txin,), (TxOut(0, b"\x6a"),), 0)


@dataclass(frozen=True)
class Bip322Challenge:
    address: SegwitAddress
    to_spend: Transaction
    to_sign: Transaction  # unsigned (empty witness)
    sighash: bytes
    sighash_type: int


def _supported(address: str) -> SegwitAddress:
    addr = decode_address(address)
    if addr.version == 0 and len(addr.program) == 20:
        return addr
    if addr.version == 1 and len(addr.program) == 32:
        return addr
    raise InvalidParameters(
        "BIP 322 simple signatures are supported for P2WPKH and P2TR addresses only",
        code="UnsupportedAddressType",
    )


def _challenge(message: str | bytes, addr: SegwitAddress, sighash_type: int) -> Bip322Challenge:
    to_spend = bip322_to_spend(message, addr.script_pubkey)
    to_sign = _unsigned_to_sign(to_spend)
    if addr.version == 0:
        sighash = sighash_segwit_v0(to_sign, 0, p2wpkh_script_code(addr.program), 0, sighash_type)
    else:
        sighash = sighash_taproot(to_sign, 0, [to_spend.outputs[0]], sighash_type)
    return Bip322Challenge(addr, to_spend, to_sign, sighash, sighash_type)


def bip322_to_sign(message: str | bytes, address: str) -> Bip322Challenge:
    """The virtual transactions of a BIP 322 simple signature and the hash to sign."""
    addr = _supported(address)
    return _challenge(message, addr, SIGHASH_ALL if addr.version == 0 else SIGHASH_DEFAULT)


def bip322_encode_simple(witness: Sequence[bytes], *, prefix: bool = True) -> str:
    encoded = base64.b64encode(serialize_witness(witness)).decode()
    return _SIMPLE_PREFIX + encoded if prefix else encoded


def _bad_sig(message: str) -> InvalidEncoding:
    return InvalidEncoding(message, code="InvalidSignature")


def bip322_decode_simple(signature: str) -> tuple[bytes, ...]:
    """The witness stack of a simple signature, with or without the "smp" prefix."""
    text = signature.strip()
    if text[:3] in ("ful", "pof"):
        raise _bad_sig("full BIP 322 signatures are not supported")
    if text.startswith(_SIMPLE_PREFIX):
        text = text[3:]
    if not text:
        raise _bad_sig("signature too short")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_sig("error decoding signature as base64") from None
    r = ByteReader(raw, code="InvalidSignature")
    stack = read_witness(r)
    if not r.at_end():
        raise _bad_sig("trailing bytes after the witness stack")
    return stack


def _parse_der_with_hashtype(item: bytes) -> tuple[bytes, int] | None:
    if len(item) < 9:
        return None
    return item[:-1], item[-1]


def bip322_verify_simple(message: str | bytes, address: str, signature: str) -> bool:
    """Verify a BIP 322 simple signature for a P2WPKH or P2TR (key path) address."""
    addr = _supported(address)
    try:
        stack = bip322_decode_simple(signature)
    except InvalidEncoding:
        return False
    if addr.version == 0:
        if len(stack) != 2 or len(stack[1]) != 33 or hash160(stack[1]) != addr.program:
            return False
        parsed = _parse_der_with_hashtype(stack[0])
        if parsed is None or parsed[1] not in ECDSA_SIGHASH_TYPES:
            return False
        der, hash_type = parsed
        sighash = _challenge(message, addr, hash_type).sighash
        try:
            return bool(coincurve.PublicKey(stack[1]).verify(der, sighash, hasher=None))
        except ValueError:
            return False
    if len(stack) != 1 or len(stack[0]) not in (64, 65):
        return False  # annex and script paths are out of scope
    sig = stack[0]
    hash_type = SIGHASH_DEFAULT if len(sig) == 64 else sig[64]
    if len(sig) == 65 and hash_type not in ECDSA_SIGHASH_TYPES:
        return False
    sighash = _challenge(message, addr, hash_type).sighash
    try:
        return bool(coincurve.PublicKeyXOnly(addr.program).verify(sig[:64], sighash))
    except ValueError:
        return False


def bip322_complete_simple(
    challenge: Bip322Challenge,
    *,
    public_key: bytes,
    scheme: Literal["ECDSA", "Schnorr"],
    signature: bytes,
    prefix: bool = True,
) -> str:
    """The simple signature from one signature of ``challenge.sighash`` (ECDSA: 64-byte
    r || s by the P2WPKH key; Schnorr: BIP 340 under the BIP 86 output key), checked
    with coincurve before it is returned."""
    addr = challenge.address
    if scheme == "ECDSA":
        if addr.version != 0:
            raise InvalidParameters("ECDSA keys sign P2WPKH addresses")
        if script_pubkey_p2wpkh(public_key) != addr.script_pubkey:
            raise InvalidParameters(
                "public key does not match the address", code="KeyDoesNotMatchAddress"
            )
        if len(signature) != 64:
            raise InvalidParameters("an ECDSA signature here is 64 bytes, r || s")
        der = der_encode_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        ok = coincurve.PublicKey(public_key).verify(der, challenge.sighash, hasher=None)
        witness: tuple[bytes, ...] = (der + bytes([SIGHASH_ALL]), bytes(public_key))
    elif scheme == "Schnorr":
        if addr.version != 1:
            raise InvalidParameters("Schnorr keys sign P2TR addresses")
        if script_pubkey_p2tr(xonly_public_key(public_key)) != addr.script_pubkey:
            raise InvalidParameters(
                "public key does not match the address", code="KeyDoesNotMatchAddress"
            )
        ok = len(signature) == 64 and coincurve.PublicKeyXOnly(addr.program).verify(
            bytes(signature), challenge.sighash
        )
        witness = (bytes(signature),)
    else:
        raise InvalidParameters(f"unsupported signature scheme {scheme!r}")
    if not ok:
        raise ProtocolError(
            "BIP 322 signature does not verify", check="bip322", code="SignatureVerificationFailed"
        )
    return bip322_encode_simple(witness, prefix=prefix)


def bip322_sign_simple(
    message: str | bytes,
    address: str,
    *,
    public_key: bytes,
    scheme: Literal["ECDSA", "Schnorr"],
    sign_ecdsa: Callable[[bytes], tuple[int, int, int]] | None = None,
    sign_schnorr: Callable[[bytes], bytes] | None = None,
    prefix: bool = True,
) -> str:
    """A BIP 322 simple signature of ``message`` by the key behind ``address``.

    ECDSA keys sign P2WPKH addresses (``sign_ecdsa(hash) -> (r, s, recid)``); Schnorr keys
    sign BIP 86 P2TR addresses (``sign_schnorr(hash)`` signs under the tweaked key, i.e.
    ``taproot_merkle_root=b""``). :func:`bip322_to_sign` + :func:`bip322_complete_simple`.
    """
    challenge = bip322_to_sign(message, address)
    if scheme == "ECDSA":
        if sign_ecdsa is None or challenge.address.version != 0:
            raise InvalidParameters("ECDSA keys sign P2WPKH addresses with a sign_ecdsa callback")
        r, s, _ = sign_ecdsa(challenge.sighash)
        if not (0 < r < _N and 0 < s < _N):
            raise InvalidParameters("ECDSA signature scalars out of range")
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif scheme == "Schnorr":
        if sign_schnorr is None or challenge.address.version != 1:
            raise InvalidParameters("Schnorr keys sign P2TR addresses with a sign_schnorr callback")
        signature = bytes(sign_schnorr(challenge.sighash))
    else:
        raise InvalidParameters(f"unsupported signature scheme {scheme!r}")
    return bip322_complete_simple(
        challenge, public_key=public_key, scheme=scheme, signature=signature, prefix=prefix
    )
