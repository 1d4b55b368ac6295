"""CGGMP24 presigning (3 rounds) and one-round signing: honest runs give signatures
that libsecp256k1 verifies; a tampered proof of each type aborts blaming its prover
with the proof's check; a wrong delta share trips the delta G = Delta check; a bad
partial signature is caught before release (docs/security.md items 4, 13-16).

Aux info is built ONCE for parties 1..3 from TEST-ONLY fixture primes (3072-bit
moduli; ~18 s) and reused by every test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import coincurve
import pytest
from cggmp_helpers import deliver, new_sid

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.zk import DEFAULT_LEVEL
from shardvault.errors import InvalidParameters, NonceReused, ProtocolError, SessionReused
from shardvault.protocols.cggmp.aux_info import AuxInfo
from shardvault.protocols.cggmp.keyshare import KeyShare, trusted_dealer_key_shares
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presign_messages import MsgRound1, MsgRound2, MsgRound3
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.protocols.cggmp.sign import Signing, combine, sign_share, verify_share
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage, StateMachine

Q = SECP256K1.order
LEVEL = DEFAULT_LEVEL
Tamper = Callable[[ProtocolMessage, int], ProtocolMessage | None]


def dealer(t: int, n: int) -> tuple[int, dict[int, KeyShare]]:
    x = SECP256K1.random_scalar()
    return x, {s.index: s for s in trusted_dealer_key_shares(x, t, n)}


def run_presign(
    aux: dict[int, AuxInfo],
    shares: dict[int, KeyShare],
    signers: Sequence[int],
    tamper: Tamper | None = None,
) -> list[Presigning]:
    sid = new_sid()
    parties = [
        Presigning(sid, i, signers, shares[i], aux[i], InMemorySessionRegistry()) for i in signers
    ]
    deliver(parties, tamper)
    return parties


def sign_all(presigs: Sequence[Presignature], msg_hash: bytes) -> dict[int, int]:
    return {p.me: sign_share(p, msg_hash) for p in presigs}


def check_signature(x: int, presigs: list[Presignature], msg_hash: bytes) -> None:
    public = presigs[0].public
    assert all(p.public == public for p in presigs)
    partials = sign_all(presigs, msg_hash)
    sig = combine(public, partials, msg_hash, public.public_key)
    assert 0 < sig.s <= Q // 2
    pub = coincurve.PublicKey.from_secret(x.to_bytes(32, "big"))
    assert pub.format() == public.public_key.encode()
    assert pub.verify(sig.to_der(), msg_hash, hasher=None)
    rec = coincurve.PublicKey.from_signature_and_message(
        sig.to_recoverable(), msg_hash, hasher=None
    )
    assert rec.format() == pub.format()
    assert sig.r == public.r


def flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 1]) + data[pos + 1 :]


def flip_last(value: Any) -> Any:
    """``value`` with the last byte of its encoding flipped (bit 0): an integer XOR 1
    (fixed-width big-endian, two's complement when signed), a proof or a message part
    with its last field's last byte flipped."""
    if isinstance(value, int):
        return value ^ 1
    last = dataclasses.fields(value)[-1].name
    return dataclasses.replace(value, **{last: flip_last(getattr(value, last))})


class Codec:
    """Decode and re-encode one party's message of one presigning round."""

    def __init__(self, aux: dict[int, AuxInfo], round_: int, sender: int, receiver: int) -> None:
        self.round, self.sender = round_, sender
        self.n_s, self.n_r = modulus(aux, sender), modulus(aux, receiver)

    def decode(self, data: bytes) -> Any:
        if self.round == 1:
            return MsgRound1.decode(
                data, sender=self.sender, n_sender=self.n_s, n_receiver=self.n_r, level=LEVEL
            )
        if self.round == 2:
            return MsgRound2.decode(
                data,
                sender=self.sender,
                count=2,
                n_sender=self.n_s,
                n_receiver=self.n_r,
                level=LEVEL,
            )
        return MsgRound3.decode(data, sender=self.sender, count=2)

    def encode(self, msg: Any) -> bytes:
        if self.round == 3:
            return bytes(msg.encode())
        return bytes(msg.encode(self.n_s, self.n_r, LEVEL))


def tamper_field(
    round_: int,
    sender: int,
    target: int,
    field: str,
    aux: dict[int, AuxInfo],
) -> Tamper:
    """Flip the last byte of ``field`` (``"broadcast.K"`` for a field of the part) in
    ``sender``'s round-``round_`` message to ``target``."""

    def hook(m: ProtocolMessage, t: int) -> ProtocolMessage | None:
        if m.round == round_ and m.sender == sender and t == target:
            codec = Codec(aux, round_, sender, target)
            msg = codec.decode(m.payload)
            *outer, name = field.split(".")
            part = getattr(msg, outer[0]) if outer else msg
            part = dataclasses.replace(part, **{name: flip_last(getattr(part, name))})
            msg = dataclasses.replace(msg, **{outer[0]: part}) if outer else part
            return dataclasses.replace(m, payload=codec.encode(msg))
        return m

    return hook


def failure(party: StateMachine[Any]) -> ProtocolError:
    err = party.failed
    assert err is not None, f"party {party.me} did not abort"
    return err


def modulus(aux: dict[int, AuxInfo], i: int) -> int:
    return aux[i].paillier_key.n


# -- honest runs --------------------------------------------------------------------


def test_presign_sign_2_of_3(aux3: dict[int, AuxInfo]) -> None:
    x, shares = dealer(2, 3)
    parties = run_presign(aux3, shares, [1, 3])
    presigs = [p.result() for p in parties]
    msg_hash = hashlib.sha256(b"2-of-3").digest()
    check_signature(x, presigs, msg_hash)
    with pytest.raises(NonceReused):
        sign_share(presigs[0], msg_hash)


def test_presign_sign_2_of_2(aux3: dict[int, AuxInfo]) -> None:
    x, shares = dealer(2, 2)
    parties = run_presign(aux3, shares, [1, 2])
    check_signature(x, [p.result() for p in parties], secrets.token_bytes(32))


@pytest.mark.slow
def test_presign_sign_3_of_3(aux3: dict[int, AuxInfo]) -> None:
    x, shares = dealer(3, 3)
    parties = run_presign(aux3, shares, [1, 2, 3])
    check_signature(x, [p.result() for p in parties], secrets.token_bytes(32))


def test_presignature_repr_hides_secrets(aux3: dict[int, AuxInfo]) -> None:
    _, shares = dealer(2, 2)
    presig = run_presign(aux3, shares, [1, 2])[0].result()
    text = repr(presig)
    for secret in (presig.k_i, presig.chi_i):
        assert str(secret) not in text and f"{secret:x}" not in text
    assert "hidden" in text


def test_parameters_refused(aux3: dict[int, AuxInfo]) -> None:
    _, shares = dealer(2, 3)
    sid = new_sid()
    with pytest.raises(InvalidParameters):
        Presigning(sid, 1, [1], shares[1], aux3[1], InMemorySessionRegistry())
    with pytest.raises(InvalidParameters):
        Presigning(sid, 1, [1, 2], shares[2], aux3[1], InMemorySessionRegistry())
    with pytest.raises(InvalidParameters):
        Presigning(sid, 1, [1, 1], shares[1], aux3[1], InMemorySessionRegistry())
    registry = InMemorySessionRegistry()
    Presigning(sid, 1, [1, 2], shares[1], aux3[1], registry)
    with pytest.raises(SessionReused):
        Presigning(sid, 1, [1, 2], shares[1], aux3[1], registry)


# -- tampered proofs in flight: the prover is blamed, with the proof's check -------------


def _abort(parties: list[Presigning], victim: int) -> ProtocolError:
    return failure(next(p for p in parties if p.me == victim))


@pytest.mark.parametrize("field", ["psi0", "psi1"])
def test_enc_elg_tampered(aux3: dict[int, AuxInfo], field: str) -> None:
    _, shares = dealer(2, 3)
    hook = tamper_field(1, 3, 1, field, aux3)
    err = _abort(run_presign(aux3, shares, [1, 3], hook), 1)
    assert err.blame == (3,)
    assert err.check.startswith("pi-enc-elg: "), err.check
    assert err.check == "pi-enc-elg: s^z1 t^z3 = T S^e"


@pytest.mark.parametrize("field", ["psi", "psi_hat"])
def test_aff_g_tampered(aux3: dict[int, AuxInfo], field: str) -> None:
    _, shares = dealer(2, 3)
    hook = tamper_field(2, 1, 3, field, aux3)
    err = _abort(run_presign(aux3, shares, [1, 3], hook), 3)
    assert err.blame == (1,)
    assert err.check == "pi-aff-g: (1+N1)^z2 w_y^N1 = B_y Y^e", err.check


def test_aff_g_wrong_ciphertext(aux3: dict[int, AuxInfo]) -> None:
    """D_{j,i} changed in flight: Π_aff-g fails, sender blamed."""
    _, shares = dealer(2, 3)
    hook = tamper_field(2, 3, 1, "D", aux3)
    err = _abort(run_presign(aux3, shares, [1, 3], hook), 1)
    assert err.blame == (3,)
    # D enters the challenge, so the cheapest equation (the group one) fails first.
    assert err.check == "pi-aff-g: z1 G = B_x + e X", err.check


def test_elog_gamma_tampered(aux3: dict[int, AuxInfo]) -> None:
    _, shares = dealer(2, 3)
    hook = tamper_field(2, 3, 1, "psi_elog", aux3)
    err = _abort(run_presign(aux3, shares, [1, 3], hook), 1)
    assert err.blame == (3,)
    assert err.check.startswith("pi-elog: "), err.check


def test_elog_delta_tampered(aux3: dict[int, AuxInfo]) -> None:
    _, shares = dealer(2, 3)
    hook = tamper_field(3, 1, 3, "psi_elog", aux3)
    err = _abort(run_presign(aux3, shares, [1, 3], hook), 3)
    assert err.blame == (1,)
    assert err.check.startswith("pi-elog: "), err.check


def test_round1_changed_ciphertext(aux3: dict[int, AuxInfo]) -> None:
    """K_2 changed on its way to party 3: Π_enc-elg binds K, so 3 blames 2."""
    _, shares = dealer(3, 3)
    hook = tamper_field(1, 2, 3, "broadcast.K", aux3)
    parties = run_presign(aux3, shares, [1, 2, 3], hook)
    err3 = _abort(parties, 3)
    assert err3.blame == (2,)
    assert err3.check.startswith("pi-enc-elg: ")


# -- delta check and bad partial signatures --------------------------------------------


def test_wrong_delta_share(aux3: dict[int, AuxInfo]) -> None:
    """Party 3 broadcasts a wrong delta_3: the identification round (Π_dec) names it."""
    from test_presign_identify import FAST, WrongDelta  # m = 16: speed; proof tests use 128

    _, shares = dealer(2, 3)
    sid = new_sid()
    parties = [
        (WrongDelta if i == 3 else Presigning)(
            sid, i, [1, 3], shares[i], aux3[i], InMemorySessionRegistry(), level=FAST
        )
        for i in (1, 3)
    ]
    deliver(parties)
    err = _abort(parties, 1)
    assert err.check == "presign: delta G = Delta"
    assert err.blame == (3,)


def test_bad_partial_signature_caught(aux3: dict[int, AuxInfo]) -> None:
    x, shares = dealer(2, 3)
    presigs = [p.result() for p in run_presign(aux3, shares, [2, 3])]
    msg_hash = secrets.token_bytes(32)
    partials = sign_all(presigs, msg_hash)
    public = presigs[0].public
    assert all(verify_share(public, j, s, msg_hash) for j, s in partials.items())
    bad = dict(partials)
    bad[3] = (bad[3] + 1) % Q
    with pytest.raises(ProtocolError) as info:
        combine(public, bad, msg_hash)
    assert info.value.blame == (3,)
    assert info.value.check == "sign: sigma_j Gamma = m Delta_j + r S_j"
    # A share for another message is also refused, and so is a missing signer.
    with pytest.raises(ProtocolError):
        combine(public, partials, secrets.token_bytes(32))
    with pytest.raises(ProtocolError) as info:
        combine(public, {2: partials[2]}, msg_hash)
    assert info.value.check == "sign: signer set"
    sig = combine(public, partials, msg_hash)
    pub = coincurve.PublicKey.from_secret(x.to_bytes(32, "big"))
    assert pub.verify(sig.to_der(), msg_hash, hasher=None)


# -- the one-round online signing machine ------------------------------------------------


def test_sign_online_machine(aux3: dict[int, AuxInfo]) -> None:
    x, shares = dealer(2, 3)
    presigs = [p.result() for p in run_presign(aux3, shares, [1, 2])]
    msg_hash = secrets.token_bytes(32)
    sid = new_sid()
    signers = [Signing(sid, p, msg_hash, InMemorySessionRegistry()) for p in presigs]
    assert all(p.consumed for p in presigs)
    deliver(signers)
    sigs = {s.result() for s in signers}
    assert len(sigs) == 1
    sig = sigs.pop()
    pub = coincurve.PublicKey.from_secret(x.to_bytes(32, "big"))
    assert pub.verify(sig.to_der(), msg_hash, hasher=None)
    with pytest.raises(NonceReused):
        Signing(new_sid(), presigs[0], msg_hash, InMemorySessionRegistry())


def test_sign_online_bad_sigma_blamed(aux3: dict[int, AuxInfo]) -> None:
    _, shares = dealer(2, 3)
    presigs = [p.result() for p in run_presign(aux3, shares, [1, 2])]
    msg_hash = secrets.token_bytes(32)
    sid = new_sid()
    signers = [Signing(sid, p, msg_hash, InMemorySessionRegistry()) for p in presigs]

    def hook(m: ProtocolMessage, t: int) -> ProtocolMessage | None:
        if m.sender == 2:
            return dataclasses.replace(m, payload=flip(m.payload, 31))
        return m

    deliver(signers, hook)
    err = failure(signers[0])
    assert err.blame == (2,)
    assert err.check == "sign: sigma_j Gamma = m Delta_j + r S_j"
