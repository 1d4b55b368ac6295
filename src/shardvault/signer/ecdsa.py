"""A signer's CGGMP24 (threshold ECDSA) state: its Paillier primes, its aux info and
its presignature pool, and the sealed record formats of aux info and key shares.

Aux info is made once per signer group (all signers of the cluster, party index =
position in the sorted signer ids, the same indices keys use). A finished aux-info
session is kept *pending* until the coordinator has seen every signer finish with the
same result (the same digest), then activated; a session that failed anywhere
leaves the active aux info as it was.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.hashing import Transcript
from shardvault.crypto.paillier import PaillierSecretKey
from shardvault.crypto.ring_pedersen import RingPedersenSecret
from shardvault.errors import AuxInfoNotReady, Conflict, InvalidParameters, NotFound
from shardvault.protocols.cggmp.aux_info import AuxInfo, AuxInfoPublic
from shardvault.protocols.cggmp.keyshare import KeyShare
from shardvault.protocols.cggmp.presignature import Presignature
from shardvault.signer.aux_primes import RECORD_NAME, PrimeWorker, encode_primes
from shardvault.signer.presig_pool import PresignaturePool
from shardvault.signer.store import SignerStore

__all__ = [
    "AUX_ACTIVE",
    "AUX_PENDING",
    "EcdsaState",
    "PrimeSource",
    "aux_digest",
    "aux_from_record",
    "aux_to_record",
    "drop_refresh_state",
    "imported_share_record",
    "share_from_record",
    "share_to_record",
]

log = logging.getLogger("shardvault.signer")

#: Store secrets (meta rows) holding the active and the pending aux info.
AUX_ACTIVE = "cggmp_aux_info"
AUX_PENDING = "cggmp_aux_info_pending"

#: Where a signer's Paillier primes come from: "generate" (background search, the
#: product default), "off" (no ECDSA), or a TEST-ONLY pair of pregenerated primes
#: (optionally followed by more pairs: the in-memory spare stock of refresh epochs).
PrimeSource = str | tuple[int, ...]

#: Spare prime pairs the worker keeps in memory for the next refresh epoch.
SPARE_PAIRS = 1

_G = SECP256K1

#: Meta rows of a refresh in progress: the new share, then the old one (rollback).
REFRESH_NEXT = "refresh_next:"
REFRESH_PREVIOUS = "refresh_previous:"


# -- records ---------------------------------------------------------------------------


def aux_digest(signer_ids: Sequence[str], public: AuxInfoPublic) -> bytes:
    """What every signer must agree on: the group (signer ids in index order) and
    every party's public (N, s, t)."""
    t = Transcript("shardvault/cggmp24/aux-info-digest/v1")
    t.extend("signer-ids", [s.encode() for s in signer_ids])
    t.append("public", public.to_bytes())
    return t.digest()[:32]


def aux_to_record(aux: AuxInfo, signer_ids: Sequence[str]) -> bytes:
    rp = aux.ring_pedersen
    return json.dumps(
        {
            "v": 1,
            "me": aux.me,
            "signerIds": list(signer_ids),
            "p": hex(aux.paillier_key.p),
            "q": hex(aux.paillier_key.q),
            "lambda": hex(rp.lam),
            "public": aux.public.to_bytes().hex(),
        }
    ).encode()


def aux_from_record(record: bytes) -> tuple[AuxInfo, list[str]]:
    """Rebuild aux info from its sealed record (authenticated by the store's AEAD;
    the ring-Pedersen trapdoor is re-checked against the public table)."""
    data = json.loads(record)
    if data.get("v") != 1:
        raise InvalidParameters("unknown aux info record version")
    public = AuxInfoPublic.from_bytes(bytes.fromhex(data["public"]))
    me = int(data["me"])
    p, q = int(data["p"], 16), int(data["q"], 16)
    sk = PaillierSecretKey(p, q, check_primes=False)
    rp = RingPedersenSecret(p, q, int(data["lambda"], 16), public.params(me))
    if sk.n != public.params(me).n:
        raise InvalidParameters("aux info record: own modulus does not match the table")
    return AuxInfo(me, sk, rp, public), [str(s) for s in data["signerIds"]]


def share_to_record(share: KeyShare, signer_ids: Sequence[str]) -> bytes:
    return json.dumps(
        {
            "scheme": "cggmp24",
            "index": share.index,
            "share": share.secret.to_bytes(32, "big").hex(),
            "publicKey": share.public_key.encode().hex(),
            "threshold": share.threshold,
            "publicShares": {str(i): p.encode().hex() for i, p in share.public_shares.items()},
            "signerIds": list(signer_ids),
        }
    ).encode()


def share_from_record(record: bytes) -> tuple[KeyShare, list[str]]:
    """A stored CGGMP24 key share (validated when stored, AEAD-authenticated; the
    KeyShare constructor re-checks the secret against its public share)."""
    data = json.loads(record)
    if data.get("scheme") != "cggmp24":
        raise InvalidParameters("stored key is not a CGGMP24 share")
    share = KeyShare(
        int(data["index"]),
        int.from_bytes(bytes.fromhex(data["share"]), "big"),
        Point(_G, bytes.fromhex(data["publicKey"])),
        {int(i): Point(_G, bytes.fromhex(p)) for i, p in data["publicShares"].items()},
        int(data["threshold"]),
    )
    return share, [str(s) for s in data["signerIds"]]


def imported_share_record(
    index: int,
    value: int,
    public_key: bytes,
    public_shares: dict[int, bytes],
    threshold: int,
    signer_ids: list[str],
) -> bytes:
    """The record of an imported CGGMP24 share, checked consistent (the share's
    public point is its verifying share; the public shares interpolate the key)."""
    share = KeyShare(
        index,
        value,
        _G.decode_point(public_key),
        {i: _G.decode_point(p) for i, p in public_shares.items()},
        threshold,
    )
    share.check_consistent()
    return share_to_record(share, signer_ids)


def drop_refresh_state(store: SignerStore, key_id: str) -> None:
    """Erase a refresh's kept shares of the key (the previous and the next)."""
    store.delete_secret(REFRESH_PREVIOUS + key_id)
    store.delete_secret(REFRESH_NEXT + key_id)


# -- state -----------------------------------------------------------------------------


class EcdsaState:
    """Primes (background worker), aux info (cached after first load) and the
    presignature pool of one signer. Thread-safe."""

    def __init__(self, store: SignerStore, pool_path: Path, primes: PrimeSource) -> None:
        self._store = store
        self._lock = threading.Lock()
        #: Held by an epoch's commit and erasure, and by the filing of a finished
        #: presignature (its aux-unchanged check and its pool row): a presignature
        #: made under the old aux info is either filed before the erasure (and
        #: erased) or refused after the commit, never filed after the erasure.
        self.epoch_lock = threading.Lock()
        self._aux: tuple[AuxInfo, list[str], bytes] | None = None
        self.pool = PresignaturePool(pool_path, store)
        # docs/security.md item 29: nothing in the pool survives a start (a restored
        # backup or snapshot of it would hand out consumed presignatures again).
        # This runs before the node is reachable, so before it answers any request.
        discarded = self.pool.discard_all()
        #: What the start discarded, for ``ecdsa.status`` (``discardedAtStart``).
        self.discarded_at_start = discarded.as_json()
        log.info(
            "signer %s: discarded %d presignatures of %d keys at start%s",
            store.signer_id,
            discarded.presignatures,
            discarded.keys,
            "" if discarded.recreated is None else f" ({discarded.recreated}, recreated)",
        )
        self._worker: PrimeWorker | None = None
        if primes == "off":
            return
        spares: list[tuple[int, int]] = []
        if isinstance(primes, tuple):
            # TEST ONLY: pregenerated primes, stored as if the search had found them;
            # further pairs go to the in-memory spare stock (no background refill).
            if len(primes) < 2 or len(primes) % 2:
                raise InvalidParameters("test primes come in pairs")
            if store.get_secret(RECORD_NAME) is None:
                store.put_secret(RECORD_NAME, encode_primes(list(primes[:2]), 1536))
            spares = [(primes[i], primes[i + 1]) for i in range(2, len(primes), 2)]
        elif primes != "generate":
            raise InvalidParameters("primes must be 'generate', 'off' or a pair of primes")
        self._worker = PrimeWorker(
            store, background=True, spares=SPARE_PAIRS if primes == "generate" else 0
        )
        self._worker.add_spares(spares)
        self._worker.start()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=5.0)
        self.pool.close()

    # -- primes ------------------------------------------------------------------------
    def primes(self) -> tuple[int, int]:
        if self._worker is None:
            raise AuxInfoNotReady("ECDSA is disabled on this signer (no Paillier primes)")
        p, q = self._worker.primes()[:2]
        return p, q

    def take_spare_primes(self) -> tuple[int, int] | None:
        """A spare pair from the in-memory stock for an epoch, or None (none ready)."""
        if self._worker is None:
            raise AuxInfoNotReady("ECDSA is disabled on this signer (no Paillier primes)")
        return self._worker.take_spare()

    def epoch_committed(self) -> None:
        """After an epoch's commit: reload the (new) active aux info and give the prime
        worker the new primes, so nothing in memory still holds the old ones."""
        with self._lock:
            self._aux = None
        loaded = self._load_active()
        if loaded is not None and self._worker is not None:
            key = loaded[0].paillier_key
            self._worker.replace_primes([key.p, key.q])

    def status(self) -> dict[str, Any]:
        worker = self._worker
        active = self._load_active()
        pending = self._store.get_secret(AUX_PENDING)
        error = None if worker is None or worker.error is None else type(worker.error).__name__
        return {
            "enabled": worker is not None,
            "primesReady": worker is not None and worker.ready,
            "primesProgress": 0.0 if worker is None else worker.progress,
            "auxDigest": None if active is None else active[2].hex(),
            "pending": pending is not None,
            "error": error,
            "discardedAtStart": self.discarded_at_start,
            "sparePairs": 0 if worker is None else worker.spare_count,
        }

    # -- aux info ----------------------------------------------------------------------
    def _load_active(self) -> tuple[AuxInfo, list[str], bytes] | None:
        with self._lock:
            if self._aux is not None:
                return self._aux
            record = self._store.get_secret(AUX_ACTIVE)
            if record is None:
                return None
            aux, ids = aux_from_record(record)
            self._aux = (aux, ids, aux_digest(ids, aux.public))
            return self._aux

    def aux(self, signer_ids: Sequence[str]) -> AuxInfo:
        """The active aux info; it must be for exactly this signer group."""
        loaded = self._load_active()
        if loaded is None:
            raise AuxInfoNotReady("this signer has no aux info yet")
        aux, ids, _ = loaded
        if list(ids) != list(signer_ids):
            raise AuxInfoNotReady("this signer's aux info is for another signer group")
        return aux

    def file_presignature(
        self,
        key_id: str,
        binding: bytes,
        presig: Presignature,
        presig_id: str,
        signer_ids: Sequence[str],
        made_under: AuxInfo,
    ) -> str:
        """File a finished presignature in the pool, if the aux info it was made under
        is still the active one (an epoch that committed meanwhile refuses it)."""
        with self.epoch_lock:
            if self.aux(signer_ids) is not made_under:
                # An epoch committed meanwhile: nothing made under old aux info is kept.
                raise Conflict("the aux info changed during presigning (refresh epoch)")
            return self.pool.add(key_id, binding, presig, presig_id=presig_id)

    def put_pending(self, aux: AuxInfo, signer_ids: Sequence[str]) -> bytes:
        self._store.put_secret(AUX_PENDING, aux_to_record(aux, signer_ids))
        return aux_digest(signer_ids, aux.public)

    def activate(self, digest: bytes) -> None:
        """Pending -> active, if the pending aux info has ``digest``."""
        with self._lock:
            record = self._store.get_secret(AUX_PENDING)
            if record is None:
                active = self._aux
                if active is not None and active[2] == digest:
                    return  # already active (a repeated activate)
                raise NotFound("no pending aux info to activate")
            aux, ids = aux_from_record(record)
            if aux_digest(ids, aux.public) != digest:
                raise InvalidParameters("the pending aux info has another digest")
            self._store.put_secret(AUX_ACTIVE, record)
            self._store.delete_secret(AUX_PENDING)
            self._aux = (aux, ids, digest)
        log.info("signer %s: aux info %s active", self._store.signer_id, digest.hex()[:16])
