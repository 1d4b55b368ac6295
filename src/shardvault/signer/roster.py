"""A signer's pinned roster: the only source of its peers' keys.

At the cluster's first start the coordinator asks each signer to sign the roster
(``roster.sign``) and then hands every signer the roster with all n signatures
(``roster.pin``). A signer signs and pins only a roster whose entry for it is its
own keys; it pins only a roster whose every signature verifies; it stores it sealed
in its store (meta ``roster``) and never replaces it: once pinned, another roster is
refused (``InvalidRoster``, code ``RosterMismatch``), the same one is accepted again
(each later start hands it over once more). A signer without a roster runs no
session. See docs/security.md item 30.
"""

from __future__ import annotations

import json
import threading

from shardvault.errors import Forbidden, InvalidRoster
from shardvault.signer.store import SignerStore
from shardvault.transport.identity import PartyKeys
from shardvault.transport.roster import Roster

__all__ = ["ROSTER_META_ROW", "PinnedRoster"]

#: The store's meta row holding the pinned roster (sealed like every meta value).
ROSTER_META_ROW = "roster"


class PinnedRoster:
    """The roster a signer pinned (or none yet). Thread-safe."""

    def __init__(self, store: SignerStore, identity_key: bytes, encryption_key: bytes) -> None:
        self._store = store
        self._own = PartyKeys(identity_key, encryption_key)
        self._lock = threading.Lock()
        raw = store.get_secret(ROSTER_META_ROW)
        self._roster = None if raw is None else Roster.from_json(json.loads(raw))

    @property
    def current(self) -> Roster | None:
        return self._roster

    @property
    def fingerprint(self) -> str | None:
        return None if self._roster is None else self._roster.fingerprint

    def check_own_entry(self, roster: Roster) -> None:
        """The roster lists this signer under its own identity and encryption keys."""
        me = self._store.signer_id
        entry = roster.entry(me)
        if entry is None:
            raise InvalidRoster(f"the roster does not list signer {me}", signers=(me,))
        if entry.party_keys != self._own:
            raise InvalidRoster(
                f"the roster's entry for signer {me} is not this signer's keys", signers=(me,)
            )

    def check_replaceable(self, roster: Roster) -> None:
        """No roster is pinned yet, or ``roster`` is the pinned one."""
        pinned = self._roster
        if pinned is not None and not pinned.same_as(roster):
            raise InvalidRoster(
                f"signer {self._store.signer_id} has pinned roster {pinned.fingerprint}; "
                f"it does not take another ({roster.fingerprint})",
                signers=(self._store.signer_id,),
                code="RosterMismatch",
            )

    def pin(self, roster: Roster) -> None:
        """Pin ``roster`` (complete, its own entry right, none pinned before or the
        same one). Raises ``InvalidRoster`` naming the signer at issue."""
        roster.verify()
        self.check_own_entry(roster)
        with self._lock:
            self.check_replaceable(roster)
            if self._roster is None:
                self._store.put_secret(
                    ROSTER_META_ROW, json.dumps(roster.to_json(), sort_keys=True).encode()
                )
                self._roster = roster

    def require(self) -> Roster:
        """The pinned roster; a signer without one runs no session."""
        if self._roster is None:
            raise Forbidden(
                f"signer {self._store.signer_id} has no roster pinned yet; it runs no session",
                code="RosterMissing",
            )
        return self._roster
