"""Forming the cluster roster once, and handing it to the signers at every start.

``establish_roster`` runs when the coordinator starts. With no roster stored (the
cluster's first start) it asks every signer for its keys, builds the roster, has
every signer sign it (``roster.sign``), checks all n signatures and stores it
through ``save`` before anything else happens. With a stored roster it checks it
(signatures, cluster id, signers). Either way the coordinator then pins it (a
signer presenting other keys is refused, named) and hands it to every signer
(``roster.pin``): a signer pins it if it has none, confirms it if it holds the same
one, and refuses another (docs/security.md item 30).

Where the roster is kept is the caller's choice (the embedded vault: its data
directory, next to ``cluster.json``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from shardvault.coordinator.sessions import SignerSessions, reply_from
from shardvault.errors import InvalidRoster, ShardvaultError, SignerMisbehaved, SignersUnavailable
from shardvault.transport.identity import encryption_key_statement
from shardvault.transport.roster import Roster, RosterEntry

__all__ = ["establish_roster"]

log = logging.getLogger("shardvault.coordinator")


async def _form(sessions: SignerSessions, cluster_id: str, threshold: int) -> Roster:
    """A new roster of every signer's current keys, signed by all of them."""
    ids = list(sessions.signer_ids)
    descs = await sessions.require_all(ids)
    for d in descs.values():
        try:
            VerifyKey(d.identity_key).verify(
                encryption_key_statement(d.signer_id, d.encryption_key),
                d.encryption_key_signature,
            )
        except (BadSignatureError, ValueError) as exc:
            raise SignerMisbehaved(
                f"signer {d.signer_id}'s encryption key is not signed by its identity key",
                signers=(d.signer_id,),
                check="identity",
            ) from exc
    unsigned = Roster.of(
        cluster_id,
        threshold,
        [RosterEntry(d.signer_id, d.identity_key, d.encryption_key) for d in descs.values()],
    )
    replies = await sessions.call_each(ids, "roster.sign", roster=unsigned.to_json())
    signatures = {}
    for sid, reply in replies.items():
        if isinstance(reply, BaseException):
            raise _refused(sid, reply)
        with reply_from(sid):
            signatures[sid] = bytes.fromhex(reply["signature"])
    roster = unsigned.with_signatures(signatures)
    roster.verify()
    log.info("formed the roster of cluster %s: %s", cluster_id, roster.fingerprint)
    return roster


def _refused(signer_id: str, exc: BaseException) -> BaseException:
    if isinstance(exc, SignersUnavailable):
        return exc
    if isinstance(exc, ShardvaultError):
        return InvalidRoster(
            f"signer {signer_id} refused the roster: {exc.message}",
            signers=(signer_id,),
            code=exc.code if isinstance(exc, InvalidRoster) else None,
        )
    return exc


async def establish_roster(
    sessions: SignerSessions,
    *,
    cluster_id: str,
    threshold: int,
    stored: Roster | None,
    save: Callable[[Roster], None],
) -> Roster:
    """The cluster's roster, pinned here and by every signer (see the module
    docstring). A signer unreachable at a later start keeps the roster it pinned at
    the first one (the first start needs them all)."""
    if stored is None:
        roster = await _form(sessions, cluster_id, threshold)
        save(roster)
    else:
        roster = stored
        roster.verify()
        if roster.cluster_id != cluster_id:
            raise InvalidRoster(
                f"the stored roster is cluster {roster.cluster_id}'s, not {cluster_id}'s"
            )
    sessions.pin_roster(roster)
    found, _missing = await sessions.reachable(sessions.signer_ids, fresh=True)
    replies = await sessions.call_each(list(found), "roster.pin", roster=roster.to_json())
    for sid, reply in replies.items():
        if isinstance(reply, BaseException):
            raise _refused(sid, reply)
        with reply_from(sid):
            if reply["fingerprint"] != roster.fingerprint:
                raise InvalidRoster(
                    f"signer {sid} pinned another roster than {roster.fingerprint}",
                    signers=(sid,),
                )
    return roster
