"""FROST distributed key generation (Pedersen DKG with proofs of knowledge, as in
Komlo-Goldberg FROST section 5.1; RFC 9591 itself specifies only the trusted dealer of
its Appendix C), as a sans-I/O state machine with echo broadcast, a confirmation round
and complaints with blame. Its randomness comes from the ``rng`` it is given.

Rounds (participants 1..n, threshold t):

1. broadcast: Feldman commitments C_i = (a_i0 G, ..., a_i(t-1) G) and a Schnorr
   proof of knowledge of a_i0, (R_i, mu_i), whose challenge binds the
   ciphersuite, session id, sender index, t, n, C_i0 and R_i.
2. private (encrypted by the transport) to each j: the share f_i(j), plus the
   echo hash of every round-1 broadcast this party received.
3. broadcast: a confirmation hash of the whole commitment set (all parties must
   agree before the key is used) and any complaints, each naming a sender whose
   share failed the Feldman check.
4. only after complaints (GJKR resolution): each accused party reveals the
   disputed shares publicly; everyone checks them against the accused's
   commitments. A bad or missing reveal aborts the run blaming the accused; if
   every reveal is good the complainers adopt the revealed shares and the key
   generation completes.
"""

from __future__ import annotations

import hashlib

from shardvault.crypto.codec import ByteReader
from shardvault.crypto.groups import Point
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import (
    check_indices,
    check_threshold,
    derive_public_share,
    evaluate_polynomial,
    feldman_commit,
)
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = ["FrostDkg", "pok_challenge"]

_OK = 0
_COMPLAIN = 1


def pok_challenge(
    suite: Ciphersuite, session_id: bytes, sender: int, t: int, n: int, c0: Point, r: Point
) -> int:
    """Challenge of the proof of knowledge of a_i0, bound to session and sender."""
    data = b"".join(
        (
            b"shardvault/frost-dkg/pok",
            len(session_id).to_bytes(1, "big"),
            session_id,
            sender.to_bytes(1, "big"),
            t.to_bytes(1, "big"),
            n.to_bytes(1, "big"),
            c0.encode(),
            r.encode(),
        )
    )
    return suite.hdkg(data)


class FrostDkg(StateMachine[tuple[KeyPackage, PublicKeyPackage]]):
    """One participant of a FROST DKG. Result: its KeyPackage and the PublicKeyPackage.

    The ``threshold`` coefficients of its polynomial and the nonce of its proof of
    knowledge are drawn from ``rng`` when it starts (and the coefficients are dropped
    when it finishes).
    """

    last_round = 4
    broadcast_rounds = frozenset({1, 3, 4})

    def __init__(
        self,
        suite: Ciphersuite,
        session_id: bytes,
        me: int,
        threshold: int,
        participants: int,
        registry: SessionRegistry,
        *,
        rng: Rng = OS_RNG,
    ) -> None:
        check_threshold(threshold, participants)
        check_indices([me], participants)
        super().__init__(session_id, me, registry)
        self.protocol = f"frost-dkg/{suite.name}"
        self.suite = suite
        self.t = threshold
        self.n = participants
        self._all = set(range(1, participants + 1))
        g = suite.group
        self._coefficients = [g.random_scalar(rng) for _ in range(threshold)]
        self._commitments: dict[int, list[Point]] = {me: feldman_commit(g, self._coefficients)}
        self._round1_payloads: dict[int, bytes] = {}
        self._received_shares: dict[int, int] = {}
        self._share: int | None = None
        self._accused: set[int] = set()
        self._complaints: dict[int, set[int]] = {}
        self._confirm: bytes = b""
        # Round 1: commitments and proof of knowledge of the constant term.
        k = g.random_scalar(rng)
        r = g.mul_base(k)
        c0 = self._commitments[me][0]
        c = pok_challenge(suite, session_id, me, threshold, participants, c0, r)
        mu = (k + self._coefficients[0] * c) % g.order
        payload = (
            b"".join(p.encode() for p in self._commitments[me]) + r.encode() + g.encode_scalar(mu)
        )
        self._round1_payloads[me] = payload
        self.send(1, None, payload)
        self._advance()  # a 1-of-1 generation has nobody to wait for

    def __repr__(self) -> str:
        return (
            f"FrostDkg({self.suite.name}, me={self.me}, t={self.t}, n={self.n}, round={self.round})"
        )

    def expected_senders(self, round_: int) -> set[int]:
        if round_ == 4:
            return self._accused - {self.me}
        return self._all - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        if round_ == 1:
            self._round1(messages)
        elif round_ == 2:
            self._round2(messages)
        elif round_ == 3:
            self._round3(messages)
        else:
            self._round4(messages)

    # -- round handlers ------------------------------------------------------
    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        g = self.suite.group
        e, s = g.element_size, g.scalar_size
        for sender, msg in sorted(messages.items()):
            data = msg.payload
            if len(data) != self.t * e + e + s:
                raise ProtocolError(
                    "round-1 payload has the wrong size", blame=(sender,), check="dkg-round1-size"
                )
            fields = ByteReader(data)
            try:
                commitments = [g.decode_point(fields.take(e)) for _ in range(self.t)]
                r = g.decode_point(fields.take(e))
                mu = g.decode_scalar(fields.rest())
            except InvalidEncoding as exc:
                raise ProtocolError(
                    f"round-1 payload of {sender} is malformed: {exc}",
                    blame=(sender,),
                    check="dkg-round1-decode",
                ) from exc
            c = pok_challenge(
                self.suite, self.session_id, sender, self.t, self.n, commitments[0], r
            )
            if g.mul_base(mu) != r + commitments[0] * c:
                raise ProtocolError(
                    f"proof of knowledge of participant {sender} does not verify",
                    blame=(sender,),
                    check="dkg-proof-of-knowledge",
                )
            self._commitments[sender] = commitments
            self._round1_payloads[sender] = data
        echo = self._echo_hash()
        for j in sorted(self._all - {self.me}):
            share = evaluate_polynomial(self._coefficients, j, g.order)
            self.send(2, j, g.encode_scalar(share) + echo, secret=True)
        self._received_shares[self.me] = evaluate_polynomial(self._coefficients, self.me, g.order)

    def _echo_hash(self) -> bytes:
        h = hashlib.sha256(b"shardvault/frost-dkg/echo" + self.session_id)
        for i in sorted(self._round1_payloads):
            h.update(i.to_bytes(1, "big") + self._round1_payloads[i])
        return h.digest()

    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        g = self.suite.group
        echo = self._echo_hash()
        for sender, msg in sorted(messages.items()):
            if len(msg.payload) != g.scalar_size + 32:
                raise ProtocolError(
                    "round-2 payload has the wrong size", blame=(sender,), check="dkg-round2-size"
                )
            if msg.payload[g.scalar_size :] != echo:
                raise ProtocolError(
                    f"participant {sender} saw different round-1 broadcasts (echo mismatch)",
                    blame=(sender,),
                    check="dkg-echo-broadcast",
                )
            try:
                value = g.decode_scalar(msg.payload[: g.scalar_size])
            except InvalidEncoding:
                self._accused.add(sender)
                continue
            self._received_shares[sender] = value
            expected = derive_public_share(g, self._commitments[sender], self.me)
            if g.mul_base(value) != expected:
                self._accused.add(sender)
        self._confirm = self._confirmation_hash()
        if self._accused:
            accused = bytes(sorted(self._accused))
            payload = bytes([_COMPLAIN]) + self._confirm + bytes([len(accused)]) + accused
        else:
            payload = bytes([_OK]) + self._confirm
        self.send(3, None, payload)

    def _confirmation_hash(self) -> bytes:
        h = hashlib.sha256(b"shardvault/frost-dkg/confirm" + self.session_id)
        for i in sorted(self._commitments):
            for c in self._commitments[i]:
                h.update(c.encode())
        return h.digest()

    def _round3(self, messages: dict[int, ProtocolMessage]) -> None:
        complaints: dict[int, set[int]] = {}
        if self._accused:
            complaints[self.me] = set(self._accused)
        mismatched = []
        for sender, msg in sorted(messages.items()):
            p = msg.payload
            if len(p) == 33 and p[0] == _OK:
                pass
            elif len(p) >= 35 and p[0] == _COMPLAIN and len(p) == 34 + p[33] and p[33] > 0:
                accused = set(p[34:])
                if len(accused) != p[33] or not accused <= (self._all - {sender}):
                    raise ProtocolError(
                        "complaint names an unknown party", blame=(sender,), check="dkg-complaint"
                    )
                complaints[sender] = accused
            else:
                raise ProtocolError(
                    "malformed round-3 message", blame=(sender,), check="dkg-round3-decode"
                )
            if p[1:33] != self._confirm:
                mismatched.append(sender)
        if mismatched:
            raise ProtocolError(
                f"participants {mismatched} confirmed a different commitment set",
                blame=tuple(mismatched),
                check="dkg-confirmation",
            )
        if not complaints:
            self._finish()
            return
        # GJKR complaint resolution: every accused party reveals the disputed shares.
        self._complaints = complaints
        self._accused = set().union(*complaints.values())
        if self.me in self._accused:
            g = self.suite.group
            parts = []
            for complainer in sorted(c for c, acc in complaints.items() if self.me in acc):
                share = evaluate_polynomial(self._coefficients, complainer, g.order)
                parts.append(complainer.to_bytes(1, "big") + g.encode_scalar(share))
            self.send(4, None, bytes([len(parts)]) + b"".join(parts))

    def _round4(self, messages: dict[int, ProtocolMessage]) -> None:
        """Check each revealed share against the accused's commitments: a bad or missing
        one disqualifies the accused (abort, blaming it); if all are good, complainers
        take the revealed shares and the key generation completes."""
        g = self.suite.group
        blamed: set[int] = set()
        adopted: dict[int, int] = {}
        for accused in sorted(self._accused - {self.me}):
            complainers = sorted(c for c, acc in self._complaints.items() if accused in acc)
            p = messages[accused].payload
            size = 1 + g.scalar_size
            if len(p) != 1 + len(complainers) * size or p[0] != len(complainers):
                blamed.add(accused)
                continue
            fields = ByteReader(p)
            revealed: dict[int, bytes] = {}
            for _ in range(fields.byte()):
                complainer = fields.byte()
                revealed[complainer] = fields.take(g.scalar_size)
            if sorted(revealed) != complainers:
                blamed.add(accused)
                continue
            for complainer in complainers:
                try:
                    value = g.decode_scalar(revealed[complainer])
                except InvalidEncoding:
                    blamed.add(accused)
                    break
                expected = derive_public_share(g, self._commitments[accused], complainer)
                if g.mul_base(value) != expected:
                    blamed.add(accused)
                    break
                if complainer == self.me:
                    adopted[accused] = value
        if blamed:
            raise ProtocolError(
                f"key generation aborted: participants {sorted(blamed)} dealt shares that do "
                "not match their commitments",
                blame=tuple(sorted(blamed)),
                check="dkg-complaint",
            )
        self._received_shares.update(adopted)
        self._finish()

    def _finish(self) -> None:
        g = self.suite.group
        share = sum(self._received_shares.values()) % g.order
        # Sum the commitment vectors coefficient-wise: the group polynomial's commitments.
        summed = [
            g.sum(self._commitments[i][k] for i in sorted(self._commitments)) for k in range(self.t)
        ]
        group_key = summed[0]
        if group_key.is_identity():
            raise ProtocolError("group public key is the identity", check="dkg-group-key")
        verifying = {j: derive_public_share(g, summed, j) for j in sorted(self._all)}
        self._coefficients = []
        kp = KeyPackage(self.suite, self.me, share, verifying[self.me], group_key, self.t)
        self.finish((kp, PublicKeyPackage(self.suite, group_key, verifying, self.t)))
