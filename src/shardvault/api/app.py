"""The REST API: Dfns-shaped routes over a :class:`SigningBackend` and the API database.

``create_app(backend, database_url)`` builds the FastAPI application: the API database
(``ApiRepository``), the signing flow (``SigningService``), the middleware (catch-all,
auth, body limit), the error handlers and the routers of ``api/routers/``. The API
keeps public key metadata and signature records; every secret operation goes to the
back end (the coordinator and its signers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shardvault import __version__
from shardvault.api.audit import AuditContext
from shardvault.api.audit_middleware import AuditMiddleware
from shardvault.api.auth import AuthMiddleware, Principal
from shardvault.api.errors import (
    BodyLimitMiddleware,
    CatchAllMiddleware,
    http_exception_handler,
    shardvault_error_handler,
    validation_exception_handler,
)
from shardvault.api.identity import IdentityRepository
from shardvault.api.openapi import install_openapi
from shardvault.api.permission_repository import PermissionRepository
from shardvault.api.policies import PolicyStore
from shardvault.api.rate_limit import RateLimitMiddleware, TokenBuckets
from shardvault.api.refresh_epoch import EpochGate, apply_missed_epoch, refresh_on_schedule
from shardvault.api.repository import ApiRepository, in_thread
from shardvault.api.routers import ROUTERS
from shardvault.api.settings import ApiSettings
from shardvault.api.signing import SigningService
from shardvault.api.user_actions import enforce_user_action
from shardvault.coordinator.backend import SigningBackend
from shardvault.db.engine import make_engine, upgrade_database
from shardvault.errors import ShardvaultError

__all__ = ["create_app"]

logger = logging.getLogger("shardvault.api")


async def expire_approvals_on_schedule(policies: PolicyStore, every_seconds: float) -> None:
    """Expire approvals past their ``autoRejectTimeout`` (and reject what they held
    back) every ``every_seconds``; reads expire them lazily as well."""
    while True:
        await anyio.sleep(every_seconds)
        try:
            expired = await in_thread(policies.expire_due)
        except Exception as exc:  # a database hiccup: the next sweep tries again
            logger.warning("approval expiry sweep failed: %r", exc)
        else:
            if expired:
                logger.info("%d approval(s) expired", expired)


def create_app(
    backend: SigningBackend,
    database_url: str,
    *,
    max_body_bytes: int = 1_048_576,
    default_min_signers: int = 2,
    migrate: bool = True,
    idempotency_wait_seconds: float = 30.0,
    large_request_bytes: int = 64 * 1024,
    signing_lease_seconds: float = 120.0,
    refresh_every_seconds: float | None = None,
    key_refresh_min_interval_seconds: float = 600.0,
    approval_sweep_seconds: float = 30.0,
    rate_limit_per_second: float = 0.0,
    rate_limit_burst: int = 0,
    allowed_origins: Sequence[str] = ("http://localhost",),
    user_action_challenge_seconds: float = 300.0,
    user_action_token_seconds: float = 300.0,
) -> FastAPI:
    """The shardvault REST API.

    ``database_url``: ``sqlite:///...`` or ``postgresql+psycopg://...``; with
    ``migrate`` (default) the schema is upgraded to the latest revision first.
    The other settings are :class:`ApiSettings`'s: ``max_body_bytes``,
    ``default_min_signers`` (threshold of generated keys), ``idempotency_wait_seconds``
    (how long a repeated ``externalId`` waits for its first request) and
    ``large_request_bytes`` (larger chain requests are prepared in a worker thread)
    and ``signing_lease_seconds`` (a signature claim's lease). Signature rows left
    Executing by a process that died (lease expired) are resolved Failed
    ``Interrupted`` here, before the app serves.
    ``refresh_every_seconds``: run a refresh epoch on that schedule (``shardvault up
    --refresh-every``). ``key_refresh_min_interval_seconds``: ``POST
    /keys/{keyId}/refresh`` by a non-admin within that long after the last epoch
    answers the key as that epoch refreshed it and starts none. At start, the
    verifying shares of an epoch the signers committed (or the coordinator decided)
    but this API did not store are stored (``apply_missed_epoch``).
    ``approval_sweep_seconds``: how often approvals past their ``autoRejectTimeout``
    are expired in the background (reads expire them too).
    ``rate_limit_per_second`` / ``rate_limit_burst``: per-token rate limit of this
    process (0: none; api/rate_limit.py).
    Every state-changing request needs a signed user action (api/user_actions.py);
    ``allowed_origins`` are the origins its ``clientData`` may name (``shardvault up``
    adds its base URL), the two lifetimes those of challenges and their tokens.
    """
    settings = ApiSettings(
        max_body_bytes=max_body_bytes,
        default_min_signers=default_min_signers,
        idempotency_wait_seconds=idempotency_wait_seconds,
        large_request_bytes=large_request_bytes,
        signing_lease_seconds=signing_lease_seconds,
        key_refresh_min_interval_seconds=key_refresh_min_interval_seconds,
        approval_sweep_seconds=approval_sweep_seconds,
        rate_limit_per_second=rate_limit_per_second,
        rate_limit_burst=rate_limit_burst,
        allowed_origins=tuple(dict.fromkeys(allowed_origins)),
        user_action_challenge_seconds=user_action_challenge_seconds,
        user_action_token_seconds=user_action_token_seconds,
    )
    epochs = EpochGate()
    if migrate:
        upgrade_database(database_url)
    engine = make_engine(database_url)
    repository = ApiRepository(engine, lease_seconds=settings.signing_lease_seconds)
    policies = PolicyStore(repository)
    identity = IdentityRepository(
        engine,
        challenge_seconds=settings.user_action_challenge_seconds,
        token_seconds=settings.user_action_token_seconds,
    )
    interrupted = repository.resolve_expired_claims()
    if interrupted:
        logger.warning("%d signature(s) left Executing by a stopped process: Failed", interrupted)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            changed = await apply_missed_epoch(backend, repository)
        except Exception as exc:  # the API still serves; the next epoch applies them
            logger.error("could not apply the last refresh epoch: %r", exc)
        else:
            if changed:
                logger.warning("stored the verifying shares of %d keys from an epoch", changed)
        sweep = asyncio.create_task(
            expire_approvals_on_schedule(policies, settings.approval_sweep_seconds),
            name="approval-expiry",
        )
        schedule = None
        if refresh_every_seconds is not None:
            schedule = asyncio.create_task(
                refresh_on_schedule(backend, repository, refresh_every_seconds, epochs),
                name="refresh-epochs",
            )
        try:
            yield
        finally:
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            if schedule is not None:
                schedule.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await schedule
            identity.close()
            engine.dispose()

    app = FastAPI(
        title="shardvault",
        version=__version__,
        description="Self-hosted threshold-signing vault (Dfns-shaped REST API).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(enforce_user_action)],
    )
    # What the routers' dependencies read (api/dependencies.py).
    app.state.settings = settings
    app.state.repository = repository
    app.state.backend = backend
    app.state.epochs = epochs
    app.state.permissions = PermissionRepository(engine)
    app.state.policies = policies
    app.state.identity = identity
    app.state.signing = SigningService(
        backend,
        repository,
        idempotency_wait_seconds=settings.idempotency_wait_seconds,
        large_request_bytes=settings.large_request_bytes,
        policies=policies,
    )

    app.add_exception_handler(ShardvaultError, shardvault_error_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)

    async def lookup(token: str) -> Principal | None:
        return await in_thread(repository.principal, token)

    async def record_audit(
        context: AuditContext,
        action: str,
        target_id: str | None,
        result: str,
        status: int,
        error_code: str | None,
        details: dict[str, Any] | None,
    ) -> None:
        await in_thread(
            repository.record,
            context,
            action=action,
            target_id=target_id,
            result=result,
            status=status,
            error_code=error_code,
            details=details,
        )

    # Added innermost first: CatchAll(Audit(Auth(BodyLimit(app)))). The audit
    # middleware must stay outside every middleware that refuses requests.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.rate_limit_per_second > 0:
        app.add_middleware(
            RateLimitMiddleware,
            buckets=TokenBuckets(
                settings.rate_limit_per_second, settings.effective_rate_limit_burst
            ),
        )
    app.add_middleware(AuthMiddleware, lookup=lookup)
    routes = [route for router in ROUTERS for route in router.routes]
    app.add_middleware(AuditMiddleware, record=record_audit, routes=lambda: routes)
    app.add_middleware(CatchAllMiddleware)

    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    return app
