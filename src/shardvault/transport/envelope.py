"""Signed (and, for secrets, encrypted) protocol messages on the wire.

An envelope carries one ``ProtocolMessage``::

    u16 header length || header || Ed25519 signature (64) || payload

``header`` is ``ProtocolMessage.header()`` (session id, protocol, round, sender,
recipient, secret flag). The sender's identity key signs
``"shardvault/envelope/v1" || header || SHA-256(payload as sent)``. A secret
payload is HPKE-sealed to the recipient's encryption key with the header as AAD,
so it cannot be replayed into another session, round or recipient. Whoever relays
envelopes (the coordinator, NATS) can drop them but not forge, alter or read them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from shardvault.crypto import hpke
from shardvault.errors import DecryptionError, InvalidEncoding, ProtocolError
from shardvault.protocols.messages import ProtocolMessage
from shardvault.transport.identity import PartyKeys

__all__ = [
    "P2P_INFO",
    "Envelope",
    "open_envelope",
    "parse_header",
    "seal_envelope",
    "verify_envelope_signature",
]

P2P_INFO = b"shardvault/p2p/v1"
_MAGIC = b"shardvault-msg-v1"
_BROADCAST = 0xFFFF


@dataclass(frozen=True, slots=True)
class Envelope:
    header: bytes
    signature: bytes
    payload: bytes

    def to_bytes(self) -> bytes:
        return len(self.header).to_bytes(2, "big") + self.header + self.signature + self.payload

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        if len(data) < 2:
            raise InvalidEncoding("envelope too short")
        n = int.from_bytes(data[:2], "big")
        if len(data) < 2 + n + 64:
            raise InvalidEncoding("envelope too short")
        return cls(data[2 : 2 + n], data[2 + n : 2 + n + 64], data[2 + n + 64 :])

    @property
    def fields(self) -> ProtocolMessage:
        """The routing fields (payload left as sent; use open_envelope to check and decrypt)."""
        return parse_header(self.header, self.payload)


def parse_header(header: bytes, payload: bytes = b"") -> ProtocolMessage:
    """Inverse of ProtocolMessage.header(); strict."""
    try:
        if not header.startswith(_MAGIC):
            raise ValueError("bad magic")
        pos = len(_MAGIC)
        sid_len = header[pos]
        session_id = header[pos + 1 : pos + 1 + sid_len]
        pos += 1 + sid_len
        proto_len = header[pos]
        protocol = header[pos + 1 : pos + 1 + proto_len].decode("ascii")
        pos += 1 + proto_len
        round_ = header[pos]
        sender = int.from_bytes(header[pos + 1 : pos + 3], "big")
        recipient = int.from_bytes(header[pos + 3 : pos + 5], "big")
        secret = header[pos + 5]
        if len(session_id) != sid_len or pos + 6 != len(header) or secret not in (0, 1):
            raise ValueError("bad length")
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidEncoding("malformed envelope header") from exc
    msg = ProtocolMessage(
        session_id,
        protocol,
        round_,
        sender,
        None if recipient == _BROADCAST else recipient,
        payload,
        bool(secret),
    )
    if msg.header() != header:
        raise InvalidEncoding("non-canonical envelope header")
    return msg


def _statement(header: bytes, payload: bytes) -> bytes:
    return b"shardvault/envelope/v1" + header + hashlib.sha256(payload).digest()


def seal_envelope(
    msg: ProtocolMessage, identity: SigningKey, parties: Mapping[int, PartyKeys]
) -> Envelope:
    header = msg.header()
    payload = msg.payload
    if msg.secret:
        if msg.recipient is None:
            raise ProtocolError("a secret message needs a single recipient", check="envelope")
        payload = hpke.seal(
            parties[msg.recipient].encryption_key, payload, info=P2P_INFO, aad=header
        )
    signature = identity.sign(_statement(header, payload)).signature
    return Envelope(header, signature, payload)


def verify_envelope_signature(envelope: Envelope, identity_key: bytes) -> bool:
    try:
        VerifyKey(identity_key).verify(
            _statement(envelope.header, envelope.payload), envelope.signature
        )
    except (BadSignatureError, ValueError):
        return False
    return True


def open_envelope(
    envelope: Envelope,
    *,
    me: int,
    session_id: bytes,
    parties: Mapping[int, PartyKeys],
    key_pair: hpke.HpkeKeyPair | None,
    relayer: int,
) -> ProtocolMessage:
    """Check the envelope and decrypt a secret payload.

    Until the sender's signature is verified nothing is known about the sender, so a
    malformed, unsigned or misdirected envelope is blamed on ``relayer`` (the party
    that handed it over: the coordinator for a signer). Once verified, a payload that
    does not decrypt is the signed sender's fault.
    """
    try:
        msg = parse_header(envelope.header, envelope.payload)
    except InvalidEncoding as exc:
        raise ProtocolError("malformed envelope", blame=(relayer,), check="envelope") from exc
    keys = parties.get(msg.sender)
    if keys is None or not verify_envelope_signature(envelope, keys.identity_key):
        raise ProtocolError(
            f"envelope claiming to be from party {msg.sender} is not signed by it",
            blame=(relayer,),
            check="envelope-signature",
        )
    if msg.session_id != session_id:
        raise ProtocolError("envelope for another session", blame=(relayer,), check="session-id")
    if msg.recipient is not None and msg.recipient != me:
        raise ProtocolError("envelope for another party", blame=(relayer,), check="recipient")
    if msg.secret:
        if key_pair is None:
            raise ProtocolError(
                "secret envelope for a party without a decryption key",
                blame=(relayer,),
                check="envelope",
            )
        try:
            plaintext = hpke.open_sealed(
                key_pair, envelope.payload, info=P2P_INFO, aad=envelope.header
            )
        except DecryptionError as exc:
            raise ProtocolError(
                f"secret payload from party {msg.sender} does not decrypt",
                blame=(msg.sender,),
                check="envelope-decrypt",
            ) from exc
        msg = ProtocolMessage(
            msg.session_id, msg.protocol, msg.round, msg.sender, msg.recipient, plaintext, True
        )
    return msg
