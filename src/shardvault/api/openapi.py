"""The OpenAPI document advertises only the error shapes the server sends.

FastAPI documents a 422 ``HTTPValidationError`` on every route with parameters or a
body, but shardvault answers validation errors 400 with its error envelope
(api/errors.py). :func:`install_openapi` builds FastAPI's document once, then drops
the 422 responses and their schemas and documents a 400 envelope wherever a 422 was.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

__all__ = ["install_openapi", "only_sent_errors"]

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"


def only_sent_errors(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` without FastAPI's 422 validation responses and schemas (in place)."""
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if not isinstance(responses, dict) or "422" not in responses:
                continue
            del responses["422"]
            responses.setdefault(
                "400",
                {
                    "description": "Bad Request",
                    "content": {"application/json": {"schema": {"$ref": _ENVELOPE_REF}}},
                },
            )
    schemas = spec.get("components", {}).get("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return spec


def install_openapi(app: FastAPI) -> None:
    """Serve :func:`only_sent_errors` of FastAPI's document (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = only_sent_errors(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
