"""``GET /health``: public (no token), for load balancers and start-up scripts."""

from __future__ import annotations

import logging
import math

import anyio
from fastapi import APIRouter

from shardvault.api.dependencies import Backend
from shardvault.api.schemas import HealthOut

__all__ = ["router"]

logger = logging.getLogger("shardvault.api")

#: How long GET /health waits for the back end's ECDSA status.
_HEALTH_STATUS_TIMEOUT = 2.0

router = APIRouter(tags=["meta"])


@router.get("/health", response_model=HealthOut)
async def health(backend: Backend) -> HealthOut:
    """Liveness, and whether ECDSA (CGGMP24) is ready: the signers first search
    Paillier safe primes, then run aux-info generation once (``auxInfoProgress``).
    EdDSA and Schnorr keys work meanwhile."""
    ready, progress = False, 0.0
    try:
        with anyio.fail_after(_HEALTH_STATUS_TIMEOUT):
            status = await backend.ecdsa_status()
        ready = status.ready is True
        value = float(status.progress)
        progress = 1.0 if ready else min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
    except Exception as exc:  # a health check must answer even so
        logger.debug("ECDSA status unavailable: %s", type(exc).__name__)
    return HealthOut(status="ok", ecdsa_ready=ready, aux_info_progress=progress)
