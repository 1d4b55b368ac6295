"""The coordinator's CGGMP24 (threshold ECDSA) side: aux-info setup, presignature
pools, one-round signing and key refresh.

* **Aux info** (``run_setup``, a background task): poll every signer's
  ``ecdsa.status`` until all have their Paillier primes, then run one aux-info
  session among all signers (background priority), and activate its result only once
  every signer reports the same digest. Until then ECDSA requests raise
  ``AuxInfoNotReady`` (503); ``status()`` feeds ``GET /health``.
* **Pools**: for every CGGMP24 key the coordinator keeps ``pool_target``
  presignatures per preferred signer set (the key's first ``max(t, 2)`` signers),
  made in the background, one session at a time, refilled as soon as one is used.
  Each signer keeps its presignatures sealed in its own pool, filed under the
  session id and bound to key, signer set and derivation; the coordinator holds only
  their ids (rebuilt from the signers' inventories after a restart; a signer
  discards its whole pool at every start, so after the signers restart that
  inventory is empty and the pools refill in the background).
* **Signing**: take a warm presignature id (or presign on the spot), ask each signer
  of the set for its partial signature (each durably consumes its presignature
  first; a signer that answers NotFound restarted since, so the set's warm ids are
  dropped and the signature presigns afresh), check every partial signature and
  the result (``cggmp.sign.combine``), return ``r || s || recid``.
* **Refresh** is a group epoch (``coordinator.epoch``); here only the pause of
  presigning while an epoch commits and the pools' reset after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from shardvault.coordinator.backend import EcdsaStatus, KeyRecord
from shardvault.coordinator.sessions import SessionParties, SignerSessions
from shardvault.errors import (
    AuxInfoNotReady,
    InvalidEncoding,
    InvalidParameters,
    NotFound,
    ProtocolError,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.cggmp.binding import NO_DERIVATION, presignature_binding
from shardvault.protocols.cggmp.presignature_codec import public_from_bytes
from shardvault.protocols.cggmp.sign import combine
from shardvault.protocols.registry import ECDSA_PROTOCOL
from shardvault.transport.identity import SignerDescriptor

__all__ = ["CggmpService"]

log = logging.getLogger("shardvault.coordinator")

#: Share of the progress bar spent on the prime search (the rest: the aux session).
_PRIMES_SHARE = 0.85
#: Aux-info steps take seconds of CPU per signer (longer on a busy machine).
AUX_TIMEOUT = 600.0
#: A presigning step takes about a quarter second of CPU per signer.
PRESIGN_TIMEOUT = 60.0


class _Key:
    """What the pool keeper needs to know about a key."""

    __slots__ = (
        "key_id",
        "preferred",
        "preferred_binding",
        "public_key",
        "signer_ids",
        "threshold",
    )

    def __init__(
        self, key_id: str, public_key: bytes, signer_ids: Sequence[str], threshold: int
    ) -> None:
        self.key_id = key_id
        self.public_key = public_key
        self.signer_ids = tuple(signer_ids)
        self.threshold = threshold
        # Presigning needs two parties; a 1-of-n key signs with two of its shares.
        set_size = min(len(self.signer_ids), max(threshold, 2))
        #: the preferred signer set (the first ``set_size`` indices) and its binding
        self.preferred = list(range(1, set_size + 1))
        self.preferred_binding = self.binding(self.preferred)

    @classmethod
    def of(cls, key: KeyRecord) -> _Key:
        return cls(key.key_id, key.public_key, key.signer_ids, key.min_signers)

    @property
    def set_size(self) -> int:
        return len(self.preferred)

    def binding(self, indices: Sequence[int]) -> bytes:
        return presignature_binding(self.key_id, self.public_key, indices, NO_DERIVATION)


class CggmpService:
    def __init__(self, sessions: SignerSessions, *, pool_target: int = 8) -> None:
        if pool_target < 0:
            raise InvalidParameters("the presignature pool target must be >= 0")
        self._sessions = sessions
        self.pool_target = pool_target
        self._ready = False
        self._progress = 0.0
        self._detail = "waiting for signers"
        self._enabled = True
        #: (key id, binding) -> ids of presignatures every signer of the set holds.
        self._presigs: dict[tuple[str, bytes], list[str]] = {}
        self._keys: dict[str, _Key] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        #: cleared while a refresh epoch commits (no presigning session starts)
        self._presign_gate = asyncio.Event()
        self._presign_gate.set()
        self._presigning = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the background setup (aux info) and pool keeper tasks."""
        if not self._tasks:
            self._stopping = False
            self._tasks = [
                asyncio.create_task(self.run_setup(), name="cggmp-setup"),
                asyncio.create_task(self._keep_pools(), name="cggmp-pools"),
            ]

    async def stop(self, timeout: float = 30.0) -> None:
        """Stop the background tasks. Their loops also check a stop flag, so a
        cancellation lost in a race (``asyncio.wait_for`` can swallow one) still ends
        them; work already handed to a signer thread finishes there on its own."""
        self._stopping = True
        self._wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                log.warning("background task %s did not stop", task.get_name())
            for task in _done:
                if not task.cancelled() and task.exception() is not None:
                    log.warning("background task %s ended: %r", task.get_name(), task.exception())
        self._tasks = []

    def disable(self) -> None:
        """This vault runs without ECDSA (its signers have no Paillier primes)."""
        self._enabled = False
        self._detail = "ECDSA is disabled on this vault"

    @property
    def enabled(self) -> bool:
        """False on a vault started without Paillier primes (no ECDSA, no aux info)."""
        return self._enabled

    def status(self) -> EcdsaStatus:
        return EcdsaStatus(self._ready, self._progress, self._detail)

    def require_ready(self) -> None:
        if not self._enabled:
            raise AuxInfoNotReady(
                "ECDSA is disabled on this vault (started without Paillier primes)"
            )
        if not self._ready:
            raise AuxInfoNotReady(
                "ECDSA is not ready yet: the signers are still preparing their aux info "
                f"({self._detail}, {self._progress:.0%}); retry shortly"
            )

    # -- aux info ----------------------------------------------------------------------
    async def run_setup(self, poll: float = 0.5) -> None:
        """Until ECDSA is ready: follow the prime search, then run aux info."""
        while not self._ready and not self._stopping:
            try:
                if await self._setup_step():
                    break
            except asyncio.CancelledError:
                raise
            except ShardvaultError as exc:
                self._detail = f"waiting: {exc.message}"
                log.warning("ECDSA setup: %s", exc.message)
            except Exception:  # keep the service up; report and retry
                log.exception("ECDSA setup step failed")
                self._detail = "setup failed; retrying"
            await asyncio.sleep(poll)
        if self._ready and not self._stopping:
            await self._load_inventory()

    async def _setup_step(self) -> bool:
        ids = list(self._sessions.signer_ids)
        statuses = await self._sessions.call_each(ids, "ecdsa.status")
        down = [s for s, r in statuses.items() if isinstance(r, BaseException)]
        if down:
            self._detail = f"waiting for signers {', '.join(down)}"
            return False
        st = {s: r for s, r in statuses.items() if isinstance(r, dict)}
        if not all(r.get("enabled") for r in st.values()):
            self.disable()
            return True
        digests = {r.get("auxDigest") for r in st.values()}
        if len(digests) == 1 and None not in digests:
            self._ready, self._progress, self._detail = True, 1.0, "ready"
            log.info("ECDSA ready (aux info %s)", str(next(iter(digests)))[:16])
            return True
        if not all(r.get("primesReady") for r in st.values()):
            done = sum(float(r.get("primesProgress", 0.0)) for r in st.values()) / len(st)
            self._progress = max(self._progress, _PRIMES_SHARE * min(done, 1.0))
            self._detail = "searching Paillier safe primes"
            return False
        self._progress = max(self._progress, _PRIMES_SHARE)
        self._detail = "running aux-info generation"
        await self._run_aux_info(ids)
        return False  # the next step sees the digests and turns ready

    async def _run_aux_info(self, ids: list[str]) -> None:
        descs = await self._sessions.require_all(ids)
        parties = SessionParties.of([(i + 1, descs[s]) for i, s in enumerate(ids)])
        sid = self._sessions.new_session_id()
        first = await self._sessions.start_all(
            ids,
            "aux.start",
            parties.index_of,
            timeout=AUX_TIMEOUT,
            background=True,
            sessionId=sid.hex(),
            parties=parties.arg,
        )
        finals = await self._sessions.relay(
            sid, first, parties, timeout=AUX_TIMEOUT, background=True
        )
        digests = {r.get("auxDigest") for r in finals.values()}
        if len(digests) != 1 or None in digests:
            raise SignerMisbehaved(
                "signers finished aux info with different results", check="aux-result"
            )
        digest = str(next(iter(digests)))
        self._progress = max(self._progress, 0.97)
        await self._sessions.start_all(ids, "aux.activate", parties.index_of, digest=digest)

    # -- pools -------------------------------------------------------------------------
    def key_added(self, key: KeyRecord) -> None:
        if key.protocol != ECDSA_PROTOCOL:
            return
        self._keys[key.key_id] = _Key.of(key)
        self._wake.set()

    def key_removed(self, key_id: str) -> None:
        self._keys.pop(key_id, None)
        for k in [k for k in self._presigs if k[0] == key_id]:
            del self._presigs[k]

    def warm(self, key: KeyRecord) -> int:
        """Presignatures ready for the key's preferred signer set."""
        k = _Key.of(key)
        return len(self._presigs.get((k.key_id, k.preferred_binding), []))

    async def _load_inventory(self) -> None:
        """After a restart: learn every CGGMP24 key and the presignatures that all
        signers of its preferred set still hold."""
        ids = list(self._sessions.signer_ids)
        replies = await self._sessions.call_each(ids, "presign.inventory")
        inventories = {s: r.get("keys", {}) for s, r in replies.items() if isinstance(r, dict)}
        for signer_id, keys in inventories.items():
            for key_id, info in keys.items():
                if key_id in self._keys:
                    continue
                try:
                    self._keys[key_id] = _Key(
                        key_id,
                        bytes.fromhex(info["publicKey"]),
                        info["signerIds"],
                        int(info["threshold"]),
                    )
                except (KeyError, TypeError, ValueError):
                    log.warning("signer %s: malformed inventory entry %s", signer_id, key_id)
        for key in self._keys.values():
            binding = key.preferred_binding.hex()
            holders = [key.signer_ids[i - 1] for i in key.preferred]
            if not all(h in inventories for h in holders):
                continue
            # A holder that no longer lists the key (a partly failed delete) holds none.
            lists = [
                inventories[h].get(key.key_id, {}).get("presigs", {}).get(binding, [])
                for h in holders
            ]
            common = set.intersection(*map(set, lists))
            self._presigs[(key.key_id, key.preferred_binding)] = [
                i for i in lists[0] if i in common
            ]
        self._wake.set()

    async def _keep_pools(self) -> None:
        """One background presigning at a time, for the key with the emptiest pool."""
        while not self._stopping:
            if not self._ready or self.pool_target == 0:
                self._wake.clear()
                await self._wait_wake(2.0)
                continue
            todo = None
            for key in list(self._keys.values()):
                have = len(self._presigs.get((key.key_id, key.preferred_binding), []))
                if have < self.pool_target and (todo is None or have < todo[2]):
                    todo = (key, key.preferred, have)
            if todo is None:
                self._wake.clear()
                await self._wait_wake(5.0)
                continue
            key, indices, _have = todo
            try:
                await self._presign(key, indices, background=True)
            except asyncio.CancelledError:
                raise
            except ShardvaultError as exc:
                log.warning("presignature refill for %s failed: %s", key.key_id, exc.message)
                await asyncio.sleep(2.0)
            except Exception:
                log.exception("presignature refill for %s failed", key.key_id)
                await asyncio.sleep(2.0)

    async def _wait_wake(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()

    @staticmethod
    def _session_parties(
        key: _Key, indices: Sequence[int], found: Mapping[str, SignerDescriptor]
    ) -> SessionParties:
        """The signers of ``indices`` (the key's party indices) as session parties."""
        return SessionParties.of([(i, found[key.signer_ids[i - 1]]) for i in indices])

    async def _presign(self, key: _Key, indices: Sequence[int], *, background: bool) -> str:
        """Run one presigning session; every signer files the result in its pool under
        the session id. Returns that id (also added to the coordinator's list when
        ``background``; a foreground presignature is used at once)."""
        await self._presign_gate.wait()
        self._presigning += 1
        try:
            return await self._presign_session(key, indices, background=background)
        finally:
            self._presigning -= 1

    async def _presign_session(self, key: _Key, indices: Sequence[int], *, background: bool) -> str:
        holders = [key.signer_ids[i - 1] for i in indices]
        found = await self._sessions.require_all(holders)
        parties = self._session_parties(key, indices, found)
        sid = self._sessions.new_session_id()
        first = await self._sessions.start_all(
            holders,
            "presign.start",
            parties.index_of,
            timeout=PRESIGN_TIMEOUT,
            background=background,
            sessionId=sid.hex(),
            keyId=key.key_id,
            parties=parties.arg,
        )
        finals = await self._sessions.relay(
            sid, first, parties, timeout=PRESIGN_TIMEOUT, background=background
        )
        ids = {r.get("presigId") for r in finals.values()}
        if ids != {sid.hex()}:
            raise SignerMisbehaved(
                "signers filed the presignature under different ids", check="presign-result"
            )
        if background and key.key_id in self._keys:
            self._presigs.setdefault((key.key_id, key.binding(indices)), []).append(sid.hex())
        return sid.hex()

    # -- signing -----------------------------------------------------------------------
    async def sign(self, record: KeyRecord, message_hash: bytes) -> bytes:
        self.require_ready()
        if len(message_hash) != 32:
            raise InvalidParameters("ECDSA signs a 32-byte hash")
        key = self._keys.get(record.key_id)
        if key is None or key.public_key != record.public_key:
            key = _Key.of(record)
            self._keys[record.key_id] = key
        excluded: set[str] = set()
        for attempt in range(3):
            candidates = [s for s in key.signer_ids if s not in excluded]
            found, missing = await self._sessions.reachable(candidates)
            chosen = [s for s in key.signer_ids if s in found][: key.set_size]
            if len(chosen) < key.set_size:
                missing += sorted(excluded)
                raise SignersUnavailable(
                    f"key {key.key_id} needs {key.set_size} signers; "
                    f"unreachable: {', '.join(missing)}",
                    signers=tuple(missing),
                )
            indices = [key.signer_ids.index(s) + 1 for s in chosen]
            warm = self._presigs.get((key.key_id, key.binding(indices)))
            presig_id = warm.pop(0) if warm else None
            try:
                if presig_id is None:
                    presig_id = await self._presign(key, indices, background=False)
                signature = await self._online(key, indices, presig_id, message_hash)
            except SignersUnavailable as exc:
                if attempt == 2 or not exc.signers:
                    raise
                excluded.update(exc.signers)
                continue
            except NotFound:
                # A signer no longer holds that presignature: it restarted, and a
                # signer discards its whole pool at every start (docs/security.md
                # item 29). Every warm id of this set is stale then: drop them all
                # (the keeper refills) and presign afresh.
                if warm is not None:
                    warm.clear()
                if attempt == 2:
                    raise
                continue
            finally:
                self._wake.set()
            return signature
        raise AssertionError("unreachable")  # pragma: no cover

    async def _online(
        self, key: _Key, indices: Sequence[int], presig_id: str, message_hash: bytes
    ) -> bytes:
        holders = [key.signer_ids[i - 1] for i in indices]
        signer_of = {i: key.signer_ids[i - 1] for i in indices}
        replies = await self._sessions.start_all(
            holders,
            "sign.ecdsa",
            {s: i for i, s in signer_of.items()},
            keyId=key.key_id,
            presigId=presig_id,
            signers=list(indices),
            hash=message_hash.hex(),
        )
        sigmas: dict[int, int] = {}
        publics: dict[str, bytes] = {}
        for s, r in replies.items():
            try:
                sigma = bytes.fromhex(r["sigma"])
                publics[s] = bytes.fromhex(r["public"])
            except (KeyError, TypeError, ValueError) as exc:
                raise SignerMisbehaved(
                    f"signer {s} sent a malformed partial signature",
                    signers=(s,),
                    check="reply",
                ) from exc
            if len(sigma) != 32:
                raise SignerMisbehaved(
                    f"signer {s} sent a malformed partial signature", signers=(s,), check="reply"
                )
            sigmas[key.signer_ids.index(s) + 1] = int.from_bytes(sigma, "big")
        if len(set(publics.values())) != 1:
            raise SignerMisbehaved(
                "signers hold different public parts of one presignature (disputed)",
                signers=tuple(holders),
                check="presignature-public (disputed)",
            )
        try:
            public = public_from_bytes(next(iter(publics.values())))
        except (InvalidEncoding, InvalidParameters) as exc:
            raise SignerMisbehaved(
                "the presignature's public part is malformed",
                signers=tuple(holders),
                check="presignature-public",
            ) from exc
        if public.session_id.hex() != presig_id or sorted(public.signers) != sorted(indices):
            raise SignerMisbehaved(
                "the presignature is not the one requested",
                signers=tuple(holders),
                check="presignature-public",
            )
        if public.public_key.encode() != key.public_key:
            raise SignerMisbehaved(
                "the presignature is for another key",
                signers=tuple(holders),
                check="presignature-public",
            )
        try:
            sig = combine(public, sigmas, message_hash)
        except ProtocolError as exc:
            raise self._sessions.blame(exc, "coordinator", signer_of) from exc
        return sig.r.to_bytes(32, "big") + sig.s.to_bytes(32, "big") + bytes([sig.recid])

    # -- refresh epochs ------------------------------------------------------------------
    async def pause_presigning(self) -> None:
        """Stop starting presigning sessions and wait for those running to end (an
        epoch's commit: no presignature made under the old aux info may be filed
        after it; the signers refuse one too)."""
        self._presign_gate.clear()
        while self._presigning:
            await asyncio.sleep(0.01)

    def resume_presigning(self) -> None:
        self._presign_gate.set()
        self._wake.set()

    def epoch_committed(self, keys: Sequence[KeyRecord]) -> None:
        """Every signer discarded its presignatures; the keys have new shares."""
        self._presigs.clear()
        for key in keys:
            self.key_added(key)
        self._wake.set()

    async def _gather_quietly(self, ids: Sequence[str], op: str, **args: Any) -> list[str]:
        """``op`` on every signer; the signers it failed on."""
        results = await self._sessions.call_each(ids, op, **args)
        return [s for s, r in results.items() if isinstance(r, BaseException)]
