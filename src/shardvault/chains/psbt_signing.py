"""Signing the inputs of a PSBT (``chains.psbt``) that one vault key can spend.
Pure: signing is a callback.

``sign_psbt(psbt, *, public_key, scheme, sign_ecdsa=None, sign_schnorr=None)
-> PsbtSignResult(psbt: bytes, signed: list[int], skipped: list[tuple[int, str]])``,
or in two steps (the vault signs asynchronously in between):
``plan_psbt_signing(psbt, *, public_key, scheme) -> PsbtSigningPlan`` (``items``: index,
sighash and sighash type of each input to sign; ``skipped``) and
``plan.complete(signatures) -> PsbtSignResult`` (one 64-byte signature per item: ECDSA
compact r || s, Schnorr BIP 340).

- ``scheme="ECDSA"`` (``public_key`` 33-byte compressed): P2WPKH inputs paying
  ``script_pubkey_p2wpkh(public_key)`` get ``partial_sigs[public_key] = DER(low-s) ||
  sighash byte`` over the BIP 143 hash (the input's ``sighash_type``, default SIGHASH_ALL).
  ``sign_ecdsa(sighash32) -> (r, s, recid)``.
- ``scheme="Schnorr"`` (``public_key`` 32-byte x-only or 33-byte compressed): P2TR key-path
  inputs paying the BIP 86 output key get ``tap_key_sig`` = 64-byte BIP 340 signature (+ the
  sighash byte unless SIGHASH_DEFAULT) over the BIP 341 hash. ``sign_schnorr(sighash32)``
  must sign under the *tweaked* key, i.e. the vault's Schnorr sign with
  ``taproot_merkle_root=b""``.

Other inputs are left untouched and listed in ``skipped`` with a reason. Every produced
signature is verified with coincurve before returning. Errors: ``InvalidPsbt`` (malformed),
``NoInputForKey`` (no input pays this key nor names it in its derivation/internal-key
fields), ``InvalidParameters`` (bad ``scheme``/key/callback), ``ProtocolError`` code
``SignatureVerificationFailed`` when a callback returns a signature that does not verify.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import coincurve

from shardvault.chains.btc_address import (
    script_pubkey_p2tr,
    script_pubkey_p2wpkh,
    xonly_public_key,
)
from shardvault.chains.btc_tx import (
    ECDSA_SIGHASH_TYPES,
    SIGHASH_ALL,
    SIGHASH_DEFAULT,
    TAPROOT_SIGHASH_TYPES,
    PrecomputedHashes,
    TxOut,
    p2wpkh_script_code,
    sighash_segwit_v0,
    sighash_taproot,
)
from shardvault.chains.psbt import I_PARTIAL_SIG, I_TAP_KEY_SIG, Psbt, PsbtInput
from shardvault.crypto.ecdsa_der import der_encode_ecdsa
from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError

__all__ = [
    "PsbtSignResult",
    "PsbtSigningItem",
    "PsbtSigningPlan",
    "der_encode_signature",
    "plan_psbt_signing",
    "sign_psbt",
]

_N = SECP256K1.order


@dataclass(frozen=True)
class PsbtSignResult:
    psbt: bytes
    signed: list[int]
    skipped: list[tuple[int, str]]

    @property
    def psbt_base64(self) -> str:
        return base64.b64encode(self.psbt).decode()


def der_encode_signature(r: int, s: int) -> bytes:
    """Strict DER ECDSA signature with s normalized to the lower half (BIP 62/146)."""
    if 0 < s < _N and s > _N // 2:
        s = _N - s
    return der_encode_ecdsa(r, s)


def _names_key(pin: PsbtInput, pub33: bytes | None, xonly: bytes) -> bool:
    if pub33 is not None and pub33 in pin.bip32_derivation:
        return True
    return pin.tap_internal_key == xonly or xonly in pin.tap_bip32_derivation


@dataclass(frozen=True, slots=True)
class PsbtSigningItem:
    """One input to sign: its index, the sighash to sign and the input's sighash type."""

    index: int
    digest: bytes
    sighash_type: int


@dataclass(slots=True)
class PsbtSigningPlan:
    """What :func:`plan_psbt_signing` found: the inputs to sign (each sighash computed
    up front: segwit sighashes never cover other inputs' signatures) and the ones
    left alone. :meth:`complete` takes one signature per item and returns the PSBT."""

    psbt: Psbt
    scheme: Literal["ECDSA", "Schnorr"]
    pub33: bytes | None
    #: the BIP 86 output key the Schnorr signatures verify under (ECDSA: unused)
    output_key: bytes
    items: list[PsbtSigningItem]
    skipped: list[tuple[int, str]]

    def complete(self, signatures: Sequence[bytes]) -> PsbtSignResult:
        """Add one 64-byte signature per item (ECDSA: compact r || s; Schnorr: BIP 340
        under the BIP 86 output key), each verified with coincurve first."""
        if len(signatures) != len(self.items):
            raise InvalidParameters(f"{len(self.items)} signatures needed, {len(signatures)} given")
        for item, sig in zip(self.items, signatures, strict=True):
            pin = self.psbt.inputs[item.index]
            if self.scheme == "ECDSA":
                assert self.pub33 is not None
                if len(sig) != 64:
                    raise InvalidParameters("an ECDSA signature here is 64 bytes, r || s")
                der = der_encode_signature(
                    int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
                )
                if not coincurve.PublicKey(self.pub33).verify(der, item.digest, hasher=None):
                    raise ProtocolError(
                        f"ECDSA signature for input {item.index} does not verify",
                        check="bip143",
                        code="SignatureVerificationFailed",
                    )
                pin.set_record(
                    bytes([I_PARTIAL_SIG]) + self.pub33, der + bytes([item.sighash_type])
                )
            else:
                if len(sig) != 64 or not coincurve.PublicKeyXOnly(self.output_key).verify(
                    bytes(sig), item.digest
                ):
                    raise ProtocolError(
                        f"Schnorr signature for input {item.index} does not verify under "
                        "the tweaked key",
                        check="bip341",
                        code="SignatureVerificationFailed",
                    )
                value = bytes(sig)
                if item.sighash_type != SIGHASH_DEFAULT:
                    value += bytes([item.sighash_type])
                pin.set_record(bytes([I_TAP_KEY_SIG]), value)
        return PsbtSignResult(
            self.psbt.serialize(), [item.index for item in self.items], list(self.skipped)
        )


def plan_psbt_signing(
    psbt: bytes | str, *, public_key: bytes, scheme: Literal["ECDSA", "Schnorr"]
) -> PsbtSigningPlan:
    """Parse ``psbt`` and find every input this key can sign (see module docstring);
    raises ``InvalidPsbt`` / ``NoInputForKey`` / ``InvalidParameters``. Signs nothing."""
    pub33: bytes | None
    if scheme == "ECDSA":
        if len(public_key) != 33:
            raise InvalidParameters("ECDSA public key must be 33-byte compressed")
        pub33 = bytes(public_key)
        xonly = xonly_public_key(pub33)
        own_script = script_pubkey_p2wpkh(pub33)
    elif scheme == "Schnorr":
        xonly = xonly_public_key(public_key)
        pub33 = bytes(public_key) if len(public_key) == 33 else None
        own_script = script_pubkey_p2tr(xonly)
    else:
        raise InvalidParameters(f"unsupported signature scheme {scheme!r}")

    p = Psbt.parse(psbt)
    tx = p.unsigned_tx
    n_in = len(tx.inputs)
    spent: list[TxOut | None] = []
    inconsistent: set[int] = set()
    for i in range(n_in):
        try:
            spent.append(p.spent_output(i))
        except InvalidEncoding:
            spent.append(None)
            inconsistent.add(i)
    items: list[PsbtSigningItem] = []
    skipped: list[tuple[int, str]] = []
    relevant = 0
    # BIP 341 commits to every input's spent output; BIP 143 does not need them.
    all_prevouts: list[TxOut] | None = None
    if all(u is not None for u in spent):
        all_prevouts = [u for u in spent if u is not None]
    precomputed = PrecomputedHashes(tx, all_prevouts)
    # BIP 143 scriptCode of our P2WPKH output (its program is the key's hash160)
    script_code = p2wpkh_script_code(own_script[2:]) if scheme == "ECDSA" else b""

    for i, pin in enumerate(p.inputs):
        utxo = spent[i]
        if i in inconsistent:
            skipped.append((i, "witness_utxo and non_witness_utxo disagree"))
            continue
        if utxo is None:
            if _names_key(pin, pub33 if scheme == "ECDSA" else None, xonly):
                relevant += 1
                skipped.append((i, "missing utxo information (witness_utxo/non_witness_utxo)"))
            else:
                skipped.append((i, "no utxo information; not known to pay this key"))
            continue
        if utxo.script_pubkey != own_script:
            skipped.append((i, "scriptPubKey does not pay this key"))
            continue
        relevant += 1
        if pin.is_finalized:
            skipped.append((i, "input is already finalized"))
            continue
        if scheme == "ECDSA":
            assert pub33 is not None
            if pub33 in pin.partial_sigs:
                skipped.append((i, "input already has a signature by this key"))
                continue
            hash_type = SIGHASH_ALL if pin.sighash_type is None else pin.sighash_type
            if hash_type not in ECDSA_SIGHASH_TYPES:
                skipped.append((i, f"unsupported sighash type {hash_type:#x}"))
                continue
            digest = sighash_segwit_v0(
                tx, i, script_code, utxo.amount, hash_type, precomputed=precomputed
            )
        else:
            if pin.tap_key_sig is not None:
                skipped.append((i, "input already has a Taproot key-path signature"))
                continue
            if pin.tap_merkle_root is not None:
                skipped.append((i, "input commits to a script tree; only BIP 86 key path"))
                continue
            if all_prevouts is None:
                skipped.append((i, "missing utxo information of other inputs (BIP 341)"))
                continue
            hash_type = SIGHASH_DEFAULT if pin.sighash_type is None else pin.sighash_type
            if hash_type not in TAPROOT_SIGHASH_TYPES:
                skipped.append((i, f"unsupported sighash type {hash_type:#x}"))
                continue
            if hash_type & 0x03 == 0x03 and i >= len(tx.outputs):
                skipped.append((i, "SIGHASH_SINGLE without a matching output"))
                continue
            digest = sighash_taproot(tx, i, all_prevouts, hash_type, precomputed=precomputed)
        items.append(PsbtSigningItem(i, digest, hash_type))

    if relevant == 0:
        raise InvalidParameters("the PSBT has no input for this key", code="NoInputForKey")
    output_key = own_script[2:] if scheme == "Schnorr" else b""  # P2TR program
    return PsbtSigningPlan(p, scheme, pub33, output_key, items, skipped)


def sign_psbt(
    psbt: bytes | str,
    *,
    public_key: bytes,
    scheme: Literal["ECDSA", "Schnorr"],
    sign_ecdsa: Callable[[bytes], tuple[int, int, int]] | None = None,
    sign_schnorr: Callable[[bytes], bytes] | None = None,
) -> PsbtSignResult:
    """Sign every input of ``psbt`` this key can spend (see module docstring):
    :func:`plan_psbt_signing`, one callback per input, :meth:`PsbtSigningPlan.complete`."""
    if scheme == "ECDSA" and sign_ecdsa is None:
        raise InvalidParameters("scheme ECDSA needs a sign_ecdsa callback")
    if scheme == "Schnorr" and sign_schnorr is None:
        raise InvalidParameters("scheme Schnorr needs a sign_schnorr callback")
    plan = plan_psbt_signing(psbt, public_key=public_key, scheme=scheme)
    signatures: list[bytes] = []
    for item in plan.items:
        if sign_ecdsa is not None and scheme == "ECDSA":
            r, s, _recid = sign_ecdsa(item.digest)
            if not (0 < r < _N and 0 < s < _N):
                raise InvalidParameters("ECDSA signature scalars out of range")
            signatures.append(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        else:
            assert sign_schnorr is not None
            sig = bytes(sign_schnorr(item.digest))
            signatures.append(sig)
    return plan.complete(signatures)
