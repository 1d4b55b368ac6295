"""Π_dec (Paillier special decryption in the exponent, binary challenges):
completeness (base G and another base h, S the identity), tampering of every field,
binding to session and prover, encoding round trip and malformed encodings.
1024-bit moduli from the TEST-ONLY 512-bit fixture primes; m = 128."""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path

import pytest
from rnghelpers import SeededRng

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.paillier import keypair_from_primes
from shardvault.crypto.zk import InvalidProof, SecurityLevel, dec
from shardvault.crypto.zk.codec import unsigned_width
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
P512 = [int(x, 16) for x in json.loads(FIXTURE.read_text())["safe_primes_512"]]
_, SK = keypair_from_primes(P512[0], P512[1])
_, SK_OTHER = keypair_from_primes(P512[2], P512[3])
N = SK.n
N2 = N * N
SID, PID, PARTIES = b"presign/id/dec", 2, 3
H = SECP256K1.mul_base(12345)


def make(h=SECP256K1.generator, y: int | None = None) -> tuple[dec.Statement, dec.Witness]:
    k = SK.encrypt(SECP256K1.random_scalar())
    x = SECP256K1.random_scalar()
    y = secrets.randbelow(2**1282) - 2**1281 if y is None else y
    rho = SK.public_key.sample_nonce()
    d = SK.encrypt(y % N, rho) * pow(k, -x, N2) % N2  # K^x D = enc(y; rho)
    st = dec.Statement(N, k, d, SECP256K1.mul_base(x), SECP256K1.mul(h, y), h, PARTIES)
    return st, dec.Witness(x, y, rho)


@pytest.fixture(scope="module")
def honest() -> tuple[dec.Statement, dec.Witness, dec.DecProof]:
    st, wit = make()
    return st, wit, dec.prove(SK, st, wit, session_id=SID, prover_id=PID)


def test_completeness_and_roundtrip(honest: tuple) -> None:
    st, _, proof = honest
    dec.verify(st, proof, session_id=SID, prover_id=PID)
    data = proof.to_bytes(N, PARTIES)
    assert len(data) == dec.DecProof.encoded_length(N, PARTIES)
    assert dec.DecProof.from_bytes(data, N, PARTIES) == proof


def test_other_base_and_identity_s() -> None:
    st, wit = make(h=H)
    dec.verify(
        st, dec.prove(SK, st, wit, session_id=SID, prover_id=PID), session_id=SID, prover_id=PID
    )
    st0, wit0 = make(y=SECP256K1.order * 7)  # y = 0 mod q: S is the identity
    assert st0.S.is_identity()
    dec.verify(
        st0, dec.prove(SK, st0, wit0, session_id=SID, prover_id=PID), session_id=SID, prover_id=PID
    )


def test_y_bits() -> None:
    assert dec.y_bits(2) == 1280 + 512 + 2
    assert dec.y_bits(3) == dec.y_bits(4) == 1280 + 512 + 3
    with pytest.raises(InvalidParameters):
        dec.y_bits(1)


def test_binding(honest: tuple) -> None:
    st, _, proof = honest
    with pytest.raises(InvalidProof):
        dec.verify(st, proof, session_id=SID + b"x", prover_id=PID)
    with pytest.raises(InvalidProof):
        dec.verify(st, proof, session_id=SID, prover_id=PID + 1)
    for change in (
        {"S": st.S + SECP256K1.generator},
        {"D": st.D * 2 % N2},
        {"K": st.K * 2 % N2},
        {"X": SECP256K1.mul_base(7)},
        {"h": H},
        {"parties": 2},
    ):
        with pytest.raises(InvalidProof):
            dec.verify(dataclasses.replace(st, **change), proof, session_id=SID, prover_id=PID)


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("A", lambda v: v * 4 % N2),
        ("B", lambda v: v + SECP256K1.generator),
        ("C", lambda v: v + SECP256K1.generator),
        ("z", lambda v: v + 1),
        ("w", lambda v: v + 1),
        ("nu", lambda v: v * 2 % N),
    ],
)
@pytest.mark.parametrize("k", [0, 127])
def test_tampered_field(honest: tuple, field: str, change, k: int) -> None:
    st, _, proof = honest
    rounds = list(proof.rounds)
    rounds[k] = dataclasses.replace(rounds[k], **{field: change(getattr(rounds[k], field))})
    with pytest.raises(InvalidProof) as info:
        dec.verify(st, dec.DecProof(tuple(rounds)), session_id=SID, prover_id=PID)
    assert info.value.check.startswith("pi-dec: ")


def test_wrong_plaintext_fails() -> None:
    """S = (y + 1) G: the claimed decryption is wrong."""
    st, wit = make()
    bad = dataclasses.replace(st, S=st.S + SECP256K1.generator)
    proof = dec.prove(SK, bad, wit, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidProof) as info:
        dec.verify(bad, proof, session_id=SID, prover_id=PID)
    assert info.value.check == "pi-dec: w h = B + e S"


def test_range_checks(honest: tuple) -> None:
    st, _, proof = honest
    r0 = proof.rounds[0]
    wb = 1 << (dec.y_bits(PARTIES) + 512)
    for field, value, check in (
        ("z", -(2**768) - 1, "z range"),
        ("w", wb + 1, "w range"),
        ("nu", 0, "nu range"),
        ("A", N2, "A range"),
    ):
        bad = dec.DecProof((dataclasses.replace(r0, **{field: value}), *proof.rounds[1:]))
        with pytest.raises(InvalidProof) as info:
            dec.verify(st, bad, session_id=SID, prover_id=PID)
        assert info.value.check == f"pi-dec: {check}"


def test_prover_refusals() -> None:
    st, wit = make()
    with pytest.raises(InvalidParameters):
        dec.prove(SK_OTHER, st, wit, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        dec.prove(SK, st, dataclasses.replace(wit, y=1 << 1800), session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        dec.prove(SK, st, dataclasses.replace(wit, x=-(2**256) - 1), session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        dec.prove(SK, dataclasses.replace(st, parties=1), wit, session_id=SID, prover_id=PID)


def test_malformed_encodings(honest: tuple) -> None:
    _, _, proof = honest
    data = proof.to_bytes(N, PARTIES)
    for bad in (data[:-1], data + b"\0"):
        with pytest.raises(InvalidEncoding):
            dec.DecProof.from_bytes(bad, N, PARTIES)
    with pytest.raises(InvalidEncoding):
        dec.DecProof.from_bytes(data, N, 300)  # other w width
    aw = unsigned_width(N2)
    with pytest.raises(InvalidEncoding):
        dec.DecProof.from_bytes(b"\xff" * aw + data[aw:], N, PARTIES)
    with pytest.raises(InvalidEncoding):
        dec.DecProof.from_bytes(data[:aw] + b"\x04" + data[aw + 1 :], N, PARTIES)


def test_level_sets_the_repetitions_and_a_verifier_accepts_no_fewer(honest: tuple) -> None:
    st, wit, proof = honest
    small = SecurityLevel(m=3)
    few = dec.prove(SK, st, wit, session_id=SID, prover_id=PID, level=small, rng=SeededRng(2))
    assert len(few.rounds) == 3 and len(proof.rounds) == 128
    dec.verify(st, few, session_id=SID, prover_id=PID, level=small)
    with pytest.raises(InvalidProof) as info:
        dec.verify(st, few, session_id=SID, prover_id=PID)
    assert info.value.check == "pi-dec: repetition count"
    with pytest.raises(InvalidEncoding):
        dec.DecProof.from_bytes(few.to_bytes(N, PARTIES, level=small), N, PARTIES)
    again = dec.prove(SK, st, wit, session_id=SID, prover_id=PID, level=small, rng=SeededRng(2))
    assert again == few
