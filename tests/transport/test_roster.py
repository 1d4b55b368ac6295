"""The cluster roster's canonical bytes, JSON form and signature checks
(transport/roster.py; docs/security.md item 30)."""

from __future__ import annotations

import hashlib
import json

import pytest
from nacl.signing import SigningKey, VerifyKey

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import InvalidRoster
from shardvault.transport.roster import Roster, RosterEntry, sign_roster
from shardvault.transport.rpc import decode_reply, encode_error


def _cluster(n: int = 3) -> tuple[Roster, dict[str, SigningKey]]:
    keys = {f"sgn-{c}": SigningKey.generate() for c in "cab"[:n]}
    entries = [
        RosterEntry(sid, bytes(k.verify_key), HpkeKeyPair.generate().public_key)
        for sid, k in keys.items()
    ]
    unsigned = Roster.of("cl-1", 2, entries)
    return unsigned.with_signatures(
        {sid: sign_roster(unsigned, k) for sid, k in keys.items()}
    ), keys


def test_canonical_bytes_layout() -> None:
    roster, keys = _cluster()
    expected = b"shardvault/roster/v1" + bytes([1]) + bytes([4]) + b"cl-1"
    expected += (2).to_bytes(2, "big") + (3).to_bytes(2, "big")
    for sid in sorted(keys):  # sorted by signer id, whatever order they were given in
        e = roster.entry(sid)
        assert e is not None
        expected += bytes([len(sid)]) + sid.encode() + e.identity_key + e.encryption_key
    assert roster.canonical_bytes() == expected
    assert roster.fingerprint == hashlib.sha256(expected).hexdigest()
    assert roster.signer_ids == ("sgn-a", "sgn-b", "sgn-c")
    for sid, k in keys.items():  # PyNaCl checks each signature on the same bytes
        VerifyKey(bytes(k.verify_key)).verify(expected, roster.signatures[sid])
    roster.verify()


def test_json_round_trip_is_strict() -> None:
    roster, _ = _cluster()
    data = roster.to_json()
    again = Roster.from_json(json.loads(json.dumps(data)))
    assert again == roster and again.fingerprint == roster.fingerprint

    def entry0(**changes: str) -> dict[str, object]:
        return {**data, "signers": [{**data["signers"][0], **changes}, *data["signers"][1:]]}

    bad_inputs = [
        {**data, "extra": 1},
        {k: v for k, v in data.items() if k != "threshold"},
        {**data, "version": 2},
        {**data, "version": True},
        {**data, "threshold": 4},
        {**data, "threshold": 0},
        {**data, "threshold": True},
        {**data, "signers": list(reversed(data["signers"]))},  # not sorted
        {**data, "signers": [*data["signers"], data["signers"][0]]},  # listed twice
        entry0(identityKey="00" * 31),
        entry0(encryptionKey="00" * 32),  # a small-order X25519 point
        entry0(identityKey="AB" * 32),  # not lowercase hex
        entry0(signerId="sgn-0é"),
        {**data, "clusterId": ""},
        {**data, "signatures": []},
    ]
    for bad in bad_inputs:
        with pytest.raises(InvalidRoster):
            Roster.from_json(bad)


def test_verify_names_the_signer() -> None:
    roster, keys = _cluster()
    missing = Roster.of(
        roster.cluster_id,
        roster.threshold,
        roster.signers,
        {s: v for s, v in roster.signatures.items() if s != "sgn-b"},
    )
    with pytest.raises(InvalidRoster) as err:
        missing.verify()
    assert err.value.signers == ("sgn-b",) and "lacks" in err.value.message
    # sgn-b's signature made with another key (sgn-c's) does not verify as sgn-b's.
    swapped = roster.with_signatures({"sgn-b": sign_roster(roster, keys["sgn-c"])})
    with pytest.raises(InvalidRoster) as err:
        swapped.verify()
    assert err.value.signers == ("sgn-b",)
    stranger = roster.with_signatures({"sgn-z": bytes(64)})
    with pytest.raises(InvalidRoster) as err:
        stranger.verify()
    assert err.value.signers == ("sgn-z",)
    # The same entries with another threshold are another roster: no signature holds.
    other = Roster.of(roster.cluster_id, 3, roster.signers, roster.signatures)
    assert not other.same_as(roster)
    with pytest.raises(InvalidRoster):
        other.verify()


def test_shared_keys_are_refused() -> None:
    roster, _ = _cluster()
    a, b, c = roster.signers
    with pytest.raises(InvalidRoster):
        Roster.of("cl-1", 2, [a, RosterEntry(b.signer_id, a.identity_key, b.encryption_key), c])
    with pytest.raises(InvalidRoster):
        Roster.of("cl-1", 2, [a, RosterEntry(b.signer_id, b.identity_key, a.encryption_key), c])


def test_roster_errors_cross_the_rpc_with_the_signers_named() -> None:
    err = InvalidRoster("no", signers=("sgn-a",), code="RosterMismatch")
    with pytest.raises(InvalidRoster) as raised:
        decode_reply(encode_error(err))
    assert raised.value.signers == ("sgn-a",) and raised.value.code == "RosterMismatch"
