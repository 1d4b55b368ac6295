"""The messages of CGGMP24 presigning (Fig. 8) and of its identification round
(Fig. 9 and Section 4.3.1), typed and named after the paper, with their byte
encodings.

Widths are fixed by the moduli: a ciphertext under ``N`` takes ``width(N^2)`` bytes,
a point 33 (compressed SEC1), a scalar 32, each proof its own fixed length (which
depends on the moduli and on the security level). ``i`` is the sender, ``j`` the
receiver, ``n`` the number of signers.

* :class:`MsgRound1` (to ``j``): ``K_i || G_i || Y_i || A_i1 || A_i2 || B_i1 ||
  B_i2 || psi0 || psi1``; the first seven fields are the same for every ``j`` (the
  part echoed in round 2).
* :class:`MsgRound2` (to ``j``, secret): ``echo_1 (n x 32) || Gamma_i || psi_elog ||
  D_j,i || F_j,i || D^_j,i || F^_j,i || psi || psi^``; ``Gamma_i || psi_elog`` is the
  same for every ``j`` (echoed in round 3).
* :class:`MsgRound3` (broadcast): ``echo_2 || delta_i || Delta_i || S_i || psi_elog``.
* :class:`MsgRound4` (broadcast, only after a failed output check): ``mode (1) ||
  echo_3`` then, per peer ``j`` ascending, ``D_out || F_out || D_in || Π_aff-g*``,
  then ``Π_dec``.

Each ``decode`` checks the exact length, every ciphertext (in ``Z_(N^2)^*`` of the
right modulus), point (on the curve, not the identity) and scalar (``< q``), then
decodes the proofs; it raises ``ProtocolError`` blaming the sender with
``presign-roundN-decode`` (fields) or the proof's ``pi-...: encoding``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.zk import affg, affgstar, dec, elog, encelg
from shardvault.crypto.zk.checks import is_unit_sq
from shardvault.crypto.zk.codec import Reader, encode_unsigned, unsigned_width
from shardvault.crypto.zk.params import SecurityLevel
from shardvault.errors import InvalidEncoding
from shardvault.protocols.common import HASH, decode_errors, proof_errors

__all__ = [
    "MsgRound1",
    "MsgRound2",
    "MsgRound3",
    "MsgRound4",
    "Round1Broadcast",
    "ciphertext_width",
]

_G = SECP256K1
_Q = SECP256K1.order
_PT = SECP256K1.element_size  # 33
_SC = SECP256K1.scalar_size  # 32
_ELOG = elog.ElogProof.encoded_length()


def ciphertext_width(n: int) -> int:
    """Bytes of a Paillier ciphertext under ``N = n`` (an element of ``Z_(N^2)``)."""
    return unsigned_width(n * n)


def _exact(data: bytes, total: int) -> None:
    if len(data) != total:
        raise InvalidEncoding(f"expected {total} bytes, got {len(data)}")


def _ciphertext(data: bytes, n: int, what: str) -> int:
    c = int.from_bytes(data, "big")
    if not is_unit_sq(c, n):
        raise InvalidEncoding(f"{what} is not in Z_(N^2)^*")
    return c


def _scalar(data: bytes) -> int:
    return Reader(data, _SC, "scalar").unsigned(_SC, _Q, "scalar")


@dataclass(frozen=True, slots=True)
class Round1Broadcast:
    """The part of round 1 (Fig. 8) that is the same for every receiver:
    ``K_i = enc_i(k_i)``, ``G_i = enc_i(gamma_i)``, the El-Gamal key ``Y_i`` and the
    commitments ``A_i = (A_i1, A_i2)``, ``B_i = (B_i1, B_i2)``."""

    K: int
    G: int
    Y: Point
    A1: Point
    A2: Point
    B1: Point
    B2: Point

    @staticmethod
    def encoded_length(n_sender: int) -> int:
        return 2 * ciphertext_width(n_sender) + 5 * _PT

    def encode(self, n_sender: int) -> bytes:
        """``K_i || G_i || Y_i || A_i1 || A_i2 || B_i1 || B_i2``: what round 2 echoes."""
        cw = ciphertext_width(n_sender)
        return b"".join(
            (
                encode_unsigned(self.K, cw),
                encode_unsigned(self.G, cw),
                *(p.encode() for p in (self.Y, self.A1, self.A2, self.B1, self.B2)),
            )
        )


@dataclass(frozen=True, slots=True)
class MsgRound1:
    """Round 1 (Fig. 8), party ``i`` to party ``j``: the broadcast part and the
    Π_enc-elg proofs ``psi0`` (for ``K_i``) and ``psi1`` (for ``G_i``) against ``j``'s
    ring-Pedersen parameters."""

    broadcast: Round1Broadcast
    psi0: encelg.EncElgProof
    psi1: encelg.EncElgProof

    @staticmethod
    def encoded_length(n_sender: int, n_receiver: int, level: SecurityLevel) -> int:
        proof = encelg.EncElgProof.encoded_length(n_sender, n_receiver, level=level)
        return Round1Broadcast.encoded_length(n_sender) + 2 * proof

    def encode(self, n_sender: int, n_receiver: int, level: SecurityLevel) -> bytes:
        return (
            self.broadcast.encode(n_sender)
            + self.psi0.to_bytes(n_sender, n_receiver, level=level)
            + self.psi1.to_bytes(n_sender, n_receiver, level=level)
        )

    @classmethod
    def decode(
        cls, data: bytes, *, sender: int, n_sender: int, n_receiver: int, level: SecurityLevel
    ) -> MsgRound1:
        cw = ciphertext_width(n_sender)
        proof_len = encelg.EncElgProof.encoded_length(n_sender, n_receiver, level=level)
        with decode_errors(sender, 1, "presign-round1-decode"):
            _exact(data, cls.encoded_length(n_sender, n_receiver, level))
            r = Reader(data, len(data), "round-1 payload")
            k_bytes, g_bytes = r.take(cw), r.take(cw)
            y, a1, a2, b1, b2 = (_G.decode_point(r.take(_PT)) for _ in range(5))
            big_k = _ciphertext(k_bytes, n_sender, "K")
            big_g = _ciphertext(g_bytes, n_sender, "G")
        with proof_errors(sender, "Π_enc-elg", encelg.PROOF_NAME):
            psi0 = encelg.EncElgProof.from_bytes(
                r.take(proof_len), n_sender, n_receiver, level=level
            )
            psi1 = encelg.EncElgProof.from_bytes(
                r.take(proof_len), n_sender, n_receiver, level=level
            )
        return cls(Round1Broadcast(big_k, big_g, y, a1, a2, b1, b2), psi0, psi1)


@dataclass(frozen=True, slots=True)
class MsgRound2:
    """Round 2 (Fig. 8), party ``i`` to party ``j`` (secret): the echo of round 1,
    ``Gamma_i = gamma_i G`` with its Π_elog, the MtA ciphertexts ``D_j,i`` (under
    ``N_j``), ``F_j,i`` (under ``N_i``), ``D^_j,i``, ``F^_j,i`` and their Π_aff-g
    proofs ``psi`` (for ``gamma_i``) and ``psi^`` (for ``w_i``), against ``j``'s
    ring-Pedersen parameters."""

    echo: bytes
    Gamma: Point
    psi_elog: elog.ElogProof
    D: int
    F: int
    D_hat: int
    F_hat: int
    psi: affg.AffgProof
    psi_hat: affg.AffgProof

    @staticmethod
    def encoded_length(count: int, n_sender: int, n_receiver: int, level: SecurityLevel) -> int:
        aff = affg.AffgProof.encoded_length(n_receiver, n_sender, n_receiver, level=level)
        cws = ciphertext_width(n_sender)
        cwr = ciphertext_width(n_receiver)
        return count * HASH + _PT + _ELOG + 2 * (cwr + cws) + 2 * aff

    def broadcast_part(self) -> bytes:
        """``Gamma_i || psi_elog``: what round 3 echoes."""
        return self.Gamma.encode() + self.psi_elog.to_bytes()

    def encode(self, n_sender: int, n_receiver: int, level: SecurityLevel) -> bytes:
        cws, cwr = ciphertext_width(n_sender), ciphertext_width(n_receiver)
        return b"".join(
            (
                self.echo,
                self.broadcast_part(),
                encode_unsigned(self.D, cwr),
                encode_unsigned(self.F, cws),
                encode_unsigned(self.D_hat, cwr),
                encode_unsigned(self.F_hat, cws),
                self.psi.to_bytes(n_receiver, n_sender, n_receiver, level=level),
                self.psi_hat.to_bytes(n_receiver, n_sender, n_receiver, level=level),
            )
        )

    @classmethod
    def decode(
        cls,
        data: bytes,
        *,
        sender: int,
        count: int,
        n_sender: int,
        n_receiver: int,
        level: SecurityLevel,
    ) -> MsgRound2:
        cws, cwr = ciphertext_width(n_sender), ciphertext_width(n_receiver)
        aff_len = affg.AffgProof.encoded_length(n_receiver, n_sender, n_receiver, level=level)
        with decode_errors(sender, 2, "presign-round2-decode"):
            _exact(data, cls.encoded_length(count, n_sender, n_receiver, level))
            r = Reader(data, len(data), "round-2 payload")
            echo = r.take(count * HASH)
            big_gamma = _G.decode_point(r.take(_PT))
            elog_bytes = r.take(_ELOG)
            raw = [r.take(w) for w in (cwr, cws, cwr, cws)]
            d = _ciphertext(raw[0], n_receiver, "D")
            d_hat = _ciphertext(raw[2], n_receiver, "D_hat")
            f = _ciphertext(raw[1], n_sender, "F")
            f_hat = _ciphertext(raw[3], n_sender, "F_hat")
        with proof_errors(sender, "Π_elog", elog.PROOF_NAME):
            psi_elog = elog.ElogProof.from_bytes(elog_bytes)
        with proof_errors(sender, "Π_aff-g", affg.PROOF_NAME):
            psi = affg.AffgProof.from_bytes(
                r.take(aff_len), n_receiver, n_sender, n_receiver, level=level
            )
            psi_hat = affg.AffgProof.from_bytes(
                r.take(aff_len), n_receiver, n_sender, n_receiver, level=level
            )
        return cls(echo, big_gamma, psi_elog, d, f, d_hat, f_hat, psi, psi_hat)


@dataclass(frozen=True, slots=True)
class MsgRound3:
    """Round 3 (Fig. 8, broadcast): the echo of round 2, ``delta_i``,
    ``Delta_i = k_i Gamma``, ``S_i = chi_i Gamma`` and the Π_elog for ``Delta_i``."""

    echo: bytes
    delta: int
    Delta: Point
    S: Point
    psi_elog: elog.ElogProof

    @staticmethod
    def encoded_length(count: int) -> int:
        return count * HASH + _SC + 2 * _PT + _ELOG

    def encode(self) -> bytes:
        return b"".join(
            (
                self.echo,
                self.delta.to_bytes(_SC, "big"),
                self.Delta.encode(),
                self.S.encode(),
                self.psi_elog.to_bytes(),
            )
        )

    @classmethod
    def decode(cls, data: bytes, *, sender: int, count: int) -> MsgRound3:
        with decode_errors(sender, 3, "presign-round3-decode"):
            _exact(data, cls.encoded_length(count))
            r = Reader(data, len(data), "round-3 payload")
            echo = r.take(count * HASH)
            delta = _scalar(r.take(_SC))
            big_delta = _G.decode_point(r.take(_PT))
            big_s = _G.decode_point(r.take(_PT))
        with proof_errors(sender, "Π_elog", elog.PROOF_NAME):
            psi_elog = elog.ElogProof.from_bytes(r.take(_ELOG))
        return cls(echo, delta, big_delta, big_s, psi_elog)


@dataclass(frozen=True, slots=True)
class MsgRound4:
    """Round 4 (identification; Fig. 9 for the ``delta`` check, Section 4.3.1 for
    ``chi``), party ``i``, broadcast: which output check failed (``mode``), the echo of
    round 3 and, per peer ``j``, the MtA ciphertexts ``i`` sent ``j`` (``D_out`` under
    ``N_j``, ``F_out`` under ``N_i``) and received from ``j`` (``D_in`` under ``N_i``)
    with a Π_aff-g* for the ones it sent; then the Π_dec for its ``delta_i``/``chi_i``."""

    mode: int
    echo: bytes
    D_out: dict[int, int]
    F_out: dict[int, int]
    D_in: dict[int, int]
    aff: dict[int, affgstar.AffgStarProof]
    dec_proof: dec.DecProof

    @staticmethod
    def encoded_length(
        signers: Sequence[int], sender: int, moduli: dict[int, int], level: SecurityLevel
    ) -> int:
        n_i = moduli[sender]
        total = 1 + len(signers) * HASH
        for j in signers:
            if j != sender:
                n_j = moduli[j]
                total += ciphertext_width(n_j) + 2 * ciphertext_width(n_i)
                total += affgstar.AffgStarProof.encoded_length(n_j, n_i, level=level)
        return total + dec.DecProof.encoded_length(n_i, len(signers), level=level)

    def encode(
        self, signers: Sequence[int], sender: int, moduli: dict[int, int], level: SecurityLevel
    ) -> bytes:
        n_i = moduli[sender]
        parts = [bytes([self.mode]), self.echo]
        for j in signers:
            if j == sender:
                continue
            n_j = moduli[j]
            parts += [
                encode_unsigned(self.D_out[j], ciphertext_width(n_j)),
                encode_unsigned(self.F_out[j], ciphertext_width(n_i)),
                encode_unsigned(self.D_in[j], ciphertext_width(n_i)),
                self.aff[j].to_bytes(n_j, n_i, level=level),
            ]
        parts.append(self.dec_proof.to_bytes(n_i, len(signers), level=level))
        return b"".join(parts)

    @classmethod
    def decode(
        cls,
        data: bytes,
        *,
        sender: int,
        signers: Sequence[int],
        moduli: dict[int, int],
        level: SecurityLevel,
    ) -> MsgRound4:
        n_i = moduli[sender]
        peers = [j for j in signers if j != sender]
        with decode_errors(sender, 4, "presign-round4-decode"):
            _exact(data, cls.encoded_length(signers, sender, moduli, level))
            r = Reader(data, len(data), "round-4 payload")
            mode = r.byte()
            echo = r.take(len(signers) * HASH)
            raw: dict[int, tuple[bytes, bytes, bytes, bytes]] = {}
            for j in peers:
                n_j = moduli[j]
                aff_len = affgstar.AffgStarProof.encoded_length(n_j, n_i, level=level)
                raw[j] = (
                    r.take(ciphertext_width(n_j)),
                    r.take(ciphertext_width(n_i)),
                    r.take(ciphertext_width(n_i)),
                    r.take(aff_len),
                )
            dec_bytes = r.take(r.remaining)
            d_out = {j: _ciphertext(raw[j][0], moduli[j], "D_out") for j in peers}
            f_out = {j: _ciphertext(raw[j][1], n_i, "F_out") for j in peers}
            d_in = {j: _ciphertext(raw[j][2], n_i, "D_in") for j in peers}
        with proof_errors(sender, "Π_aff-g*", affgstar.PROOF_NAME):
            aff = {
                j: affgstar.AffgStarProof.from_bytes(raw[j][3], moduli[j], n_i, level=level)
                for j in peers
            }
        with proof_errors(sender, "Π_dec", dec.PROOF_NAME):
            dec_proof = dec.DecProof.from_bytes(dec_bytes, n_i, len(signers), level=level)
        return cls(mode, echo, d_out, f_out, d_in, aff, dec_proof)
