"""Errors raised by the SDK.

Every error is a :class:`shardvault.errors.ShardvaultError`, so it has a stable
``code`` and a ``message`` that never contains secret material. The CLI prints
them as ``error <code>: <message>``.
"""

from __future__ import annotations

from typing import Any

from shardvault.errors import ShardvaultError

__all__ = [
    "ApiConnectionError",
    "CredentialsError",
    "InvalidArgument",
    "InvalidResponse",
    "SdkError",
    "ShardvaultApiError",
    "SignerVerificationError",
]


class SdkError(ShardvaultError):
    """Base class of every error the SDK raises itself."""

    code = "SdkError"


class InvalidArgument(SdkError, ValueError):
    """An argument the SDK refuses before anything is sent (also a ``ValueError``)."""

    code = "InvalidArgument"


class CredentialsError(SdkError):
    """A credentials file that is missing, unreadable or malformed."""

    code = "InvalidCredentials"


class ApiConnectionError(SdkError):
    """The server could not be reached, or did not answer in time."""

    code = "ConnectionFailed"


class InvalidResponse(SdkError):
    """A 2xx answer that does not have the shape the REST API promises, or that
    contradicts what the client asked for (e.g. another public key than imported)."""

    code = "InvalidResponse"


class ShardvaultApiError(SdkError):
    """A non-2xx answer, parsed from the ``{"error": {"code", "message", "details"}}``
    envelope (or made up from the status line when the body is not that envelope)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status_code = status_code
        self.details = details

    def __repr__(self) -> str:
        return (
            f"ShardvaultApiError(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r}, details={self.details!r})"
        )


class SignerVerificationError(SdkError):
    """A signer whose published keys cannot be trusted: its encryption-key signature
    does not verify under its identity key, its identity key is not the pinned one,
    or its keys are malformed. ``signer_id`` names it."""

    code = "SignerVerificationFailed"

    def __init__(self, message: str, *, signer_id: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.signer_id = signer_id
