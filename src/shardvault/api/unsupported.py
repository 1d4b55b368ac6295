"""Dfns request options shardvault does not implement, refused by name.

A Dfns client may send fields and query parameters for features shardvault does not
have (HD master keys and derivation, key stores, delegation to end users, the
``owner`` filter of delegated keys). Each is answered 400 ``UnsupportedFeature``
naming the field and the feature, never a generic unknown-field error and never
silently ignored; list routes also refuse query parameters they do not know.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from pydantic.alias_generators import to_camel

from shardvault.api.errors import ApiError
from shardvault.api.schemas import UnsupportedFeature

__all__ = ["OWNER_FILTERS", "known_query", "refuse_unsupported", "unsupported_error"]

#: Dfns's list filters by the end user a key or wallet is delegated to (``ownerId``
#: and ``ownerUsername``: the wallets list's deprecated spellings). Nothing is ever
#: delegated here, so the filter is refused rather than answered with an empty list.
OWNER_FILTERS = frozenset({"owner", "ownerId", "ownerUsername"})
_PAGING = frozenset({"limit", "paginationToken"})


def unsupported_error(found: UnsupportedFeature) -> ApiError:
    return ApiError(
        400,
        "UnsupportedFeature",
        f"{found.field}: {found.feature} are not supported by shardvault",
        details={"field": found.field, "feature": found.feature},
    )


def refuse_unsupported(found: UnsupportedFeature | None) -> None:
    """Raise 400 ``UnsupportedFeature`` for a request that asks for one."""
    if found is not None:
        raise unsupported_error(found)


def known_query(*names: str) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A route dependency refusing every query parameter but ``names``: the owner
    filters with 400 ``UnsupportedFeature``, anything else with 400
    ``InvalidRequest`` (a misspelt ``paginationToken`` must not restart the list)."""
    allowed = frozenset(names)

    async def check(request: Request) -> None:
        for name in request.query_params:
            if name in allowed:
                continue
            if name in OWNER_FILTERS:
                raise unsupported_error(
                    UnsupportedFeature(name, "owner filters (delegation to end users)")
                )
            if name in _PAGING:
                raise ApiError(
                    400,
                    "InvalidRequest",
                    f"this list answers every item at once; it takes no {name}",
                    details={"field": name, "allowed": sorted(allowed)},
                )
            camel = to_camel(name)
            hint = f" (did you mean {camel!r}?)" if camel != name and camel in allowed else ""
            raise ApiError(
                400,
                "InvalidRequest",
                f"unknown query parameter {name!r}{hint}",
                details={"field": name, "allowed": sorted(allowed)},
            )

    return check
