"""What every request handler of a signer node shares: the signer's identity and
encryption keys, its share store, its CGGMP24 state, its pinned roster, and the
checks common to all operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nacl.signing import SigningKey

from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.errors import Conflict, InvalidParameters, NotFound
from shardvault.signer.ecdsa import EcdsaState
from shardvault.signer.roster import PinnedRoster
from shardvault.signer.store import SignerStore

__all__ = ["Operation", "SignerContext"]

#: A request handler: the decoded request body in, the encoded reply out.
Operation = Callable[[dict[str, Any]], bytes]


@dataclass(frozen=True, eq=False)
class SignerContext:
    """One signer's keys and state (``repr`` names the signer only)."""

    signer_id: str
    #: Ed25519 identity key: signs every envelope and statement the signer publishes.
    identity: SigningKey
    #: X25519 HPKE key pair: opens import shares and secret protocol messages.
    hpke: HpkeKeyPair
    store: SignerStore
    ecdsa: EcdsaState
    #: The cluster roster this signer pinned: its peers' keys, and nothing else.
    roster: PinnedRoster

    def __repr__(self) -> str:
        return f"SignerContext({self.signer_id})"

    @property
    def identity_key(self) -> bytes:
        return bytes(self.identity.verify_key)

    def check_new_key(self, key_id: str) -> None:
        """``key_id`` may name a new key here: well formed, not held, never erased
        (ids are never reused)."""
        if not key_id or len(key_id) > 64:
            raise InvalidParameters("bad key id")
        if self.store.was_erased(key_id):
            raise Conflict(
                f"key id {key_id} was erased on signer {self.signer_id}; ids are never reused"
            )
        try:
            self.store.get_share(key_id)
        except NotFound:
            return
        raise Conflict(f"signer {self.signer_id} already holds key {key_id}")
