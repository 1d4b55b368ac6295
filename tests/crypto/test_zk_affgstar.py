"""Π_aff-g* (setup-less affine operation with group commitment, binary challenges):
completeness, tampering of every field, binding to session and prover, encoding round
trip and malformed encodings. 1024-bit moduli from the TEST-ONLY 512-bit fixture
primes (only the algebra and code paths matter here); m = 128."""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import pytest
from rnghelpers import SeededRng

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.paillier import keypair_from_primes
from shardvault.crypto.zk import InvalidProof, SecurityLevel, affgstar
from shardvault.crypto.zk.affg import Statement, Witness
from shardvault.crypto.zk.codec import unsigned_width
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
P512 = [int(x, 16) for x in json.loads(FIXTURE.read_text())["safe_primes_512"]]
_, SK0 = keypair_from_primes(P512[0], P512[1])
_, SK1 = keypair_from_primes(P512[2], P512[3])
N0, N1 = SK0.n, SK1.n
SID, PID = b"presign/id/aff", 3


def make() -> tuple[Statement, Witness]:
    x = SECP256K1.random_scalar()
    y = secrets.randbelow(2**1281) - 2**1280
    c = SK0.encrypt(SECP256K1.random_scalar())
    rho, rho_y = SK0.public_key.sample_nonce(), SK1.public_key.sample_nonce()
    d = pow(c, x, N0 * N0) * SK0.encrypt(y % N0, rho) % (N0 * N0)
    big_y = SK1.encrypt(y % N1, rho_y)
    return Statement(N0, N1, c, d, big_y, SECP256K1.mul_base(x)), Witness(x, y, rho, rho_y)


@pytest.fixture(scope="module")
def honest() -> tuple[Statement, Witness, affgstar.AffgStarProof]:
    st, wit = make()
    return st, wit, affgstar.prove(st, wit, session_id=SID, prover_id=PID, prover_key=SK1)


def test_completeness_and_roundtrip(honest: tuple) -> None:
    st, _, proof = honest
    affgstar.verify(st, proof, session_id=SID, prover_id=PID)
    affgstar.verify(st, proof, session_id=SID, prover_id=PID, verifier_key=SK0)
    data = proof.to_bytes(N0, N1)
    assert len(data) == affgstar.AffgStarProof.encoded_length(N0, N1)
    assert affgstar.AffgStarProof.from_bytes(data, N0, N1) == proof


def test_prover_without_key(honest: tuple) -> None:
    st, wit, _ = honest
    affgstar.verify(
        st, affgstar.prove(st, wit, session_id=SID, prover_id=PID), session_id=SID, prover_id=PID
    )


def test_binding(honest: tuple) -> None:
    st, _, proof = honest
    with pytest.raises(InvalidProof):
        affgstar.verify(st, proof, session_id=SID + b"x", prover_id=PID)
    with pytest.raises(InvalidProof):
        affgstar.verify(st, proof, session_id=SID, prover_id=PID + 1)
    for change in (
        {"D": st.D * 2 % (N0 * N0)},
        {"Y": st.Y * 2 % (N1 * N1)},
        {"C": st.C * 2 % (N0 * N0)},
        {"X": SECP256K1.mul_base(5)},
    ):
        with pytest.raises(InvalidProof):
            affgstar.verify(dataclasses.replace(st, **change), proof, session_id=SID, prover_id=PID)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("A", lambda v: v * 4 % (N0 * N0)),
        ("R", lambda v: v + SECP256K1.generator),
        ("B", lambda v: v * 4 % (N1 * N1)),
        ("z", lambda v: v + 1),
        ("z_prime", lambda v: v + 1),
        ("w", lambda v: v * 2 % N0),
        ("lam", lambda v: v * 2 % N1),
    ],
)
@pytest.mark.parametrize("k", [0, 127])
def test_tampered_field(honest: tuple, field: str, change, k: int) -> None:
    st, _, proof = honest
    rounds = list(proof.rounds)
    rounds[k] = dataclasses.replace(rounds[k], **{field: change(getattr(rounds[k], field))})
    bad = affgstar.AffgStarProof(tuple(rounds))
    with pytest.raises(InvalidProof) as info:
        affgstar.verify(st, bad, session_id=SID, prover_id=PID)
    assert info.value.check.startswith("pi-aff-g*: ")


def test_wrong_witness_fails() -> None:
    st, wit = make()
    proof = affgstar.prove(st, dataclasses.replace(wit, y=wit.y + 1), session_id=SID, prover_id=PID)
    with pytest.raises(InvalidProof) as info:
        affgstar.verify(st, proof, session_id=SID, prover_id=PID)
    assert info.value.check in (
        "pi-aff-g*: C^z (1+N0)^z' w^N0 = A D^e",
        "pi-aff-g*: (1+N1)^z' lam^N1 = B Y^e",
    )


def test_range_checks(honest: tuple) -> None:
    st, _, proof = honest
    r0 = proof.rounds[0]
    for field, value, check in (
        ("z", 2**768 + 1, "z range"),
        ("z_prime", -(2**1792) - 1, "z' range"),
        ("w", 0, "w range"),
        ("lam", N1, "lam range"),
        ("A", 0, "A range"),
    ):
        bad = affgstar.AffgStarProof((dataclasses.replace(r0, **{field: value}), *proof.rounds[1:]))
        with pytest.raises(InvalidProof) as info:
            affgstar.verify(st, bad, session_id=SID, prover_id=PID)
        assert info.value.check == f"pi-aff-g*: {check}"
    short = affgstar.AffgStarProof(proof.rounds[:-1])
    with pytest.raises(InvalidProof, match="repetition"):
        affgstar.verify(st, short, session_id=SID, prover_id=PID)


def test_prover_refusals() -> None:
    st, wit = make()
    with pytest.raises(InvalidParameters):
        affgstar.prove(st, dataclasses.replace(wit, x=2**256 + 1), session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        affgstar.prove(st, dataclasses.replace(wit, y=2**1280 + 1), session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        affgstar.prove(st, dataclasses.replace(wit, rho=0), session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        affgstar.prove(st, wit, session_id=SID, prover_id=PID, prover_key=SK0)


def test_malformed_encodings(honest: tuple) -> None:
    _, _, proof = honest
    data = proof.to_bytes(N0, N1)
    for bad in (data[:-1], data + b"\0", b""):
        with pytest.raises(InvalidEncoding):
            affgstar.AffgStarProof.from_bytes(bad, N0, N1)
    aw = unsigned_width(N0 * N0)
    over = (N0 * N0).to_bytes(aw, "big")  # A = N0^2: out of range
    with pytest.raises(InvalidEncoding):
        affgstar.AffgStarProof.from_bytes(over + data[aw:], N0, N1)
    bad_point = data[:aw] + b"\x05" + data[aw + 1 :]
    with pytest.raises(InvalidEncoding):
        affgstar.AffgStarProof.from_bytes(bad_point, N0, N1)


def test_level_sets_the_repetitions_and_a_verifier_accepts_no_fewer(honest: tuple) -> None:
    st, wit, proof = honest
    small = SecurityLevel(m=2)
    few = affgstar.prove(st, wit, session_id=SID, prover_id=PID, level=small, rng=SeededRng(1))
    assert len(few.rounds) == 2 and len(proof.rounds) == 128
    affgstar.verify(st, few, session_id=SID, prover_id=PID, level=small)
    # A verifier at the paper's level refuses it, decoded or not.
    with pytest.raises(InvalidProof) as info:
        affgstar.verify(st, few, session_id=SID, prover_id=PID)
    assert info.value.check == "pi-aff-g*: repetition count"
    with pytest.raises(InvalidEncoding):
        affgstar.AffgStarProof.from_bytes(few.to_bytes(N0, N1, level=small), N0, N1)
    # A proof made at one level does not verify at another with the same m: the
    # transcript binds the parameters.
    with pytest.raises(InvalidProof):
        affgstar.verify(st, proof, session_id=SID, prover_id=PID, level=SecurityLevel(epsilon=513))
    # The randomness comes in: the same source gives the same proof.
    again = affgstar.prove(st, wit, session_id=SID, prover_id=PID, level=small, rng=SeededRng(1))
    assert again == few
