"""Refresh epochs as the API runs them (docs/security.md item 28): the keys to
re-deal come from the API database (every Active, never exported key of every org),
the back end renews aux info and shares on every signer, and the API stores each
key's new verifying shares. ``POST /admin/refresh``, ``POST /keys/{keyId}/refresh``
and the ``--refresh-every`` schedule all go through :func:`run_refresh_epoch`.

:func:`apply_missed_epoch` runs at start: if the process stopped after the signers
committed an epoch but before the API stored its verifying shares, they are stored
now (the coordinator's epoch log keeps them). An epoch decided but not yet committed
on every signer (state ``committing``) counts: its shares are the keys' from the
decision on, so :func:`run_refresh_epoch` stores them too, and the coordinator
finishes the commit on the late signers in the background.

Audit: the verifying shares an epoch stores are audited ``Keys:Refresh`` in each org
whose keys changed (by the caller who started the epoch in its own org, by the vault
elsewhere and for the schedule and start-up); the erasures finished before an epoch
``Keys:Delete`` by the vault.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from shardvault.api.audit import AuditContext
from shardvault.api.errors import ApiError
from shardvault.api.key_lifecycle import erase_shares, key_record, refreshed_record_is_consistent
from shardvault.api.repository import ApiRepository, in_thread
from shardvault.api.schemas import EpochKeysOut, EpochOut
from shardvault.coordinator.backend import EpochResult, KeyRecord, SigningBackend
from shardvault.errors import ShardvaultError
from shardvault.protocols.registry import REFRESH_PROTOCOLS

__all__ = [
    "EpochGate",
    "apply_missed_epoch",
    "epoch_out",
    "finish_deletes",
    "refresh_on_schedule",
    "run_refresh_epoch",
]

logger = logging.getLogger("shardvault.api")

#: Protocols whose keys an epoch re-deals.
REFRESHED_PROTOCOLS = frozenset(REFRESH_PROTOCOLS)


def epoch_out(result: EpochResult) -> EpochOut:
    return EpochOut(
        epoch=result.epoch,
        state=result.state,  # type: ignore[arg-type]
        started_at=result.started_at,
        finished_at=result.finished_at,
        duration_ms=result.duration_ms,
        keys=EpochKeysOut(ecdsa=result.ecdsa_keys, frost=result.frost_keys),
        primes=result.primes,  # type: ignore[arg-type]
        error=result.error,
    )


async def run_refresh_epoch(
    backend: SigningBackend,
    repository: ApiRepository,
    *,
    fresh_primes: bool = False,
    audit: AuditContext | None = None,
) -> EpochResult:
    """One epoch over every refreshable key; stores the new verifying shares. DELETEs
    the signers have not carried out yet are finished first: the signers would
    otherwise still hold those keys live, and an epoch leaving them out is aborted
    (``KeysOutOfStep``)."""
    await finish_deletes(backend, repository)
    rows = await in_thread(repository.refreshable_keys)
    records = [
        key_record(r) for r in rows if r.protocol in REFRESHED_PROTOCOLS and r.min_signers >= 2
    ]
    result = await backend.run_epoch(records, fresh_primes=fresh_primes)
    await _store(repository, result, records, audit)
    return result


async def finish_deletes(backend: SigningBackend, repository: ApiRepository) -> list[str]:
    """Erase the shares of every Archived key whose erasure the signers have not
    confirmed; returns the key ids finished. A key the signers no longer hold counts
    as erased; any other failure is logged and left for the DELETE's retry."""
    finished = []
    for row in await in_thread(repository.unfinished_deletes):
        try:
            await erase_shares(backend, repository, row, AuditContext.system(row.org_id))
        except ShardvaultError as exc:
            logger.warning("key %s: its erasure is still unfinished (%s)", row.id, exc.code)
            continue
        finished.append(row.id)
    if finished:
        logger.info("before the epoch: shares of archived keys %s erased", finished)
    return finished


class EpochGate:
    """The API's epochs, one at a time (``app.state.epochs``).

    ``POST /admin/refresh`` and the schedule always start an epoch (:meth:`run`; the
    coordinator refuses one while another runs: 409 ``RefreshInProgress``).
    ``POST /keys/{keyId}/refresh`` goes through :meth:`join_or_run`: a request while
    an epoch runs joins it (waits for its result) instead of starting another, and a
    non-admin caller does not start a new epoch within ``min_interval`` seconds of the
    last decided one: the key as that epoch refreshed it is the answer. So no org's
    user can keep the whole cluster in ``RefreshInProgress`` by repeating the call.
    The epoch runs in its own task: a client that disconnects does not cancel it.
    """

    def __init__(self) -> None:
        self._running: asyncio.Task[EpochResult] | None = None

    def _current(self) -> asyncio.Task[EpochResult] | None:
        task = self._running
        return task if task is not None and not task.done() else None

    async def run(
        self,
        backend: SigningBackend,
        repository: ApiRepository,
        *,
        fresh_primes: bool = False,
        audit: AuditContext | None = None,
    ) -> EpochResult:
        task = asyncio.ensure_future(
            run_refresh_epoch(backend, repository, fresh_primes=fresh_primes, audit=audit)
        )
        if self._current() is None:
            self._running = task
        return await asyncio.shield(task)

    async def join_or_run(
        self,
        backend: SigningBackend,
        repository: ApiRepository,
        *,
        min_interval: float,
        admin: bool,
        audit: AuditContext | None = None,
    ) -> EpochResult | None:
        """The running epoch's result, or a new epoch's; None when a non-admin asked
        within ``min_interval`` seconds of the last decided epoch (nothing ran)."""
        running = self._current()
        if running is None and not admin and min_interval > 0:
            age = await _seconds_since_last_epoch(backend)
            running = self._current()
            if running is None and age is not None and age < min_interval:
                return None
        if running is not None:
            return await asyncio.shield(running)
        return await self.run(backend, repository, audit=audit)


async def _seconds_since_last_epoch(backend: SigningBackend) -> float | None:
    """Seconds since the newest decided epoch finished (None: there is none)."""
    for result in await backend.epochs():
        if result.state in ("committing", "committed"):
            when = result.finished_at or result.started_at
            finished = datetime.fromisoformat(when.replace("Z", "+00:00"))
            return (datetime.now(UTC) - finished).total_seconds()
    return None


async def _store(
    repository: ApiRepository,
    result: EpochResult,
    records: list[KeyRecord],
    audit: AuditContext | None,
) -> None:
    bad = []
    shares: dict[str, dict[str, str]] = {}
    for record in records:
        new = result.verifying_shares.get(record.key_id)
        if new is None:
            bad.append(record.key_id)
            continue
        refreshed = KeyRecord(
            record.key_id,
            record.protocol,
            record.curve,
            record.public_key,
            record.min_signers,
            record.signer_ids,
            dict(new),
        )
        if not refreshed_record_is_consistent(record, refreshed):
            bad.append(record.key_id)
            continue
        shares[record.key_id] = {s: v.hex() for s, v in new.items()}
    await in_thread(repository.apply_epoch_shares, shares, epoch=result.epoch, audit=audit)
    if bad:
        logger.error("epoch %d returned inconsistent shares for %s", result.epoch, bad)
        raise ApiError(
            502,
            "InconsistentRefresh",
            f"epoch {result.epoch} returned inconsistent verifying shares for keys "
            f"{', '.join(bad)}",
            details={"keys": bad},
        )
    logger.info(
        "epoch %d: %d keys refreshed in %s ms (%s primes)",
        result.epoch,
        len(shares),
        result.duration_ms,
        result.primes,
    )


async def apply_missed_epoch(backend: SigningBackend, repository: ApiRepository) -> int:
    """Store the verifying shares of the newest decided epoch (idempotent): state
    ``committed``, or ``committing`` (decided; the coordinator's background resume
    commits it on the signers it has not reached yet, which sign nothing meanwhile)."""
    for result in await backend.epochs():
        if result.state in ("committing", "committed"):
            shares = {
                k: {s: v.hex() for s, v in v_.items()} for k, v_ in result.verifying_shares.items()
            }
            return await in_thread(
                repository.apply_epoch_shares, shares, epoch=result.epoch, audit=None
            )
    return 0


async def refresh_on_schedule(
    backend: SigningBackend,
    repository: ApiRepository,
    every_seconds: float,
    gate: EpochGate | None = None,
) -> None:
    """Run an epoch every ``every_seconds`` (``shardvault up --refresh-every``); a
    failed epoch is logged and retried at the next tick."""
    gate = gate or EpochGate()
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await gate.run(backend, repository)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("scheduled refresh epoch failed: %s", getattr(exc, "message", exc))
