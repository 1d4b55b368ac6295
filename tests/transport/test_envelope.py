"""Envelopes: signed by the sender, secret payloads sealed to the recipient, header bound
(docs/security.md item 1)."""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import InvalidEncoding, ProtocolError
from shardvault.protocols.messages import ProtocolMessage
from shardvault.transport.envelope import Envelope, open_envelope, parse_header, seal_envelope
from shardvault.transport.identity import PartyKeys

SID = os.urandom(32)


def _party() -> tuple[SigningKey, HpkeKeyPair]:
    return SigningKey.generate(), HpkeKeyPair.generate()


A, B, C = _party(), _party(), _party()
PARTIES = {
    i: PartyKeys(bytes(sk.verify_key), kp.public_key) for i, (sk, kp) in {1: A, 2: B, 3: C}.items()
}


def _msg(
    secret: bool = True, recipient: int | None = 2, payload: bytes = b"share"
) -> ProtocolMessage:
    return ProtocolMessage(SID, "frost-dkg/x", 2, 1, recipient, payload, secret)


def test_secret_round_trip_and_confidentiality() -> None:
    env = seal_envelope(_msg(), A[0], PARTIES)
    assert b"share" not in env.to_bytes()
    wire = Envelope.from_bytes(env.to_bytes())
    out = open_envelope(wire, me=2, session_id=SID, parties=PARTIES, key_pair=B[1], relayer=0)
    assert out.payload == b"share" and out.sender == 1 and out.secret


def test_broadcast_round_trip() -> None:
    env = seal_envelope(_msg(secret=False, recipient=None, payload=b"commit"), A[0], PARTIES)
    for me, kp in ((2, B[1]), (3, C[1])):
        out = open_envelope(env, me=me, session_id=SID, parties=PARTIES, key_pair=kp, relayer=0)
        assert out.payload == b"commit" and out.recipient is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: dataclasses.replace(e, payload=e.payload[:-1] + bytes([e.payload[-1] ^ 1])),
        lambda e: dataclasses.replace(e, signature=bytes(64)),
        lambda e: dataclasses.replace(
            e, header=e.header[:-2] + bytes([e.header[-2] ^ 1]) + e.header[-1:]
        ),
    ],
    ids=["payload", "signature", "recipient"],
)
def test_tampering_is_detected_and_blamed_on_the_relayer(mutate: object) -> None:
    """Until the signature verifies, the claimed sender may be innocent: the party that
    handed the envelope over (here the coordinator, 0) is blamed."""
    env = seal_envelope(_msg(), A[0], PARTIES)
    bad = mutate(env)  # type: ignore[operator]
    with pytest.raises(ProtocolError) as err:
        open_envelope(bad, me=2, session_id=SID, parties=PARTIES, key_pair=B[1], relayer=0)
    assert err.value.blame == (0,)


def test_signed_garbage_is_the_senders_fault() -> None:
    """A correctly signed secret that does not decrypt for its recipient names the sender."""
    env = seal_envelope(
        _msg(), A[0], {**PARTIES, 2: PartyKeys(PARTIES[2].identity_key, C[1].public_key)}
    )
    with pytest.raises(ProtocolError) as err:
        open_envelope(env, me=2, session_id=SID, parties=PARTIES, key_pair=B[1], relayer=0)
    assert err.value.blame == (1,)
    assert err.value.check == "envelope-decrypt"


def test_forged_sender_and_wrong_recipient_or_session() -> None:
    # C signs a message claiming to come from A.
    forged = seal_envelope(_msg(), C[0], PARTIES)
    with pytest.raises(ProtocolError) as err:
        open_envelope(forged, me=2, session_id=SID, parties=PARTIES, key_pair=B[1], relayer=0)
    assert err.value.check == "envelope-signature"
    env = seal_envelope(_msg(), A[0], PARTIES)
    with pytest.raises(ProtocolError):  # C cannot read or accept B's message
        open_envelope(env, me=3, session_id=SID, parties=PARTIES, key_pair=C[1], relayer=0)
    with pytest.raises(ProtocolError):
        open_envelope(
            env, me=2, session_id=os.urandom(32), parties=PARTIES, key_pair=B[1], relayer=0
        )
    with pytest.raises(ProtocolError):
        open_envelope(env, me=2, session_id=SID, parties={2: PARTIES[2]}, key_pair=B[1], relayer=0)


def test_secret_payload_cannot_be_moved_to_another_round() -> None:
    env = seal_envelope(_msg(), A[0], PARTIES)
    other = seal_envelope(dataclasses.replace(_msg(), round=3), A[0], PARTIES)
    spliced = Envelope(other.header, env.signature, env.payload)
    with pytest.raises(ProtocolError):
        open_envelope(spliced, me=2, session_id=SID, parties=PARTIES, key_pair=B[1], relayer=0)


@given(st.binary(max_size=120))
def test_parsers_raise_only_typed_errors(data: bytes) -> None:
    for parse in (lambda: Envelope.from_bytes(data), lambda: parse_header(data)):
        try:
            parse()
        except InvalidEncoding:
            pass


def test_header_round_trip() -> None:
    msg = _msg()
    assert parse_header(msg.header(), msg.payload) == msg


def test_signer_errors_cross_the_wire_typed() -> None:
    from shardvault.errors import InvalidScalar, NonceReused, SessionReused
    from shardvault.transport.rpc import decode_reply, encode_error

    for exc in (
        InvalidScalar("bad scalar"),
        SessionReused("again", blame=(2,), check="session-id"),
        NonceReused("used", check="nonce-single-use"),
    ):
        with pytest.raises(type(exc)) as err:
            decode_reply(encode_error(exc))
        assert err.value.code == exc.code and err.value.message == exc.message
    with pytest.raises(SessionReused) as err2:
        decode_reply(encode_error(SessionReused("again", blame=(2,), check="session-id")))
    assert err2.value.blame == (2,) and err2.value.check == "session-id"
