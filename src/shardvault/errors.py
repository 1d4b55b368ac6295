"""Typed errors shared by every layer.

Each error carries a stable, machine-readable ``code`` and never includes secret
material in its message. How an error is shown to a caller (the REST API's status and
envelope) is decided where it is shown, not here.
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


# ---------------------------------------------------------------------------
# Service-level errors: what a request to the vault can fail with.
# ---------------------------------------------------------------------------


class NotFound(ShardvaultError):
    code = "NotFound"


class Conflict(ShardvaultError):
    code = "Conflict"


class Forbidden(ShardvaultError):
    code = "Forbidden"


class Unauthorized(ShardvaultError):
    code = "Unauthorized"


class SignersUnavailable(ShardvaultError):
    """Fewer than the needed signers answered; ``signers`` names the missing ones."""

    code = "SignersUnavailable"

    def __init__(self, message: str, *, signers: tuple[str, ...] = (), code: str | None = None):
        super().__init__(message, code=code)
        self.signers = tuple(signers)


class AuxInfoNotReady(ShardvaultError):
    """The signers' Paillier primes (and so the ECDSA aux info) do not exist yet."""

    code = "AuxInfoNotReady"


class SignerMisbehaved(ShardvaultError):
    """A signer failed a protocol check; ``signers`` names it (blame)."""

    code = "SignerMisbehaved"

    def __init__(
        self,
        message: str,
        *,
        signers: tuple[str, ...] = (),
        check: str = "",
        code: str | None = None,
    ):
        super().__init__(message, code=code)
        self.signers = tuple(signers)
        self.check = check


class InvalidImport(ShardvaultError):
    """An import request that the signers refused; ``code`` says why, ``signers`` who saw it."""

    code = "InvalidImport"

    def __init__(self, message: str, *, code: str | None = None, signers: tuple[str, ...] = ()):
        super().__init__(message, code=code)
        self.signers = tuple(signers)


class InvalidRoster(ShardvaultError):
    """A cluster roster that cannot be pinned: malformed, a signature missing or not
    verifying, an entry that is not the signer's own keys, or a roster other than the
    one already pinned (code ``RosterMismatch``). ``signers`` names who is at issue."""

    code = "InvalidRoster"

    def __init__(self, message: str, *, signers: tuple[str, ...] = (), code: str | None = None):
        super().__init__(message, code=code)
        self.signers = tuple(signers)
