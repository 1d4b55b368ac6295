"""Pagination of the list routes: newest first, ``limit`` rows per page, and an
opaque ``paginationToken`` (base64url of the last id of the page) for the next one.
The repositories build each page's query with :func:`newest_first`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from shardvault.api.encoding import b64url_decode, b64url_encode
from shardvault.api.errors import ApiError
from shardvault.db.ids import is_id

__all__ = ["newest_first", "one_page", "parse_page_token"]

R = TypeVar("R")
Ts = TypeVarTuple("Ts")


def newest_first(
    stmt: Select[*Ts], key: InstrumentedAttribute[Any], after: Any, limit: int
) -> Select[*Ts]:
    """``stmt`` as one page: rows whose ``key`` (a time-ordered id, or a sequence
    number) is below the cursor ``after`` (none: from the newest), newest first, at
    most ``limit``."""
    if after is not None:
        stmt = stmt.where(key < after)
    return stmt.order_by(key.desc()).limit(limit)


def _page_token(last_id: str) -> str:
    return b64url_encode(last_id.encode("ascii"))


def one_page(rows: list[R], limit: int, id_of: Callable[[R], str]) -> tuple[list[R], str | None]:
    """The page (the first ``limit`` of the ``limit + 1`` rows fetched) and the token of
    the next one, if that extra row exists."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, _page_token(id_of(page[-1]))


def parse_page_token(token: str | None, prefix: str) -> str | None:
    """The id a ``paginationToken`` continues after (ids of ``prefix``); 400
    ``InvalidPaginationToken`` for anything a list did not return."""
    if token is None:
        return None
    try:
        value = b64url_decode(token, "paginationToken").decode("ascii")
    except (ApiError, UnicodeDecodeError):
        value = ""
    if not is_id(value, prefix):
        raise ApiError(
            400,
            "InvalidPaginationToken",
            "paginationToken is not a token this list returned",
            details={"field": "paginationToken"},
        )
    return value
