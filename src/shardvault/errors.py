"""Typed errors shared by every layer.

Each error carries a stable ``code`` (what the REST API puts in
``{"error": {"code", "message"}}``) and never includes secret material in its
message.
"""

from __future__ import annotations


class ShardvaultError(Exception):
    """Base class of every error shardvault raises on purpose."""

    code: str = "InternalError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidEncoding(ShardvaultError):
    """Bytes that do not decode to a valid value (wrong length, off curve, non-canonical...)."""

    code = "InvalidEncoding"


class InvalidScalar(InvalidEncoding):
    code = "InvalidScalar"


class InvalidPoint(InvalidEncoding):
    code = "InvalidPoint"


class InvalidParameters(ShardvaultError):
    """Parameters that make no sense together (t > n, duplicate indices...)."""

    code = "InvalidParameters"


class DecryptionError(ShardvaultError):
    """An envelope that does not open: wrong key, wrong AAD or tampered ciphertext."""

    code = "DecryptionFailed"


class ProtocolError(ShardvaultError):
    """A protocol run failed a check. ``blame`` names the parties at fault (may be empty)."""

    code = "ProtocolAborted"

    def __init__(
        self,
        message: str,
        *,
        blame: tuple[int, ...] = (),
        check: str = "",
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.blame = tuple(blame)
        self.check = check


class SessionReused(ProtocolError):
    code = "SessionReused"


class NonceReused(ProtocolError):
    code = "NonceReused"
