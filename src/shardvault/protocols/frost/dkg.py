"""FROST distributed key generation (Pedersen DKG with proofs of knowledge, as in
Komlo-Goldberg FROST section 5.1, "PedPoP"; RFC 9591 itself specifies only the trusted
dealer of its Appendix C), preceded by a commit-then-reveal round, as a sans-I/O state
machine with echo broadcast, a confirmation round and complaints with blame. Its
randomness comes from the ``rng`` it is given.

Rounds (participants 1..n, threshold t):

1. broadcast: ``V_i``, a hash commitment (:func:`package_commitment`) to the party's
   round-1 package and a 32-byte random salt. The package is FROST's round-1
   broadcast: Feldman commitments C_i = (a_i0 G, ..., a_i(t-1) G) and a Schnorr
   proof of knowledge of a_i0, (R_i, mu_i), whose challenge binds the ciphersuite,
   session id, sender index, t, n, C_i0 and R_i.
2. broadcast, once every ``V_j`` is in: the echo vector of round 1 (one hash per
   party of the ``V_j`` it received) and the opening (package and salt). A receiver
   checks the echo vectors first (an equivocated commitment is named before anything
   depends on it), then every opening against its sender's ``V_j`` (a mismatch
   blames the sender, check ``dkg-commitment``), then every proof of knowledge. So
   no party can choose its polynomial after seeing another's: the group key is
   fixed, for every party that opens, by values committed to before any was seen
   (docs/frost.md, "Bias of the group key").
3. private (encrypted by the transport) to each j: the share f_i(j).
4. broadcast: a confirmation hash of the whole commitment set (all parties must
   agree before the key is used) and any complaints, each naming a sender whose
   share failed the Feldman check.
5. only after complaints (GJKR resolution): each accused party reveals the
   disputed shares publicly; everyone checks them against the accused's
   commitments. A bad or missing reveal aborts the run blaming the accused; if
   every reveal is good the complainers adopt the revealed shares and the key
   generation completes.

The commit and echo steps are those of CGGMP24's key generation
(:class:`shardvault.protocols.commit_reveal.CommitReveal`). The output
(``KeyPackage``, ``PublicKeyPackage``) is the same as without them and signs with
RFC 9591's functions unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shardvault.crypto.codec import ByteReader
from shardvault.crypto.groups import Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.rng import OS_RNG, Rng
from shardvault.crypto.shamir import (
    check_indices,
    check_threshold,
    derive_public_share,
    evaluate_polynomial,
    feldman_commit,
)
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.commit_reveal import CommitReveal
from shardvault.protocols.common import HASH, stage
from shardvault.protocols.frost.ciphersuites import Ciphersuite
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.messages import ProtocolMessage, SessionRegistry, StateMachine

__all__ = ["SALT_SIZE", "FrostDkg", "Opening", "package_commitment", "pok_challenge"]

_OK = 0
_COMPLAIN = 1
#: Size of the random salt hashed into a round-1 commitment (its hiding).
SALT_SIZE = 32


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


@dataclass(frozen=True, slots=True)
class Opening:
    """What a party opens in round 2: its round-1 package (Feldman commitments,
    proof of knowledge, as bytes) and the salt of its commitment."""

    package: bytes
    salt: bytes

    def encode(self) -> bytes:
        return self.package + self.salt


def package_commitment(
    suite: Ciphersuite, session_id: bytes, sender: int, t: int, n: int, opening: Opening
) -> bytes:
    """``V_i``: SHA-256 of an injective transcript of ciphersuite, session id, sender,
    t, n, the package and the salt."""
    tr = Transcript("shardvault/frost-dkg/commitment/v1")
    tr.append("ciphersuite", suite.name.encode())
    tr.append("session-id", session_id)
    tr.append_int("sender", sender)
    tr.append_int("t", t)
    tr.append_int("n", n)
    tr.append("package", opening.package)
    tr.append("salt", opening.salt)
    return hashlib.sha256(tr.encode()).digest()


class FrostDkg(StateMachine[tuple[KeyPackage, PublicKeyPackage]]):
    """One participant of a FROST DKG. Result: its KeyPackage and the PublicKeyPackage.

    The ``threshold`` coefficients of its polynomial, the nonce of its proof of
    knowledge and the salt of its commitment are drawn from ``rng`` when it starts
    (and the coefficients are dropped when it finishes).
    """

    last_round = 5
    broadcast_rounds = frozenset({1, 2, 4, 5})

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
        self._received_shares: dict[int, int] = {}
        self._accused: set[int] = set()
        self._complaints: dict[int, set[int]] = {}
        self._confirm: bytes = b""
        # The round-1 package: commitments and proof of knowledge of the constant term.
        k = g.random_scalar(rng)
        r = g.mul_base(k)
        c0 = self._commitments[me][0]
        c = pok_challenge(suite, session_id, me, threshold, participants, c0, r)
        mu = g.scalars.mul_add(self._coefficients[0], c, k)
        package = (
            b"".join(p.encode() for p in self._commitments[me]) + r.encode() + g.encode_scalar(mu)
        )
        salt = rng.token_bytes(SALT_SIZE)
        self._reveal = CommitReveal(
            protocol="dkg",
            echo_domain="shardvault/frost-dkg/echo/v1",
            session_id=session_id,
            me=me,
            order=sorted(self._all),
            opening=Opening(package, salt),
            commit=lambda j, o: package_commitment(
                suite, session_id, j, threshold, participants, o
            ),
        )
        # Round 1: only the commitment V_i; the package is opened in round 2.
        self.send(1, None, self._reveal.own_commitment().encode())
        self._advance()  # a 1-of-1 generation has nobody to wait for

    def __repr__(self) -> str:
        return (
            f"FrostDkg({self.suite.name}, me={self.me}, t={self.t}, n={self.n}, round={self.round})"
        )

    def expected_senders(self, round_: int) -> set[int]:
        if round_ == 5:
            return self._accused - {self.me}
        return self._all - {self.me}

    def process_round(self, round_: int, messages: dict[int, ProtocolMessage]) -> None:
        if round_ == 1:
            self._round1(messages)
        elif round_ == 2:
            self._round2(messages)
        elif round_ == 3:
            self._round3(messages)
        elif round_ == 4:
            self._round4(messages)
        else:
            self._round5(messages)

    @property
    def _package_size(self) -> int:
        g = self.suite.group
        return self.t * g.element_size + g.element_size + g.scalar_size

    # -- round handlers ------------------------------------------------------
    def _round1(self, messages: dict[int, ProtocolMessage]) -> None:
        """Every V_j is in: broadcast our echo vector of round 1 and our opening."""
        self._reveal.commitments_received(messages)
        own = self._reveal.openings[self.me]
        self.send(2, None, self._reveal.echo_vector() + own.encode())

    def _round2(self, messages: dict[int, ProtocolMessage]) -> None:
        """Check the echo vectors, each opening against its V_j, then each package
        (its encoding and its proof of knowledge); then deal the shares."""
        g = self.suite.group
        e, s = g.element_size, g.scalar_size
        echo_size = self.n * HASH
        echoes: dict[int, bytes] = {}
        openings: dict[int, Opening] = {}

        def split(sender: int) -> None:
            data = messages[sender].payload
            if len(data) != echo_size + self._package_size + SALT_SIZE:
                raise ProtocolError(
                    "round-2 payload has the wrong size", blame=(sender,), check="dkg-round2-size"
                )
            echoes[sender] = data[:echo_size]
            openings[sender] = Opening(
                data[echo_size : echo_size + self._package_size],
                data[echo_size + self._package_size :],
            )

        stage(messages, split)
        self._reveal.check_openings(
            echoes,
            openings,
            "participant {sender} opened a package that does not match its round-1 commitment",
        )

        def check_package(sender: int) -> None:
            fields = ByteReader(openings[sender].package)
            try:
                commitments = [g.decode_point(fields.take(e)) for _ in range(self.t)]
                r = g.decode_point(fields.take(e))
                mu = g.decode_scalar(fields.take(s))
            except InvalidEncoding as exc:
                raise ProtocolError(
                    f"round-1 package of {sender} is malformed: {exc}",
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

        stage(openings, check_package)
        self._reveal.accept(openings)
        for j in sorted(self._all - {self.me}):
            share = evaluate_polynomial(self._coefficients, j, g.order)
            self.send(3, j, g.encode_scalar(share), secret=True)
        self._received_shares[self.me] = evaluate_polynomial(self._coefficients, self.me, g.order)

    def _round3(self, messages: dict[int, ProtocolMessage]) -> None:
        g = self.suite.group
        for sender, msg in sorted(messages.items()):
            if len(msg.payload) != g.scalar_size:
                raise ProtocolError(
                    "round-3 payload has the wrong size", blame=(sender,), check="dkg-round3-size"
                )
            try:
                value = g.decode_scalar(msg.payload)
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
        self.send(4, None, payload)

    def _confirmation_hash(self) -> bytes:
        h = hashlib.sha256(b"shardvault/frost-dkg/confirm" + self.session_id)
        for i in sorted(self._commitments):
            for c in self._commitments[i]:
                h.update(c.encode())
        return h.digest()

    def _round4(self, messages: dict[int, ProtocolMessage]) -> None:
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
                    "malformed round-4 message", blame=(sender,), check="dkg-round4-decode"
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
            self.send(5, None, bytes([len(parts)]) + b"".join(parts))

    def _round5(self, messages: dict[int, ProtocolMessage]) -> None:
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
        share = g.scalars.sum(list(self._received_shares.values()))
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
