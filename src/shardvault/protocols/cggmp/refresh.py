"""CGGMP24 proactive key-share refresh on secp256k1: new shares of the SAME key,
as a sans-I/O state machine with echo broadcast, round-3 dealings sealed to
per-session ephemeral keys, a confirmation round and identifiable abort
(docs/security.md items 2-4 and 10).

This is the share-refresh part of the paper's "Auxiliary Info. & Key Refresh in
Three Rounds" (ePrint 2021/060, 2024-10-21 revision, Fig. 7; cf. Lockness
``cggmp21`` ``key_refresh/non_threshold.rs``), carried over to Shamir (threshold)
shares the way :mod:`shardvault.protocols.cggmp.keygen` carries over key
generation. The Paillier / ring-Pedersen half of that figure is :mod:`.aux_info`:
a refresh that keeps the old Paillier keys leaves a thief of the old ``p, q`` able
to decrypt ``K_i`` in presigning and, with one party corrupted later, recover the
key (tests/protocols/cggmp/test_mobile_adversary.py); the orchestration renews both.

The rounds, checks and sealing are :mod:`shardvault.protocols.refresh_core`'s (the
same machine refreshes FROST keys); this module binds it to secp256k1, Π_sch
(Fig. 22; one ``psi_i^j`` per dealt share, its nonce commitment ``B_ij`` hash-committed
in round 1) and the domain ``shardvault/cggmp24/refresh/v2``. As in Fig. 7, where the
dealt shares are encrypted under the recipient's NEW Paillier key, round 3 is sealed
to a key that exists only for this session: each party samples an X25519 key pair in
round 1, commits to its public key ``E_i`` in ``V_i = H(sid, i, key, rid_i, E_i, C_i,
B_i, u_i)`` (``key`` digests ``(t, X, X_1..X_n)``), reveals it in round 2, and drops
the secret once round 3 is processed; a box that does not open blames its sender
(``refresh-dealing-decrypt``). The messages are :mod:`.refresh_messages`.

The caller may erase the old share only once every party has finished (each
party's success means all others confirmed the same new public shares, but a
party that equivocates in round 4 can still make some parties abort while others
finish; the orchestration layer collects every party's result first).

Check names: ``refresh-round1-decode``, ``refresh-round2-decode``,
``refresh-echo-broadcast``, ``refresh-commitment``, ``refresh-zero-share``,
``refresh-dealing-decrypt``, ``refresh-round3-decode``, ``refresh-feldman``, the
proof's own ``pi-sch: ...``, ``refresh-round4-decode``, ``refresh-complaint``,
``refresh-confirmation``, and (no blame; negligible probability) ``refresh-result``.
"""

from __future__ import annotations

import hashlib

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.zk import sch
from shardvault.errors import InvalidParameters
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.refresh_messages import DOMAIN
from shardvault.protocols.messages import SessionRegistry
from shardvault.protocols.refresh_core import RefreshSpec, ZeroShareRefresh

__all__ = [
    "PROTOCOL",
    "SPEC",
    "KeyRefresh",
    "PiSch",
    "key_digest",
]

PROTOCOL = "cggmp24/refresh"
_G = SECP256K1


class PiSch:
    """Π_sch (Fig. 22) as the refresh's proof of knowledge: nonce and ``A`` in round 1,
    ``z`` in round 3."""

    name = sch.PROOF_NAME

    def commit(self, rng: Rng) -> tuple[object, Point]:
        nonce = sch.commit(rng=rng)
        return nonce, nonce.commitment.A

    def respond(self, nonce: object, x: int, *, session_id: bytes, prover: int) -> int:
        if not isinstance(nonce, sch.SchNonce):
            raise InvalidParameters("not a Π_sch nonce")
        return sch.respond(nonce, x, session_id=session_id, prover_id=prover).z

    def verify(self, X: Point, A: Point, z: int, *, session_id: bytes, prover: int) -> None:
        sch.verify_response(
            X,
            sch.SchCommitment(A),
            sch.SchResponse(z),
            session_id=session_id,
            prover_id=prover,
        )


#: secp256k1, Π_sch, check names ``refresh-*``, domain ``shardvault/cggmp24/refresh/v2``.
SPEC = RefreshSpec(group=_G, pok=PiSch(), prefix="refresh", domain=DOMAIN)


def key_digest(share: KeyShare) -> bytes:
    """Digest of the public data of the key being refreshed: ``(t, X, X_1..X_n)``."""
    tr = Transcript(f"{DOMAIN}/key")
    tr.append("curve", _G.name.encode())
    tr.append_int("threshold", share.threshold)
    tr.append("X", share.public_key.encode())
    ids = sorted(share.public_shares)
    tr.extend("ids", (i.to_bytes(1, "big") for i in ids))
    tr.extend("X_j", (share.public_shares[i].encode() for i in ids))
    return hashlib.sha256(tr.encode()).digest()


class KeyRefresh(ZeroShareRefresh[KeyShare]):
    """Party ``key_share.index`` of a refresh of ``key_share``'s key among ALL its
    parties; its randomness comes from ``rng``. Result: a new :class:`KeyShare` (same
    index, threshold, public key and party set). ``repr`` hides every secret; secrets
    are dropped on abort, the round-3 ephemeral key once round 3 is processed."""

    protocol = PROTOCOL

    def __init__(
        self,
        session_id: bytes,
        key_share: KeyShare,
        registry: SessionRegistry,
        *,
        rng: Rng = OS_RNG,
    ) -> None:
        if not isinstance(key_share, KeyShare):
            raise InvalidParameters("key_share must be a KeyShare")
        if key_share.threshold < 2:
            raise InvalidParameters("a 1-of-n key cannot be refreshed: every share is the key")
        key_share.check_consistent()
        super().__init__(
            session_id,
            key_share.index,
            registry,
            spec=SPEC,
            threshold=key_share.threshold,
            public_key=key_share.public_key,
            public_shares=key_share.public_shares,
            secret=key_share.secret,
            key=key_digest(key_share),
            rng=rng,
        )

    def __repr__(self) -> str:
        return f"KeyRefresh(me={self.me}, t={self.t}, n={self.n}, round={self.round})"

    def _output(self, secret: int, public_shares: dict[int, Point]) -> KeyShare:
        try:
            return KeyShare(self.me, secret, self._public_key, public_shares, self.t)
        except InvalidParameters:  # pragma: no cover - x' G = X_me' is checked first
            raise self._fail("refresh produced an inconsistent share") from None
