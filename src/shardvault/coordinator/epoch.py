"""The coordinator's side of a refresh EPOCH (docs/security.md item 28).

Aux info (each signer's Paillier N_i and ring-Pedersen s_i, t_i) is shared by every
key of the signer group, so a refresh renews the whole group at once:

1. ``epoch.begin`` on every signer (all must answer);
2. one aux-info session among all signers with NEW primes (each signer's in-memory
   spare stock, or primes generated now; ``fresh_primes`` forces the latter), kept
   pending on every signer;
3. one re-deal session per key (CGGMP24 ``KeyRefresh``, FROST ``FrostRefresh``:
   zero-constant re-deals), each new share kept pending beside the old one;
4. only when every signer reported success for every part with identical results
   (aux digest; public key and verifying shares of each key) the coordinator records
   its decision durably (state ``committing`` in the epoch log) and sends
   ``epoch.commit`` to every signer: each swaps everything in ONE transaction and
   erases the old material.

Any failure before the decision aborts everywhere (``epoch.abort``) and changes
nothing; the error names the signer (blame). After the decision, the new verifying shares are
the keys' (the epoch's result carries them, state ``committing``, and the caller
stores them); a signer the commit could not reach keeps the epoch ``committing``, is
left out of signing and export (``SignerSessions.lagging``), and a background resume
with backoff (:meth:`EpochService.resume_in_background`; also at start and before the
next epoch) finishes the commit, so no group stays half-committed.

The log (``epochs.json`` beside the coordinator's key) holds public facts only:
epoch numbers, times, session ids, digests and verifying shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shardvault.coordinator.backend import EpochResult, KeyRecord
from shardvault.coordinator.cggmp import AUX_TIMEOUT, CggmpService
from shardvault.coordinator.epoch_lock import EpochLock
from shardvault.coordinator.sessions import SessionParties, SignerSessions
from shardvault.errors import (
    Conflict,
    InvalidParameters,
    ShardvaultError,
    SignerMisbehaved,
    SignersUnavailable,
)
from shardvault.protocols.registry import ECDSA_PROTOCOL, REFRESH_PROTOCOLS
from shardvault.transport.identity import SignerDescriptor

__all__ = ["EpochLog", "EpochService"]

log = logging.getLogger("shardvault.coordinator")

#: How many epochs the log keeps.
_KEEP = 100
#: A key's re-deal takes well under a second of CPU per signer.
REFRESH_TIMEOUT = 120.0
#: The background resume of a decided commit: first retry after this many seconds,
#: doubling after each failure up to RESUME_MAX_DELAY.
RESUME_FIRST_DELAY = 1.0
RESUME_MAX_DELAY = 60.0


def _check_redeal_covered(
    begun: Mapping[str, Mapping[str, Any]], keys: Sequence[KeyRecord]
) -> None:
    """Abort before the decision if a signer holds a live key this epoch leaves out:
    its commit would refuse (``KeyNotRefreshed``) and the decided epoch could never
    commit. Such a key is one whose DELETE or export the signers never carried out
    (the API archived it or marked it exported first); finishing that request, or
    including the key, lets the next epoch run."""
    listed = {k.key_id for k in keys}
    missing: dict[str, list[str]] = {}
    for signer_id, reply in begun.items():
        redeal = reply.get("redeal", [])
        if not isinstance(redeal, list):
            raise SignerMisbehaved(
                f"signer {signer_id} sent a malformed epoch.begin reply",
                signers=(signer_id,),
                check="epoch.begin",
            )
        extra = sorted(str(k) for k in redeal if str(k) not in listed)
        if extra:
            missing[signer_id] = extra
    if missing:
        keys_out = sorted({k for ks in missing.values() for k in ks})
        raise Conflict(
            f"keys {', '.join(keys_out)} are still live on signers "
            f"{', '.join(sorted(missing))} but not in this epoch; finish their DELETE "
            "or export, then refresh again",
            code="KeysOutOfStep",
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class EpochLog:
    """The coordinator's durable record of epochs (a JSON file, fsynced on every
    change; None keeps it in memory only, for tests)."""

    path: Path | None
    entries: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, path: Path | None) -> EpochLog:
        entries: list[dict[str, Any]] = []
        if path is not None and path.exists():
            entries = list(json.loads(path.read_text())["epochs"])
        return cls(path, entries)

    def last_committed(self) -> int:
        done = [int(e["epoch"]) for e in self.entries if e["state"] in ("committing", "committed")]
        return max(done, default=0)

    def next_number(self) -> int:
        return max([int(e["epoch"]) for e in self.entries], default=0) + 1

    def find(self, epoch: int) -> dict[str, Any] | None:
        return next((e for e in self.entries if int(e["epoch"]) == epoch), None)

    def save(self) -> None:
        self.entries = self.entries[-_KEEP:]
        if self.path is None:
            return
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps({"epochs": self.entries}, indent=1))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _result(entry: dict[str, Any]) -> EpochResult:
    return EpochResult(
        epoch=int(entry["epoch"]),
        state=str(entry["state"]),
        started_at=str(entry["startedAt"]),
        finished_at=entry.get("finishedAt"),
        duration_ms=entry.get("durationMs"),
        ecdsa_keys=int(entry.get("ecdsaKeys", 0)),
        frost_keys=int(entry.get("frostKeys", 0)),
        primes=str(entry.get("primes", "")),
        error=entry.get("error"),
        verifying_shares={
            k: {s: bytes.fromhex(v) for s, v in shares.items()}
            for k, shares in dict(entry.get("verifyingShares", {})).items()
        },
    )


class EpochService:
    def __init__(self, sessions: SignerSessions, ecdsa: CggmpService, log_path: Path | None):
        self._sessions = sessions
        self._ecdsa = ecdsa
        self._log = EpochLog.open(log_path)
        self._lock = asyncio.Lock()
        #: key changes hold it shared, an epoch (and each resume) exclusively
        self.lock = EpochLock()
        self._resumer: asyncio.Task[None] | None = None
        #: the background resume's first delay (seconds; doubles on each failure)
        self.resume_first_delay = RESUME_FIRST_DELAY

    @property
    def running(self) -> bool:
        """An epoch (or a resume) runs or waits for the key changes in flight."""
        return self.lock.epoch_held

    def history(self) -> list[EpochResult]:
        """Recent epochs, newest first."""
        return [_result(e) for e in reversed(self._log.entries)]

    # -- resuming ------------------------------------------------------------------------
    async def resume(self) -> list[str]:
        """Finish an epoch left ``committing`` (commit on every signer) and abort one
        left ``running`` (a coordinator that stopped before deciding). Returns the
        signers the commit still could not reach (empty when finished); those are
        retried in the background (:meth:`resume_in_background`)."""
        async with self.lock.epoch(), self._lock:
            failed = await self._resume()
        if failed:
            self.resume_in_background()
        return failed

    def resume_in_background(self) -> None:
        """Retry a decided commit on the signers it has not reached, with backoff
        (``RESUME_FIRST_DELAY`` doubling up to ``RESUME_MAX_DELAY``), until every
        signer has committed; meanwhile those signers are left out of signing."""
        if self._resumer is None or self._resumer.done():
            self._resumer = asyncio.create_task(self._resume_loop(), name="epoch-resume")

    async def _resume_loop(self) -> None:
        delay = self.resume_first_delay
        while True:
            await asyncio.sleep(delay)
            try:
                async with self.lock.epoch(), self._lock:
                    failed = await self._resume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("resuming the epoch commit failed: %r", exc)
                failed = ["?"]
            if not failed:
                log.info("the decided epoch is now committed on every signer")
                return
            delay = min(delay * 2, RESUME_MAX_DELAY)

    async def stop(self) -> None:
        """Cancel the background resume (the next start resumes from the log)."""
        task, self._resumer = self._resumer, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _resume(self) -> list[str]:
        for entry in self._log.entries:
            if entry["state"] == "running":
                await self._sessions.call_each(
                    list(self._sessions.signer_ids), "epoch.abort", epoch=int(entry["epoch"])
                )
                entry.update(state="aborted", error="the coordinator stopped before the commit")
                self._log.save()
            elif entry["state"] == "committing":
                failed = await self._commit_everywhere(entry)
                if failed:
                    return failed
        return []

    async def _commit_everywhere(self, entry: dict[str, Any]) -> list[str]:
        ids = list(self._sessions.signer_ids)
        results = await self._sessions.call_each(
            ids,
            "epoch.commit",
            epoch=int(entry["epoch"]),
            auxDigest=entry["auxDigest"],
            keys=entry["sessions"],
        )
        failed = [s for s, r in results.items() if isinstance(r, BaseException)]
        for s in failed:
            log.error("epoch %s: commit on %s failed: %r", entry["epoch"], s, results[s])
        self._sessions.lagging = frozenset(failed)
        if not failed:
            entry["state"] = "committed"
            entry["discardedPresignatures"] = sum(
                int(r.get("discardedPresignatures", 0))
                for r in results.values()
                if isinstance(r, dict)
            )
            self._log.save()
        return failed

    # -- running an epoch ----------------------------------------------------------------
    async def run(self, keys: Sequence[KeyRecord], *, fresh_primes: bool) -> EpochResult:
        """Renew aux info and re-deal ``keys`` (every Active key of the group); the
        new records are in the result's ``verifying_shares``."""
        # Exclusive from before epoch.begin to the end of the commit: the key changes
        # in flight finish first, new ones get 409 RefreshInProgress meanwhile.
        async with self.lock.epoch(), self._lock:
            failed = await self._resume()
            if failed:
                raise SignersUnavailable(
                    "the previous epoch's commit has not reached every signer yet; "
                    f"unreachable: {', '.join(failed)}",
                    signers=tuple(failed),
                )
            return await self._run(keys, fresh_primes)

    async def _run(self, keys: Sequence[KeyRecord], fresh_primes: bool) -> EpochResult:
        # A vault without ECDSA has no aux info: its epochs re-deal FROST keys only.
        with_aux = self._ecdsa.enabled
        if with_aux:
            self._ecdsa.require_ready()
        for key in keys:
            if key.protocol not in REFRESH_PROTOCOLS:
                raise InvalidParameters(f"key {key.key_id}: no refresh for {key.protocol}")
            if key.min_signers < 2:
                raise InvalidParameters(
                    f"key {key.key_id} is 1-of-n: every share is the key, a re-deal cannot help"
                )
        ids = list(self._sessions.signer_ids)
        epoch = await self._next_number(ids)
        started = time.monotonic()
        entry: dict[str, Any] = {"epoch": epoch, "state": "running", "startedAt": _now()}
        self._log.entries.append(entry)
        self._log.save()
        try:
            descs = await self._sessions.require_all(ids)
            parties = SessionParties.of([(i + 1, descs[s]) for i, s in enumerate(ids)])
            begun = await self._start(ids, "epoch.begin", parties, epoch=epoch)
            log.info("epoch %d begun on %d signers", epoch, len(begun))
            _check_redeal_covered(begun, keys)
            digest, primes = None, ""
            if with_aux:
                digest, primes = await self._aux(epoch, ids, parties, fresh_primes)
            sessions: dict[str, str] = {}
            verifying: dict[str, dict[str, str]] = {}
            for key in keys:
                sid, shares = await self._redeal(epoch, key, descs)
                sessions[key.key_id] = sid
                verifying[key.key_id] = shares
        except BaseException as exc:
            await self._sessions.call_each(ids, "epoch.abort", epoch=epoch)
            entry.update(
                state="aborted",
                finishedAt=_now(),
                durationMs=round((time.monotonic() - started) * 1000),
                error=exc.message if isinstance(exc, ShardvaultError) else type(exc).__name__,
            )
            self._log.save()
            raise
        # The decision: from here on the epoch is committed everywhere (resumed if need be).
        entry.update(
            state="committing",
            auxDigest=digest,
            sessions=sessions,
            verifyingShares=verifying,
            primes=primes,
            ecdsaKeys=sum(1 for k in keys if k.protocol == ECDSA_PROTOCOL),
            frostKeys=sum(1 for k in keys if k.protocol != ECDSA_PROTOCOL),
        )
        self._log.save()
        await self._ecdsa.pause_presigning()
        try:
            failed = await self._commit_everywhere(entry)
            self._ecdsa.epoch_committed(
                [_updated(k, verifying[k.key_id]) for k in keys if k.key_id in verifying]
            )
        finally:
            self._ecdsa.resume_presigning()
        entry.update(finishedAt=_now(), durationMs=round((time.monotonic() - started) * 1000))
        self._log.save()
        if failed:
            # Decided: the new verifying shares are the key's from now on (the caller
            # stores them); the signers that committed sign, the late ones are left
            # out of signing until the background resume has committed them.
            log.warning(
                "epoch %d is decided but signers %s have not committed yet; resuming in "
                "the background",
                epoch,
                ", ".join(failed),
            )
            self.resume_in_background()
            return _result(entry)
        log.info("epoch %d committed in %d ms (%s primes)", epoch, entry["durationMs"], primes)
        return _result(entry)

    async def _next_number(self, ids: list[str]) -> int:
        """max(this log, every signer's committed epoch) + 1: a log lost or restored
        from an older backup must not make every signer refuse (and be blamed for
        refusing) a number it has already committed."""
        replies = await self._sessions.call_each(ids, "epoch.status")
        committed = [0]
        for signer_id, reply in replies.items():
            if isinstance(reply, BaseException):
                raise reply
            try:
                committed.append(int(reply["epoch"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise SignerMisbehaved(
                    f"signer {signer_id} sent a malformed epoch.status",
                    signers=(signer_id,),
                    check="epoch-status",
                ) from exc
        number = max(self._log.next_number(), max(committed) + 1)
        if number != self._log.next_number():
            log.warning("the epoch log is behind the signers: the next epoch is %d", number)
        return number

    async def _start(
        self, ids: list[str], op: str, session: SessionParties, **args: Any
    ) -> dict[str, dict[str, Any]]:
        """``op`` on every signer; a signer that refuses is named (blame), whatever
        its reason, since the epoch cannot go on without it."""
        results = await self._sessions.call_each(ids, op, **args)
        out: dict[str, dict[str, Any]] = {}
        for signer_id, res in results.items():
            if isinstance(res, (SignersUnavailable, SignerMisbehaved)):
                raise res
            if isinstance(res, ShardvaultError):
                mapped = self._sessions.blame(res, signer_id, session.signer_of)
                if mapped is not res:
                    raise mapped
                raise SignerMisbehaved(
                    f"signer {signer_id} refused {op}: {res.message}",
                    signers=(signer_id,),
                    check=op,
                    code="EpochRefused",
                )
            if isinstance(res, BaseException):
                raise res
            out[signer_id] = res
        return out

    async def _aux(
        self, epoch: int, ids: list[str], parties: SessionParties, fresh_primes: bool
    ) -> tuple[str, str]:
        sid = self._sessions.new_session_id()
        first = await self._start(
            ids,
            "epoch.aux",
            parties,
            timeout=AUX_TIMEOUT,
            epoch=epoch,
            sessionId=sid.hex(),
            parties=parties.arg,
            freshPrimes=fresh_primes,
        )
        finals = await self._sessions.relay(sid, first, parties, timeout=AUX_TIMEOUT)
        digests = {r.get("auxDigest") for r in finals.values()}
        if len(digests) != 1 or None in digests:
            raise SignerMisbehaved(
                "signers finished the epoch's aux info with different results", check="aux-result"
            )
        sources = {str(r.get("primes")) for r in finals.values()}
        return str(next(iter(digests))), "fresh" if "fresh" in sources else "stock"

    async def _redeal(
        self, epoch: int, key: KeyRecord, descs: Mapping[str, SignerDescriptor]
    ) -> tuple[str, dict[str, str]]:
        ids = list(key.signer_ids)
        # The key's own party indices (signer_ids[i] holds index i + 1).
        parties = SessionParties.of([(i + 1, descs[s]) for i, s in enumerate(ids)])
        sid = self._sessions.new_session_id()
        first = await self._start(
            ids,
            "epoch.refresh",
            parties,
            timeout=REFRESH_TIMEOUT,
            epoch=epoch,
            sessionId=sid.hex(),
            keyId=key.key_id,
            parties=parties.arg,
        )
        finals = await self._sessions.relay(sid, first, parties, timeout=REFRESH_TIMEOUT)
        views = {
            (r.get("publicKey"), tuple(sorted(dict(r.get("verifyingShares", {})).items())))
            for r in finals.values()
        }
        if len(views) != 1:
            raise SignerMisbehaved(
                f"signers finished the re-deal of key {key.key_id} with different shares",
                check="refresh-result",
            )
        public_key, verifying = next(iter(views))
        if public_key != key.public_key.hex():
            raise SignerMisbehaved(
                f"the re-deal of key {key.key_id} changed its public key", check="refresh-result"
            )
        try:
            shares = {ids[int(i) - 1]: str(y) for i, y in verifying}
        except (IndexError, ValueError) as exc:
            raise SignerMisbehaved("malformed verifying shares", check="refresh-result") from exc
        return sid.hex(), shares


def _updated(key: KeyRecord, shares: dict[str, str]) -> KeyRecord:
    return KeyRecord(
        key.key_id,
        key.protocol,
        key.curve,
        key.public_key,
        key.min_signers,
        key.signer_ids,
        {s: bytes.fromhex(v) for s, v in shares.items()},
    )
