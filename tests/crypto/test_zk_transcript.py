"""Fiat-Shamir plumbing of the CGGMP24 proofs (docs/security.md item 14)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shardvault.crypto.zk import InvalidProof
from shardvault.crypto.zk.transcript import ChallengeStream, append_signed, proof_transcript
from shardvault.errors import InvalidParameters


def stream(proof: str = "pi-x", sid: bytes = b"sid", pid: int = 1) -> ChallengeStream:
    return ChallengeStream(proof_transcript(proof, sid, pid))


def test_transcript_binds_proof_session_and_prover() -> None:
    base = stream().read(64)
    assert stream().read(64) == base  # deterministic
    assert stream(proof="pi-y").read(64) != base
    assert stream(sid=b"sie").read(64) != base
    assert stream(pid=2).read(64) != base
    # Length prefixes: moving a byte between session id and the next field changes the hash.
    a = proof_transcript("pi-x", b"ab", 1).append("v", b"c").encode()
    b = proof_transcript("pi-x", b"a", 1).append("v", b"bc").encode()
    assert a != b


def test_transcript_input_checks() -> None:
    for sid in (b"", "sid", bytes(65536)):
        with pytest.raises(InvalidParameters):
            proof_transcript("pi-x", sid, 1)  # type: ignore[arg-type]
    for pid in (-1, 2**32, True, "1"):
        with pytest.raises(InvalidParameters):
            proof_transcript("pi-x", b"sid", pid)  # type: ignore[arg-type]


def test_signed_values_are_injective() -> None:
    def enc(v: int) -> bytes:
        return append_signed(proof_transcript("p", b"s", 0), "x", v).encode()

    values = [0, 1, -1, 255, -255, 256, -256, 2**64, -(2**64)]
    assert len({enc(v) for v in values}) == len(values)


def test_stream_is_unbounded_and_prefix_consistent() -> None:
    s1, s2 = stream(), stream()
    long = s1.read(1000)
    assert b"".join(s2.read(n) for n in (1, 63, 64, 65, 807)) == long


@given(bound=st.integers(min_value=1, max_value=2**3100))
def test_below_signed_unit_ranges(bound: int) -> None:
    s = stream(sid=bound.to_bytes(400, "big"))
    for _ in range(5):
        assert 0 <= s.below(bound) < bound
        assert -bound <= s.signed(bound) <= bound
    if bound > 2:
        u = s.unit(bound)
        assert 0 < u < bound and math.gcd(u, bound) == 1


def test_below_is_unbiased_on_small_ranges() -> None:
    s = stream()
    counts = [0] * 3
    for _ in range(3000):
        counts[s.below(3)] += 1
    assert all(900 < c < 1100 for c in counts)
    bits = s.bits(4000)
    assert set(bits) == {0, 1} and 1800 < sum(bits) < 2200


def test_unit_rejection_terminates_with_typed_error() -> None:
    assert stream().unit(2) == 1  # Z_2^* = {1}
    # Z_1 has no nonzero element: the draw limit turns the endless loop into an error.
    with pytest.raises(InvalidProof) as info:
        stream().unit(1)
    assert info.value.check == "challenge"
