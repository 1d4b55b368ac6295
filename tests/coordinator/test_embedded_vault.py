"""The embedded vault end to end below the REST layer: DKG, signing, import, export,
delete, availability and blame. Signatures are checked with PyNaCl and coincurve."""

from __future__ import annotations

import os
import time

import coincurve
import pytest
from nacl.signing import SigningKey, VerifyKey
from vault_runner import VaultRunner

from shardvault.crypto import bip340
from shardvault.crypto.groups import ED25519
from shardvault.crypto.keyformats import (
    ed25519_scalar_from_seed,
    scalar_to_private_key_bytes,
    secp256k1_scalar_from_bytes,
)
from shardvault.errors import (
    Forbidden,
    InvalidImport,
    NotFound,
    SessionReused,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols import key_import
from shardvault.protocols.key_import import ImportContext
from shardvault.transport.rpc import decode_reply, encode_request


def _xonly_verify(pub33: bytes, msg: bytes, sig: bytes, root: bytes | None) -> bool:
    xonly = pub33[1:]
    if root is not None:
        xonly = bip340.tweak_public_key(xonly, root)[0].data[1:]
    return bool(coincurve.PublicKeyXOnly(xonly).verify(sig, msg))


def _import(runner: VaultRunner, key_id: str, secret: int, curve: str, protocol: str, t: int = 2):  # type: ignore[no-untyped-def]
    signers = runner.run(runner.vault.list_signers())
    context = ImportContext.issue()
    _, blobs = key_import.seal_import_shares(
        secret,
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(d.signer_id, d.encryption_key) for d in signers],
    )
    return runner.run(runner.vault.import_key(key_id, protocol, curve, t, dict(blobs), context))


def test_dkg_sign_and_availability(runner: VaultRunner) -> None:
    v = runner.vault
    ed = runner.run(v.generate_key("key-ed", "FROST", "ed25519", 2))
    tr = runner.run(v.generate_key("key-tr", "FROST_BITCOIN", "secp256k1", 2))
    assert len(ed.public_key) == 32 and len(tr.public_key) == 33
    assert ed.signer_ids == tuple(sorted(v.signer_ids))
    VerifyKey(ed.public_key).verify(b"m", runner.run(v.sign(ed, b"m")))
    for root in (None, b"", os.urandom(32)):
        h = os.urandom(32)
        assert _xonly_verify(
            tr.public_key, h, runner.run(v.sign(tr, h, taproot_merkle_root=root)), root
        )
    # One of three down: still signs. Two down: a clear error naming them.
    v.stop_signer(v.signer_ids[0])
    VerifyKey(ed.public_key).verify(b"one down", runner.run(v.sign(ed, b"one down")))
    v.stop_signer(v.signer_ids[2])
    with pytest.raises(SignersUnavailable) as err:
        runner.run(v.sign(ed, b"two down"))
    assert set(err.value.signers) == {v.signer_ids[0], v.signer_ids[2]}
    with pytest.raises(SignersUnavailable):  # DKG needs every signer
        runner.run(v.generate_key("key-x", "FROST", "ed25519", 2))
    # Restart: every key still signs.
    v = runner.restart()
    VerifyKey(ed.public_key).verify(b"after", runner.run(v.sign(ed, b"after")))
    assert _xonly_verify(tr.public_key, bytes(32), runner.run(v.sign(tr, bytes(32))), None)


def test_import_sign_export_delete(runner: VaultRunner) -> None:
    v = runner.vault
    seed = os.urandom(32)
    ed = _import(runner, "key-imp-ed", ed25519_scalar_from_seed(seed), "ed25519", "FROST")
    nacl_key = SigningKey(seed)
    assert ed.public_key == bytes(nacl_key.verify_key)
    nacl_key.verify_key.verify(b"imported", runner.run(v.sign(ed, b"imported")))

    sk = os.urandom(31).rjust(32, b"\x01")
    tr = _import(
        runner, "key-imp-tr", secp256k1_scalar_from_bytes(sk), "secp256k1", "FROST_BITCOIN"
    )
    assert tr.public_key == coincurve.PrivateKey(sk).public_key.format()
    for root in (None, b"", os.urandom(32)):
        h = os.urandom(32)
        assert _xonly_verify(
            tr.public_key, h, runner.run(v.sign(tr, h, taproot_merkle_root=root)), root
        )

    k = runner.export_secret(tr, curve="secp256k1", protocol="FROST_BITCOIN", min_signers=2)
    assert scalar_to_private_key_bytes("secp256k1", k) == sk
    # Export leaves the signers' shares Active (the API refuses to sign an exported
    # key): a failed export must not strand a key that the API still shows as usable.
    assert _xonly_verify(tr.public_key, bytes(32), runner.run(v.sign(tr, bytes(32))), None)

    runner.run(v.delete_key(ed))
    for node in v.nodes.values():
        with pytest.raises(NotFound):
            node.store.get_share(ed.key_id)
    with pytest.raises(NotFound):
        runner.run(v.sign(ed, b"gone"))


class Sealed(dict[str, bytes]):
    """An import's blobs (signer id -> blob) and the context they were sealed under."""

    context: ImportContext


def _blobs(
    runner: VaultRunner, secret: int, t: int = 2, context: ImportContext | None = None
) -> Sealed:
    signers = runner.run(runner.vault.list_signers())
    context = context or ImportContext.issue()
    _, blobs = key_import.seal_import_shares(
        secret,
        context=context,
        curve="ed25519",
        protocol="FROST",
        min_signers=t,
        signers=[(d.signer_id, d.encryption_key) for d in signers],
    )
    out = Sealed(blobs)
    out.context = context
    return out


def _holds_nothing(runner: VaultRunner, key_id: str) -> bool:
    for node in runner.vault.nodes.values():
        try:
            node.store.get_share(key_id)
        except NotFound:
            continue
        return False
    return True


def test_bad_imports_store_nothing(runner: VaultRunner) -> None:
    v = runner.vault
    secret = ed25519_scalar_from_seed(os.urandom(32))
    blobs = _blobs(runner, secret)
    ids = sorted(blobs)
    cases: list[tuple[str, dict[str, bytes], int, str]] = []
    tampered = dict(blobs)
    tampered[ids[0]] = blobs[ids[0]][:-1] + bytes([blobs[ids[0]][-1] ^ 1])
    cases.append(("tampered", tampered, 2, "ShareDecryptionFailed"))
    swapped = dict(blobs)
    swapped[ids[0]], swapped[ids[1]] = blobs[ids[1]], blobs[ids[0]]
    cases.append(("swapped", swapped, 2, "ShareIndexMismatch"))
    cases.append(("wrong t", dict(blobs), 3, ""))
    cases.append(("t = 1", dict(blobs), 1, "InvalidMinSigners"))
    missing = {k: blobs[k] for k in ids[:2]}
    cases.append(("missing signer", missing, 2, "MissingSigner"))
    unknown = dict(blobs)
    unknown["sgn-doesnotexist"] = blobs[ids[0]]
    cases.append(("unknown signer", unknown, 2, "UnknownSigner"))
    other = _blobs(runner, ed25519_scalar_from_seed(os.urandom(32)))
    mixed = dict(blobs)
    mixed[ids[2]] = other[ids[2]]
    cases.append(("mixed imports", mixed, 2, ""))
    for n, (name, shares, t, code) in enumerate(cases):
        key_id = f"key-bad-{n}"
        with pytest.raises(InvalidImport) as err:
            runner.run(v.import_key(key_id, "FROST", "ed25519", t, shares, blobs.context))
        if code:
            assert err.value.code in (code, "ImportContextUsed"), name
        assert _holds_nothing(runner, key_id), name
    # The signers whose share opened consumed the context: even the good blobs are now
    # refused, and the same key sealed under a fresh context imports.
    with pytest.raises(InvalidImport) as err:
        runner.run(v.import_key("key-good", "FROST", "ed25519", 2, blobs, blobs.context))
    assert err.value.code == "ImportContextUsed"
    fresh = _blobs(runner, secret)
    rec = runner.run(v.import_key("key-good", "FROST", "ed25519", 2, fresh, fresh.context))
    assert rec.public_key == ED25519.mul_base(secret).encode()


def test_commitment_mismatch_between_signers(runner: VaultRunner) -> None:
    """Signers that each got a valid share of *different* imports never activate."""
    v = runner.vault
    a = _blobs(runner, ed25519_scalar_from_seed(os.urandom(32)))
    b = _blobs(runner, ed25519_scalar_from_seed(os.urandom(32)), context=a.context)
    ids = sorted(a)
    mixed = {ids[0]: a[ids[0]], ids[1]: b[ids[1]], ids[2]: a[ids[2]]}
    with pytest.raises(InvalidImport) as err:
        runner.run(v.import_key("key-mix", "FROST", "ed25519", 2, mixed, a.context))
    assert err.value.code in ("CommitmentMismatch", "ShareDecryptionFailed")
    assert _holds_nothing(runner, "key-mix")


def test_signers_refuse_unsigned_or_replayed_requests(runner: VaultRunner) -> None:
    v = runner.vault
    node = next(iter(v.nodes.values()))
    forged = encode_request("info", node.signer_id, {}, SigningKey.generate())
    with pytest.raises(Forbidden):
        decode_reply(node.handle(forged))
    redirected = encode_request("info", "sgn-other", {}, v.coordinator.sessions._identity)
    with pytest.raises(Forbidden):
        decode_reply(node.handle(redirected))
    key = runner.run(v.generate_key("key-r", "FROST", "ed25519", 2))
    sid = os.urandom(32)
    args = {
        "sessionId": sid.hex(),
        "keyId": key.key_id,
        "message": "00",
        "merkleRoot": None,
        "parties": [
            {
                "index": i + 1,
                "signerId": s,
                "identityKey": d.identity_key.hex(),
                "encryptionKey": d.encryption_key.hex(),
            }
            for i, (s, d) in enumerate((d.signer_id, d) for d in runner.run(v.list_signers()))
        ],
    }
    coordinator_key = v.coordinator.sessions._identity
    request = encode_request("sign.start", node.signer_id, args, coordinator_key)
    decode_reply(node.handle(request))
    with pytest.raises(Forbidden):  # the very same request again: a replay
        decode_reply(node.handle(request))
    with pytest.raises(SessionReused):  # a fresh request reusing the session id
        decode_reply(
            node.handle(encode_request("sign.start", node.signer_id, args, coordinator_key))
        )
    # Expired requests, and requests issued before the signer (re)started, are refused.
    stale = dict(args, sessionId=os.urandom(32).hex())
    ten_minutes_ago = time.time() - 600
    old = encode_request(
        "sign.start", node.signer_id, stale, coordinator_key, clock=lambda: ten_minutes_ago
    )
    with pytest.raises(Forbidden):
        decode_reply(node.handle(old))


def test_misbehaving_signer_is_named(runner: VaultRunner) -> None:
    v = runner.vault
    key = runner.run(v.generate_key("key-m", "FROST", "ed25519", 3))
    victim = key.signer_ids[1]
    honest = v.nodes[victim].handle

    def corrupt(request: bytes) -> bytes:
        reply = honest(request)
        if b'"envelopes":["' in reply:
            # Flip a hex digit in the envelope's tail (its payload): the signature breaks.
            i = reply.index(b'"]', reply.index(b'"envelopes":["')) - 1
            flipped = b"0" if reply[i : i + 1] != b"0" else b"1"
            reply = reply[:i] + flipped + reply[i + 1 :]
        return reply

    v.transport.register(victim, corrupt)
    with pytest.raises(SignerMisbehaved) as err:
        runner.run(v.sign(key, b"m"))
    assert err.value.signers == (victim,)
    assert err.value.check == "envelope"  # caught by the coordinator before relaying

    def garble(request: bytes) -> bytes:
        reply = honest(request)
        return reply.replace(b'"envelopes":["', b'"envelopes":["zz', 1)

    v.transport.register(victim, garble)
    with pytest.raises(SignerMisbehaved) as err:
        runner.run(v.sign(key, b"m"))
    assert err.value.signers == (victim,)


def _rewrite_reply(reply: bytes, fn) -> bytes:  # type: ignore[no-untyped-def]
    import json

    data = json.loads(reply)
    if data.get("ok") and "envelopes" in data:
        data["envelopes"] = fn(data["envelopes"])
    return json.dumps(data).encode()


def test_a_signer_cannot_frame_a_peer(runner: VaultRunner) -> None:
    """A signer that relays a peer's (validly signed) envelope, or forges one in the
    peer's name, is itself named -- never the peer."""
    from shardvault.transport.envelope import Envelope

    v = runner.vault
    ids = list(v.signer_ids)
    attacker, peer = ids[0], ids[1]
    captured: list[str] = []
    peer_honest = v.nodes[peer].handle
    attacker_honest = v.nodes[attacker].handle

    def record(request: bytes) -> bytes:
        reply = peer_honest(request)
        return _rewrite_reply(reply, lambda envs: captured.extend(envs) or envs)

    def replay(request: bytes) -> bytes:
        reply = attacker_honest(request)
        return _rewrite_reply(reply, lambda envs: envs + captured[:1])

    v.transport.register(peer, record)
    v.transport.register(attacker, replay)
    with pytest.raises(SignerMisbehaved) as err:
        runner.run(v.generate_key("key-frame", "FROST", "ed25519", 2))
    assert err.value.signers == (attacker,)
    assert captured and Envelope.from_bytes(bytes.fromhex(captured[0])).fields.sender == 2


def test_equivocating_broadcast_is_pinned_on_its_sender(runner: VaultRunner) -> None:
    from shardvault.protocols.messages import ProtocolMessage
    from shardvault.transport.envelope import Envelope, seal_envelope

    v = runner.vault
    attacker = v.signer_ids[2]
    node = v.nodes[attacker]
    honest = node.handle

    def equivocate(request: bytes) -> bytes:
        reply = honest(request)

        def add_twin(envs: list[str]) -> list[str]:
            first = Envelope.from_bytes(bytes.fromhex(envs[0])).fields
            if first.round != 1 or first.recipient is not None:
                return envs
            twin = ProtocolMessage(
                first.session_id, first.protocol, 1, first.sender, None, first.payload[::-1]
            )
            sealed = seal_envelope(
                twin, node._ctx.identity, {}
            )  # the attacker signs with its own key
            return [*envs, sealed.to_bytes().hex()]

        return _rewrite_reply(reply, add_twin)

    v.transport.register(attacker, equivocate)
    with pytest.raises(SignerMisbehaved) as err:
        runner.run(v.generate_key("key-eq", "FROST", "ed25519", 2))
    assert err.value.signers == (attacker,)
    assert err.value.check == "equivocation"
    assert _holds_nothing(runner, "key-eq")


def test_a_withholding_signer_is_named(runner: VaultRunner) -> None:
    v = runner.vault
    key = runner.run(v.generate_key("key-w", "FROST", "ed25519", 3))
    silent = key.signer_ids[1]
    honest = v.nodes[silent].handle

    def withhold(request: bytes) -> bytes:
        return _rewrite_reply(honest(request), lambda envs: [])

    v.transport.register(silent, withhold)
    with pytest.raises(SignersUnavailable) as err:
        runner.run(v.sign(key, b"m"))
    assert err.value.signers == (silent,)
    with pytest.raises(SignersUnavailable) as err:
        runner.run(v.generate_key("key-w2", "FROST", "ed25519", 2))
    assert err.value.signers == (silent,)


def test_erased_key_ids_cannot_come_back(runner: VaultRunner) -> None:
    """A replayed (or repeated) import of a deleted key id is refused by every signer."""
    v = runner.vault
    blobs = _blobs(runner, ed25519_scalar_from_seed(os.urandom(32)))
    rec = runner.run(v.import_key("key-tomb", "FROST", "ed25519", 2, blobs, blobs.context))
    runner.run(v.delete_key(rec))
    assert _holds_nothing(runner, "key-tomb")
    fresh = _blobs(runner, ed25519_scalar_from_seed(os.urandom(32)))
    with pytest.raises(InvalidImport):
        runner.run(v.import_key("key-tomb", "FROST", "ed25519", 2, fresh, fresh.context))
    assert _holds_nothing(runner, "key-tomb")


def test_delete_names_signers_that_could_not_erase(runner: VaultRunner) -> None:
    v = runner.vault
    key = runner.run(v.generate_key("key-del", "FROST", "ed25519", 2))
    down = key.signer_ids[0]
    v.stop_signer(down)
    with pytest.raises(SignersUnavailable) as err:
        runner.run(v.delete_key(key))
    assert err.value.signers == (down,)
    v.start_signer(down)
    runner.run(v.delete_key(key))  # the retry erases the rest
    assert _holds_nothing(runner, "key-del")


def test_import_lost_between_commit_and_activate_leaves_nothing_usable(
    runner: VaultRunner,
) -> None:
    """A signer that drops out after committing holds only an inert (Pending) share:
    it neither signs nor exports, and the import reports failure."""
    v = runner.vault
    blobs = _blobs(runner, ed25519_scalar_from_seed(os.urandom(32)))
    flaky = sorted(blobs)[2]
    honest = v.nodes[flaky].handle
    calls: list[str] = []

    def drop_after_commit(request: bytes) -> bytes:
        reply = honest(request)
        if b'"op":"import.commit"' in request[64:]:
            calls.append("commit")
            v.transport.unregister(flaky)  # gone right after committing
        return reply

    v.transport.register(flaky, drop_after_commit)
    with pytest.raises(SignersUnavailable):
        runner.run(v.import_key("key-flaky", "FROST", "ed25519", 2, blobs, blobs.context))
    assert calls == ["commit"]
    row = v.nodes[flaky].store.get_share("key-flaky")
    assert row.status == "Pending"
    for sid in sorted(blobs)[:2]:
        with pytest.raises(NotFound):
            v.nodes[sid].store.get_share("key-flaky")
