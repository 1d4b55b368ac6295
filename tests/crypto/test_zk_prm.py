"""Ring-Pedersen parameters and Π_prm (docs/security.md items 12 and 14).

Pregenerated TEST-ONLY safe primes: tests/fixtures/cggmp_primes.json.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.paillier import keypair_from_primes
from shardvault.crypto.ring_pedersen import (
    RingPedersenParams,
    RingPedersenSecret,
    generate_ring_pedersen,
    ring_pedersen_from_paillier,
)
from shardvault.crypto.zk import ITERATIONS, InvalidProof, prm
from shardvault.crypto.zk.prm import PrmProof
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"aux-info/session-7f3a"
PID = 2

RP = generate_ring_pedersen(P512[0], P512[1])  # 1024-bit N-hat
PROOF = prm.prove(RP, session_id=SID, prover_id=PID)


def check_of(excinfo: pytest.ExceptionInfo[InvalidProof]) -> str:
    return excinfo.value.check


def rejected(params: RingPedersenParams, proof: PrmProof, sid: bytes = SID, pid: int = PID) -> str:
    with pytest.raises(InvalidProof) as info:
        prm.verify(params, proof, session_id=sid, prover_id=pid)
    assert info.value.check.startswith("pi-prm: ")
    assert info.value.blame == ()
    return check_of(info)


# -- ring-Pedersen parameters ---------------------------------------------------------------


def test_generation_matches_the_paper() -> None:
    params = RP.params
    n = params.n
    assert n == P512[0] * P512[1]
    assert RP.phi == (P512[0] - 1) * (P512[1] - 1)
    assert 0 <= RP.lam < RP.phi
    assert pow(params.t, RP.lam, n) == params.s  # s = t^lambda
    # t = tau^2 is a quadratic residue mod both primes.
    for p in (P512[0], P512[1]):
        assert gmpy2.legendre(params.t, p) == 1
    params.validate()
    params.validate(min_bits=1024)
    with pytest.raises(InvalidParameters):
        params.validate(min_bits=3072)


def test_fresh_parameters_differ_and_trapdoor_is_hidden() -> None:
    other = generate_ring_pedersen(P512[0], P512[1])
    assert other.params.n == RP.params.n
    assert (other.params.s, other.params.t) != (RP.params.s, RP.params.t)
    text = repr(RP) + str(RP)
    for secret in (RP.lam, RP.p, RP.q, RP.phi):
        assert str(secret) not in text and f"{secret:x}" not in text


def test_generation_refuses_non_safe_primes() -> None:
    with pytest.raises(InvalidParameters):
        generate_ring_pedersen(P512[0], P512[0])
    not_safe = int(gmpy2.next_prime(P512[1]))
    with pytest.raises(InvalidParameters, match="safe"):
        generate_ring_pedersen(P512[0], not_safe)
    with pytest.raises(InvalidParameters):
        RingPedersenSecret(P512[0], P512[1], RP.lam + 1, RP.params)
    with pytest.raises(InvalidParameters):
        RingPedersenSecret(P512[0], P512[2], RP.lam, RP.params)


def test_from_paillier_key_uses_the_same_modulus() -> None:
    _, sk = keypair_from_primes(P512[2], P512[3])
    rp = ring_pedersen_from_paillier(sk)
    assert rp.params.n == sk.n


def test_params_validation() -> None:
    n, s, t = RP.params.n, RP.params.s, RP.params.t
    bad = [
        RingPedersenParams(n, 1, t),
        RingPedersenParams(n, s, 1),
        RingPedersenParams(n, s, n - 1),
        RingPedersenParams(n, 0, t),
        RingPedersenParams(n, s, n + t),
        RingPedersenParams(n, P512[0], t),  # not a unit
        RingPedersenParams(n + 1, s, t),  # even modulus
    ]
    for params in bad:
        with pytest.raises(InvalidParameters):
            params.validate()


def test_commit_helpers_agree() -> None:
    params = RP.params
    for x, y in ((5, 7), (-(2**300), 2**500), (0, -3)):
        expected = pow(params.s, x, params.n) * pow(params.t, y, params.n) % params.n
        assert params.commit(x, y) == params.commit_secret(x, y) == expected
    assert RP.pow_mod_n(params.t, RP.lam) == params.s


def test_params_encoding() -> None:
    data = RP.params.to_bytes()
    assert len(data) == 3 * 128
    assert RingPedersenParams.from_bytes(data) == RP.params
    for bad in (b"", data[:-1], b"\x00" * 3, RingPedersenParams(RP.params.n, 1, 2).to_bytes()):
        with pytest.raises(InvalidEncoding):
            RingPedersenParams.from_bytes(bad)
    with pytest.raises(InvalidEncoding):
        RingPedersenParams.from_bytes(data, min_bits=3072)


# -- Π_prm: honest provers ------------------------------------------------------------------


def test_honest_proof_verifies() -> None:
    assert len(PROOF.commitments) == len(PROOF.responses) == ITERATIONS == 128
    prm.verify(RP.params, PROOF, session_id=SID, prover_id=PID)


def test_full_size_3072_bit_round() -> None:
    _, sk = keypair_from_primes(P1536[0], P1536[1])
    rp = ring_pedersen_from_paillier(sk)
    assert rp.params.n.bit_length() == 3072
    proof = prm.prove(rp, session_id=SID, prover_id=PID)
    data = proof.to_bytes(rp.params.n)
    assert len(data) == 2 * 128 * 384
    decoded = PrmProof.from_bytes(data, rp.params.n)
    prm.verify(rp.params, decoded, session_id=SID, prover_id=PID)
    assert rejected(rp.params, decoded, pid=PID + 1) == "pi-prm: t^z_i = A_i s^e_i"


# -- Π_prm: failures ------------------------------------------------------------------------


def cheating_prove(
    params: RingPedersenParams, phi: int, lam: int, *, guess: bool = False
) -> PrmProof:
    """The honest algorithm on a statement it cannot prove; with ``guess`` it instead
    bets on each challenge bit (the simulator's strategy, 2^-128 success)."""
    n, s, t = params.n, params.s, params.t
    if guess:
        zs = [secrets.randbelow(phi) for _ in range(ITERATIONS)]
        bets = [secrets.randbelow(2) for _ in range(ITERATIONS)]
        commitments = tuple(pow(t, z, n) * pow(s, -g, n) % n for z, g in zip(zs, bets, strict=True))
        return PrmProof(commitments, tuple(zs))
    nonces = [secrets.randbelow(phi) for _ in range(ITERATIONS)]
    commitments = tuple(pow(t, a, n) for a in nonces)
    e = prm.derive_challenge(params, commitments, session_id=SID, prover_id=PID)
    return PrmProof(
        commitments, tuple((a + ei * lam) % phi for a, ei in zip(nonces, e, strict=True))
    )


def test_s_not_in_subgroup_of_t_fails() -> None:
    n, t = RP.params.n, RP.params.t
    # -t^lambda is a quadratic non-residue, so it is not in <t> (a subgroup of QR_N).
    s_bad = n - RP.params.s
    params = RingPedersenParams(n, s_bad, t)
    params.validate()
    for guess in (False, True):
        proof = cheating_prove(params, RP.phi, RP.lam, guess=guess)
        assert rejected(params, proof) == "pi-prm: t^z_i = A_i s^e_i"


def test_wrong_trapdoor_fails() -> None:
    params = RP.params
    proof = cheating_prove(params, RP.phi, RP.lam + 1)
    assert rejected(params, proof) == "pi-prm: t^z_i = A_i s^e_i"


def test_wrong_session_or_prover_fails() -> None:
    assert rejected(RP.params, PROOF, sid=SID + b"!") == "pi-prm: t^z_i = A_i s^e_i"
    assert rejected(RP.params, PROOF, pid=PID + 1) == "pi-prm: t^z_i = A_i s^e_i"


def test_proof_does_not_transfer_to_other_parameters() -> None:
    other = generate_ring_pedersen(P512[0], P512[1])
    assert rejected(other.params, PROOF) == "pi-prm: t^z_i = A_i s^e_i"
    swapped = RingPedersenParams(RP.params.n, RP.params.t, RP.params.s)
    assert rejected(swapped, PROOF) == "pi-prm: t^z_i = A_i s^e_i"


@pytest.mark.parametrize("index", [0, 57, ITERATIONS - 1])
def test_each_tampered_field_fails(index: int) -> None:
    n = RP.params.n
    a = list(PROOF.commitments)
    a[index] = a[index] * RP.params.t % n
    assert rejected(RP.params, dataclasses.replace(PROOF, commitments=tuple(a))).startswith(
        "pi-prm: "
    )
    z = list(PROOF.responses)
    z[index] = (z[index] + 1) % n
    assert rejected(RP.params, dataclasses.replace(PROOF, responses=tuple(z))) == (
        "pi-prm: t^z_i = A_i s^e_i"
    )


def test_out_of_range_values_fail() -> None:
    n, phi = RP.params.n, RP.phi
    # z + k*phi still satisfies t^z = A s^e; only the range check stops it.
    z = list(PROOF.responses)
    k = n // phi + 1
    z[3] = z[3] + k * phi
    assert z[3] >= n
    assert rejected(RP.params, dataclasses.replace(PROOF, responses=tuple(z))) == (
        "pi-prm: z_i range"
    )
    z[3] = -1
    assert rejected(RP.params, dataclasses.replace(PROOF, responses=tuple(z))) == (
        "pi-prm: z_i range"
    )
    for bad_a in (0, n, n + PROOF.commitments[0], P512[0]):
        a = (bad_a, *PROOF.commitments[1:])
        assert rejected(RP.params, dataclasses.replace(PROOF, commitments=a)) == (
            "pi-prm: A_i range"
        )


def test_truncated_proof_and_bad_parameters_fail() -> None:
    short = PrmProof(PROOF.commitments[:-1], PROOF.responses[:-1])
    assert rejected(RP.params, short) == "pi-prm: iteration count"
    params = RingPedersenParams(RP.params.n, 1, RP.params.t)
    assert rejected(params, PROOF) == "pi-prm: parameters"


# -- encoding -------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    n = RP.params.n
    data = PROOF.to_bytes(n)
    assert len(data) == PrmProof.encoded_length(n) == 2 * 128 * 128
    assert PrmProof.from_bytes(data, n) == PROOF
    for bad in (data[:-1], data + b"\x00", b""):
        with pytest.raises(InvalidEncoding):
            PrmProof.from_bytes(bad, n)
    too_big = n.to_bytes(128, "big") + data[128:]
    with pytest.raises(InvalidEncoding):
        PrmProof.from_bytes(too_big, n)
    with pytest.raises(InvalidParameters):
        PrmProof(PROOF.commitments[:1], PROOF.responses).to_bytes(n)
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, responses=(n**2, *PROOF.responses[1:])).to_bytes(n)


@settings(max_examples=25)
@given(data=st.binary(min_size=0, max_size=2 * 128 * 128 + 2))
def test_fuzzed_encodings_are_refused_or_rejected(data: bytes) -> None:
    try:
        proof = PrmProof.from_bytes(data, RP.params.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        prm.verify(RP.params, proof, session_id=SID, prover_id=PID)


@settings(max_examples=10)
@given(index=st.integers(0, 2 * 128 * 128 - 1), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(RP.params.n))
    data[index] ^= flip
    try:
        proof = PrmProof.from_bytes(bytes(data), RP.params.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        prm.verify(RP.params, proof, session_id=SID, prover_id=PID)
