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
"""

from __future__ import annotations

import asyncio
import logging

from shardvault.api.errors import ApiError
from shardvault.api.key_lifecycle import key_record, refreshed_record_is_consistent
from shardvault.api.repository import ApiRepository, in_thread
from shardvault.api.schemas import EpochKeysOut, EpochOut
from shardvault.coordinator.backend import EpochResult, KeyRecord, SigningBackend
from shardvault.protocols.registry import REFRESH_PROTOCOLS

__all__ = [
    "apply_missed_epoch",
    "epoch_out",
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
    backend: SigningBackend, repository: ApiRepository, *, fresh_primes: bool = False
) -> EpochResult:
    """One epoch over every refreshable key; stores the new verifying shares."""
    rows = await in_thread(repository.refreshable_keys)
    records = [
        key_record(r) for r in rows if r.protocol in REFRESHED_PROTOCOLS and r.min_signers >= 2
    ]
    result = await backend.run_epoch(records, fresh_primes=fresh_primes)
    await _store(repository, result, records)
    return result


async def _store(repository: ApiRepository, result: EpochResult, records: list[KeyRecord]) -> None:
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
    await in_thread(repository.apply_epoch_shares, shares)
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
            return await in_thread(repository.apply_epoch_shares, shares)
    return 0


async def refresh_on_schedule(
    backend: SigningBackend, repository: ApiRepository, every_seconds: float
) -> None:
    """Run an epoch every ``every_seconds`` (``shardvault up --refresh-every``); a
    failed epoch is logged and retried at the next tick."""
    while True:
        await asyncio.sleep(every_seconds)
        try:
            await run_refresh_epoch(backend, repository)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.error("scheduled refresh epoch failed: %s", getattr(exc, "message", exc))
