"""One signer node: its identity, its encrypted share store, and the protocol sessions
it runs on the coordinator's signed requests.

The node never sees another signer's share: DKG shares arrive HPKE-sealed to it
inside signed envelopes, import shares arrive sealed by the client, and export
shares leave sealed to the requester.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from shardvault.cpu import release_gil_for_bigints
from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.shamir import derive_public_share
from shardvault.errors import (
    Conflict,
    Forbidden,
    InvalidParameters,
    NotFound,
    ProtocolError,
    ShardvaultError,
)
from shardvault.protocols import key_export, key_import
from shardvault.protocols.frost.ciphersuites import Ciphersuite, suite_for
from shardvault.protocols.frost.dkg import FrostDkg
from shardvault.protocols.frost.keys import KeyPackage, PublicKeyPackage
from shardvault.protocols.frost.session import FrostSigner
from shardvault.protocols.messages import COORDINATOR, StateMachine
from shardvault.protocols.registry import ECDSA_PROTOCOL
from shardvault.signer.ecdsa import EcdsaState, PrimeSource, share_from_record
from shardvault.signer.ecdsa_ops import EcdsaOps
from shardvault.signer.store import SignerStore
from shardvault.transport.envelope import Envelope, open_envelope, seal_envelope
from shardvault.transport.identity import PartyKeys, SignerDescriptor, encryption_key_statement
from shardvault.transport.rpc import ReplayGuard, decode_request, encode_error, encode_ok

__all__ = ["SignerNode", "new_signer_id"]

log = logging.getLogger("shardvault.signer")

SESSION_TTL_SECONDS = 120.0


def new_signer_id() -> str:
    return "sgn-" + secrets.token_hex(10)


def _h(b: bytes) -> str:
    return b.hex()


def _b(s: Any) -> bytes:
    if not isinstance(s, str):
        raise InvalidParameters("expected a hex string")
    try:
        return bytes.fromhex(s)
    except ValueError as exc:
        raise InvalidParameters("malformed hex") from exc


@dataclass
class _Session:
    kind: str
    key_id: str
    machine: StateMachine[Any]
    parties: dict[int, PartyKeys]
    me: int
    protocol: str
    curve: str
    signer_ids: list[str] = field(default_factory=list)
    #: Stores the result and returns the extra fields of the final reply.
    finish: Callable[[Any], dict[str, Any]] | None = None
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class _PendingImport:
    protocol: str
    curve: str
    digest: bytes
    record: bytes
    started: float = field(default_factory=time.monotonic)

    def __repr__(self) -> str:
        return f"_PendingImport({self.protocol}, {self.curve}, <sealed>)"


def _key_record(kp: KeyPackage, public: PublicKeyPackage, signer_ids: list[str]) -> bytes:
    return json.dumps(
        {
            "suite": kp.ciphersuite.name,
            "identifier": kp.identifier,
            "share": kp.ciphersuite.group.encode_scalar(kp.signing_share).hex(),
            "groupKey": public.group_public_key.encode().hex(),
            "minSigners": public.min_signers,
            "verifyingShares": {
                str(i): y.encode().hex() for i, y in public.verifying_shares.items()
            },
            "signerIds": signer_ids,
        }
    ).encode()


def _load_key(suite: Ciphersuite, record: bytes) -> tuple[KeyPackage, PublicKeyPackage, list[str]]:
    """Rebuild a key package from its sealed record. The record was validated when it
    was stored and is authenticated by the store's AEAD, so its points are not
    re-validated here (the share is still checked against its verifying share)."""
    data = json.loads(record)
    g = suite.group
    if data["suite"] != suite.name:
        raise InvalidParameters("stored key belongs to another ciphersuite")
    group_key = Point(g, bytes.fromhex(data["groupKey"]))
    verifying = {int(i): Point(g, bytes.fromhex(y)) for i, y in data["verifyingShares"].items()}
    ident = int(data["identifier"])
    kp = KeyPackage(
        suite,
        ident,
        g.decode_scalar(bytes.fromhex(data["share"])),
        verifying[ident],
        group_key,
        int(data["minSigners"]),
    )
    return (
        kp,
        PublicKeyPackage(suite, group_key, verifying, kp.min_signers),
        list(data["signerIds"]),
    )


class SignerNode(EcdsaOps):
    """A signer: call ``handle(request_bytes) -> reply_bytes`` (what the transport does).
    Thread-safe: the transport may run requests concurrently (one session's messages
    are processed one at a time)."""

    def __init__(
        self, store: SignerStore, coordinator_key: bytes, ecdsa: EcdsaState | None = None
    ) -> None:
        self.store = store
        self.ecdsa = ecdsa or EcdsaState(store, store.path.parent / "presignatures.sqlite3", "off")
        self.signer_id = store.signer_id
        self._coordinator_key = coordinator_key
        identity = store.get_secret("identity_key")
        if identity is None:
            identity = bytes(SigningKey.generate())
            store.put_secret("identity_key", identity)
        encryption = store.get_secret("encryption_key")
        if encryption is None:
            encryption = HpkeKeyPair.generate().private_bytes()
            store.put_secret("encryption_key", encryption)
        self._identity = SigningKey(identity)
        self._hpke = HpkeKeyPair.from_private_bytes(encryption)
        self._descriptor: SignerDescriptor | None = None
        self._replays = ReplayGuard()
        self._sessions: dict[bytes, _Session] = {}
        self._pending: dict[str, _PendingImport] = {}
        self._ops: dict[str, Callable[[dict[str, Any]], bytes]] = {
            "info": self._info,
            "dkg.start": self._dkg_start,
            "sign.start": self._sign_start,
            "deliver": self._deliver,
            "import.prepare": self._import_prepare,
            "import.commit": self._import_commit,
            "import.activate": self._import_activate,
            "import.abort": self._import_abort,
            "export": self._export,
            "delete": self._delete,
            **self._ecdsa_ops(),
        }

    @classmethod
    def open(
        cls,
        directory: Path,
        kek: bytes,
        coordinator_key: bytes,
        signer_id: str | None = None,
        *,
        primes: PrimeSource = "off",
    ) -> SignerNode:
        """Open (or create, with a fresh id) the signer whose files live in ``directory``.
        ``primes``: where its Paillier primes come from (``signer.ecdsa.PrimeSource``)."""
        id_file = directory / "signer-id"
        if id_file.exists():
            signer_id = id_file.read_text().strip()
        else:
            signer_id = signer_id or new_signer_id()
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            id_file.write_text(signer_id + "\n")
        store = SignerStore(directory / "store.sqlite3", signer_id, kek)
        ecdsa = EcdsaState(store, directory / "presignatures.sqlite3", primes)
        return cls(store, coordinator_key, ecdsa)

    def close(self) -> None:
        self._sessions.clear()
        self._pending.clear()
        self.ecdsa.close()
        self.store.close()

    def __repr__(self) -> str:
        return f"SignerNode({self.signer_id})"

    @property
    def descriptor(self) -> SignerDescriptor:
        if self._descriptor is None:
            enc = self._hpke.public_key
            self._descriptor = SignerDescriptor(
                self.signer_id,
                bytes(self._identity.verify_key),
                enc,
                self._identity.sign(encryption_key_statement(self.signer_id, enc)).signature,
            )
        return self._descriptor

    # -- dispatch -----------------------------------------------------------------
    def handle(self, request: bytes) -> bytes:
        release_gil_for_bigints()
        try:
            body = decode_request(request, self._coordinator_key, self.signer_id, self._replays)
            op = self._ops.get(str(body.get("op")))
            if op is None:
                raise InvalidParameters(f"unknown operation {body.get('op')!r}")
            self._expire()
            return op(body)
        except ShardvaultError as exc:
            return encode_error(exc)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            log.warning("signer %s: malformed request (%s)", self.signer_id, type(exc).__name__)
            return encode_error(InvalidParameters(f"malformed request: {type(exc).__name__}"))
        except sqlite3.Error as exc:
            log.error("signer %s: store error (%s)", self.signer_id, type(exc).__name__)
            return encode_error(ShardvaultError("signer store error", code="SignerStoreError"))

    def _expire(self) -> None:
        now = time.monotonic()
        for sid in [s for s, v in self._sessions.items() if now - v.started > SESSION_TTL_SECONDS]:
            del self._sessions[sid]
        for kid in [k for k, v in self._pending.items() if now - v.started > SESSION_TTL_SECONDS]:
            del self._pending[kid]

    def _info(self, body: dict[str, Any]) -> bytes:
        d = self.descriptor
        return encode_ok(
            signerId=d.signer_id,
            identityKey=_h(d.identity_key),
            encryptionKey=_h(d.encryption_key),
            encryptionKeySignature=_h(d.encryption_key_signature),
        )

    # -- sessions -----------------------------------------------------------------
    def _parties(self, body: dict[str, Any]) -> tuple[dict[int, PartyKeys], list[str], int]:
        parties = {COORDINATOR: PartyKeys(self._coordinator_key, b"")}
        ids: list[str] = []
        me = 0
        for p in body["parties"]:
            index = int(p["index"])
            if index in parties or not (1 <= index <= 255):
                raise InvalidParameters("party indices must be distinct, in 1..255")
            parties[index] = PartyKeys(_b(p["identityKey"]), _b(p["encryptionKey"]))
            ids.append(str(p["signerId"]))
            if p["signerId"] == self.signer_id:
                if parties[index].identity_key != bytes(self._identity.verify_key):
                    raise Forbidden("the session lists another identity key for this signer")
                me = index
        if me == 0:
            raise Forbidden("this signer is not a party of the session")
        return parties, ids, me

    @staticmethod
    def _in_progress(session: _Session, envelopes: list[str]) -> bytes:
        """A reply for an unfinished session: its envelopes, its round and whom it
        waits for (so the coordinator can name a withholding party)."""
        return encode_ok(
            envelopes=envelopes,
            done=False,
            round=session.machine.round,
            waitingFor=sorted(session.machine.waiting_for()),
        )

    def _outgoing(self, session: _Session) -> list[str]:
        return [
            seal_envelope(m, self._identity, session.parties).to_bytes().hex()
            for m in session.machine.messages()
        ]

    def _open_session(
        self,
        body: dict[str, Any],
        kind: str,
        key_id: str,
        machine: StateMachine[Any],
        parties: dict[int, PartyKeys],
        me: int,
        ids: list[str],
        finish: Callable[[Any], dict[str, Any]],
    ) -> bytes:
        sid = _b(body["sessionId"])
        session = _Session(
            kind, key_id, machine, parties, me, ECDSA_PROTOCOL, "secp256k1", ids, finish
        )
        self._sessions[sid] = session
        return self._in_progress(session, self._outgoing(session))

    def _dkg_start(self, body: dict[str, Any]) -> bytes:
        if body.get("protocol") == ECDSA_PROTOCOL:
            return self._ecdsa_keygen(body)
        key_id = str(body["keyId"])
        protocol, curve = str(body["protocol"]), str(body["curve"])
        suite = suite_for(protocol, curve)
        self._check_new_key(key_id)
        parties, ids, me = self._parties(body)
        sid = _b(body["sessionId"])
        machine = FrostDkg(suite, sid, me, int(body["minSigners"]), len(ids), self.store)
        session = _Session("dkg", key_id, machine, parties, me, protocol, curve, ids)
        self._sessions[sid] = session
        return self._in_progress(session, self._outgoing(session))

    def _sign_start(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        row = self.store.get_share(key_id)
        if row.status != "Active":
            raise Conflict(
                f"key {key_id} is {row.status} on signer {self.signer_id}; it does not sign"
            )
        suite = suite_for(row.protocol, row.curve)
        kp, _public, signer_ids = _load_key(suite, row.record)
        parties, ids, me = self._parties(body)
        for p in body["parties"]:
            index = int(p["index"])
            if index > len(signer_ids) or signer_ids[index - 1] != p["signerId"]:
                raise Forbidden("session parties do not match the key's signers")
        if me != kp.identifier:
            raise Forbidden("this signer's index in the session is not its share index")
        root = body.get("merkleRoot")
        sid = _b(body["sessionId"])
        machine = FrostSigner(
            kp, sid, _b(body["message"]), self.store, merkle_root=None if root is None else _b(root)
        )
        session = _Session("sign", key_id, machine, parties, me, row.protocol, row.curve, ids)
        self._sessions[sid] = session
        return self._in_progress(session, self._outgoing(session))

    def _deliver(self, body: dict[str, Any]) -> bytes:
        sid = _b(body["sessionId"])
        session = self._sessions.get(sid)
        if session is None:
            raise NotFound(f"signer {self.signer_id} has no open session {sid.hex()}")
        with session.lock:
            return self._deliver_locked(sid, session, body)

    def _deliver_locked(self, sid: bytes, session: _Session, body: dict[str, Any]) -> bytes:
        if self._sessions.get(sid) is not session:
            raise NotFound(f"signer {self.signer_id} has no open session {sid.hex()}")
        for raw in body["envelopes"]:
            msg = open_envelope(
                Envelope.from_bytes(_b(raw)),
                me=session.me,
                session_id=sid,
                parties=session.parties,
                key_pair=self._hpke,
                relayer=COORDINATOR,
            )
            session.machine.receive(msg)
        out = self._outgoing(session)
        if not session.machine.done:
            return self._in_progress(session, out)
        del self._sessions[sid]
        failure = session.machine.failed
        if failure is not None:
            raise failure
        if session.finish is not None:
            return encode_ok(envelopes=out, done=True, **session.finish(session.machine.result()))
        if session.kind == "dkg":
            kp, public = session.machine.result()
            self.store.put_share(
                session.key_id,
                session.protocol,
                session.curve,
                _key_record(kp, public, session.signer_ids),
            )
            return encode_ok(
                envelopes=out,
                done=True,
                publicKey=_h(public.group_public_key.encode()),
                verifyingShares={
                    str(i): _h(y.encode()) for i, y in public.verifying_shares.items()
                },
            )
        return encode_ok(envelopes=out, done=True)

    def _check_new_key(self, key_id: str) -> None:
        if not key_id or len(key_id) > 64:
            raise InvalidParameters("bad key id")
        if self.store.was_erased(key_id):
            raise Conflict(
                f"key id {key_id} was erased on signer {self.signer_id}; ids are never reused"
            )
        try:
            self.store.get_share(key_id)
        except NotFound:
            return
        raise Conflict(f"signer {self.signer_id} already holds key {key_id}")

    # -- import -------------------------------------------------------------------
    def _import_prepare(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        protocol, curve = str(body["protocol"]), str(body["curve"])
        ecdsa = (protocol, curve) == (ECDSA_PROTOCOL, "secp256k1")
        suite = None if ecdsa else suite_for(protocol, curve)
        self._check_new_key(key_id)
        signer_ids = [str(s) for s in body["signerIds"]]
        min_signers = int(body["minSigners"])
        share = key_import.open_import_share(
            _b(body["blob"]),
            key_pair=self._hpke,
            my_signer_id=self.signer_id,
            curve=curve,
            protocol=protocol,
            min_signers=min_signers,
            signer_ids=signer_ids,
        )
        g = SECP256K1 if suite is None else suite.group
        commitments = [g.decode_point(c) for c in share.commitments]
        ordered = sorted(signer_ids)
        verifying = {i: derive_public_share(g, commitments, i) for i in range(1, len(ordered) + 1)}
        group_key = g.decode_point(share.group_public_key)
        if suite is None:
            record = self._ecdsa_import_record(
                share.index,
                share.value,
                share.group_public_key,
                {i: y.encode() for i, y in verifying.items()},
                min_signers,
                ordered,
            )
        else:
            public = PublicKeyPackage(suite, group_key, verifying, min_signers)
            kp = KeyPackage(
                suite, share.index, share.value, verifying[share.index], group_key, min_signers
            )
            record = _key_record(kp, public, ordered)
        digest = key_import.import_commitments_digest(
            curve=curve,
            protocol=protocol,
            min_signers=min_signers,
            signer_ids=signer_ids,
            commitments=share.commitments,
        )
        self._pending[key_id] = _PendingImport(protocol, curve, digest, record)
        return encode_ok(
            digest=_h(digest),
            publicKey=_h(share.group_public_key),
            verifyingShares={str(i): _h(y.encode()) for i, y in verifying.items()},
        )

    def _import_commit(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        pending = self._pending.pop(key_id, None)
        if pending is None:
            raise NotFound(f"signer {self.signer_id} has no pending import of {key_id}")
        if not secrets.compare_digest(pending.digest, _b(body["digest"])):
            raise ProtocolError("signers saw different commitments", check="import-commitments")
        self.store.put_share(
            key_id, pending.protocol, pending.curve, pending.record, status="Pending"
        )
        return encode_ok()

    def _import_activate(self, body: dict[str, Any]) -> bytes:
        self.store.activate(str(body["keyId"]))
        return encode_ok()

    def _import_abort(self, body: dict[str, Any]) -> bytes:
        self._pending.pop(str(body["keyId"]), None)
        return encode_ok()

    # -- export and delete -----------------------------------------------------------
    def _export(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        row = self.store.get_share(key_id)
        if row.status != "Active":
            raise Conflict(f"key {key_id} is {row.status}")
        if row.protocol == ECDSA_PROTOCOL:
            share, _ids = share_from_record(row.record)
            group_key, min_signers = share.public_key.encode(), share.threshold
            index, value = share.index, share.secret
        else:
            kp, public, _ = _load_key(suite_for(row.protocol, row.curve), row.record)
            group_key, min_signers = public.group_public_key.encode(), public.min_signers
            index, value = kp.identifier, kp.signing_share
        blob = key_export.seal_export_share(
            identity_key=self._identity,
            signer_id=self.signer_id,
            key_id=key_id,
            curve=row.curve,
            protocol=row.protocol,
            group_public_key=group_key,
            min_signers=min_signers,
            index=index,
            share_value=value,
            requester_encryption_key=_b(body["requesterKey"]),
        )
        return encode_ok(blob=_h(blob))

    def _delete(self, body: dict[str, Any]) -> bytes:
        key_id = str(body["keyId"])
        self.ecdsa.pool.discard_key(key_id)
        self._drop_refresh_state(key_id)
        return encode_ok(erased=self.store.erase_share(key_id))
