"""CGGMP24 presigning (ePrint 2021/060, 2024-10-21 revision, Fig. 8 "ECDSA
Pre-Signing"; cross-checked with entropyxyz/synedrion ``interactive_signing.rs`` and
Lockness ``cggmp21/src/signing.rs``), as a sans-I/O state machine over a signer set
``S`` with identifiable abort.

Party indices are key-share indices; aux info must cover every signer. Each signer
``i`` works on its additive share ``w_i = lambda_i x_i`` (``sum w_i = x``), with
``W_j = lambda_j X_j``. ``N_i`` is i's Paillier modulus and ring-Pedersen modulus.
``sid`` is the session id; proof session ids are ``sid || "/" || tag``.

1. (direct, to each j; the first part identical for all, echoed in round 2)
   ``k_i, gamma_i, y_i, a_i, b_i <- F_q``; ``K_i = enc_i(k_i; rho_i)``,
   ``G_i = enc_i(gamma_i; nu_i)``, El-Gamal key ``Y_i = y_i G``, commitments
   ``A_i = (a_i G, a_i Y_i + k_i G)``, ``B_i = (b_i G, b_i Y_i + gamma_i G)``;
   ``psi0 = Π_enc-elg(K_i; Y_i, A_i1, A_i2)``, ``psi1 = Π_enc-elg(G_i; Y_i, B_i1,
   B_i2)`` against j's ring-Pedersen parameters.
2. (direct, to each j) echo of the round-1 broadcast parts, ``Gamma_i = gamma_i G``,
   ``Π_elog(B_i1, B_i2, Y_i, Gamma_i; h = G)`` (identical for all, echoed in round 3),
   then ``D_{j,i} = gamma_i K_j + enc_j(-beta_{i,j})``, ``F_{j,i} = enc_i(-beta_{i,j})``,
   ``D^_{j,i} = w_i K_j + enc_j(-beta^_{i,j})``, ``F^_{j,i} = enc_i(-beta^_{i,j})``
   (``beta, beta^ <- +-2^ell'``), and Π_aff-g for ``(D, F, Gamma_i)`` and for
   ``(D^, F^, W_i)`` against j's ring-Pedersen parameters (``y = -beta`` as in the
   Lockness specification: see docs/cggmp.md).
3. (broadcast) echo of the round-2 broadcast parts, ``delta_i``,
   ``Delta_i = k_i Gamma``, ``S_i = chi_i Gamma`` and ``Π_elog(A_i1, A_i2, Y_i,
   Delta_i; h = Gamma)``, where ``Gamma = sum Gamma_j``,
   ``delta_i = gamma_i k_i + sum_j (alpha_{i,j} + beta_{i,j})``,
   ``chi_i = w_i k_i + sum_j (alpha^_{i,j} + beta^_{i,j})`` (``alpha`` decrypted from
   ``D_{i,j}``).

Output: ``delta = sum delta_j`` with the checks ``delta G = sum Delta_j`` (never
skipped; docs/security.md item 16) and ``sum S_j = delta X``; ``R = delta^-1 Gamma``.

4. (broadcast, ONLY when an output check fails) the identification round,
   :mod:`.presign_identification`: every party names the cheaters and aborts with
   the failed output check's name.

The messages are :mod:`.presign_messages`; the result :mod:`.presignature`. The
proofs' parameters come from ``level``, the randomness from ``rng``.

Every failed check aborts with ``ProtocolError(blame=..., check=...)``; checks run
stage by stage, senders ascending; proof failures carry the proof's own check
(``"pi-enc-elg: ..."``, ``"pi-aff-g: ..."``, ``"pi-elog: ..."``).
"""

from __future__ import annotations

from collections.abc import Sequence

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.paillier import powmod_sec
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk import affg, elog, encelg
from shardvault.crypto.zk.checks import sample_pm
from shardvault.crypto.zk.params import DEFAULT_LEVEL, SecurityLevel
from shardvault.errors import InvalidParameters, ProtocolError
from shardvault.protocols.cggmp.aux_info import AuxInfo
from shardvault.protocols.cggmp.keyshare import KeyShare, additive_shares
from shardvault.protocols.cggmp.presign_identification import (
    MODE_CHI,
    MODE_DELTA,
    Identification,
    MtaSent,
)
from shardvault.protocols.cggmp.presign_messages import (
    MsgRound1,
    MsgRound2,
    MsgRound3,
    MsgRound4,
    Round1Broadcast,
)
from shardvault.protocols.cggmp.presignature import Presignature, PresignaturePublic
from shardvault.protocols.common import EchoBroadcast, proof_errors, stage
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = ["PROTOCOL", "Presigning"]

PROTOCOL = "cggmp24/presign"
_G = SECP256K1
_Q = SECP256K1.order

# Proof session-id tags (one per proof in Fig. 8).
TAG_PSI0 = b"/psi0"  # Π_enc-elg for K_i
TAG_PSI1 = b"/psi1"  # Π_enc-elg for G_i
TAG_PSI = b"/psi"  # Π_aff-g for (gamma_i, K_j)
TAG_PSI_HAT = b"/psi-hat"  # Π_aff-g for (w_i, K_j)
TAG_ELOG_GAMMA = b"/psi-elog-gamma"  # Π_elog for Gamma_i (round 2)
TAG_ELOG_DELTA = b"/psi-elog-delta"  # Π_elog for Delta_i (round 3)


class Presigning(StateMachine[Presignature]):
    """One signer of a CGGMP24 presigning among ``signers`` (key-share indices)."""

    protocol = PROTOCOL
    #: Round 4 (identification, broadcast) runs only after a failed output check; an
    #: honest presign ends in round 3.
    last_round = 4
    broadcast_rounds = frozenset({3, 4})

    def __init__(
        self,
        session_id: bytes,
        me: int,
        signers: Sequence[int],
        key_share: KeyShare,
        aux: AuxInfo,
        registry: SessionRegistry,
        *,
        level: SecurityLevel = DEFAULT_LEVEL,
        rng: Rng = OS_RNG,
    ) -> None:
        ids = sorted(set(signers))
        if len(ids) != len(signers) or len(ids) < 2:
            raise InvalidParameters("signers must be at least two distinct parties")
        if key_share.index != me or aux.me != me:
            raise InvalidParameters("key share and aux info must belong to this party")
        if any(j not in aux.public.parties for j in ids):
            raise InvalidParameters("aux info does not cover every signer")
        if aux.paillier_key.n != aux.public.params(me).n:
            raise InvalidParameters("aux info: own modulus does not match the public table")
        w_i, big_w = additive_shares(key_share, ids)  # checks me in ids, threshold
        super().__init__(session_id, me, registry)
        self.level = level
        self._rng = rng
        self.signers = tuple(ids)
        self._peers = [j for j in ids if j != me]
        self._sk = aux.paillier_key
        self._aux = aux.public
        self._moduli = {j: aux.public.paillier(j).n for j in ids}
        self._params_me = aux.public.params(me)
        self._public_key = key_share.public_key
        self._w = w_i
        self._W = big_w
        self._echo = EchoBroadcast(
            domain="shardvault/cggmp24/presign/echo/v1",
            session_id=session_id,
            me=me,
            order=ids,
            check="presign-echo-broadcast",
        )
        self._r1: dict[int, Round1Broadcast] = {}
        self._gammas: dict[int, Point] = {}
        self._beta: dict[int, int] = {}
        self._beta_hat: dict[int, int] = {}
        # Kept for the identification round only; dropped when the presign ends.
        self._mta_out: dict[int, tuple[MtaSent, MtaSent]] = {}  # (gamma-MtA, w-MtA)
        self._mta_in: dict[int, MsgRound2] = {}
        self._identification: Identification | None = None
        self._round1_out()

    def __repr__(self) -> str:
        return f"Presigning(me={self.me}, signers={list(self.signers)}, round={self.round})"

    def expected_senders(self, round_: int) -> set[int]:
        return set(self._peers)

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        try:
            if round_ == 1:
                self._round1(messages)
            elif round_ == 2:
                self._round2(messages)
            elif round_ == 3:
                self._round3(messages)
            else:
                self._round4(messages)
        except BaseException:
            self._forget()
            raise

    def _forget(self) -> None:
        """Drop every secret (and the identification state)."""
        self._k = self._chi = self._gamma = self._w = self._a = self._b = 0
        self._delta = 0
        self._beta.clear()
        self._beta_hat.clear()
        self._mta_out.clear()
        self._mta_in.clear()
        self._identification = None

    # -- round 1 -----------------------------------------------------------------------
    def _round1_out(self) -> None:
        """Fig. 8, round 1: sample ``k_i, gamma_i, y_i, a_i, b_i``, encrypt ``k_i`` and
        ``gamma_i``, commit to them under ``Y_i`` and prove both to every peer."""
        rng, level, me = self._rng, self.level, self.me
        self._k = _G.random_scalar(rng)
        self._gamma = _G.random_scalar(rng)
        y = _G.random_scalar(rng)
        self._a = _G.random_scalar(rng)
        self._b = _G.random_scalar(rng)
        big_k, rho = self._sk.encrypt_with_nonce(self._k, rng=rng)
        big_g, nu = self._sk.encrypt_with_nonce(self._gamma, rng=rng)
        big_y = _G.mul_base(y)
        mine = Round1Broadcast(
            big_k,
            big_g,
            big_y,
            _G.mul_base(self._a),
            big_y * self._a + _G.mul_base(self._k),
            _G.mul_base(self._b),
            big_y * self._b + _G.mul_base(self._gamma),
        )
        self._r1[me] = mine
        n_i = self._sk.n
        self._echo.record(1, me, mine.encode(n_i))
        for j in self._peers:
            rp_j = self._aux.params(j)
            psi0 = encelg.prove(
                self._sk,
                rp_j,
                big_k,
                mine.Y,
                mine.A1,
                mine.A2,
                self._k,
                rho,
                self._a,
                session_id=self.session_id + TAG_PSI0,
                prover_id=me,
                level=level,
                rng=rng,
            )
            psi1 = encelg.prove(
                self._sk,
                rp_j,
                big_g,
                mine.Y,
                mine.B1,
                mine.B2,
                self._gamma,
                nu,
                self._b,
                session_id=self.session_id + TAG_PSI1,
                prover_id=me,
                level=level,
                rng=rng,
            )
            msg = MsgRound1(mine, psi0, psi1)
            self.send(1, j, msg.encode(n_i, rp_j.n, level), secret=False)

    # -- round 1 -> 2 ------------------------------------------------------------------
    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 8, round 2: check every Π_enc-elg, then send each peer ``Gamma_i`` with
        its Π_elog and the two MtA ciphertext pairs with their Π_aff-g proofs."""
        n_i = self._sk.n
        decoded: dict[int, MsgRound1] = {}

        def decode(j: int) -> None:
            decoded[j] = MsgRound1.decode(
                messages[j].payload,
                sender=j,
                n_sender=self._moduli[j],
                n_receiver=n_i,
                level=self.level,
            )
            self._echo.record(1, j, decoded[j].broadcast.encode(self._moduli[j]))

        def verify(j: int) -> None:
            msg = decoded[j]
            r = msg.broadcast
            pk_j = self._aux.paillier(j)
            with proof_errors(j, "Π_enc-elg (psi0, K)", encelg.PROOF_NAME):
                encelg.verify(
                    pk_j,
                    self._params_me,
                    r.K,
                    r.Y,
                    r.A1,
                    r.A2,
                    msg.psi0,
                    session_id=self.session_id + TAG_PSI0,
                    prover_id=j,
                    level=self.level,
                )
            with proof_errors(j, "Π_enc-elg (psi1, G)", encelg.PROOF_NAME):
                encelg.verify(
                    pk_j,
                    self._params_me,
                    r.G,
                    r.Y,
                    r.B1,
                    r.B2,
                    msg.psi1,
                    session_id=self.session_id + TAG_PSI1,
                    prover_id=j,
                    level=self.level,
                )

        stage(messages, decode)
        stage(decoded, verify)
        self._r1.update({j: m.broadcast for j, m in decoded.items()})
        self._round2_out()

    def _round2_out(self) -> None:
        """Fig. 8, round 2, steps 1-2 (``y = -beta`` in Π_aff-g, as the Lockness
        specification has it)."""
        me = self._r1[self.me]
        rng, level = self._rng, self.level
        gamma_i = _G.mul_base(self._gamma)
        self._gammas[self.me] = gamma_i
        psi_elog = elog.prove(
            me.B1,
            me.B2,
            me.Y,
            gamma_i,
            self._gamma,
            self._b,
            h=_G.generator,
            session_id=self.session_id + TAG_ELOG_GAMMA,
            prover_id=self.me,
            rng=rng,
        )
        self._echo.record(2, self.me, gamma_i.encode() + psi_elog.to_bytes())
        echo1 = self._echo.vector(1)
        sk = self._sk
        n_i = sk.n
        big_w_i = self._W[self.me]
        for j in self._peers:
            pk_j = self._aux.paillier(j)
            rp_j = self._aux.params(j)
            n_j, n2_j = pk_j.n, pk_j.n_squared
            k_j = self._r1[j].K
            beta = sample_pm(1 << level.ell_prime, rng)
            beta_hat = sample_pm(1 << level.ell_prime, rng)
            self._beta[j], self._beta_hat[j] = beta, beta_hat
            s, s_hat = pk_j.sample_nonce(rng), pk_j.sample_nonce(rng)
            r, r_hat = sk.public_key.sample_nonce(rng), sk.public_key.sample_nonce(rng)
            big_d = powmod_sec(k_j, self._gamma, n2_j) * pk_j.encrypt(-beta, s) % n2_j
            big_f = sk.encrypt(-beta, r)
            big_dh = powmod_sec(k_j, self._w, n2_j) * pk_j.encrypt(-beta_hat, s_hat) % n2_j
            big_fh = sk.encrypt(-beta_hat, r_hat)
            psi = affg.prove(
                affg.Statement(n_j, n_i, k_j, big_d, big_f, gamma_i),
                affg.Witness(self._gamma, -beta, s, r),
                rp_j,
                session_id=self.session_id + TAG_PSI,
                prover_id=self.me,
                prover_key=sk,
                level=level,
                rng=rng,
            )
            psi_hat = affg.prove(
                affg.Statement(n_j, n_i, k_j, big_dh, big_fh, big_w_i),
                affg.Witness(self._w, -beta_hat, s_hat, r_hat),
                rp_j,
                session_id=self.session_id + TAG_PSI_HAT,
                prover_id=self.me,
                prover_key=sk,
                level=level,
                rng=rng,
            )
            self._mta_out[j] = (
                MtaSent(big_d, big_f, beta, s, r),
                MtaSent(big_dh, big_fh, beta_hat, s_hat, r_hat),
            )
            msg = MsgRound2(echo1, gamma_i, psi_elog, big_d, big_f, big_dh, big_fh, psi, psi_hat)
            self.send(2, j, msg.encode(n_i, n_j, level), secret=True)

    # -- round 2 -> 3 ------------------------------------------------------------------
    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 8, round 3: check the echo of round 1, every Π_elog and Π_aff-g, then
        decrypt the MtA shares into ``delta_i`` and ``chi_i`` and broadcast them."""
        sk = self._sk
        n_i = sk.n
        count = len(self.signers)
        got: dict[int, MsgRound2] = {}

        def decode(j: int) -> None:
            got[j] = MsgRound2.decode(
                messages[j].payload,
                sender=j,
                count=count,
                n_sender=self._moduli[j],
                n_receiver=n_i,
                level=self.level,
            )
            self._mta_in[j] = got[j]
            self._echo.record(2, j, got[j].broadcast_part())

        stage(messages, decode)
        self._echo.check(1, {j: m.echo for j, m in got.items()})

        def check_elog(j: int) -> None:
            r1 = self._r1[j]
            with proof_errors(j, "Π_elog (Gamma)", elog.PROOF_NAME):
                elog.verify(
                    r1.B1,
                    r1.B2,
                    r1.Y,
                    got[j].Gamma,
                    got[j].psi_elog,
                    h=_G.generator,
                    session_id=self.session_id + TAG_ELOG_GAMMA,
                    prover_id=j,
                )

        def check_affg(j: int) -> None:
            m = got[j]
            n_j = self._moduli[j]
            k_i = self._r1[self.me].K
            with proof_errors(j, "Π_aff-g (psi, gamma)", affg.PROOF_NAME):
                affg.verify(
                    affg.Statement(n_i, n_j, k_i, m.D, m.F, m.Gamma),
                    self._params_me,
                    m.psi,
                    session_id=self.session_id + TAG_PSI,
                    prover_id=j,
                    verifier_key=sk,
                    level=self.level,
                )
            with proof_errors(j, "Π_aff-g (psi-hat, x)", affg.PROOF_NAME):
                affg.verify(
                    affg.Statement(n_i, n_j, k_i, m.D_hat, m.F_hat, self._W[j]),
                    self._params_me,
                    m.psi_hat,
                    session_id=self.session_id + TAG_PSI_HAT,
                    prover_id=j,
                    verifier_key=sk,
                    level=self.level,
                )

        stage(got, check_elog)
        stage(got, check_affg)
        for j in self._peers:
            self._gammas[j] = got[j].Gamma
        big_gamma = _G.sum(self._gammas[j] for j in self.signers)
        if big_gamma.is_identity():
            raise ProtocolError("Gamma is the identity", check="presign-gamma")
        k = self._k
        delta = self._gamma * k
        chi = self._w * k
        for j in self._peers:
            delta += sk.decrypt_signed(got[j].D) + self._beta[j]
            chi += sk.decrypt_signed(got[j].D_hat) + self._beta_hat[j]
        delta %= _Q
        chi %= _Q
        self._chi = chi
        self._delta = delta
        self._big_gamma = big_gamma
        big_delta = big_gamma * k
        big_s = big_gamma * chi
        me = self._r1[self.me]
        proof = elog.prove(
            me.A1,
            me.A2,
            me.Y,
            big_delta,
            k,
            self._a,
            h=big_gamma,
            session_id=self.session_id + TAG_ELOG_DELTA,
            prover_id=self.me,
            rng=self._rng,
        )
        self._deltas: dict[int, int] = {self.me: delta}
        self._big_deltas: dict[int, Point] = {self.me: big_delta}
        self._big_ss: dict[int, Point] = {self.me: big_s}
        payload = MsgRound3(self._echo.vector(2), delta, big_delta, big_s, proof).encode()
        self._echo.record(3, self.me, payload)
        self.send(3, None, payload)

    # -- round 3 -> output ---------------------------------------------------------------
    def _round3(self, messages: dict[int, ProtocolMessage]) -> None:
        """Fig. 8, output: check the echo of round 2 and every Π_elog for ``Delta_j``,
        then ``delta G = Delta`` and ``sum S_j = delta X``; on success ``R = delta^-1
        Gamma``, else the identification round."""
        count = len(self.signers)
        got: dict[int, MsgRound3] = {}

        def decode(j: int) -> None:
            got[j] = MsgRound3.decode(messages[j].payload, sender=j, count=count)
            self._echo.record(3, j, messages[j].payload)
            self._deltas[j] = got[j].delta
            self._big_deltas[j] = got[j].Delta
            self._big_ss[j] = got[j].S

        stage(messages, decode)
        self._echo.check(2, {j: m.echo for j, m in got.items()})

        def check_elog(j: int) -> None:
            r1 = self._r1[j]
            with proof_errors(j, "Π_elog (Delta)", elog.PROOF_NAME):
                elog.verify(
                    r1.A1,
                    r1.A2,
                    r1.Y,
                    self._big_deltas[j],
                    got[j].psi_elog,
                    h=self._big_gamma,
                    session_id=self.session_id + TAG_ELOG_DELTA,
                    prover_id=j,
                )

        stage(got, check_elog)
        delta = sum(self._deltas.values()) % _Q
        big_delta = _G.sum(self._big_deltas[j] for j in self.signers)
        # docs/security.md item 16: never skipped. A failure starts the identification
        # round (round 4) instead of aborting at once.
        if delta == 0 or _G.mul_base(delta) != big_delta:
            self._start_identification(MODE_DELTA)
            return
        big_s = _G.sum(self._big_ss[j] for j in self.signers)
        if big_s != self._public_key * delta:
            self._start_identification(MODE_CHI)
            return
        big_r = self._big_gamma * pow(delta, -1, _Q)
        public = PresignaturePublic(
            session_id=self.session_id,
            signers=self.signers,
            public_key=self._public_key,
            R=big_r,
            Gamma=self._big_gamma,
            Delta=dict(self._big_deltas),
            S=dict(self._big_ss),
        )
        k, chi = self._k, self._chi
        self._forget()
        self.finish(Presignature(self.me, k, chi, public))

    # -- identification (round 4, only after a failed output check) -----------------
    def _start_identification(self, mode: int) -> None:
        """Fig. 9 / Section 4.3.1: broadcast our round-4 message for ``mode``."""
        hat = mode == MODE_CHI
        if mode == MODE_DELTA:
            x_pub = dict(self._gammas)
            s_pub = {j: _G.mul_base(d) for j, d in self._deltas.items()}
            h = _G.generator
        else:
            x_pub, s_pub, h = dict(self._W), dict(self._big_ss), self._big_gamma
        self._identification = ident = Identification(
            session_id=self.session_id,
            me=self.me,
            signers=self.signers,
            mode=mode,
            level=self.level,
            key=self._sk,
            moduli=self._moduli,
            K={j: self._r1[j].K for j in self.signers},
            X=x_pub,
            S=s_pub,
            h=h,
            x=self._w if hat else self._gamma,
            sent={j: self._mta_out[j][1 if hat else 0] for j in self._peers},
            received={
                j: (m.D_hat, m.F_hat) if hat else (m.D, m.F) for j, m in self._mta_in.items()
            },
        )
        msg = ident.message(self._echo.vector(3), self._rng)
        self.send(4, None, msg.encode(self.signers, self.me, self._moduli, self.level))

    def _round4(self, messages: dict[int, ProtocolMessage]) -> None:
        """Check the echo of round 3, then every party's claims and proofs: abort
        naming the cheaters (Fig. 9, Output)."""
        ident = self._identification
        if ident is None:  # pragma: no cover - round 4 follows a failed output check
            raise ProtocolError("no identification in progress", check="presign-internal")
        got: dict[int, MsgRound4] = {}

        def decode(i: int) -> None:
            got[i] = MsgRound4.decode(
                messages[i].payload,
                sender=i,
                signers=self.signers,
                moduli=self._moduli,
                level=self.level,
            )

        stage(messages, decode)
        self._echo.check(3, {i: m.echo for i, m in got.items()})
        raise ident.verdict(got)
