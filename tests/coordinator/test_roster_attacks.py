"""Pinned identities (issue 12 part 4, docs/security.md item 30): a hostile
coordinator cannot hand a signer a fake peer, and the coordinator's pins survive a
restart. Both attacks are played with real protocol messages against the embedded
vault's signer nodes."""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

import pytest
from nacl.signing import SigningKey
from vault_runner import VaultRunner

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import Forbidden, ProtocolError, SignerMisbehaved
from shardvault.protocols.frost.ciphersuites import suite_for
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.messages import InMemorySessionRegistry
from shardvault.transport.envelope import Envelope, open_envelope, seal_envelope
from shardvault.transport.identity import PartyKeys
from shardvault.transport.rpc import decode_reply, encode_request


def _fake_dkg(runner: VaultRunner, *, with_keys: bool) -> tuple[list[bytes], HpkeKeyPair, str]:
    """The hostile coordinator's attack: a FROST DKG among signers A (index 1) and C
    (index 3) in which peer B (index 2) is played by the attacker under a
    self-consistent key pair of its own. ``with_keys``: the parties entry names the
    attacker's keys for B (else it names B by id only). Returns A's secret round-2
    envelopes to index 2, the attacker's HPKE key pair and B's id. Raises the signer's
    typed error if A refuses the start request."""
    v = runner.vault
    a, b, c = sorted(v.signer_ids)
    coordinator = v.coordinator.sessions._identity
    fake_identity, fake_hpke = SigningKey.generate(), HpkeKeyPair.generate()
    real = {d.signer_id: d for d in runner.run(v.list_signers())}
    keys = {
        1: PartyKeys(real[a].identity_key, real[a].encryption_key),
        2: PartyKeys(bytes(fake_identity.verify_key), fake_hpke.public_key),
        3: PartyKeys(real[c].identity_key, real[c].encryption_key),
    }
    parties: list[dict[str, Any]] = []
    for index, sid in ((1, a), (2, b), (3, c)):
        entry: dict[str, Any] = {"index": index, "signerId": sid}
        if with_keys:
            entry |= {
                "identityKey": keys[index].identity_key.hex(),
                "encryptionKey": keys[index].encryption_key.hex(),
            }
        parties.append(entry)
    session_id = os.urandom(32)
    nodes = {1: v.nodes[a], 3: v.nodes[c]}
    args = {
        "sessionId": session_id.hex(),
        "keyId": "key-mitm",
        "protocol": "FROST",
        "curve": "ed25519",
        "minSigners": 2,
        "parties": parties,
    }
    attacker = FrostDkg(
        suite_for("FROST", "ed25519"), session_id, 2, 2, 3, InMemorySessionRegistry()
    )

    def call(index: int, op: str, **extra: Any) -> dict[str, Any]:
        node = nodes[index]
        return decode_reply(node.handle(encode_request(op, node.signer_id, extra, coordinator)))

    outbox = [
        Envelope.from_bytes(bytes.fromhex(e))
        for i in nodes
        for e in call(i, "dkg.start", **args)["envelopes"]
    ]
    outbox += [seal_envelope(m, fake_identity, keys) for m in attacker.messages()]
    to_b: list[bytes] = []
    while outbox:
        inbox: dict[int, list[Envelope]] = {}
        for env in outbox:
            f = env.fields
            targets = [f.recipient] if f.recipient is not None else [1, 2, 3]
            for t in targets:
                if t != f.sender:
                    inbox.setdefault(t, []).append(env)
        outbox = []
        for env in inbox.pop(2, []):
            if env.fields.secret and env.fields.sender == 1:
                to_b.append(env.payload)
            attacker.receive(
                open_envelope(
                    env, me=2, session_id=session_id, parties=keys, key_pair=fake_hpke, relayer=0
                )
            )
        outbox += [seal_envelope(m, fake_identity, keys) for m in attacker.messages()]
        for i, envs in inbox.items():
            reply = call(
                i,
                "deliver",
                sessionId=session_id.hex(),
                envelopes=[e.to_bytes().hex() for e in envs],
            )
            outbox += [Envelope.from_bytes(bytes.fromhex(e)) for e in reply["envelopes"]]
        if to_b:
            break
    assert attacker.failed is None
    return to_b, fake_hpke, b


def test_a_coordinator_cannot_substitute_a_peers_keys(runner: VaultRunner) -> None:
    """Attack 1: the coordinator names B with the attacker's keys in A's start
    request. Before the roster, A sealed its round-2 secret share for B to the
    attacker (who opened it, and whose DKG party accepted it against A's commitment).
    Now A refuses the request, naming B."""
    with pytest.raises(Forbidden) as err:
        _fake_dkg(runner, with_keys=True)
    b = sorted(runner.vault.signer_ids)[1]
    assert b in err.value.message
    assert "roster" in err.value.message


def test_a_signer_seals_only_to_its_pinned_peers(runner: VaultRunner) -> None:
    """Naming B by id only, A takes B's keys from its roster: it refuses the
    attacker's round-1 message as not signed by B, and sends B no secret."""
    with pytest.raises(ProtocolError) as err:
        _fake_dkg(runner, with_keys=False)
    assert err.value.check == "envelope-signature"


def _swap_signer_store(runner: VaultRunner, n: int) -> None:
    """Replace signer ``n``'s store by a fresh one (a new identity and encryption key
    under the same signer id): what an attacker who controls that signer's host, or
    the broker in front of it, presents after a restart."""
    directory = runner.data_dir / "signers" / str(n)
    for name in os.listdir(directory):
        if name != "signer-id":
            path = directory / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def test_coordinator_pins_survive_a_restart(runner: VaultRunner) -> None:
    """Attack 2: a signer's keys are swapped while the vault is down. Before the
    roster, the restarted coordinator pinned whatever it saw first and used the new
    keys; now it refuses to start with that signer, naming it."""
    roster_file = runner.data_dir / "roster.json"
    fixed = roster_file.read_bytes()
    cluster = json.loads((runner.data_dir / "cluster.json").read_text())
    swapped = cluster["signers"][1]
    runner.run(runner.vault.stop())
    _swap_signer_store(runner, 2)
    with pytest.raises(SignerMisbehaved) as err:
        runner.vault = runner.open()
    assert err.value.signers == (swapped,) and err.value.check == "roster"
    assert roster_file.read_bytes() == fixed


def test_a_restart_loads_the_roster_fixed_at_first_start(runner: VaultRunner) -> None:
    """Restart keeps pins: the roster is read back (not formed again) and every signer
    confirms it; a lost roster.json is formed again identical (same keys, same
    deterministic signatures), since each signer signs only the roster it pinned."""
    v = runner.vault
    roster = v.roster
    assert roster is not None
    roster.verify()
    assert {e.signer_id for e in roster.signers} == set(v.signer_ids)
    assert roster.threshold == 2
    fixed = (runner.data_dir / "roster.json").read_bytes()
    key = runner.run(v.generate_key("key-before", "FROST", "ed25519", 2))
    for lose_file in (False, True):
        if lose_file:
            (runner.data_dir / "roster.json").unlink()
        v = runner.restart()
        assert v.roster is not None and v.roster == roster
        assert (runner.data_dir / "roster.json").read_bytes() == fixed
        assert all(n.roster == roster for n in v.nodes.values())
        runner.run(v.sign(key, b"after restart"))


def test_a_signer_with_another_roster_is_refused(runner: VaultRunner) -> None:
    """The coordinator's roster replaced by another one (here: a 3-of-3 roster signed
    by the same signers would need them to sign it, which they refuse once pinned)."""
    from shardvault.errors import InvalidRoster
    from shardvault.transport.roster import Roster

    v = runner.vault
    assert v.roster is not None
    other = Roster.of(v.roster.cluster_id, 3, v.roster.signers)
    for node in v.nodes.values():
        with pytest.raises(InvalidRoster) as err:
            decode_reply(
                node.handle(
                    encode_request(
                        "roster.sign",
                        node.signer_id,
                        {"roster": other.to_json()},
                        v.coordinator.sessions._identity,
                    )
                )
            )
        assert err.value.code == "RosterMismatch"
