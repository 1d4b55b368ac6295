"""Per-token rate limits: an in-process token bucket per API token.

Each token may make ``burst`` requests at once and ``rate`` requests per second on
average; a request beyond that answers 429 ``RateLimited`` with ``Retry-After`` (whole
seconds until a request is allowed again) and the error envelope. The buckets live
in this process: several API processes behind one load balancer each apply the limit,
so a token gets up to that many times the rate in total.

Runs as ASGI middleware inside the auth middleware (it reads the authenticated
principal); public paths and unauthenticated requests are not counted.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from shardvault.api.auth import PRINCIPAL_SCOPE_KEY, Principal
from shardvault.api.errors import error_response

__all__ = ["RateLimitMiddleware", "TokenBuckets"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """One bucket of ``burst`` tokens per key, refilled at ``rate`` tokens a second.
    At most ``max_keys`` buckets are kept (the least recently used is dropped: it is
    full again by the time it matters, unless the limit is tiny)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if not rate > 0:
            raise ValueError("rate must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds until one is."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate
            )
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class RateLimitMiddleware:
    """429 ``RateLimited`` (with ``Retry-After``) for a token over its limit."""

    def __init__(self, app: ASGIApp, buckets: TokenBuckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get(PRINCIPAL_SCOPE_KEY) if scope["type"] == "http" else None
        if isinstance(principal, Principal):
            wait = self.buckets.take(principal.token_id)
            if wait > 0:
                retry_after = max(1, math.ceil(wait))
                response = error_response(
                    429,
                    "RateLimited",
                    f"too many requests with this token; retry in {retry_after} s",
                    {
                        "retryAfterSeconds": retry_after,
                        "ratePerSecond": self.buckets.rate,
                        "burst": self.buckets.burst,
                    },
                    headers={"Retry-After": str(retry_after)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
