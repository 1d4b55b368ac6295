"""A signer pins the cluster roster once and takes its peers' keys from it only
(docs/security.md item 30): what it signs, what it pins, what it refuses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from nacl.signing import SigningKey

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import Forbidden, InvalidRoster, ShardvaultError
from shardvault.signer.node import SignerNode
from shardvault.transport.roster import Roster, RosterEntry, sign_roster
from shardvault.transport.rpc import decode_reply, encode_request

COORDINATOR = SigningKey.generate()


class Cluster:
    """Three signer nodes on disk and the coordinator key that drives them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.kek = os.urandom(32)
        self.nodes = [self.open(n) for n in range(3)]

    def open(self, n: int) -> SignerNode:
        return SignerNode.open(
            self.root / str(n), self.kek, bytes(COORDINATOR.verify_key), f"sgn-{n}"
        )

    def call(self, node: SignerNode, op: str, **args: Any) -> dict[str, Any]:
        return decode_reply(node.handle(encode_request(op, node.signer_id, args, COORDINATOR)))

    def unsigned(self, **replace: RosterEntry) -> Roster:
        entries = {
            n.signer_id: RosterEntry(
                n.signer_id, n.descriptor.identity_key, n.descriptor.encryption_key
            )
            for n in self.nodes
        }
        entries.update(replace)
        return Roster.of("cl-test", 2, entries.values())

    def signed(self, roster: Roster) -> Roster:
        sigs = {
            n.signer_id: bytes.fromhex(
                self.call(n, "roster.sign", roster=roster.to_json())["signature"]
            )
            for n in self.nodes
        }
        return roster.with_signatures(sigs)

    def close(self) -> None:
        for n in self.nodes:
            n.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    c = Cluster(tmp_path)
    yield c
    c.close()


def _fake_entry(signer_id: str) -> tuple[RosterEntry, SigningKey]:
    key = SigningKey.generate()
    return RosterEntry(signer_id, bytes(key.verify_key), HpkeKeyPair.generate().public_key), key


def _dkg_args(parties: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sessionId": os.urandom(32).hex(),
        "keyId": "key-" + os.urandom(4).hex(),
        "protocol": "FROST",
        "curve": "ed25519",
        "minSigners": 2,
        "parties": parties,
    }


def test_pinned_roster_is_sealed_and_survives_a_restart(cluster: Cluster) -> None:
    roster = cluster.signed(cluster.unsigned())
    roster.verify()
    node = cluster.nodes[0]
    assert cluster.call(node, "info")["rosterFingerprint"] is None
    assert cluster.call(node, "roster.pin", roster=roster.to_json())["fingerprint"] == (
        roster.fingerprint
    )
    raw = (cluster.root / "0" / "store.sqlite3").read_bytes()
    assert roster.cluster_id.encode() not in raw  # sealed at rest like every meta value
    node.close()
    cluster.nodes[0] = node = cluster.open(0)
    assert node.roster is not None and node.roster.same_as(roster)
    assert cluster.call(node, "info")["rosterFingerprint"] == roster.fingerprint
    # The same roster again (every later start hands it over) is accepted.
    cluster.call(node, "roster.pin", roster=roster.to_json())


def test_a_different_roster_is_never_taken(cluster: Cluster) -> None:
    """Replacement refused: once pinned, a roster naming another key for a peer (even
    one that every listed key signed) is refused, and so is signing it."""
    node, peer = cluster.nodes[0], cluster.nodes[1]
    cluster.call(node, "roster.pin", roster=cluster.signed(cluster.unsigned()).to_json())
    fake, fake_key = _fake_entry(peer.signer_id)
    other = cluster.unsigned(**{peer.signer_id: fake})
    with pytest.raises(InvalidRoster) as err:
        cluster.call(node, "roster.sign", roster=other.to_json())
    assert err.value.code == "RosterMismatch"
    complete = other.with_signatures(
        {
            node.signer_id: sign_roster(other, node._ctx.identity),
            peer.signer_id: sign_roster(other, fake_key),
            cluster.nodes[2].signer_id: sign_roster(other, cluster.nodes[2]._ctx.identity),
        }
    )
    complete.verify()
    with pytest.raises(InvalidRoster) as err:
        cluster.call(node, "roster.pin", roster=complete.to_json())
    assert err.value.code == "RosterMismatch" and node.signer_id in err.value.signers


def test_rosters_that_are_not_complete_and_signed_are_refused(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    roster = cluster.signed(cluster.unsigned())
    victim = cluster.nodes[2].signer_id
    # A signature missing.
    partial = Roster.of(
        roster.cluster_id,
        roster.threshold,
        roster.signers,
        {s: v for s, v in roster.signatures.items() if s != victim},
    )
    # A signature that does not verify.
    flipped = bytearray(roster.signatures[victim])
    flipped[5] ^= 1
    forged = roster.with_signatures({victim: bytes(flipped)})
    for bad in (partial, forged):
        with pytest.raises(InvalidRoster) as err:
            cluster.call(node, "roster.pin", roster=bad.to_json())
        assert victim in err.value.message and err.value.signers == (victim,)
    # Missing signer: a roster that does not list this signer at all.
    without = Roster.of("cl-test", 2, [e for e in roster.signers if e.signer_id != node.signer_id])
    with pytest.raises(InvalidRoster) as err:
        cluster.call(node, "roster.sign", roster=without.to_json())
    assert f"does not list signer {node.signer_id}" in err.value.message
    others = {n.signer_id: n for n in cluster.nodes[1:]}
    without = without.with_signatures(
        {s: sign_roster(without, n._ctx.identity) for s, n in others.items()}
    )
    without.verify()
    with pytest.raises(InvalidRoster) as err:
        cluster.call(node, "roster.pin", roster=without.to_json())
    assert f"does not list signer {node.signer_id}" in err.value.message
    assert node.roster is None


def test_own_entry_must_be_own_keys(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    fake, fake_key = _fake_entry(node.signer_id)
    wrong = cluster.unsigned(**{node.signer_id: fake})
    with pytest.raises(InvalidRoster) as err:
        cluster.call(node, "roster.sign", roster=wrong.to_json())
    assert "is not this signer's keys" in err.value.message
    complete = wrong.with_signatures(
        {
            node.signer_id: sign_roster(wrong, fake_key),
            **{n.signer_id: sign_roster(wrong, n._ctx.identity) for n in cluster.nodes[1:]},
        }
    )
    complete.verify()
    with pytest.raises(InvalidRoster):
        cluster.call(node, "roster.pin", roster=complete.to_json())
    assert node.roster is None


def test_sessions_take_keys_from_the_roster_only(cluster: Cluster) -> None:
    node, peer, third = cluster.nodes
    ids = [(1, node), (2, peer), (3, third)]
    by_id = [{"index": i, "signerId": n.signer_id} for i, n in ids]
    # Without a roster a signer runs no session.
    with pytest.raises(Forbidden) as err:
        cluster.call(node, "dkg.start", **_dkg_args(by_id))
    assert err.value.code == "RosterMissing"
    roster = cluster.signed(cluster.unsigned())
    for n in cluster.nodes:
        cluster.call(n, "roster.pin", roster=roster.to_json())
    # An unknown signer id is refused, named.
    stranger = [*by_id[:2], {"index": 3, "signerId": "sgn-stranger"}]
    with pytest.raises(Forbidden) as err:
        cluster.call(node, "dkg.start", **_dkg_args(stranger))
    assert "sgn-stranger" in err.value.message and err.value.code == "UnknownSigner"
    # Keys other than the roster's for a peer are refused, naming the peer.
    fake, _ = _fake_entry(peer.signer_id)
    named = [
        {**by_id[0]},
        {
            **by_id[1],
            "identityKey": fake.identity_key.hex(),
            "encryptionKey": fake.encryption_key.hex(),
        },
        {**by_id[2]},
    ]
    with pytest.raises(Forbidden) as err:
        cluster.call(node, "dkg.start", **_dkg_args(named))
    assert peer.signer_id in err.value.message and err.value.code == "RosterMismatch"
    # The roster's own keys, named or not, are accepted.
    entry = roster.entry(peer.signer_id)
    assert entry is not None
    named[1] |= {
        "identityKey": entry.identity_key.hex(),
        "encryptionKey": entry.encryption_key.hex(),
    }
    for parties in (by_id, named):
        assert cluster.call(node, "dkg.start", **_dkg_args(parties))["envelopes"]


def test_signer_errors_cross_the_wire_typed(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    with pytest.raises(ShardvaultError) as err:
        cluster.call(node, "roster.pin", roster={"version": 1})
    assert isinstance(err.value, InvalidRoster)
