"""FROST share refresh: new shares of the SAME group key for every participant, as a
sans-I/O state machine with commit-reveal, echo broadcast, round-3 dealings sealed
to per-session ephemeral keys, a confirmation round and identifiable abort.

What it computes is ZF frost's refresh (``frost-core/src/keys/refresh.rs``): each
participant adds to its signing share the shares of polynomials with a ZERO constant
term (``refresh_dkg_part_1`` / ``refresh_dkg_part2`` / ``refresh_dkg_shares``, the DKG
variant of ``compute_refreshing_shares`` + ``refresh_share``; the zero term's
commitment is the identity and is not sent), so every verifying share changes and
the group key stays. How it gets there is our CGGMP24 refresh's
(:mod:`shardvault.protocols.cggmp.refresh`, ePrint 2021/060 Fig. 7), because both
are :class:`shardvault.protocols.refresh_core.ZeroShareRefresh`:

1. broadcast ``V_i = H(sid, i, key, rid_i, E_i, C_i, B_i, u_i)``;
2. broadcast the echo of round 1 and the opening (with the ephemeral X25519 key
   ``E_i``);
3. to each ``j``, HPKE-sealed to ``E_j``: ``f_i(j)`` and a Schnorr response per dealt
   share (Feldman check and proof of knowledge at the receiver);
4. broadcast the confirmation hash of the new verifying shares, or a complaint.

Unlike ZF frost's round 1 (whose proof of knowledge is of the constant term, here
zero), the proofs are of every dealt share ``f_i(k)``, ``k = 1..n``, as in Fig. 7: a
Schnorr proof over the ciphersuite's group whose challenge is the ciphersuite's
``hdkg`` (the DKG proof-of-knowledge hash, RFC 9591 section 6 naming) of the transcript
``(suite, sid, rid, k, prover, X, A)``.

The group key is never touched, so BIP 340 keys need nothing special: the stored key
(odd or even y) and the new shares are normalised at signing
(:func:`shardvault.protocols.frost.keys.normalize_key_package`) exactly as before.

Result: ``(KeyPackage, PublicKeyPackage)`` with the same identifier, group key and
``min_signers``. Check names: those of :mod:`shardvault.protocols.refresh_core` with
the prefix ``frost-refresh`` (``frost-refresh-feldman``, ``frost-refresh-dealing-decrypt``,
...) and ``frost-refresh-pok: z G = A + e X`` for a proof that does not verify.
"""

from __future__ import annotations

import hashlib
import threading

from shardvault.crypto.groups import Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk.errors import InvalidProof
from shardvault.errors import InvalidParameters, NonceReused
from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.messages import SessionRegistry
from shardvault.protocols.refresh_core import RefreshSpec, ZeroShareRefresh

__all__ = ["POK_NAME", "PROTOCOL", "FrostRefresh", "SchnorrPok", "key_digest", "refresh_spec"]

PROTOCOL = "frost/refresh"
#: Check-name prefix of the proof of knowledge.
POK_NAME = "frost-refresh-pok"
_DOMAIN = "shardvault/frost/refresh/v1"


class _Nonce:
    """A Schnorr nonce ``alpha``: answers ONE challenge; ``repr`` hides it."""

    __slots__ = ("A", "_alpha", "_lock")

    def __init__(self, alpha: int, A: Point) -> None:
        self._alpha: int | None = alpha
        self.A = A
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            alpha, self._alpha = self._alpha, None
        if alpha is None:
            raise NonceReused("refresh proof nonce already used", check=f"{POK_NAME}: nonce reuse")
        return alpha

    def __repr__(self) -> str:
        return "_Nonce(secret hidden)"


class SchnorrPok:
    """Schnorr proof of knowledge of ``x`` with ``X = x G`` in the ciphersuite's group:
    ``A = alpha G``, ``e = hdkg(suite, sid, prover, X, A)``, ``z = alpha + e x``,
    verified as ``z G = A + e X``."""

    name = POK_NAME

    def __init__(self, suite: Ciphersuite) -> None:
        self._suite = suite

    def _challenge(self, X: Point, A: Point, session_id: bytes, prover: int) -> int:
        tr = Transcript(f"{_DOMAIN}/pok")
        tr.append("suite", self._suite.name.encode())
        tr.append("session-id", session_id)
        tr.append_int("prover", prover)
        tr.append("X", X.encode())
        tr.append("A", A.encode())
        return self._suite.hdkg(tr.encode())

    def commit(self, rng: Rng) -> tuple[object, Point]:
        g = self._suite.group
        alpha = g.random_scalar(rng)
        nonce = _Nonce(alpha, g.mul_base(alpha))
        return nonce, nonce.A

    def respond(self, nonce: object, x: int, *, session_id: bytes, prover: int) -> int:
        if not isinstance(nonce, _Nonce):
            raise InvalidParameters("not a refresh proof nonce")
        g = self._suite.group
        e = self._challenge(g.mul_base(x), nonce.A, session_id, prover)
        alpha = nonce.take()
        return g.scalars.mul_add(e, x, alpha)  # constant time (item 21)

    def verify(self, X: Point, A: Point, z: int, *, session_id: bytes, prover: int) -> None:
        g = self._suite.group
        e = self._challenge(X, A, session_id, prover)
        if g.mul_base(z) != A + X * e:
            raise InvalidProof(
                "Schnorr proof of knowledge rejected", check=f"{POK_NAME}: z G = A + e X"
            )


def refresh_spec(suite: Ciphersuite) -> RefreshSpec:
    """The ciphersuite's group, :class:`SchnorrPok`, check prefix ``frost-refresh`` and
    the domain ``shardvault/frost/refresh/v1/<suite name>``."""
    return RefreshSpec(
        group=suite.group,
        pok=SchnorrPok(suite),
        prefix="frost-refresh",
        domain=f"{_DOMAIN}/{suite.name}",
    )


def key_digest(public: PublicKeyPackage) -> bytes:
    """Digest of the key being refreshed: ``(suite, t, Y, Y_1..Y_n)``."""
    tr = Transcript(f"{_DOMAIN}/key")
    tr.append("suite", public.ciphersuite.name.encode())
    tr.append_int("threshold", public.min_signers)
    tr.append("Y", public.group_public_key.encode())
    ids = sorted(public.verifying_shares)
    tr.extend("ids", (i.to_bytes(1, "big") for i in ids))
    tr.extend("Y_j", (public.verifying_shares[i].encode() for i in ids))
    return hashlib.sha256(tr.encode()).digest()


class FrostRefresh(ZeroShareRefresh[tuple[KeyPackage, PublicKeyPackage]]):
    """Participant ``key.identifier`` of a refresh of the FROST key ``public`` among ALL
    its participants (every identifier of ``public.verifying_shares``); randomness from
    ``rng``. Result: the new ``(KeyPackage, PublicKeyPackage)``, same group key.
    ``repr`` hides every secret; secrets are dropped on abort, the ephemeral key once
    round 3 is processed. The caller erases the old share only after every
    participant finished."""

    protocol = PROTOCOL

    def __init__(
        self,
        session_id: bytes,
        key: KeyPackage,
        public: PublicKeyPackage,
        registry: SessionRegistry,
        rng: Rng = OS_RNG,
    ) -> None:
        if not isinstance(key, KeyPackage) or not isinstance(public, PublicKeyPackage):
            raise InvalidParameters("FrostRefresh needs a KeyPackage and a PublicKeyPackage")
        if key.ciphersuite is not public.ciphersuite:
            raise InvalidParameters("key package and public key package use other ciphersuites")
        if public.min_signers < 2:
            raise InvalidParameters("a 1-of-n key cannot be refreshed: every share is the key")
        if (
            key.min_signers != public.min_signers
            or key.group_public_key != public.group_public_key
            or public.verifying_shares.get(key.identifier) != key.verifying_share
        ):
            raise InvalidParameters("key package does not belong to the public key package")
        public.check_consistent()
        self.suite = key.ciphersuite
        self._old_package = public
        super().__init__(
            session_id,
            key.identifier,
            registry,
            spec=refresh_spec(key.ciphersuite),
            threshold=public.min_signers,
            public_key=public.group_public_key,
            public_shares=public.verifying_shares,
            secret=key.signing_share,
            key=key_digest(public),
            rng=rng,
        )

    def __repr__(self) -> str:
        return (
            f"FrostRefresh({self.suite.name}, me={self.me}, t={self.t}, n={self.n}, "
            f"round={self.round})"
        )

    def _output(
        self, secret: int, public_shares: dict[int, Point]
    ) -> tuple[KeyPackage, PublicKeyPackage]:
        try:
            public = PublicKeyPackage(self.suite, self._public_key, public_shares, self.t)
            key = KeyPackage(
                self.suite, self.me, secret, public_shares[self.me], self._public_key, self.t
            )
        except InvalidParameters:  # pragma: no cover - checked by the core first
            raise self._fail("refresh produced an inconsistent key package") from None
        return key, public
