"""Enforcement of signed user actions, as an app-wide FastAPI dependency
(:func:`enforce_user_action`, installed by ``create_app`` so every route of every
router is covered, including routes added later).

For every request:

* a JSON body with a duplicate object key is refused (400 ``DuplicateJsonKey``),
  whatever the method and route;
* a state-changing request (any method but GET, HEAD and OPTIONS) other than
  ``POST /auth/action/init`` and ``POST /auth/action`` needs a header
  ``X-DFNS-USERACTION`` (401 ``UserActionRequired``) whose token was signed by the
  caller for this method, this path and this body (compared as parsed JSON, in its
  canonical form), is unused and unexpired (401 with the code of the reason, see
  :meth:`IdentityRepository.consume`). The verified action is put on
  ``request.state.user_action`` (a :class:`VerifiedUserAction`).

Being a dependency (not middleware), every refusal is a typed error that goes
through the app's exception handlers (so an audit handler sees it).
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import Request

from shardvault.api.auth import Principal, principal_of
from shardvault.api.errors import ApiError
from shardvault.api.identity import IdentityRepository, VerifiedUserAction
from shardvault.api.repository import in_thread
from shardvault.protocols.user_action import (
    UserActionError,
    canonical_payload,
    loads_strict,
    payload_sha256,
)

__all__ = [
    "EXEMPT",
    "USER_ACTION_HEADER",
    "enforce_user_action",
    "parse_payload",
    "request_payload_sha256",
]

USER_ACTION_HEADER = "x-dfns-useraction"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: (method, path) that are the signing flow itself.
EXEMPT = frozenset({("POST", "/auth/action/init"), ("POST", "/auth/action")})


def parse_payload(body: bytes | str) -> Any:
    """A request body (or a ``userActionPayload``) as parsed JSON: None when empty.
    Raises ``DuplicateJsonKey`` on a repeated key, ``ValueError`` when not JSON."""
    if not body or (isinstance(body, bytes) and not body.strip()):
        return None
    return loads_strict(body)


def request_payload_sha256(value: Any) -> str:
    return payload_sha256(canonical_payload(value))


async def enforce_user_action(request: Request) -> None:
    """The app-wide dependency (see the module doc)."""
    body = await request.body()
    digest = request_payload_sha256(None)
    malformed = False
    if body:
        try:
            # parsed and canonicalised at once: a number JSON parses to infinity
            # (1e999) or a lone surrogate fails here as malformed, not later
            digest = request_payload_sha256(parse_payload(body))
        except ValueError:  # UnicodeError included
            malformed = True
    method = request.method.upper()
    path = request.url.path
    if method in _SAFE_METHODS or (method, path) in EXEMPT:
        return
    if malformed:  # never executed, signed or not
        raise ApiError(400, "MalformedJson", "request body is not valid JSON")
    principal: Principal | None = principal_of(request)
    if principal is None:  # a public route; none changes state
        return
    token = request.headers.get(USER_ACTION_HEADER)
    if not token:
        raise UserActionError(
            "this request needs a signed user action (header X-DFNS-USERACTION)",
            code="UserActionRequired",
        )
    identity = cast(IdentityRepository, request.app.state.identity)
    verified: VerifiedUserAction = await in_thread(
        identity.consume,
        principal.org_id,
        principal.user_id,
        token.strip(),
        method,
        path,
        digest,
    )
    request.state.user_action = verified
