"""RFC 9591 test vectors, byte for byte: dealer shares, nonces and commitments from the
given randomness, binding factors, signature shares and the final signature. The
vectors' randomness (polynomial coefficients, nonce randomness) reaches the code the
way the OS CSPRNG does, through the ``rng`` argument."""

from __future__ import annotations

from typing import Any

import pytest
from nacl.signing import VerifyKey
from rnghelpers import ReplayRng
from shared_vectors import load_json_vector

from shardvault.protocols.frost.ciphersuites import FROST_ED25519, FROST_SECP256K1, Ciphersuite
from shardvault.protocols.frost.keys import trusted_dealer_keygen
from shardvault.protocols.frost.signing import (
    SigningCommitment,
    SigningNonces,
    aggregate,
    commit,
    compute_binding_factors,
    encode_group_commitment_list,
    sign,
    verify_signature_share,
)

CASES = [
    ("frost-ed25519-sha512.json", FROST_ED25519),
    ("frost-secp256k1-sha256.json", FROST_SECP256K1),
]


def _h(x: str) -> bytes:
    return bytes.fromhex(x)


@pytest.fixture(params=CASES, ids=[c[1].name for c in CASES])
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Ciphersuite]:
    name, suite = request.param
    vector = load_json_vector(name)
    assert vector["config"]["name"].replace("(", "").startswith("FROST")
    return vector, suite


def test_config_matches_suite(case: tuple[dict[str, Any], Ciphersuite]) -> None:
    vector, suite = case
    assert vector["config"]["group"].lower() == suite.group.name


def test_vector_end_to_end(case: tuple[dict[str, Any], Ciphersuite]) -> None:
    vector, suite = case
    g = suite.group
    inputs = vector["inputs"]
    cfg = vector["config"]
    secret = g.decode_scalar(_h(inputs["group_secret_key"]))
    coefficients = [g.decode_scalar(_h(c)) for c in inputs["share_polynomial_coefficients"]]
    dealer_rng = ReplayRng(scalars=coefficients)
    key_packages, public = trusted_dealer_keygen(
        suite,
        secret,
        int(cfg["MIN_PARTICIPANTS"]),
        int(cfg["MAX_PARTICIPANTS"]),
        rng=dealer_rng,
    )
    assert dealer_rng.exhausted
    # Dealer output.
    assert public.group_public_key.encode().hex() == inputs["group_public_key"]
    by_id = {kp.identifier: kp for kp in key_packages}
    for share in inputs["participant_shares"]:
        kp = by_id[share["identifier"]]
        assert g.encode_scalar(kp.signing_share).hex() == share["participant_share"]
    public.check_consistent()

    msg = _h(inputs["message"])
    participants = inputs["participant_list"]
    assert len(participants) == int(cfg["NUM_PARTICIPANTS"])

    # Round one from the given randomness.
    nonces: dict[int, SigningNonces] = {}
    commitments: list[SigningCommitment] = []
    for out in vector["round_one_outputs"]["outputs"]:
        kp = by_id[out["identifier"]]
        # RFC 9591 section 5.1: the hiding nonce's randomness is drawn first.
        nonce_rng = ReplayRng(
            byte_strings=[
                _h(out["hiding_nonce_randomness"]),
                _h(out["binding_nonce_randomness"]),
            ]
        )
        n, c = commit(kp, rng=nonce_rng)
        assert nonce_rng.exhausted
        assert c.hiding.encode().hex() == out["hiding_nonce_commitment"]
        assert c.binding.encode().hex() == out["binding_nonce_commitment"]
        nonces[kp.identifier] = n
        commitments.append(c)
    assert [c.identifier for c in commitments] == participants

    factors = compute_binding_factors(suite, public.group_public_key, commitments, msg)
    prefix_len = len(public.group_public_key.encode()) + 2 * len(suite.h4(b""))
    for out in vector["round_one_outputs"]["outputs"]:
        i = out["identifier"]
        assert g.encode_scalar(factors[i]).hex() == out["binding_factor"]
        expected_input = _h(out["binding_factor_input"])
        assert expected_input[:prefix_len] == (
            public.group_public_key.encode()
            + suite.h4(msg)
            + suite.h5(encode_group_commitment_list(suite, commitments))
        )
        assert expected_input[prefix_len:] == g.encode_scalar(i)

    # Round two.
    shares: dict[int, int] = {}
    for out in vector["round_two_outputs"]["outputs"]:
        i = out["identifier"]
        shares[i] = sign(by_id[i], nonces[i], msg, commitments)
        assert g.encode_scalar(shares[i]).hex() == out["sig_share"]
        assert verify_signature_share(
            suite,
            i,
            public.verifying_shares[i],
            shares[i],
            commitments,
            public.group_public_key,
            msg,
        )

    signature = aggregate(public, msg, commitments, shares)
    assert signature.hex() == vector["final_output"]["sig"]
    assert suite.verify(public.group_public_key, msg, signature)
    if suite is FROST_ED25519:
        # Independent check: libsodium via PyNaCl.
        VerifyKey(public.group_public_key.encode()).verify(msg, signature)
