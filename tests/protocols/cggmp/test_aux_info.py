"""CGGMP24 aux-info generation: honest runs agree; every fault aborts with the right
party blamed and a specific check (docs/security.md items 2, 3, 4, 11, 12, 14).

Moduli come from TEST-ONLY pregenerated safe primes (tests/fixtures/cggmp_primes.json):
every run is at the real size, 3072-bit moduli from the three 1536-bit pairs (one
modulus per party, used for Paillier and ring-Pedersen alike, as in the paper). The
512-bit pairs only make the under-size modulus and the encoding tests.
"""

from __future__ import annotations

import dataclasses

import pytest
from cggmp_helpers import (
    CommittedCheater,
    deliver,
    flip_byte,
    make_parties,
    min_bits,
    new_sid,
    pair,
    small_pair,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shardvault.crypto.ring_pedersen import generate_ring_pedersen
from shardvault.crypto.zk import fac, mod, prm
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError, SessionReused
from shardvault.protocols.cggmp import AuxInfo, AuxInfoGeneration, AuxInfoPublic
from shardvault.protocols.cggmp.aux_info import PROTOCOL
from shardvault.protocols.cggmp.aux_info_messages import AuxInfoDecommitment, commitment
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage

HASH = 32


def replace(m: ProtocolMessage, payload: bytes) -> ProtocolMessage:
    return dataclasses.replace(m, payload=payload)


def failure(party: AuxInfoGeneration) -> ProtocolError:
    err = party.failed
    assert err is not None, f"party {party.me} did not abort"
    return err


# -- honest runs -----------------------------------------------------------------


@pytest.fixture(scope="module")
def honest2() -> list[AuxInfoGeneration]:
    parties = make_parties(2)
    deliver(parties)
    return parties


def _check_agreement(parties: list[AuxInfoGeneration]) -> list[AuxInfo]:
    results = [p.result() for p in parties]
    n = len(parties)
    encodings = {r.public.to_bytes() for r in results}
    assert len(encodings) == 1
    public = results[0].public
    assert sorted(public.parties) == list(range(1, n + 1))
    for r in results:
        assert r.public == public
        own = public.params(r.me)
        assert own == r.ring_pedersen.params
        assert own.n == r.paillier_key.n
        assert r.paillier_key.n.bit_length() == 3072
        assert public.paillier(r.me) == r.paillier_key.public_key
    assert len({public.params(j).n for j in public.parties}) == n
    return results


def test_honest_two_parties_agree(honest2: list[AuxInfoGeneration]) -> None:
    results = _check_agreement(honest2)
    # The keys work: party 2 encrypts to party 1, party 1 decrypts.
    c = results[1].public.paillier(1).encrypt(123456789)
    assert results[0].paillier_key.decrypt(c) == 123456789
    # Ring-Pedersen trapdoor: s = t^lambda.
    rp = results[0].ring_pedersen
    assert pow(rp.params.t, rp.lam, rp.params.n) == rp.params.s


def test_result_repr_hides_secrets(honest2: list[AuxInfoGeneration]) -> None:
    r = honest2[0].result()
    text = repr(r) + repr(honest2[0])
    for secret in (r.paillier_key.p, r.paillier_key.q, r.ring_pedersen.lam):
        assert f"{secret:x}" not in text
        assert str(secret) not in text
    assert "hidden" in repr(r)


def test_public_roundtrip(honest2: list[AuxInfoGeneration]) -> None:
    public = honest2[0].result().public
    assert AuxInfoPublic.from_bytes(public.to_bytes()) == public


@pytest.mark.slow
def test_honest_three_parties_agree() -> None:
    parties = make_parties(3)
    deliver(parties)
    _check_agreement(parties)


# -- inputs --------------------------------------------------------------------------


def test_constructor_rejects_bad_parameters() -> None:
    sid = new_sid()
    with pytest.raises(InvalidParameters):
        AuxInfoGeneration(sid, 1, 1, InMemorySessionRegistry(), primes=pair(1))
    with pytest.raises(InvalidParameters):
        AuxInfoGeneration(sid, 3, 2, InMemorySessionRegistry(), primes=pair(1))
    # Own modulus under 3072 bits.
    with pytest.raises(InvalidParameters, match="3072"):
        AuxInfoGeneration(sid, 1, 2, InMemorySessionRegistry(), primes=small_pair(1))
    # Not safe primes (q of a safe prime p = 2q + 1 is prime but not safe).
    p, q = small_pair(1)
    with pytest.raises(InvalidParameters, match="safe"):
        AuxInfoGeneration(
            sid, 1, 2, InMemorySessionRegistry(), primes=(p, (q - 1) // 2), level=min_bits(512)
        )


def test_session_id_single_use_and_foreign_messages_rejected() -> None:
    registry = InMemorySessionRegistry()
    sid = new_sid()
    a = AuxInfoGeneration(sid, 1, 2, registry, primes=pair(1))
    with pytest.raises(SessionReused):
        AuxInfoGeneration(sid, 2, 2, registry, primes=pair(2))
    b = AuxInfoGeneration(new_sid(), 2, 2, InMemorySessionRegistry(), primes=pair(2))
    (msg,) = b.messages()
    with pytest.raises(ProtocolError) as exc:
        a.receive(msg)
    assert exc.value.check == "session-id" and exc.value.blame == (2,)
    other_protocol = dataclasses.replace(msg, session_id=sid, protocol="frost-dkg/x")
    with pytest.raises(ProtocolError) as exc:
        a.receive(other_protocol)
    assert exc.value.check == "protocol"
    direct = dataclasses.replace(msg, session_id=sid, recipient=1)
    with pytest.raises(ProtocolError) as exc:
        a.receive(direct)  # round 1 is a broadcast round
    assert exc.value.check == "broadcast"
    assert not a.done and a.waiting_for() == {2}


def test_replay_from_another_session_is_blamed() -> None:
    """Party 1 replays its round-1 commitment of session A in session B."""
    a1 = make_parties(2)[0]
    (old_commitment,) = a1.messages()
    parties = make_parties(2)
    sid_b = parties[0].session_id

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        if m.sender == 1 and m.round == 1:
            return dataclasses.replace(old_commitment, session_id=sid_b)
        return m

    deliver(parties, tamper)
    err = failure(parties[1])
    assert err.blame == (1,)
    assert err.check == "aux-echo-broadcast"  # party 1's own echo names its real commitment


def test_proof_from_another_session_fails_pi_prm() -> None:
    """A Π_prm made for another session id (correctly committed) does not verify."""

    def corrupt(r: AuxInfoDecommitment) -> AuxInfoDecommitment:
        rp = generate_ring_pedersen(*pair(1))
        proof = prm.prove(rp, session_id=b"another-session-0000", prover_id=1)
        return AuxInfoDecommitment(rp.params, proof.to_bytes(rp.params.n), r.rho, r.u)

    sid = new_sid()
    cheater = CommittedCheater(
        sid, 1, 2, InMemorySessionRegistry(), primes=pair(1), corrupt=corrupt
    )
    honest = AuxInfoGeneration(sid, 2, 2, InMemorySessionRegistry(), primes=pair(2))
    deliver([cheater, honest])
    err = failure(honest)
    assert err.blame == (1,)
    assert err.check == "pi-prm: t^z_i = A_i s^e_i"


# -- faults, each blamed ---------------------------------------------------------------


def test_tampered_reveal_breaks_commitment() -> None:
    parties = make_parties(2)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        if m.sender == 1 and m.round == 2:
            return replace(m, flip_byte(m.payload, len(m.payload) - 1))  # u_1
        return m

    deliver(parties, tamper)
    err = failure(parties[1])
    assert err.blame == (1,) and err.check == "aux-commitment"


@pytest.mark.parametrize("where", ["round1", "round2"])
def test_malformed_payload_blamed(where: str) -> None:
    parties = make_parties(2)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        if m.sender == 1 and m.round == int(where[-1]):
            return replace(m, m.payload[:-1])
        return m

    deliver(parties, tamper)
    err = failure(parties[1])
    assert err.blame == (1,) and err.check == f"aux-{where}-decode"


def test_every_failing_party_is_named() -> None:
    """Parties 1 and 2 both send malformed commitments: party 3 names both."""
    parties = make_parties(3)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        if m.sender in (1, 2) and m.round == 1 and target == 3:
            return replace(m, m.payload + b"\x00")
        return m

    deliver(parties, tamper)
    err = failure(parties[2])
    assert err.blame == (1, 2) and err.check == "aux-round1-decode"


def test_small_modulus_refused() -> None:
    """Party 2 runs with a 1024-bit modulus (a test level: 1024-bit minimum); party 1 refuses it."""
    sid = new_sid()
    honest = AuxInfoGeneration(sid, 1, 2, InMemorySessionRegistry(), primes=pair(1))
    small = AuxInfoGeneration(
        sid, 2, 2, InMemorySessionRegistry(), primes=small_pair(1), level=min_bits(1024)
    )
    deliver([honest, small])
    err = failure(honest)
    assert err.blame == (2,) and err.check == "aux-modulus-size"
    assert "1024 bits" in str(err)


def test_reused_modulus_refused_and_later_party_blamed() -> None:
    """Party 3 reuses party 1's modulus (with its own s, t and proofs)."""
    parties = make_parties(3, primes=[pair(1), pair(2), pair(1)])
    deliver(parties)
    for honest in parties[:2]:
        err = failure(honest)
        assert err.blame == (3,) and err.check == "aux-modulus-reused"


def test_bad_pi_prm_blamed() -> None:
    def corrupt(r: AuxInfoDecommitment) -> AuxInfoDecommitment:
        proof = prm.PrmProof.from_bytes(r.prm_bytes, r.params.n)
        z = list(proof.responses)
        z[5] = (z[5] + 1) % r.params.n
        bad = prm.PrmProof(proof.commitments, tuple(z))
        return dataclasses.replace(r, prm_bytes=bad.to_bytes(r.params.n))

    sid = new_sid()
    honest = AuxInfoGeneration(sid, 1, 2, InMemorySessionRegistry(), primes=pair(1))
    cheater = CommittedCheater(
        sid, 2, 2, InMemorySessionRegistry(), primes=pair(2), corrupt=corrupt
    )
    deliver([honest, cheater])
    err = failure(honest)
    assert err.blame == (2,) and err.check == "pi-prm: t^z_i = A_i s^e_i"


def _round3_tamper(
    change: str,
) -> tuple[list[AuxInfoGeneration], ProtocolError]:
    parties = make_parties(2)
    n1 = parties[0]._sk.n
    n2 = parties[1]._sk.n
    echo_len = 2 * HASH
    mod_len = mod.ModProof.encoded_length(n1)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        if m.sender != 1 or m.round != 3:
            return m
        p = m.payload
        echo, mod_bytes, fac_bytes = (
            p[:echo_len],
            p[echo_len : echo_len + mod_len],
            p[echo_len + mod_len :],
        )
        if change == "mod":
            mp = mod.ModProof.from_bytes(mod_bytes, n1)
            z = list(mp.z)
            z[0] = z[0] * 2 % n1
            mod_bytes = dataclasses.replace(mp, z=tuple(z)).to_bytes(n1)
        elif change == "fac":
            fp = fac.FacProof.from_bytes(fac_bytes, n1, n2)
            fac_bytes = dataclasses.replace(fp, z1=fp.z1 + 1).to_bytes(n1, n2)
        else:
            echo = flip_byte(echo, HASH + 3)  # party 1's view of party 2's reveal
        return replace(m, echo + mod_bytes + fac_bytes)

    deliver(parties, tamper)
    return parties, failure(parties[1])


def test_bad_pi_mod_blamed() -> None:
    parties, err = _round3_tamper("mod")
    assert err.blame == (1,) and err.check == "pi-mod: z_i^N = y_i"
    assert parties[0].done and parties[0].failed is None  # party 1 saw nothing wrong


def test_bad_pi_fac_blamed() -> None:
    _, err = _round3_tamper("fac")
    assert err.blame == (1,) and err.check == "pi-fac: s^z1 t^w1 = A P^e"


def test_round2_echo_mismatch_blamed() -> None:
    """Party 1's round-3 echo misreports party 2's round-2 broadcast."""
    _, err = _round3_tamper("echo")
    assert err.blame == (1,) and err.check == "aux-echo-broadcast"


def test_equivocating_round1_broadcast() -> None:
    """Party 1 sends one commitment to party 2 and another to party 3."""
    parties = make_parties(3)

    def tamper(m: ProtocolMessage, target: int) -> ProtocolMessage | None:
        if m.sender == 1 and m.round == 1 and target == 3:
            return replace(m, flip_byte(m.payload, 0))
        return m

    deliver(parties, tamper)
    # Party 3 got a commitment that party 1's own echo disowns: certain blame.
    err3 = failure(parties[2])
    assert err3.blame == (1,) and err3.check == "aux-echo-broadcast"
    # Party 2 only sees that 1 and 3 disagree about 1's broadcast: both are named.
    err2 = failure(parties[1])
    assert err2.blame == (1, 3) and err2.check == "aux-echo-broadcast"


# -- AuxInfoPublic encoding -------------------------------------------------------------


_SMALL_PUBLIC = AuxInfoPublic({i: generate_ring_pedersen(*small_pair(i)).params for i in (1, 2, 4)})
_SMALL_BYTES = _SMALL_PUBLIC.to_bytes()


def test_public_encoding_rejects_malformed() -> None:
    data = _SMALL_BYTES
    assert AuxInfoPublic.from_bytes(data, min_bits=1024) == _SMALL_PUBLIC
    with pytest.raises(InvalidEncoding, match="1024 bits"):
        AuxInfoPublic.from_bytes(data)  # default: 3072-bit minimum
    bad = [
        b"",
        b"\x02" + data[1:],  # version
        b"\x01\x00",  # no parties
        data[:-1],
        data + b"\x00",
        data[:1] + b"\x04" + data[2:],  # count larger than the entries
    ]
    width = len(_SMALL_PUBLIC.params(1).to_bytes())
    entry = 5 + width
    first, second = data[2 : 2 + entry], data[2 + entry : 2 + 2 * entry]
    bad.append(data[:2] + second + first + data[2 + 2 * entry :])  # indices descending
    bad.append(data[:2] + first + b"\x02" + first[1:] + data[2 + 2 * entry :])  # same modulus
    bad.append(data[:2] + b"\x00" + data[3:])  # index 0
    for b in bad:
        with pytest.raises(InvalidEncoding):
            AuxInfoPublic.from_bytes(b, min_bits=1024)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pos=st.integers(0, len(_SMALL_BYTES) - 1), bit=st.integers(0, 7), cut=st.booleans())
def test_public_encoding_fuzz(pos: int, bit: int, cut: bool) -> None:
    data = (
        _SMALL_BYTES[:pos]
        if cut
        else _SMALL_BYTES[:pos] + bytes([_SMALL_BYTES[pos] ^ (1 << bit)]) + _SMALL_BYTES[pos + 1 :]
    )
    try:
        decoded = AuxInfoPublic.from_bytes(data, min_bits=1024)
    except InvalidEncoding:
        return
    assert decoded.to_bytes() == data


def test_commitment_is_bound_to_every_input() -> None:
    rp = _SMALL_PUBLIC.params(1)
    base = (b"s" * 16, 1, rp, b"proof", b"r" * 32, b"u" * 32)
    v = commitment(*base)
    variants = [
        (b"t" * 16, *base[1:]),
        (base[0], 2, *base[2:]),
        (*base[:2], dataclasses.replace(rp, s=rp.t, t=rp.s), *base[3:]),
        (*base[:3], b"proof!", *base[4:]),
        (*base[:4], b"R" * 32, base[5]),
        (*base[:5], b"U" * 32),
    ]
    assert all(commitment(*x) != v for x in variants)
    assert PROTOCOL == "cggmp24/aux-info"
