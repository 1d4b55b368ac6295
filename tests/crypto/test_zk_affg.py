"""Π_aff-g, Paillier affine operation with group commitment in range, against the
verifier's ring-Pedersen parameters (docs/security.md items 5, 7, 13, 14, 21).

Moduli use TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json).

Two sizes:

* full size (3072-bit N0, N1 and N̂ from the three 1536-bit fixture pairs) for the
  honest round and for every test whose outcome depends on the moduli being larger
  than the proven ranges: out-of-range x and y (with 2^(ell'+eps) = 2^1792 > N a
  cheater could wrap y modulo a small N, and y = 2^1792 + 1 is not even a plaintext
  under a 1024-bit key) and the range-check boundaries exercised by a prover;
* 1024-bit moduli (512-bit fixture primes) for completeness, tampering, binding,
  element checks and encoding fuzz, where only the algebra and the code paths
  matter, not soundness: the checks are the same for every modulus size.

At 1024 bits honest y (|y| <= 2^1280) exceeds N; plaintexts are taken mod N, as
the proof's equations do (``(1 + N)^y = 1 + (y mod N) N mod N²``).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from pathlib import Path
from typing import Any, NamedTuple

import gmpy2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shardvault.crypto.groups import ED25519, SECP256K1, Point
from shardvault.crypto.paillier import PaillierSecretKey, keypair_from_primes
from shardvault.crypto.ring_pedersen import (
    RingPedersenParams,
    generate_ring_pedersen,
    ring_pedersen_from_paillier,
)
from shardvault.crypto.zk import ELL, ELL_PRIME, EPSILON, InvalidProof, Q, SecurityLevel, affg
from shardvault.crypto.zk.affg import AffgProof, Bounds, Statement, Witness
from shardvault.crypto.zk.codec import signed_width
from shardvault.errors import InvalidEncoding, InvalidParameters

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
PRIMES = json.loads(FIXTURE.read_text())
P512 = [int(x, 16) for x in PRIMES["safe_primes_512"]]
P1536 = [int(x, 16) for x in PRIMES["safe_primes_1536"]]

SID = b"presign/session-7/round-2"
PID = 2
G = SECP256K1.generator

# 1024-bit: verifier j's Paillier key (N0), prover i's key (N1), verifier's (N̂, s, t).
_, SK0 = keypair_from_primes(P512[0], P512[1])
_, SK1 = keypair_from_primes(P512[2], P512[3])
RP = generate_ring_pedersen(P512[4], P512[5]).params
RP_OTHER = generate_ring_pedersen(P512[6], P512[7]).params  # another verifier

# 3072-bit: the three 1536-bit fixture pairs.
_, SK0_3 = keypair_from_primes(P1536[0], P1536[1])
_, SK1_3 = keypair_from_primes(P1536[2], P1536[3])
RP3 = generate_ring_pedersen(P1536[4], P1536[5]).params

GROUP_EQ = "pi-aff-g: z1 G = B_x + e X"
RP_EQ1 = "pi-aff-g: s^z1 t^z3 = E S^e"
RP_EQ2 = "pi-aff-g: s^z2 t^z4 = F T^e"
N0_EQ = "pi-aff-g: C^z1 (1+N0)^z2 w^N0 = A D^e"
N1_EQ = "pi-aff-g: (1+N1)^z2 w_y^N1 = B_y Y^e"


def pm(bound: int) -> int:
    return secrets.randbelow(2 * bound + 1) - bound


def unit(n: int) -> int:
    while True:
        v = secrets.randbelow(n)
        if v and gmpy2.gcd(v, n) == 1:
            return v


def enc(sk: PaillierSecretKey, m: int, r: int) -> int:
    """enc_N(m; r) for any integer m (taken mod N)."""
    return sk.public_key.encrypt(m % sk.n, r)


def make_statement(
    sk0: PaillierSecretKey, sk1: PaillierSecretKey, x: int, y: int
) -> tuple[Statement, Witness]:
    """C = enc_N0(k) for a random k in Z_q (the verifier's K_j), D = (x ⊙ C) ⊕ enc_N0(y; rho),
    Y = enc_N1(y; rho_y), X = x G: what presigning round 2 builds."""
    pk0 = sk0.public_key
    c = pk0.encrypt(secrets.randbelow(Q))
    rho, rho_y = pk0.sample_nonce(), sk1.public_key.sample_nonce()
    d = pk0.add(pk0.mul(c, x), enc(sk0, y, rho))
    return (
        Statement(sk0.n, sk1.n, c, d, enc(sk1, y, rho_y), SECP256K1.mul_base(x)),
        Witness(x, y, rho, rho_y),
    )


def algorithm(
    statement: Statement,
    witness: Witness,
    params: RingPedersenParams,
    *,
    fault: str = "",
    level: SecurityLevel | None = None,
) -> AffgProof:
    """The paper's prover, written independently of affg.prove: no witness checks (so
    out-of-range x, y go through) and an optional fault in one first-message element,
    injected BEFORE the challenge is derived (so only the equation using it can fail).
    The samples are always drawn at the paper's sizes; ``level`` only changes the
    parameters the challenge binds (default: the paper's)."""
    n0, n1, n_hat = statement.n0, statement.n1, params.n
    n0sq, n1sq = n0 * n0, n1 * n1
    x, y = witness.x, witness.y
    alpha = pm(2 ** (ELL + EPSILON))
    beta = pm(2 ** (ELL_PRIME + EPSILON))
    r, r_y = unit(n0), unit(n1)
    gamma, delta = pm(2 ** (ELL + EPSILON) * n_hat), pm(2 ** (ELL + EPSILON) * n_hat)
    m, mu = pm(2**ELL * n_hat), pm(2**ELL * n_hat)
    big_a = (
        gmpy2.powmod(statement.C, alpha, n0sq)
        * ((1 + beta * n0) % n0sq)
        * gmpy2.powmod(r, n0, n0sq)
        % n0sq
    )
    b_x = SECP256K1.mul_base(alpha)
    b_y = (1 + beta * n1) * gmpy2.powmod(r_y, n1, n1sq) % n1sq
    big_e, big_s = params.commit(alpha, gamma), params.commit(x, m)
    big_f, big_t = params.commit(beta, delta), params.commit(y, mu)
    if fault == "A":
        big_a = big_a * (1 + n0) % n0sq
    elif fault == "B_x":
        b_x = b_x + G
    elif fault == "B_y":
        b_y = b_y * (1 + n1) % n1sq
    elif fault == "E":
        big_e = big_e * params.s % n_hat
    elif fault == "S":
        big_s = big_s * params.t % n_hat
    elif fault == "F":
        big_f = big_f * params.s % n_hat
    elif fault == "T":
        big_t = big_t * params.t % n_hat
    else:
        assert fault == ""
    commitment = (int(big_a), b_x, int(b_y), big_e, big_s, big_f, big_t)
    if level is None:
        e = affg.derive_challenge(statement, params, commitment, session_id=SID, prover_id=PID)
    else:
        e = affg.derive_challenge(
            statement, params, commitment, session_id=SID, prover_id=PID, level=level
        )
    return AffgProof(
        *commitment,
        z1=alpha + e * x,
        z2=beta + e * y,
        z3=gamma + e * m,
        z4=delta + e * mu,
        w=int(r * gmpy2.powmod(witness.rho, e, n0) % n0),
        w_y=int(r_y * gmpy2.powmod(witness.rho_y, e, n1) % n1),
    )


def replaced(proof: AffgProof, **changes: object) -> AffgProof:
    """``dataclasses.replace`` for tampering (values of any type, unchecked)."""
    return dataclasses.replace(proof, **changes)  # type: ignore[arg-type]


def rejected(
    statement: Statement,
    proof: AffgProof,
    params: RingPedersenParams = RP,
    sid: bytes = SID,
    pid: int = PID,
    key: PaillierSecretKey | None = None,
) -> str:
    with pytest.raises(InvalidProof) as info:
        affg.verify(statement, params, proof, session_id=sid, prover_id=pid, verifier_key=key)
    assert info.value.check.startswith("pi-aff-g: ")
    assert info.value.blame == ()
    return info.value.check


STMT, WIT = make_statement(SK0, SK1, secrets.randbelow(Q), pm(2**ELL_PRIME))
PROOF = affg.prove(STMT, WIT, RP, session_id=SID, prover_id=PID)
STMT3, WIT3 = make_statement(SK0_3, SK1_3, secrets.randbelow(Q), pm(2**ELL_PRIME))
PROOF3 = affg.prove(STMT3, WIT3, RP3, session_id=SID, prover_id=PID, prover_key=SK1_3)
RP3_OWN = ring_pedersen_from_paillier(SK0_3).params  # N̂ = N0, as in the 2024 protocol
PROOF3_OWN = affg.prove(STMT3, WIT3, RP3_OWN, session_id=SID, prover_id=PID)


class Setup(NamedTuple):
    statement: Statement
    witness: Witness
    params: RingPedersenParams
    proof: AffgProof
    key: PaillierSecretKey | None  # the verifier's own key: CRT verification


#: For the tests whose outcome does not depend on the size; "crt" verifies with the
#: verifier's Paillier key (N0² and, as N̂ = N0 there, ring-Pedersen equations by CRT).
SETUPS = {
    "1024": Setup(STMT, WIT, RP, PROOF, None),
    "3072": Setup(STMT3, WIT3, RP3, PROOF3, None),
    "3072-crt": Setup(STMT3, WIT3, RP3_OWN, PROOF3_OWN, SK0_3),
}


# -- honest provers ---------------------------------------------------------------------------


def test_honest_proof_verifies() -> None:
    affg.verify(STMT, RP, PROOF, session_id=SID, prover_id=PID)
    affg.verify(STMT, RP, PROOF, session_id=SID, prover_id=PID, verifier_key=SK0)
    # The test's independent prover agrees with the module's verifier.
    affg.verify(STMT, RP, algorithm(STMT, WIT, RP), session_id=SID, prover_id=PID)


@pytest.mark.parametrize(
    ("x", "y"),
    [
        (1, 0),  # (x = 0 would make X the identity, refused by both sides)
        (Q - 1, 2**ELL_PRIME),  # x in Z_q as in presigning; y at the top of +-2^ell'
        (-(2**ELL), -(2**ELL_PRIME)),  # signed values at the bottom of the ranges
        (2**ELL, -1),
    ],
)
def test_signed_and_extreme_witnesses_verify(x: int, y: int) -> None:
    statement, witness = make_statement(SK0, SK1, x, y)
    proof = affg.prove(statement, witness, RP, session_id=SID, prover_id=PID, prover_key=SK1)
    affg.verify(statement, RP, proof, session_id=SID, prover_id=PID)


def test_full_size_3072_bit_round() -> None:
    assert SK0_3.n.bit_length() == SK1_3.n.bit_length() == RP3.n.bit_length() == 3072
    statement, witness = make_statement(SK0_3, SK1_3, secrets.randbelow(Q), pm(2**ELL_PRIME))
    # The plaintext of D is k x + y, decrypted without wrap-around (N0 > 2^1793).
    k = SK0_3.decrypt(statement.C)
    assert SK0_3.decrypt_signed(statement.D) == k * witness.x + witness.y
    assert SK1_3.decrypt_signed(statement.Y) == witness.y
    proof = affg.prove(statement, witness, RP3, session_id=SID, prover_id=PID)
    crt_proof = affg.prove(statement, witness, RP3, session_id=SID, prover_id=PID, prover_key=SK1_3)
    n0, n1, n_hat = statement.n0, statement.n1, RP3.n
    data = proof.to_bytes(n0, n1, n_hat)
    assert len(data) == AffgProof.encoded_length(n0, n1, n_hat) == 5157
    decoded = AffgProof.from_bytes(data, n0, n1, n_hat)
    assert decoded == proof
    affg.verify(statement, RP3, decoded, session_id=SID, prover_id=PID)
    affg.verify(statement, RP3, crt_proof, session_id=SID, prover_id=PID, verifier_key=SK0_3)
    assert rejected(statement, decoded, RP3, pid=PID + 1) == GROUP_EQ
    # Response sizes as the paper's ranges predict.
    assert abs(proof.z1).bit_length() <= ELL + EPSILON
    assert abs(proof.z2).bit_length() <= ELL_PRIME + EPSILON
    assert abs(proof.z3).bit_length() <= ELL + EPSILON + 3072 + 1


def test_protocol_shape_ring_pedersen_on_the_verifiers_own_modulus() -> None:
    # In the 2024 protocol N̂ is the verifier's Paillier modulus N0 (= N_j).
    own = ring_pedersen_from_paillier(SK0).params
    assert own.n == SK0.n
    proof = affg.prove(STMT, WIT, own, session_id=SID, prover_id=PID)
    affg.verify(STMT, own, proof, session_id=SID, prover_id=PID, verifier_key=SK0)
    # Proofs for one N̂ do not verify under another.
    other = {GROUP_EQ, "pi-aff-g: z3 size", "pi-aff-g: z4 size"}
    other |= {f"pi-aff-g: {f} range" for f in "ESFT"}
    assert rejected(STMT, proof, RP) in other
    assert rejected(STMT, PROOF, own) in other


def test_bounds_are_the_papers() -> None:
    b = Bounds.of(RP3.n)
    assert (ELL, EPSILON, ELL_PRIME) == (256, 512, 1280)
    assert b.x == 2**256 and b.y == 2**1280
    assert b.z1 == 2 ** (ELL + EPSILON) == 2**768
    assert b.z2 == 2 ** (ELL_PRIME + EPSILON) == 2**1792
    assert b.gamma == 2**768 * RP3.n
    assert b.m == 2**256 * RP3.n
    assert b.z34 == b.gamma + Q * b.m


def test_challenge_is_in_plus_minus_q_and_bound_to_every_input() -> None:
    commitment = PROOF.commitment

    def challenge(
        statement: Statement = STMT,
        params: RingPedersenParams = RP,
        comm: affg.Commitment = commitment,
        sid: bytes = SID,
        pid: int = PID,
    ) -> int:
        return affg.derive_challenge(statement, params, comm, session_id=sid, prover_id=pid)

    e = challenge()
    assert -Q <= e <= Q
    assert challenge() == e
    other_point = STMT.X + G
    variants = [
        challenge(sid=SID + b"x"),
        challenge(pid=PID + 1),
        challenge(params=RP_OTHER),
        challenge(params=dataclasses.replace(RP, s=RP.t, t=RP.s)),
        challenge(statement=dataclasses.replace(STMT, n0=STMT.n1, n1=STMT.n0)),
        challenge(statement=dataclasses.replace(STMT, X=other_point)),
    ]
    for field in ("C", "D", "Y"):
        variants.append(
            challenge(statement=dataclasses.replace(STMT, **{field: getattr(STMT, field) + 1}))
        )
    for i in range(7):
        tampered: list[Any] = list(commitment)
        tampered[i] = other_point if i == 1 else tampered[i] + 1
        variants.append(challenge(comm=tuple(tampered)))
    assert e not in variants
    assert len(set(variants)) == len(variants)


# -- ranges (full size: soundness depends on N > 2^(ell'+eps)) --------------------------------


#: A level whose range checks are wide (z1, z2 bounds above 2^4000): with it the
#: verifier checks only the equations.
WIDE = SecurityLevel(epsilon=4000)


def test_out_of_range_x_or_y_fails() -> None:
    cases = [
        (2 ** (ELL + EPSILON) + 1, 5, "pi-aff-g: z1 range"),  # just outside the proven range
        (-(2 ** (ELL + EPSILON)) - 1, 5, "pi-aff-g: z1 range"),
        (2**700 + 3, 5, "pi-aff-g: z1 range"),  # inside the slack, far outside 2^ell
        (7, 2 ** (ELL_PRIME + EPSILON) + 1, "pi-aff-g: z2 range"),
        (7, -(2 ** (ELL_PRIME + EPSILON)) - 1, "pi-aff-g: z2 range"),
    ]
    proofs = []
    for x, y, check in cases:
        statement, witness = make_statement(SK0_3, SK1_3, x, y)
        # The module's prover refuses a witness outside +-2^ell / +-2^ell'.
        with pytest.raises(InvalidParameters):
            affg.prove(statement, witness, RP3, session_id=SID, prover_id=PID)
        proof = algorithm(statement, witness, RP3, level=WIDE)
        assert rejected(statement, proof, RP3) == check
        proofs.append((statement, proof))
    # Every equation holds: the range checks alone catch these (widen them to see it).
    assert Bounds.of(RP3.n, WIDE).z1 >= 2**4000 and Bounds.of(RP3.n, WIDE).z2 >= 2**4000
    statement, proof = proofs[0]
    affg.verify(statement, RP3, proof, session_id=SID, prover_id=PID, level=WIDE)
    statement, proof = proofs[3]
    affg.verify(statement, RP3, proof, session_id=SID, prover_id=PID, level=WIDE)


def test_range_boundaries_are_inclusive_and_exact() -> None:
    b = Bounds.of(RP.n)
    for field, bound in (("z1", b.z1), ("z2", b.z2)):
        for value in (bound + 1, -bound - 1, 2**5000):
            tampered = replaced(PROOF, **{field: value})
            assert rejected(STMT, tampered) == f"pi-aff-g: {field} range"
    # At the bound the range check passes and an equation decides.
    assert rejected(STMT, dataclasses.replace(PROOF, z1=b.z1)) == GROUP_EQ
    assert rejected(STMT, dataclasses.replace(PROOF, z1=-b.z1)) == GROUP_EQ
    assert rejected(STMT, dataclasses.replace(PROOF, z2=b.z2)) == RP_EQ2
    assert rejected(STMT, dataclasses.replace(PROOF, z2=-b.z2)) == RP_EQ2
    for field in ("z3", "z4"):
        for value in (b.z34 + 1, -b.z34 - 1):
            tampered = replaced(PROOF, **{field: value})
            assert rejected(STMT, tampered) == f"pi-aff-g: {field} size"
        at_bound = replaced(PROOF, **{field: -b.z34})
        assert rejected(STMT, at_bound) == (RP_EQ1 if field == "z3" else RP_EQ2)


# -- element checks ---------------------------------------------------------------------------


def test_proof_elements_must_be_units_and_points() -> None:
    n0, n1, n_hat = STMT.n0, STMT.n1, RP.n
    cases: dict[str, list[object]] = {
        "A": [0, n0 * n0, n0 * n0 + 1, -1, P512[0], P512[1] * 5, 1.5],
        "B_y": [0, n1 * n1, -3, P512[2] ** 2, P512[3]],
        "E": [0, n_hat, -1, P512[4]],
        "S": [0, n_hat, P512[5]],
        "F": [0, n_hat + 1, P512[4] * 3],
        "T": [0, n_hat, P512[5]],
        "w": [0, n0, n0 + 1, P512[0], -1],
        "w_y": [0, n1, P512[3], -1],
    }
    for field, values in cases.items():
        for value in values:
            tampered = replaced(PROOF, **{field: value})
            assert rejected(STMT, tampered) == f"pi-aff-g: {field} range", (field, value)
    bad_points = [
        SECP256K1.identity,
        ED25519.generator,
        Point(SECP256K1, b"\x04" + bytes(32)),
        Point(SECP256K1, b"\x02" + bytes(32)),  # x = 0 is not on secp256k1
        "02" * 33,
    ]
    for value in bad_points:
        tampered = replaced(PROOF, B_x=value)
        assert rejected(STMT, tampered) == "pi-aff-g: B_x point"
    for field in ("z1", "z2", "z3", "z4"):
        tampered = replaced(PROOF, **{field: True})
        assert rejected(STMT, tampered).startswith(f"pi-aff-g: {field} ")


def test_statement_and_parameter_checks() -> None:
    n0, n1 = STMT.n0, STMT.n1
    cases: list[tuple[dict[str, object], str]] = [
        ({"n0": n0 + 1}, "N0"),
        ({"n0": 9}, "N0"),
        ({"n1": 2 * n1}, "N1"),
        ({"n1": -n1}, "N1"),
        ({"C": 0}, "C range"),
        ({"C": n0 * n0}, "C range"),
        ({"C": P512[0] * 7}, "C range"),
        ({"D": n0 * P512[1]}, "D range"),
        ({"D": -1}, "D range"),
        ({"Y": n1 * n1 + 1}, "Y range"),
        ({"Y": P512[2]}, "Y range"),
        ({"X": SECP256K1.identity}, "X point"),
        ({"X": ED25519.generator}, "X point"),
        ({"X": Point(SECP256K1, b"\x05" + bytes(32))}, "X point"),
    ]
    for change, check in cases:
        statement = dataclasses.replace(STMT, **change)  # type: ignore[arg-type]
        assert rejected(statement, PROOF) == f"pi-aff-g: {check}"
        with pytest.raises(InvalidParameters):
            affg.prove(statement, WIT, RP, session_id=SID, prover_id=PID)
    bad_params = RingPedersenParams(RP.n, 1, RP.t)
    assert rejected(STMT, PROOF, bad_params) == "pi-aff-g: parameters"
    with pytest.raises(InvalidParameters):
        affg.prove(STMT, WIT, bad_params, session_id=SID, prover_id=PID)


def test_prover_refuses_bad_witnesses_and_keys() -> None:
    bad = [
        dataclasses.replace(WIT, x=2**ELL + 1),
        dataclasses.replace(WIT, x=-(2**ELL) - 1),
        dataclasses.replace(WIT, y=2**ELL_PRIME + 1),
        dataclasses.replace(WIT, y=-(2**ELL_PRIME) - 1),
        dataclasses.replace(WIT, rho=0),
        dataclasses.replace(WIT, rho=STMT.n0),
        dataclasses.replace(WIT, rho=P512[0]),
        dataclasses.replace(WIT, rho_y=STMT.n1 + 1),
        dataclasses.replace(WIT, rho_y=P512[3] * 2),
    ]
    for witness in bad:
        with pytest.raises(InvalidParameters):
            affg.prove(STMT, witness, RP, session_id=SID, prover_id=PID)
    with pytest.raises(InvalidParameters):
        affg.prove(STMT, WIT, RP, session_id=SID, prover_id=PID, prover_key=SK0)
    with pytest.raises(InvalidParameters):
        affg.verify(STMT, RP, PROOF, session_id=SID, prover_id=PID, verifier_key=SK1)
    with pytest.raises(InvalidParameters):
        affg.prove(STMT, WIT, RP, session_id=b"", prover_id=PID)


def test_witness_repr_hides_secrets() -> None:
    text = repr(WIT) + str(WIT)
    for secret in (WIT.x, WIT.y, WIT.rho, WIT.rho_y):
        assert str(secret) not in text
        assert f"{abs(secret):x}" not in text


# -- tampering, mismatched statements, binding ------------------------------------------------


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("A", GROUP_EQ),
        ("B_x", GROUP_EQ),
        ("B_y", GROUP_EQ),
        ("E", GROUP_EQ),
        ("S", GROUP_EQ),
        ("F", GROUP_EQ),
        ("T", GROUP_EQ),
        ("z1", GROUP_EQ),
        ("z2", RP_EQ2),
        ("z3", RP_EQ1),
        ("z4", RP_EQ2),
        ("w", N0_EQ),
        ("w_y", N1_EQ),
    ],
)
@pytest.mark.parametrize("size", SETUPS)
def test_each_tampered_field_fails(field: str, check: str, size: str) -> None:
    # A changed first-message element changes e, and the cheapest equation (the group
    # one) catches it first.
    statement, _, params, proof, key = SETUPS[size]
    affg.verify(statement, params, proof, session_id=SID, prover_id=PID, verifier_key=key)
    value = getattr(proof, field)
    for delta in (1, -1):
        if field == "B_x":
            new: object = value + G if delta == 1 else value - G
        else:
            new = value + delta
        assert rejected(statement, replaced(proof, **{field: new}), params, key=key) == check


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        ("A", N0_EQ),
        ("B_x", GROUP_EQ),
        ("B_y", N1_EQ),
        ("E", RP_EQ1),
        ("S", RP_EQ1),
        ("F", RP_EQ2),
        ("T", RP_EQ2),
    ],
)
@pytest.mark.parametrize("size", SETUPS)
def test_every_equation_is_checked(fault: str, check: str, size: str) -> None:
    # The fault is in place before the challenge: every other equation holds.
    statement, witness, params, _, key = SETUPS[size]
    proof = algorithm(statement, witness, params, fault=fault)
    assert rejected(statement, proof, params, key=key) == check


def test_statements_that_do_not_match_the_witness_fail() -> None:
    x, y = WIT.x, WIT.y
    pk0 = SK0.public_key
    # D of another affine operation (other y): the N0 equation fails.
    d_other = pk0.add(pk0.mul(STMT.C, x), enc(SK0, y + 1, WIT.rho))
    # Y encrypting another y than D uses: the N1 equation fails.
    y_other = enc(SK1, y + 1, WIT.rho_y)
    # X of another x: the group equation fails.
    x_other = SECP256K1.mul_base(x + 1)
    # Y under the verifier's key N0 instead of the prover's N1 (2024 as 2021: under N1).
    y_wrong_key = enc(SK0, y, WIT.rho)
    assert gmpy2.gcd(y_wrong_key, STMT.n1) == 1 and y_wrong_key < STMT.n1**2
    cases = [
        (dataclasses.replace(STMT, D=d_other), N0_EQ),
        (dataclasses.replace(STMT, Y=y_other), N1_EQ),
        (dataclasses.replace(STMT, X=x_other), GROUP_EQ),
        (dataclasses.replace(STMT, Y=y_wrong_key), N1_EQ),
        (dataclasses.replace(STMT, C=pk0.encrypt(7)), N0_EQ),
    ]
    for statement, check in cases:
        proof = affg.prove(statement, WIT, RP, session_id=SID, prover_id=PID)
        assert rejected(statement, proof) == check
    # A valid proof presented for another statement: e changes, the group check fails.
    for statement, _ in cases:
        assert rejected(statement, PROOF) == GROUP_EQ


def test_wrong_session_prover_or_verifier_fails() -> None:
    assert rejected(STMT, PROOF, sid=SID + b"x") == GROUP_EQ
    assert rejected(STMT, PROOF, sid=SID[:-1]) == GROUP_EQ
    assert rejected(STMT, PROOF, pid=PID + 1) == GROUP_EQ
    assert rejected(STMT3, PROOF3, RP3, sid=SID + b"x") == GROUP_EQ
    assert rejected(STMT3, PROOF3, RP3, pid=PID - 1) == GROUP_EQ
    # The proof is for the verifier who owns RP: another party's parameters reject it.
    # (Depending on the random proof, an element may already exceed the other modulus,
    # or z3, z4 the bounds that scale with it.)
    assert rejected(STMT, PROOF, RP_OTHER) in {
        GROUP_EQ,
        "pi-aff-g: E range",
        "pi-aff-g: S range",
        "pi-aff-g: F range",
        "pi-aff-g: T range",
        "pi-aff-g: z3 size",  # z3, z4 bounds scale with N̂
        "pi-aff-g: z4 size",
    }
    swapped_bases = dataclasses.replace(RP, s=RP.t, t=RP.s)
    assert rejected(STMT, PROOF, swapped_bases) == GROUP_EQ


def test_swapped_moduli_fail() -> None:
    swapped = dataclasses.replace(STMT, n0=STMT.n1, n1=STMT.n0)
    assert rejected(swapped, PROOF) in {
        "pi-aff-g: C range",
        "pi-aff-g: D range",
        "pi-aff-g: Y range",
        "pi-aff-g: A range",
        "pi-aff-g: B_y range",
        "pi-aff-g: w range",
        "pi-aff-g: w_y range",
        GROUP_EQ,
    }
    # A proof made for the swapped statement (C, D under N1; Y under N0) does not
    # verify for the original one, nor the other way round.
    pk0, pk1 = SK0.public_key, SK1.public_key
    c = pk1.encrypt(11)
    rho, rho_y = pk1.sample_nonce(), pk0.sample_nonce()
    d = pk1.add(pk1.mul(c, WIT.x), enc(SK1, WIT.y, rho))
    other = Statement(SK1.n, SK0.n, c, d, enc(SK0, WIT.y, rho_y), STMT.X)
    proof = affg.prove(other, Witness(WIT.x, WIT.y, rho, rho_y), RP, session_id=SID, prover_id=PID)
    affg.verify(other, RP, proof, session_id=SID, prover_id=PID)
    flipped = dataclasses.replace(other, n0=other.n1, n1=other.n0)
    assert rejected(flipped, proof).startswith("pi-aff-g: ")


# -- encoding ---------------------------------------------------------------------------------


def test_encoding_round_trip_and_exact_length() -> None:
    n0, n1, n_hat = STMT.n0, STMT.n1, RP.n
    data = PROOF.to_bytes(n0, n1, n_hat)
    assert len(data) == AffgProof.encoded_length(n0, n1, n_hat)
    assert AffgProof.from_bytes(data, n0, n1, n_hat) == PROOF
    for bad in (data[:-1], data + b"\x00", b"", bytearray(data)):
        with pytest.raises(InvalidEncoding):
            AffgProof.from_bytes(bad, n0, n1, n_hat)  # type: ignore[arg-type]
    aw = 256  # width(N0²) at 1024 bits
    with pytest.raises(InvalidEncoding):  # A >= N0²
        AffgProof.from_bytes((n0 * n0).to_bytes(aw, "big") + data[aw:], n0, n1, n_hat)
    for prefix in (b"\x04", b"\x00", b"\x02"):
        body = bytes(32) if prefix == b"\x02" else data[aw + 1 : aw + 33]
        with pytest.raises(InvalidEncoding):  # B_x not a valid compressed point
            AffgProof.from_bytes(data[:aw] + prefix + body + data[aw + 33 :], n0, n1, n_hat)
    tail = 128 + 128  # w, w_y
    with pytest.raises(InvalidEncoding):  # w >= N0
        AffgProof.from_bytes(data[:-tail] + n0.to_bytes(128, "big") + data[-128:], n0, n1, n_hat)
    with pytest.raises(InvalidEncoding):  # w_y >= N1
        AffgProof.from_bytes(data[:-128] + n1.to_bytes(128, "big"), n0, n1, n_hat)
    with pytest.raises(InvalidEncoding):  # does not fit its field
        dataclasses.replace(PROOF, z3=2**20000).to_bytes(n0, n1, n_hat)
    with pytest.raises(InvalidEncoding):
        dataclasses.replace(PROOF, w=-1).to_bytes(n0, n1, n_hat)
    with pytest.raises(InvalidEncoding):  # the identity has no encoding
        dataclasses.replace(PROOF, B_x=SECP256K1.identity).to_bytes(n0, n1, n_hat)
    with pytest.raises(InvalidEncoding):  # wrong context: wrong length
        AffgProof.from_bytes(data, n0, n1, RP3.n)


def test_negative_values_survive_encoding() -> None:
    b = Bounds.of(RP.n)
    extreme = dataclasses.replace(PROOF, z1=-b.z1, z2=b.z2, z3=-b.z34, z4=b.z34)
    data = extreme.to_bytes(STMT.n0, STMT.n1, RP.n)
    assert AffgProof.from_bytes(data, STMT.n0, STMT.n1, RP.n) == extreme
    # Out-of-range z1/z2 that fit their fields decode, and verify rejects them.
    wide = dataclasses.replace(PROOF, z1=b.z1 + 1)
    decoded = AffgProof.from_bytes(wide.to_bytes(STMT.n0, STMT.n1, RP.n), STMT.n0, STMT.n1, RP.n)
    assert rejected(STMT, decoded) == "pi-aff-g: z1 range"


@settings(max_examples=25)
@given(index=st.integers(0, 10_000), flip=st.integers(1, 255))
def test_byte_flips_are_refused_or_rejected(index: int, flip: int) -> None:
    data = bytearray(PROOF.to_bytes(STMT.n0, STMT.n1, RP.n))
    data[index % len(data)] ^= flip
    try:
        proof = AffgProof.from_bytes(bytes(data), STMT.n0, STMT.n1, RP.n)
    except InvalidEncoding:
        return
    with pytest.raises(InvalidProof):
        affg.verify(STMT, RP, proof, session_id=SID, prover_id=PID)


_LENGTH = AffgProof.encoded_length(SK0.n, SK1.n, RP.n)


@settings(max_examples=60)
@given(
    data=st.one_of(
        st.binary(max_size=2 * _LENGTH),
        st.binary(min_size=_LENGTH, max_size=_LENGTH),
    )
)
def test_from_bytes_raises_only_invalid_encoding(data: bytes) -> None:
    try:
        proof = AffgProof.from_bytes(data, STMT.n0, STMT.n1, RP.n)
    except InvalidEncoding:
        return
    # Decoded: every element is in range and B_x is a valid point; the verifier rejects it.
    assert isinstance(proof.B_x, Point)
    with pytest.raises(InvalidProof):
        affg.verify(STMT, RP, proof, session_id=SID, prover_id=PID)


def test_sizes() -> None:
    # 3072-bit N0, N1, N̂: 768 + 33 + 768 + 4*384 + 97 + 225 + 481 + 481 + 384 + 384 bytes.
    assert AffgProof.encoded_length(SK0_3.n, SK1_3.n, RP3.n) == 5157
    b = Bounds.of(RP3.n)
    assert (signed_width(b.z1), signed_width(b.z2), signed_width(b.z34)) == (97, 225, 481)
