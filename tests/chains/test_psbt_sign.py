"""sign_psbt end to end: a PSBT built by embit spends P2WPKH and P2TR utxos of local test keys
plus a foreign input; shardvault signs through coincurve callbacks; embit (an independent
implementation) checks every signature over its own BIP 143 / BIP 341 sighash and finalizes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import coincurve
import pytest
from embit import ec
from embit.finalizer import finalize_psbt
from embit.psbt import PSBT as EmbitPSBT
from embit.script import Script
from embit.transaction import Transaction as EmbitTx
from embit.transaction import TransactionInput, TransactionOutput

from shardvault.chains.btc_address import (
    script_pubkey_p2tr,
    script_pubkey_p2wpkh,
    taproot_output_key,
)
from shardvault.chains.btc_tx import Transaction, TxIn, TxOut
from shardvault.chains.psbt import Psbt
from shardvault.chains.psbt_signing import der_encode_signature, plan_psbt_signing, sign_psbt
from shardvault.crypto import bip340
from shardvault.crypto.groups import SECP256K1
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError

N = SECP256K1.order


def _secret(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


ECDSA_KEY = coincurve.PrivateKey(_secret("shardvault test ecdsa key"))
ECDSA_PUB = ECDSA_KEY.public_key.format()
SCHNORR_SECRET = _secret("shardvault test schnorr key")
SCHNORR_XONLY = bip340.public_key(SCHNORR_SECRET)
FOREIGN_PUB = coincurve.PrivateKey(_secret("somebody else")).public_key.format()


def _tweaked_secret(secret: bytes) -> bytes:
    d = int.from_bytes(secret, "big")
    if not SECP256K1.has_even_y(SECP256K1.mul_base(d)):
        d = N - d
    t = bip340.taproot_tweak(bip340.public_key(secret), b"")
    return ((d + t) % N).to_bytes(32, "big")


def sign_ecdsa(digest: bytes) -> tuple[int, int, int]:
    sig = ECDSA_KEY.sign_recoverable(digest, hasher=None)
    return int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]


def sign_schnorr(digest: bytes) -> bytes:
    # The vault's Schnorr signing with taproot_merkle_root=b"" (BIP 86 key-path tweak).
    return coincurve.PrivateKey(_tweaked_secret(SCHNORR_SECRET)).sign_schnorr(digest, bytes(32))


def _txid(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


P2WPKH_SPK = script_pubkey_p2wpkh(ECDSA_PUB)
P2TR_SPK = script_pubkey_p2tr(SCHNORR_XONLY)
FOREIGN_SPK = script_pubkey_p2wpkh(FOREIGN_PUB)

# The previous transaction of input 0, given as non_witness_utxo only.
PREV_TX = Transaction(
    2,
    (TxIn(_txid("funding"), 0),),
    (TxOut(5_000, FOREIGN_SPK), TxOut(150_000, P2WPKH_SPK)),
    0,
)


def build_psbt() -> bytes:
    """Inputs: 0 P2WPKH (ours, non_witness_utxo), 1 P2TR (ours), 2 P2WPKH (foreign),
    3 P2WPKH (ours, SIGHASH_ALL|ANYONECANPAY), 4 P2TR (ours, explicit SIGHASH_ALL)."""
    vin = [
        TransactionInput(PREV_TX.txid()[::-1], 1),  # embit takes the display-order txid
        TransactionInput(_txid("b")[::-1], 0, sequence=0xFFFFFFFD),
        TransactionInput(_txid("c")[::-1], 7),
        TransactionInput(_txid("d")[::-1], 1),
        TransactionInput(_txid("e")[::-1], 2),
    ]
    vout = [
        TransactionOutput(400_000, Script(bytes.fromhex("0014" + "11" * 20))),
        TransactionOutput(12_345, Script(P2TR_SPK)),
    ]
    psbt = EmbitPSBT(EmbitTx(version=2, vin=vin, vout=vout, locktime=800_000))
    psbt.inputs[0].non_witness_utxo = EmbitTx.parse(PREV_TX.serialize())
    utxos = {
        1: (200_000, P2TR_SPK),
        2: (50_000, FOREIGN_SPK),
        3: (70_000, P2WPKH_SPK),
        4: (33_000, P2TR_SPK),
    }
    for i, (value, spk) in utxos.items():
        psbt.inputs[i].witness_utxo = TransactionOutput(value, Script(spk))
    psbt.inputs[3].sighash_type = 0x81
    psbt.inputs[4].sighash_type = 0x01
    psbt.inputs[2].bip32_derivation = {}
    raw: bytes = psbt.serialize()
    return raw


def _embit_verify(raw: bytes, expect: int) -> EmbitPSBT:
    """Check every signature in ``raw`` against embit's own sighash computation."""
    psbt = EmbitPSBT.parse(raw)
    checked = 0
    tx = psbt.tx
    values = [psbt.utxo(i).value for i in range(len(psbt.inputs))]
    spks = [psbt.utxo(i).script_pubkey for i in range(len(psbt.inputs))]
    for i, inp in enumerate(psbt.inputs):
        for pub, sig in inp.partial_sigs.items():
            script_code = Script(b"\x76\xa9\x14" + spks[i].data[2:] + b"\x88\xac")
            h = tx.sighash_segwit(i, script_code, values[i], sighash=sig[-1])
            assert pub.verify(ec.Signature.parse(sig[:-1]), h), i
            checked += 1
        tap = inp.unknown.get(b"\x13")
        if tap is not None:
            ht = 0 if len(tap) == 64 else tap[64]
            h = tx.sighash_taproot(i, script_pubkeys=spks, values=values, sighash=ht)
            out_key = ec.PublicKey.from_xonly(spks[i].data[2:])
            assert out_key.schnorr_verify(ec.SchnorrSig.parse(tap[:64]), h), i
            checked += 1
    assert checked == expect
    return psbt


def test_end_to_end_sign_and_verify_with_embit() -> None:
    original = build_psbt()
    ecdsa = sign_psbt(original, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert ecdsa.signed == [0, 3]
    assert [i for i, _ in ecdsa.skipped] == [1, 2, 4]
    schnorr = sign_psbt(
        ecdsa.psbt, public_key=SCHNORR_XONLY, scheme="Schnorr", sign_schnorr=sign_schnorr
    )
    assert schnorr.signed == [1, 4]
    assert [i for i, _ in schnorr.skipped] == [0, 2, 3]
    assert dict(schnorr.skipped)[2] == "scriptPubKey does not pay this key"

    ours = Psbt.parse(schnorr.psbt)
    before = Psbt.parse(original)
    # The foreign input, the global map and the outputs are untouched, byte for byte.
    assert ours.inputs[2].records == before.inputs[2].records
    assert ours.global_map.records == before.global_map.records
    assert [o.records for o in ours.outputs] == [o.records for o in before.outputs]
    # Signatures: low-s DER + sighash byte; Taproot 64 bytes for DEFAULT, 65 with the byte.
    for i, hash_type in ((0, 0x01), (3, 0x81)):
        sig = ours.inputs[i].partial_sigs[ECDSA_PUB]
        assert sig[-1] == hash_type
        assert coincurve.PublicKey(ECDSA_PUB).verify(sig[:-1], _sighash_v0(ours, i), hasher=None)
        s_len = sig[5 + sig[3]]
        s = int.from_bytes(sig[6 + sig[3] : 6 + sig[3] + s_len], "big")
        assert s <= N // 2
    tap1, tap4 = ours.inputs[1].tap_key_sig, ours.inputs[4].tap_key_sig
    assert tap1 is not None and len(tap1) == 64
    assert tap4 is not None and len(tap4) == 65 and tap4[64] == 0x01

    embit_psbt = _embit_verify(schnorr.psbt, 4)
    assert not embit_psbt.inputs[2].partial_sigs
    # embit finalizes the P2WPKH inputs; the Taproot key-path witness is the signature alone.
    final = finalize_psbt(embit_psbt, ignore_missing=True)
    assert final is not None
    final.vin[1].witness.items = [tap1]
    final.vin[4].witness.items = [tap4]
    signed_tx = Transaction.parse(final.serialize())
    assert signed_tx.inputs[0].witness[1] == ECDSA_PUB
    assert signed_tx.inputs[3].witness[1] == ECDSA_PUB
    assert signed_tx.inputs[2].witness == ()
    assert signed_tx.txid() == ours.unsigned_tx.txid()


def _sighash_v0(p: Psbt, i: int) -> bytes:
    from shardvault.chains.btc_address import hash160
    from shardvault.chains.btc_tx import p2wpkh_script_code, sighash_segwit_v0

    utxo = p.spent_output(i)
    assert utxo is not None
    hash_type = p.inputs[i].sighash_type or 0x01
    return sighash_segwit_v0(
        p.unsigned_tx, i, p2wpkh_script_code(hash160(ECDSA_PUB)), utxo.amount, hash_type
    )


def test_accepts_hex_and_base64_and_returns_raw() -> None:
    raw = build_psbt()
    for encoded in (raw.hex(), base64.b64encode(raw).decode(), base64.b64encode(raw)):
        result = sign_psbt(encoded, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
        assert result.psbt.startswith(b"psbt\xff")
        assert result.psbt_base64 == base64.b64encode(result.psbt).decode()
        assert result.signed == [0, 3]


def test_schnorr_with_compressed_public_key() -> None:
    pub33 = b"\x03" + SCHNORR_XONLY  # parity does not matter for BIP 86
    result = sign_psbt(build_psbt(), public_key=pub33, scheme="Schnorr", sign_schnorr=sign_schnorr)
    assert result.signed == [1, 4]


def test_no_input_for_key() -> None:
    stranger = coincurve.PrivateKey(_secret("stranger")).public_key.format()
    with pytest.raises(InvalidParameters) as excinfo:
        sign_psbt(build_psbt(), public_key=stranger, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert excinfo.value.code == "NoInputForKey"


@pytest.mark.parametrize("bad", [b"", b"psbt\xff", b"not a psbt", "cHNidP8=", "70736274ff00"])
def test_malformed_psbt(bad: bytes | str) -> None:
    with pytest.raises(InvalidEncoding) as excinfo:
        sign_psbt(bad, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert excinfo.value.code == "InvalidPsbt"


def _single_input_psbt(records: list[tuple[bytes, bytes]], spk: bytes | None = None) -> bytes:
    tx = Transaction(2, (TxIn(_txid("x"), 0),), (TxOut(1_000, FOREIGN_SPK),), 0)
    p = Psbt.parse(b"psbt\xff" + b"\x01\x00" + _varbytes(tx.serialize()) + b"\x00\x00\x00")
    if spk is not None:
        p.inputs[0].set_record(b"\x01", TxOut(5_000, spk).serialize())
    for k, v in records:
        p.inputs[0].set_record(k, v)
    return p.serialize()


def _varbytes(b: bytes) -> bytes:
    from shardvault.chains.btc_tx import ser_var_bytes

    return ser_var_bytes(b)


def test_missing_utxo_for_matching_input_is_skipped() -> None:
    # P2TR: tap_internal_key names our key but no utxo is given.
    raw = _single_input_psbt([(b"\x17", SCHNORR_XONLY)])
    result = sign_psbt(raw, public_key=SCHNORR_XONLY, scheme="Schnorr", sign_schnorr=sign_schnorr)
    assert result.signed == []
    assert result.skipped[0][0] == 0 and "missing utxo" in result.skipped[0][1]
    assert result.psbt == raw
    # P2WPKH: bip32_derivation names our key.
    raw = _single_input_psbt([(b"\x06" + ECDSA_PUB, bytes(4) + (0x80000054).to_bytes(4, "little"))])
    result = sign_psbt(raw, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert result.signed == [] and "missing utxo" in result.skipped[0][1]


def test_taproot_needs_every_prevout() -> None:
    p = Psbt.parse(build_psbt())
    # Drop the foreign input's witness_utxo: BIP 341 can no longer be computed.
    p.inputs[2].records = [(k, v) for k, v in p.inputs[2].records if k != b"\x01"]
    result = sign_psbt(
        p.serialize(), public_key=SCHNORR_XONLY, scheme="Schnorr", sign_schnorr=sign_schnorr
    )
    assert result.signed == []
    assert all("other inputs" in reason for i, reason in result.skipped if i in (1, 4))
    # ECDSA (BIP 143) does not need the other inputs' utxos.
    result = sign_psbt(p.serialize(), public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert result.signed == [0, 3]


def test_already_signed_and_unsupported_sighash_are_skipped() -> None:
    once = sign_psbt(build_psbt(), public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    twice = sign_psbt(once.psbt, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert twice.signed == [] and twice.psbt == once.psbt
    assert "already" in dict(twice.skipped)[0]
    raw = _single_input_psbt([(b"\x03", (0x04).to_bytes(4, "little"))], spk=P2WPKH_SPK)
    result = sign_psbt(raw, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert result.signed == [] and "sighash" in result.skipped[0][1]


def test_unknown_records_preserved() -> None:
    p = Psbt.parse(build_psbt())
    p.global_map.records.append((b"\xfc\x05vault\x01\x02", b"global-proprietary"))
    p.inputs[0].records.insert(0, (b"\xf0\x01\x02", b"unknown-input-record"))
    p.outputs[1].records.append((b"\xee", b"unknown-output-record"))
    raw = p.serialize()
    result = sign_psbt(raw, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    out = Psbt.parse(result.psbt)
    assert out.global_map.unknown == [(b"\xfc\x05vault\x01\x02", b"global-proprietary")]
    assert out.inputs[0].records[0] == (b"\xf0\x01\x02", b"unknown-input-record")
    assert out.inputs[0].unknown == [(b"\xf0\x01\x02", b"unknown-input-record")]
    assert out.outputs[1].unknown == [(b"\xee", b"unknown-output-record")]


def test_high_s_from_callback_is_normalized() -> None:
    def high_s(digest: bytes) -> tuple[int, int, int]:
        r, s, v = sign_ecdsa(digest)
        return (r, s if s > N // 2 else N - s, v ^ 1)

    result = sign_psbt(build_psbt(), public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=high_s)
    assert result.signed == [0, 3]
    _embit_verify(result.psbt, 2)


@pytest.mark.parametrize(
    ("scheme", "callback"),
    [
        ("ECDSA", lambda d: (1, 1, 0)),
        ("Schnorr", lambda d: bytes(64)),
    ],
)
def test_bad_signature_from_callback(scheme: str, callback: Callable[[bytes], object]) -> None:
    with pytest.raises(ProtocolError) as excinfo:
        if scheme == "ECDSA":
            sign_psbt(build_psbt(), public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=callback)  # type: ignore[arg-type]
        else:
            sign_psbt(
                build_psbt(),
                public_key=SCHNORR_XONLY,
                scheme="Schnorr",
                sign_schnorr=callback,  # type: ignore[arg-type]
            )
    assert excinfo.value.code == "SignatureVerificationFailed"


def test_parameter_errors() -> None:
    with pytest.raises(InvalidParameters):
        sign_psbt(build_psbt(), public_key=ECDSA_PUB, scheme="ECDSA")
    with pytest.raises(InvalidParameters):
        sign_psbt(build_psbt(), public_key=SCHNORR_XONLY, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    with pytest.raises(InvalidParameters):
        sign_psbt(build_psbt(), public_key=ECDSA_PUB, scheme="EdDSA", sign_ecdsa=sign_ecdsa)  # type: ignore[arg-type]


def test_der_encoding() -> None:
    der = der_encode_signature(1, N - 1)
    assert der == bytes.fromhex("3006020101020101")
    with pytest.raises(InvalidParameters):
        der_encode_signature(0, 1)


def test_output_key_matches_script() -> None:
    assert P2TR_SPK[2:] == taproot_output_key(SCHNORR_XONLY)


def test_taproot_skip_reasons() -> None:
    p = Psbt.parse(build_psbt())
    p.inputs[1].set_record(b"\x18", bytes(32))  # commits to a script tree: not BIP 86
    p.inputs[4].set_record(b"\x03", (0x83).to_bytes(4, "little"))  # SINGLE, no output 4
    result = sign_psbt(
        p.serialize(), public_key=SCHNORR_XONLY, scheme="Schnorr", sign_schnorr=sign_schnorr
    )
    assert result.signed == []
    reasons = dict(result.skipped)
    assert "script tree" in reasons[1]
    assert "SIGHASH_SINGLE" in reasons[4]


def test_inconsistent_utxo_is_skipped() -> None:
    p = Psbt.parse(build_psbt())
    p.inputs[0].set_record(b"\x01", TxOut(1, P2WPKH_SPK).serialize())  # disagrees with nwu
    result = sign_psbt(p.serialize(), public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)
    assert result.signed == [3]
    assert "disagree" in dict(result.skipped)[0]


def _compact(r_s_v: tuple[int, int, int]) -> bytes:
    return r_s_v[0].to_bytes(32, "big") + r_s_v[1].to_bytes(32, "big")


def test_plan_lists_sighashes_and_complete_matches_sign_psbt() -> None:
    """The two-step form (what the API uses: plan, sign asynchronously, complete) gives
    the same PSBT as sign_psbt, and each planned sighash is embit's own."""
    original = build_psbt()
    plan = plan_psbt_signing(original, public_key=ECDSA_PUB, scheme="ECDSA")
    assert [item.index for item in plan.items] == [0, 3]
    assert [item.sighash_type for item in plan.items] == [0x01, 0x81]
    parsed = Psbt.parse(original)
    assert [item.digest for item in plan.items] == [_sighash_v0(parsed, 0), _sighash_v0(parsed, 3)]
    done = plan.complete([_compact(sign_ecdsa(item.digest)) for item in plan.items])
    assert done == sign_psbt(original, public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa)

    tr = plan_psbt_signing(done.psbt, public_key=SCHNORR_XONLY, scheme="Schnorr")
    assert [(item.index, item.sighash_type) for item in tr.items] == [(1, 0x00), (4, 0x01)]
    embit_psbt = EmbitPSBT.parse(done.psbt)
    values = [embit_psbt.utxo(i).value for i in range(5)]
    spks = [embit_psbt.utxo(i).script_pubkey for i in range(5)]
    for item in tr.items:
        assert item.digest == embit_psbt.tx.sighash_taproot(
            item.index, script_pubkeys=spks, values=values, sighash=item.sighash_type
        )
    final = tr.complete([sign_schnorr(item.digest) for item in tr.items])
    _embit_verify(final.psbt, 4)


def test_complete_refuses_wrong_count_and_bad_signatures() -> None:
    plan = plan_psbt_signing(build_psbt(), public_key=ECDSA_PUB, scheme="ECDSA")
    first = _compact(sign_ecdsa(plan.items[0].digest))
    with pytest.raises(InvalidParameters):
        plan.complete([first])
    with pytest.raises(InvalidParameters):
        plan.complete([first, first[:63]])
    with pytest.raises(ProtocolError) as excinfo:
        plan.complete([first, first])  # input 3's sighash differs from input 0's
    assert excinfo.value.code == "SignatureVerificationFailed"

    tr = plan_psbt_signing(build_psbt(), public_key=SCHNORR_XONLY, scheme="Schnorr")
    untweaked = coincurve.PrivateKey(SCHNORR_SECRET)
    for bad in (
        [untweaked.sign_schnorr(item.digest, bytes(32)) for item in tr.items],  # internal key
        [sign_schnorr(item.digest) + b"\x01" for item in tr.items],
    ):
        with pytest.raises(ProtocolError) as excinfo:
            tr.complete(bad)
        assert excinfo.value.code == "SignatureVerificationFailed"


def test_plan_with_nothing_signable_lists_reasons() -> None:
    signed = sign_psbt(
        build_psbt(), public_key=ECDSA_PUB, scheme="ECDSA", sign_ecdsa=sign_ecdsa
    ).psbt
    plan = plan_psbt_signing(signed, public_key=ECDSA_PUB, scheme="ECDSA")
    assert plan.items == []
    assert dict(plan.skipped)[0] == "input already has a signature by this key"
    assert dict(plan.skipped)[3] == "input already has a signature by this key"


def test_planning_hashes_each_transaction_part_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """n inputs cost O(n) hashing (BIP 143/341 precomputed hashes, the unsigned
    transaction parsed once), not O(n^2): count the bytes hashed, not the time."""
    from shardvault.chains import btc_tx

    def bytes_hashed(n: int, spk: bytes, public_key: bytes, scheme: str) -> int:
        tx = EmbitTx(
            vin=[TransactionInput(i.to_bytes(32, "big"), 0) for i in range(n)],
            vout=[TransactionOutput(1_000, Script(spk))],
        )
        psbt = EmbitPSBT(tx)
        for pin in psbt.inputs:
            pin.witness_utxo = TransactionOutput(2_000, Script(spk))
        raw = psbt.serialize()
        total = 0
        real = btc_tx.sha256

        def counting(data: bytes) -> bytes:
            nonlocal total
            total += len(data)
            return real(data)

        parses = 0
        real_parse = btc_tx.Transaction.parse.__func__  # type: ignore[attr-defined]

        def counting_parse(cls: type[Transaction], data: bytes, **kw: bool) -> Transaction:
            nonlocal parses
            parses += 1
            result: Transaction = real_parse(cls, data, **kw)
            return result

        monkeypatch.setattr(btc_tx, "sha256", counting)
        monkeypatch.setattr(btc_tx.Transaction, "parse", classmethod(counting_parse))
        plan = plan_psbt_signing(raw, public_key=public_key, scheme=scheme)  # type: ignore[arg-type]
        monkeypatch.undo()
        assert len(plan.items) == n
        assert parses <= 2, parses  # the unsigned transaction, parsed once
        return total

    for spk, public_key, scheme in (
        (P2WPKH_SPK, ECDSA_PUB, "ECDSA"),
        (P2TR_SPK, SCHNORR_XONLY, "Schnorr"),
    ):
        small, large = (
            bytes_hashed(50, spk, public_key, scheme),
            bytes_hashed(500, spk, public_key, scheme),
        )
        assert large < 12 * small, (scheme, small, large)  # quadratic would be ~100x
