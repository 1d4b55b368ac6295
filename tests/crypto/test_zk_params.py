"""The security parameters of the CGGMP24 proofs: one value, the paper's by default."""

from __future__ import annotations

import dataclasses

import pytest

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.paillier import PROTOCOL_MIN_BITS
from shardvault.crypto.zk import (
    DEFAULT_LEVEL,
    ELL,
    ELL_PRIME,
    EPSILON,
    ITERATIONS,
    InvalidProof,
    Q,
    SecurityLevel,
)
from shardvault.errors import InvalidParameters, ProtocolError


def test_paper_parameters() -> None:
    assert (ELL, EPSILON, ELL_PRIME, ITERATIONS) == (256, 512, 1280, 128)
    assert Q == SECP256K1.order
    assert issubclass(InvalidProof, ProtocolError)


def test_default_level_is_the_papers() -> None:
    level = DEFAULT_LEVEL
    assert level == SecurityLevel()
    assert (level.ell, level.epsilon, level.ell_prime, level.m) == (ELL, EPSILON, ELL_PRIME, 128)
    assert level.q == SECP256K1.order
    assert level.min_modulus_bits == PROTOCOL_MIN_BITS == 3072
    with pytest.raises(dataclasses.FrozenInstanceError):
        level.m = 16  # type: ignore[misc]


@pytest.mark.parametrize(
    "changes",
    [
        {"m": 0},
        {"m": -1},
        {"m": True},
        {"ell": 0},
        {"epsilon": "512"},
        {"ell_prime": 100},  # below ell
        {"q": 1},
        {"min_modulus_bits": 32},
    ],
)
def test_level_refuses_nonsense(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidParameters):
        SecurityLevel(**changes)  # type: ignore[arg-type]
