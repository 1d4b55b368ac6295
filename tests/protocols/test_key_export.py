"""Key export (shardvault.protocols.key_export, docs/import-export-format.md section 4):
round trips, blame naming every signer at fault, and every rejection with its code
(docs/security.md item 6)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import nacl.signing
import pytest
from key_transfer_helpers import SUITE_IDS, SUITES, Export, Import, flip, make_export, make_import

from shardvault.crypto import hpke
from shardvault.crypto.groups import ED25519, SECP256K1
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import (
    InvalidEncoding,
    InvalidParameters,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.key_export import (
    EXPORT_INFO,
    export_blob_size,
    export_signed_message,
    export_statement,
)
from shardvault.protocols.key_import import import_verifying_shares
from shardvault.protocols.key_transfer import FORMAT_VERSION


@pytest.fixture(scope="module")
def imp() -> Import:
    return make_import("secp256k1", "FROST_BITCOIN", 2, 3)


@pytest.fixture(scope="module")
def exp(imp: Import) -> Export:
    return make_export(imp)


E_SECP = 33


@pytest.mark.parametrize(("curve", "protocol"), SUITES, ids=SUITE_IDS)
@pytest.mark.parametrize(("t", "n"), [(2, 2), (2, 3), (3, 5)])
def test_export_round_trip_any_t(curve: str, protocol: str, t: int, n: int) -> None:
    e = make_export(make_import(curve, protocol, t, n))
    blobs = dict(e.all())
    for blob in blobs.values():
        assert len(blob) == export_blob_size(curve)
    for k in range(t, n + 1):
        for subset in itertools.combinations(e.imp.ids, k):
            assert e.open([(s, blobs[s]) for s in subset]) == e.imp.secret


def test_export_of_five_of_seven() -> None:
    e = make_export(make_import("ed25519", "FROST", 5, 7))
    returned = e.all()
    assert e.open(returned) == e.imp.secret
    assert e.open(returned[2:]) == e.imp.secret
    verifying = import_verifying_shares(
        curve="ed25519", commitments=e.shares[e.imp.ids[0]].commitments, signer_ids=e.imp.ids
    )
    assert e.open(returned, verifying_shares=verifying) == e.imp.secret


def expect_blame(fn: Callable[[], object], signers: tuple[str, ...], check: str) -> None:
    with pytest.raises(SignerMisbehaved) as info:
        fn()
    assert info.value.signers == signers, info.value.message
    assert info.value.check == check, info.value.message


def _replace(returned: list[tuple[str, bytes]], sid: str, blob: bytes) -> list[tuple[str, bytes]]:
    return [(s, blob if s == sid else b) for s, b in returned]


E_SIG = 6 + 33  # offset of the signature in a secp256k1 export blob


@pytest.mark.parametrize(
    ("offset", "check"),
    [
        (0, "malformed"),
        (4, "malformed"),
        (5, "index"),
        (6, "public-share"),  # 02 -> 06: not a compressed point
        (6 + 1, "point-dependent"),  # x changed: another valid point, or not on the curve
        (6 + 32, "point-dependent"),
        (E_SIG, "signature"),
        (E_SIG + 63, "signature"),
        (E_SIG + 64, "signature"),  # enc: covered by the signature
        (E_SIG + 64 + 32 + 5, "signature"),  # ciphertext: covered by the signature
    ],
)
def test_tampered_export_share_names_its_signer(exp: Export, offset: int, check: str) -> None:
    returned = exp.all()
    bad = exp.imp.ids[1]
    blob = dict(returned)[bad]
    tampered = flip(blob, offset, 2 if offset == 6 else 0)
    if check == "point-dependent":
        try:
            SECP256K1.decode_point(tampered[6:39])
            check = "signature"  # a valid point that the signature does not cover
        except InvalidEncoding:
            check = "public-share"
    expect_blame(lambda: exp.open(_replace(returned, bad, tampered)), (bad,), check)


@pytest.mark.parametrize("size", [0, 10, 183, 185])
def test_export_share_of_wrong_size(exp: Export, size: int) -> None:
    returned = exp.all()
    bad = exp.imp.ids[0]
    blob = (dict(returned)[bad] * 2)[:size]
    expect_blame(lambda: exp.open(_replace(returned, bad, blob)), (bad,), "malformed")


def test_export_wrong_identity_key(exp: Export) -> None:
    keys = {s: bytes(k.verify_key) for s, k in exp.identities.items()}
    bad = exp.imp.ids[2]
    keys[bad] = bytes(nacl.signing.SigningKey.generate().verify_key)
    expect_blame(lambda: exp.open(exp.all(), signer_identity_keys=keys), (bad,), "signature")


def test_export_signed_by_another_signers_key(exp: Export) -> None:
    a, b = exp.imp.ids[0], exp.imp.ids[1]
    returned = _replace(exp.all(), a, exp.seal(a, identity_key=exp.identities[b]))
    expect_blame(lambda: exp.open(returned), (a,), "signature")


def test_export_share_for_another_requester_or_key(exp: Export) -> None:
    a = exp.imp.ids[0]
    other = HpkeKeyPair.generate().public_key
    for blob in (
        exp.seal(a, requester_encryption_key=other),
        exp.seal(a, key_id="key-other"),
        exp.seal(a, protocol="CGGMP24"),
        exp.seal(a, min_signers=3),
        exp.seal(a, signer_id=exp.imp.ids[1]),
    ):
        expect_blame(lambda b=blob: exp.open(_replace(exp.all(), a, b)), (a,), "signature")


def test_export_share_with_wrong_index(exp: Export) -> None:
    a = exp.imp.ids[0]
    blob = exp.seal(a, index=2)
    expect_blame(lambda: exp.open(_replace(exp.all(), a, blob)), (a,), "index")


def _forge(
    exp: Export,
    sid: str,
    *,
    public_share: bytes,
    plaintext: bytes,
    sign: bool = True,
) -> bytes:
    """A share sealed and signed by ``sid``'s own identity key, with arbitrary content."""
    index = exp.imp.ids.index(sid) + 1
    statement = export_statement(
        key_id=exp.key_id,
        curve=exp.imp.curve,
        protocol=exp.imp.protocol,
        group_public_key=exp.imp.group_public_key,
        min_signers=exp.imp.t,
        signer_id=sid,
        index=index,
        public_share=public_share,
        requester_encryption_key=exp.requester.public_key,
    )
    sealed = hpke.seal(exp.requester.public_key, plaintext, info=EXPORT_INFO, aad=statement)
    signature = exp.identities[sid].sign(export_signed_message(statement, sealed)).signature
    return b"SVKE" + bytes([FORMAT_VERSION, index]) + public_share + signature + sealed


def test_export_scalar_not_matching_its_public_share(exp: Export) -> None:
    sid = exp.imp.ids[1]
    share = exp.shares[sid]
    g = exp.imp.group
    public = g.mul_base(share.value).encode()
    wrong = bytes([share.index]) + g.encode_scalar(share.value + 1)
    blob = _forge(exp, sid, public_share=public, plaintext=wrong)
    expect_blame(lambda: exp.open(_replace(exp.all(), sid, blob)), (sid,), "share")
    for bad_scalar in (bytes(32), g.order.to_bytes(32, "big")):
        blob = _forge(exp, sid, public_share=public, plaintext=bytes([share.index]) + bad_scalar)
        expect_blame(lambda b=blob: exp.open(_replace(exp.all(), sid, b)), (sid,), "share")
    blob = _forge(
        exp, sid, public_share=public, plaintext=bytes([3]) + g.encode_scalar(share.value)
    )
    expect_blame(lambda: exp.open(_replace(exp.all(), sid, blob)), (sid,), "index")
    # the honest content through the same forger opens
    blob = _forge(
        exp, sid, public_share=public, plaintext=bytes([2]) + g.encode_scalar(share.value)
    )
    assert exp.open(_replace(exp.all(), sid, blob)) == exp.imp.secret


def test_export_wrong_scalar_with_matching_public_share_is_named(exp: Export) -> None:
    """A signer that consistently lies (scalar and signed public share both off)."""
    bad = exp.imp.ids[2]
    wrong = exp.seal(bad, share_value=exp.shares[bad].value + 1)
    returned = _replace(exp.all(), bad, wrong)
    expect_blame(lambda: exp.open(returned), (bad,), "consistency")
    # with only t shares the liar cannot be told apart: everyone returned is named
    expect_blame(lambda: exp.open(returned[1:]), tuple(exp.imp.ids[1:]), "consistency")
    # the key record's verifying shares pin it down even then
    verifying = import_verifying_shares(
        curve=exp.imp.curve, commitments=exp.shares[bad].commitments, signer_ids=exp.imp.ids
    )
    expect_blame(lambda: exp.open(returned[1:], verifying_shares=verifying), (bad,), "public-share")


def test_export_consistency_blame_three_of_five() -> None:
    e = make_export(make_import("ed25519", "FROST", 3, 5))
    ids = e.imp.ids
    returned = e.all()
    liar = ids[3]
    returned = _replace(returned, liar, e.seal(liar, share_value=12345))
    expect_blame(lambda: e.open(returned), (liar,), "consistency")
    # two liars out of five with t = 3: beyond unique decoding, all are named
    second = ids[0]
    returned = _replace(returned, second, e.seal(second, share_value=999))
    expect_blame(lambda: e.open(returned), tuple(ids), "consistency")


def test_export_several_bad_signers_are_all_named(exp: Export) -> None:
    a, _, c = exp.imp.ids
    returned = exp.all()
    returned = _replace(returned, a, flip(dict(returned)[a], 50))
    returned = _replace(returned, c, dict(returned)[c][:-1])
    expect_blame(lambda: exp.open(returned), (a, c), "multiple")


def test_export_unknown_and_duplicate_signers(exp: Export) -> None:
    returned = exp.all()
    a = exp.imp.ids[0]
    expect_blame(lambda: exp.open([*returned, ("sgn-zz", b"x")]), ("sgn-zz",), "unknown-signer")
    expect_blame(lambda: exp.open([*returned, (a, dict(returned)[a])]), (a,), "duplicate-signer")


def test_export_fewer_than_t_shares(exp: Export) -> None:
    returned = exp.all()
    with pytest.raises(SignersUnavailable) as info:
        exp.open(returned[2:])
    assert info.value.code == "NotEnoughShares"
    assert info.value.signers == tuple(exp.imp.ids[:2])
    with pytest.raises(SignersUnavailable):
        exp.open([])


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"curve": "ed25519"}, "UnsupportedProtocol"),
        ({"key_id": ""}, "InvalidKeyId"),
        ({"key_id": "key 1"}, "InvalidKeyId"),
        ({"min_signers": 4}, "InvalidMinSigners"),
        ({"min_signers": 0}, "InvalidMinSigners"),
        ({"signer_ids": ["sgn-00", "sgn-00", "sgn-01"]}, "DuplicateSigner"),
        ({"group_public_key": b"\x02" + bytes(32)}, "InvalidPublicKey"),
        ({"group_public_key": b""}, "InvalidPublicKey"),
        ({"signer_identity_keys": {}}, "MissingIdentityKey"),
        ({"verifying_shares": {}}, "MissingVerifyingShare"),
    ],
)
def test_export_bad_context(exp: Export, overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        exp.open(exp.all(), **overrides)
    assert info.value.code == code


@pytest.mark.parametrize("bad_key", [b"", bytes(31), bytes(33)])
def test_export_malformed_identity_key(exp: Export, bad_key: bytes) -> None:
    keys = {s: bytes(k.verify_key) for s, k in exp.identities.items()}
    keys[exp.imp.ids[0]] = bad_key
    with pytest.raises(InvalidParameters) as info:
        exp.open(exp.all(), signer_identity_keys=keys)
    assert info.value.code == "InvalidIdentityKey"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"index": 0}, "InvalidIndex"),
        ({"index": 256}, "InvalidIndex"),
        ({"share_value": 0}, "InvalidShareScalar"),
        ({"share_value": SECP256K1.order}, "InvalidShareScalar"),
        ({"requester_encryption_key": bytes(32)}, "InvalidEncryptionKey"),
        ({"requester_encryption_key": b"short"}, "InvalidEncryptionKey"),
        ({"identity_key": b"\x00" * 32}, "InvalidIdentityKey"),
        ({"signer_id": "sgn bad"}, "InvalidSignerId"),
        ({"key_id": "k" * 256}, "InvalidKeyId"),
        ({"protocol": "FROST"}, "UnsupportedProtocol"),
        ({"group_public_key": ED25519.generator.encode()}, "InvalidPublicKey"),
        ({"min_signers": 0}, "InvalidMinSigners"),
    ],
)
def test_seal_export_rejects(exp: Export, overrides: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidParameters) as info:
        exp.seal(exp.imp.ids[0], **overrides)
    assert info.value.code == code
