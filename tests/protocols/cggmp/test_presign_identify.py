"""CGGMP24 presigning identification (round 4, Π_aff-g* and Π_dec): when the output
check delta G = Delta (or sum S_j = delta X) fails, every party proves its share and
the honest parties blame exactly the cheater. The honest path stays three rounds.

White-box cheaters (subclasses of Presigning) misbehave consistently, as a real
malicious party would: in-flight tampering of a round-3 broadcast is equivocation
and is caught by the round-4 echo instead.

Aux info is built ONCE for parties 1..3 (3072-bit fixture moduli, ~18 s). Most
cases run the proofs with m = 16 repetitions (a test security level, for speed; the
proofs' own tests run m = 128).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import pytest
from cggmp_helpers import deliver, new_sid

from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.zk import SecurityLevel
from shardvault.errors import ProtocolError
from shardvault.protocols.cggmp.aux_info import AuxInfo
from shardvault.protocols.cggmp.keyshare import KeyShare, trusted_dealer_key_shares
from shardvault.protocols.cggmp.presign import Presigning
from shardvault.protocols.cggmp.presign_identification import CHECK_CHI, CHECK_DELTA
from shardvault.protocols.cggmp.presign_messages import MsgRound3, MsgRound4
from shardvault.protocols.messages import InMemorySessionRegistry, ProtocolMessage

Q = SECP256K1.order
Tamper = Callable[[ProtocolMessage, int], ProtocolMessage | None]


#: m = 16 repetitions of Π_aff-g* and Π_dec (speed); everything else as the paper.
FAST = SecurityLevel(m=16)


def shares_2_of_3() -> dict[int, KeyShare]:
    x = SECP256K1.random_scalar()
    return {s.index: s for s in trusted_dealer_key_shares(x, 2, 3)}


class WrongDelta(Presigning):
    """Broadcasts delta_i + 1 (and believes it)."""

    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        super()._round2(messages)
        msg = self._outbox[-1]
        start = len(self.signers) * 32
        bad = (self._deltas[self.me] + 1) % Q
        payload = msg.payload[:start] + bad.to_bytes(32, "big") + msg.payload[start + 32 :]
        assert len(payload) == MsgRound3.encoded_length(len(self.signers))
        self._deltas[self.me] = bad
        self._echo.record(3, self.me, payload)
        self._outbox[-1] = dataclasses.replace(msg, payload=payload)


class WrongBeta(Presigning):
    """Sends correct, proven MtA ciphertexts to its first peer but uses beta + 1 in
    its own delta_i (``hat``: in its chi_i): every round-2 proof passes."""

    hat = False

    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        super()._round1(messages)
        j = self._peers[0]
        if self.hat:
            self._beta_hat[j] += 1
        else:
            self._beta[j] += 1


class WrongBetaHat(WrongBeta):
    hat = True


def run(
    aux: dict[int, AuxInfo],
    signers: Sequence[int],
    cheater: int | None = None,
    cls: type[Presigning] = Presigning,
    tamper: Tamper | None = None,
    level: SecurityLevel = FAST,
) -> dict[int, Presigning]:
    shares = shares_2_of_3() if len(signers) < 3 else None
    if shares is None:
        x = SECP256K1.random_scalar()
        shares = {s.index: s for s in trusted_dealer_key_shares(x, 3, 3)}
    sid = new_sid()
    parties = {
        i: (cls if i == cheater else Presigning)(
            sid, i, signers, shares[i], aux[i], InMemorySessionRegistry(), level=level
        )
        for i in signers
    }
    deliver(parties.values(), tamper)
    return parties


def failure(p: Presigning) -> ProtocolError:
    assert p.failed is not None, f"party {p.me} did not abort (round {p.round})"
    return p.failed


def test_honest_path_is_three_rounds(aux3: dict[int, AuxInfo]) -> None:
    rounds: set[int] = set()

    def spy(m: ProtocolMessage, t: int) -> ProtocolMessage:
        rounds.add(m.round)
        return m

    parties = run(aux3, [1, 2], tamper=spy)
    assert rounds == {1, 2, 3}
    for p in parties.values():
        p.result()
        assert not p._mta_out and not p._mta_in and not p._beta  # secrets dropped
        assert p._gamma == p._k == p._w == 0


def test_wrong_delta_blamed(aux3: dict[int, AuxInfo]) -> None:
    parties = run(aux3, [1, 3], cheater=3, cls=WrongDelta)
    err = failure(parties[1])
    assert err.check == CHECK_DELTA
    assert err.blame == (3,)
    assert "pi-dec: w h = B + e S" in err.message
    assert not parties[1]._mta_out and parties[1]._gamma == 0  # dropped on abort
    # The cheater finds nothing wrong with the honest party.
    assert failure(parties[3]).blame == ()


@pytest.mark.parametrize("cheater", [2])
def test_wrong_mta_beta_blamed_among_three(aux3: dict[int, AuxInfo], cheater: int) -> None:
    parties = run(aux3, [1, 2, 3], cheater=cheater, cls=WrongBeta)
    for i, p in parties.items():
        if i == cheater:
            continue
        err = failure(p)
        assert err.check == CHECK_DELTA
        assert err.blame == (cheater,), err.message


def test_wrong_chi_share_blamed(aux3: dict[int, AuxInfo]) -> None:
    parties = run(aux3, [2, 3], cheater=2, cls=WrongBetaHat)
    err = failure(parties[3])
    assert err.check == CHECK_CHI
    assert err.blame == (2,)
    assert "pi-dec" in err.message


def test_round4_misreported_ciphertext(aux3: dict[int, AuxInfo]) -> None:
    """The cheater's round-4 copy of a ciphertext it received differs from what the
    honest party sent: the honest party blames it."""

    def hook(m: ProtocolMessage, t: int) -> ProtocolMessage | None:
        if m.round == 4 and m.sender == 3:
            # Flip the last byte of D_in for party 1 (D_in XOR 1, fixed width).
            moduli = {j: aux3[j].paillier_key.n for j in (1, 3)}
            msg = MsgRound4.decode(m.payload, sender=3, signers=[1, 3], moduli=moduli, level=FAST)
            msg = dataclasses.replace(msg, D_in={**msg.D_in, 1: msg.D_in[1] ^ 1})
            return dataclasses.replace(m, payload=msg.encode([1, 3], 3, moduli, FAST))
        return m

    parties = run(aux3, [1, 3], cheater=3, cls=WrongDelta, tamper=hook)
    err = failure(parties[1])
    assert err.blame == (3,)
    assert err.check in (CHECK_DELTA, "presign-round4-decode")
