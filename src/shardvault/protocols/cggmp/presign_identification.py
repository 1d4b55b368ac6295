"""The identification round of CGGMP24 presigning: who made ``delta G != Delta``
(ePrint 2021/060, 2024-10-21 revision, Fig. 9) or ``sum S_j != delta X``
(Section 4.3.1) fail. Cross-checked with synedrion's error rounds
(``interactive_signing.rs``, ``zk/aff_g_star.rs``, ``zk/dec.rs``).

It runs only after an output check of presigning failed. Every signer ``i``
broadcasts (:class:`~.presign_messages.MsgRound4`) the MtA ciphertexts it sent each
peer ``j`` and received from it, with a Π_aff-g* per peer (they carry ``x_i`` and the
``beta`` that ``F`` encrypts) and a Π_dec that its broadcast ``delta_i`` (``chi_i``)
is the plaintext mod ``q`` of ``K_i^x_i * prod_j D_i,j F_j,i^-1``. With
``x_i = gamma_i``, ``X_i = Gamma_i``, ``S_i = delta_i G``, ``h = G`` for the ``delta``
check (mode 1) and ``x_i = w_i``, ``X_i = W_i``, ``S_i``, ``h = Gamma`` for ``chi``
(mode 2).

Every party then checks every other party's claims and proofs and names the
cheaters: a party that misreports a ciphertext it sent us or we sent it, both ends
of a ciphertext two others disagree about, and every party whose Π_aff-g* or Π_dec
fails. If everything verifies (a soundness failure, negligible), no one is named.
The abort carries the failed output check's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmpy2

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import PaillierSecretKey, powmod_sec
from shardvault.crypto.rng import Rng
from shardvault.crypto.zk import affg, affgstar, dec
from shardvault.crypto.zk.params import SecurityLevel
from shardvault.errors import ProtocolError
from shardvault.protocols.cggmp.presign_messages import MsgRound4
from shardvault.protocols.common import proof_errors, stage

__all__ = [
    "CHECK_CHI",
    "CHECK_DELTA",
    "MODE_CHI",
    "MODE_DELTA",
    "Identification",
    "MtaSent",
]

_G = SECP256K1

#: Round-4 modes: which output check failed.
MODE_DELTA = 1
MODE_CHI = 2
CHECK_DELTA = "presign: delta G = Delta"
CHECK_CHI = "presign: sum S_j = delta X"
# Proof session-id tags of the identification round: Π_aff-g* per peer, Π_dec.
TAG_ID_AFF = {MODE_DELTA: b"/id-delta-aff-g-star", MODE_CHI: b"/id-chi-aff-g-star"}
TAG_ID_DEC = {MODE_DELTA: b"/id-delta-dec", MODE_CHI: b"/id-chi-dec"}


@dataclass(frozen=True, slots=True, repr=False)
class MtaSent:
    """One MtA a party sent one peer in round 2, with the secrets behind it:
    ``D = K_peer^x enc_peer(-beta; s)`` and ``F = enc_own(-beta; r)``."""

    D: int
    F: int
    beta: int
    s: int
    r: int

    def __repr__(self) -> str:
        return "MtaSent(hidden)"


@dataclass(frozen=True, slots=True, repr=False)
class Identification:
    """One party's view of the identification round for one ``mode``.

    ``K[j]`` are every signer's ``K_j``; ``X``, ``S`` and ``h`` the public values of
    every signer's Π_dec (see the module docstring); ``x`` this party's secret
    (``gamma_i`` or ``w_i``); ``sent[j]`` the MtA it sent ``j`` and ``received[j]`` the
    ``(D, F)`` ``j`` sent it, for this mode. ``repr`` hides the secrets.
    """

    session_id: bytes
    me: int
    signers: tuple[int, ...]
    mode: int
    level: SecurityLevel
    key: PaillierSecretKey
    moduli: dict[int, int]
    K: dict[int, int]
    X: dict[int, Point]
    S: dict[int, Point]
    h: Point
    x: int
    sent: dict[int, MtaSent]
    received: dict[int, tuple[int, int]]

    def __repr__(self) -> str:
        return f"Identification(me={self.me}, mode={self.mode}, secrets hidden)"

    @property
    def check(self) -> str:
        """The failed output check, the name every abort of this round carries."""
        return CHECK_DELTA if self.mode == MODE_DELTA else CHECK_CHI

    @property
    def peers(self) -> list[int]:
        return [j for j in self.signers if j != self.me]

    def message(self, echo: bytes, rng: Rng) -> MsgRound4:
        """Our round-4 message (Fig. 9, Output, step 2; Section 4.3.1): the MtA
        ciphertexts with a Π_aff-g* per peer, and Π_dec for our ``delta_i``/``chi_i``."""
        sk, n_i, me = self.key, self.key.n, self.me
        n2 = sk.public_key.n_squared
        affs: dict[int, affgstar.AffgStarProof] = {}
        acc = 1  # D_i = prod_j D_{i,j} F_{j,i}^-1: encrypts sum_j (alpha_{i,j} + beta_{i,j})
        for j in self.peers:
            out, (d_in, _) = self.sent[j], self.received[j]
            affs[j] = affgstar.prove(
                affg.Statement(self.moduli[j], n_i, self.K[j], out.D, out.F, self.X[me]),
                affg.Witness(self.x, -out.beta, out.s, out.r),
                session_id=self.session_id + TAG_ID_AFF[self.mode],
                prover_id=me,
                prover_key=sk,
                level=self.level,
                rng=rng,
            )
            acc = acc * d_in % n2 * int(gmpy2.invert(out.F, n2)) % n2
        full = powmod_sec(self.K[me], self.x, n2) * acc % n2  # encrypts delta_i (chi_i) over Z
        y = sk.decrypt_signed(full)
        rho = sk.pow_mod_n(full % n_i, int(gmpy2.invert(n_i, sk.phi)))
        proof_dec = dec.prove(
            sk,
            dec.Statement(n_i, self.K[me], acc, self.X[me], self.S[me], self.h, len(self.signers)),
            dec.Witness(self.x, y, rho),
            session_id=self.session_id + TAG_ID_DEC[self.mode],
            prover_id=me,
            level=self.level,
            rng=rng,
        )
        return MsgRound4(
            self.mode,
            echo,
            {j: self.sent[j].D for j in self.peers},
            {j: self.sent[j].F for j in self.peers},
            {j: self.received[j][0] for j in self.peers},
            affs,
            proof_dec,
        )

    def verdict(self, got: dict[int, MsgRound4]) -> ProtocolError:
        """Check every other party's round-4 message (its echo already checked) and
        return the abort naming the cheaters (Fig. 9, Output, step 3)."""
        check = self.check

        def check_mode(i: int) -> None:
            # Same round-3 view (echo) => same failed check: a different mode is a lie.
            if got[i].mode != self.mode:
                raise ProtocolError(
                    f"party {i} claims another failed output check",
                    blame=(i,),
                    check="presign-round4-mode",
                )

        try:
            stage(got, check_mode)
        except ProtocolError as exc:
            return exc
        culprits, reasons = self._claims_disagree(got)
        if culprits:
            return ProtocolError(
                "identification: " + "; ".join(reasons), blame=tuple(sorted(culprits)), check=check
            )

        def verify_party(i: int) -> None:
            self._verify_proofs(i, got)

        try:
            stage(got, verify_party)
        except ProtocolError as exc:
            return ProtocolError(
                f"identification ({exc.check}): {exc.message}", blame=exc.blame, check=check
            )
        return ProtocolError(
            "identification found no culprit: every Π_aff-g* and Π_dec verifies",
            check=check,
        )

    def _out_claim(self, got: dict[int, MsgRound4], recv: int, sender: int) -> tuple[int, int]:
        """``(D, F)`` that ``sender`` says it sent ``recv``."""
        if sender == self.me:
            return self.sent[recv].D, self.sent[recv].F
        return got[sender].D_out[recv], got[sender].F_out[recv]

    def _in_claim(self, got: dict[int, MsgRound4], recv: int, sender: int) -> int:
        """``D`` that ``recv`` says it received from ``sender``."""
        return self.received[sender][0] if recv == self.me else got[recv].D_in[sender]

    def _claims_disagree(self, got: dict[int, MsgRound4]) -> tuple[set[int], list[str]]:
        """The MtA ciphertexts: the sender's claim against the receiver's."""
        culprits: set[int] = set()
        reasons: list[str] = []
        for recv in self.signers:
            for sender in self.signers:
                if recv == sender:
                    continue
                d_sent, f_sent = self._out_claim(got, recv, sender)
                if recv == self.me:
                    # We know what we received: compare D and F.
                    if (d_sent, f_sent) != self.received[sender]:
                        culprits.add(sender)
                        reasons.append(f"party {sender} misreports the MtA ciphertexts it sent us")
                    continue
                if d_sent == self._in_claim(got, recv, sender):
                    continue
                if sender == self.me:
                    culprits.add(recv)
                    reasons.append(f"party {recv} misreports the MtA ciphertext we sent it")
                else:
                    culprits.update((recv, sender))
                    reasons.append(
                        f"parties {sender} and {recv} disagree on D_({recv},{sender}): one "
                        "of them equivocated or misreports"
                    )
        return culprits, reasons

    def _verify_proofs(self, i: int, got: dict[int, MsgRound4]) -> None:
        """Party ``i``'s Π_aff-g* for every peer (CRT when we hold ``N0``) and its Π_dec."""
        r4 = got[i]
        n_i = self.moduli[i]
        n2 = n_i * n_i
        acc = 1
        for j in self.signers:
            if j == i:
                continue
            d_sent, f_sent = self._out_claim(got, j, i)
            key = self.key if j == self.me else None
            with proof_errors(i, f"Π_aff-g* (for {j})", affgstar.PROOF_NAME):
                affgstar.verify(
                    affg.Statement(self.moduli[j], n_i, self.K[j], d_sent, f_sent, self.X[i]),
                    r4.aff[j],
                    session_id=self.session_id + TAG_ID_AFF[self.mode],
                    prover_id=i,
                    verifier_key=key,
                    level=self.level,
                )
            acc = acc * self._in_claim(got, i, j) % n2 * int(gmpy2.invert(f_sent, n2)) % n2
        with proof_errors(i, "Π_dec", dec.PROOF_NAME):
            dec.verify(
                dec.Statement(n_i, self.K[i], acc, self.X[i], self.S[i], self.h, len(self.signers)),
                r4.dec_proof,
                session_id=self.session_id + TAG_ID_DEC[self.mode],
                prover_id=i,
                level=self.level,
            )
