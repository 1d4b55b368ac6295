"""The signing flow behind ``POST /keys/{keyId}/signatures`` and
``POST /wallets/{walletId}/signatures``.

:meth:`SigningService.sign_request`:

1. the key's scheme, curve and public key come from a per-org cache (they never
   change once the key exists), so the request is checked without a database read;
2. the request becomes a :class:`SigningJob`: ``plain.py`` for ``Hash`` / ``Message``,
   ``chains.py`` for the chain kinds. Every check runs before anything is stored; a
   large chain payload is prepared in a worker thread, a small one on the event loop;
3. the signature row is claimed (:meth:`ApiRepository.claim_signature`: the key is
   read again, locked, and refused if archived, exported or gone; a repeated
   ``externalId`` finds the row its first request made);
4. each payload is signed by the back end on the event loop and checked
   (``checks.py``: ECDSA recovers to the key) before the job's finishing step builds
   the result, which is stored; a failure is stored too and frees the ``externalId``.

Idempotency: a repeated ``externalId`` with the same normalized request (and wallet)
answers the stored signature, waiting up to ``idempotency_wait_seconds`` for a first
request that is still signing; a different request is 409 ``ExternalIdConflict``.
A first request whose process died mid-sign holds the ``externalId`` only until its
claim's lease expires (renewed while it signs): then a retry resolves it
Failed ``Interrupted`` and signs afresh (docs/security.md item 26).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Generic, NamedTuple, TypeVar

import anyio
import anyio.to_thread

from shardvault.api.audit import AuditContext
from shardvault.api.auth import Principal
from shardvault.api.errors import ApiError, api_error_from
from shardvault.api.key_lifecycle import key_record
from shardvault.api.policies.definitions import SIGNING_KINDS, VELOCITY_RULES, WALLETS_SIGN
from shardvault.api.policies.evaluation import Activity, evaluate
from shardvault.api.policies.store import PolicyStore, new_approval
from shardvault.api.policies.transfers import Transfer, transfer_of
from shardvault.api.repository import ApiRepository, in_thread, lease_expired
from shardvault.api.schemas import SignatureRequest
from shardvault.api.signing.chains import is_chain_request, prepare_chain_job
from shardvault.api.signing.checks import checked_signature
from shardvault.api.signing.jobs import BackendSignature, SigningJob, SigningResult
from shardvault.api.signing.plain import prepare_plain_job
from shardvault.chains.networks import Network, get_network
from shardvault.coordinator.backend import SigningBackend
from shardvault.db.models import (
    SIG_EXECUTING,
    SIG_PENDING,
    SIG_SIGNED,
    KeyRow,
    PolicyApprovalRow,
    SignatureRow,
    utcnow,
)
from shardvault.errors import ShardvaultError

__all__ = ["FactCache", "Requester", "SigningService"]

logger = logging.getLogger("shardvault.api")

K = TypeVar("K")
T = TypeVar("T")


class Requester(NamedTuple):
    """Who asks for a signature: the Dfns user id and the API token's id."""

    user_id: str
    token_id: str | None

    @classmethod
    def of(cls, caller: Principal) -> Requester:
        """The caller's Dfns user id and token."""
        return cls(caller.user_id, caller.token_id)


#: A key's (scheme, curve, public key).
KeyFacts = tuple[str, str, bytes]
#: A wallet's (key id, network).
WalletFacts = tuple[str, str]


#: The chain family of each Dfns ``blockchainKind`` shardvault signs for.
BLOCKCHAIN_FAMILIES = {"Evm": "EVM", "Bitcoin": "Bitcoin", "Solana": "Solana"}


def request_family(body: SignatureRequest, network: Network | None) -> str | None:
    """The chain family whose conventions a request follows: its network's, else its
    ``blockchainKind``'s. A ``blockchainKind`` other than the network's is 400
    ``BlockchainKindMismatch``; one shardvault does not sign for is 400
    ``UnsupportedFeature`` (except on a ``Hash``, which is the same on every chain)."""
    kind = body.blockchain_kind
    if kind is None:
        return network.family if network is not None else None
    family = BLOCKCHAIN_FAMILIES.get(kind)
    if family is None:
        if body.kind == "Hash":
            return network.family if network is not None else None
        raise ApiError(
            400,
            "UnsupportedFeature",
            f"blockchainKind: {kind} signatures are not supported by shardvault "
            f"(supported: {', '.join(BLOCKCHAIN_FAMILIES)})",
            details={"field": "blockchainKind", "feature": f"{kind} signatures"},
        )
    if network is not None and network.family != family:
        raise ApiError(
            400,
            "BlockchainKindMismatch",
            f"blockchainKind {kind} is not the family of network {network.name}",
            details={"field": "blockchainKind", "network": network.name},
        )
    return family


class FactCache(Generic[K, T]):
    """A cache of facts that never change once a row exists (a key's scheme, curve and
    public key; a wallet's key and network), so a signing request is checked without a
    database round trip. Emptied when full; whatever can change (status, deletion) is
    still read, locked, when the signature is claimed."""

    def __init__(self, load: Callable[[K], Awaitable[T]], limit: int = 65536) -> None:
        self._load = load
        self._limit = limit
        self._known: dict[K, T] = {}

    async def get(self, key: K) -> T:
        found = self._known.get(key)
        if found is None:
            found = await self._load(key)
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[key] = found
        return found


class SigningService:
    """Signs requests for the API: one per app, over its back end and repository,
    holding the per-org caches of key and wallet facts."""

    def __init__(
        self,
        backend: SigningBackend,
        repository: ApiRepository,
        *,
        idempotency_wait_seconds: float,
        large_request_bytes: int,
        policies: PolicyStore | None = None,
    ) -> None:
        self._backend = backend
        self._repository = repository
        #: The org's approval policies (None: none are evaluated).
        self._policies = policies
        self._idempotency_wait_seconds = idempotency_wait_seconds
        #: Chain payloads whose request body is larger than this many bytes are
        #: prepared (parsed, hashed) in a worker thread, so a large PSBT or EIP-712
        #: document never stalls the event loop.
        self.large_request_bytes = large_request_bytes
        #: (org, key id) -> (scheme, curve, public key)
        self._key_facts: FactCache[tuple[str, str], KeyFacts] = FactCache(self._load_key_facts)
        #: (org, wallet id) -> (key id, network)
        self._wallet_facts: FactCache[tuple[str, str], WalletFacts] = FactCache(
            self._load_wallet_facts
        )

    def is_large(self, content_length: str | None) -> bool:
        """Whether a request body of this ``Content-Length`` is large (or of unknown
        size)."""
        return (
            content_length is None
            or not content_length.isdigit()
            or int(content_length) > self.large_request_bytes
        )

    async def _load_key_facts(self, org_key: tuple[str, str]) -> KeyFacts:
        key = await in_thread(self._repository.get_key, *org_key)
        return key.scheme, key.curve, bytes.fromhex(key.public_key)

    async def _load_wallet_facts(self, org_wallet: tuple[str, str]) -> WalletFacts:
        wallet, _key = await in_thread(self._repository.get_wallet, *org_wallet)
        return wallet.key_id, wallet.network

    async def wallet_facts(self, org_id: str, wallet_id: str) -> WalletFacts:
        """The wallet's key id and network (404 ``WalletNotFound`` for another org's or
        an unknown wallet)."""
        return await self._wallet_facts.get((org_id, wallet_id))

    async def _prepare(
        self,
        org_id: str,
        key_id: str,
        body: SignatureRequest,
        network_name: str | None,
        large: bool,
    ) -> SigningJob:
        """The job for a request: every check that needs no database write."""
        # A key's scheme never changes: after the first lookup the request is checked
        # without a database round trip (the claim still reads the key, locked, and
        # refuses archived, exported or unknown keys).
        scheme, curve, public_key = await self._key_facts.get((org_id, key_id))
        network = get_network(network_name) if network_name is not None else None
        family = request_family(body, network)
        if not is_chain_request(body.kind, family):
            return prepare_plain_job(scheme, curve, body, network)
        if large:
            return await anyio.to_thread.run_sync(
                prepare_chain_job, scheme, curve, public_key, body, network_name, family
            )
        return prepare_chain_job(scheme, curve, public_key, body, network_name, family)

    async def sign_request(
        self,
        org_id: str,
        key_id: str,
        body: SignatureRequest,
        network: str | None,
        wallet_id: str | None,
        *,
        requester: Requester,
        audit: AuditContext,
        large: bool = False,
    ) -> SignatureRow:
        """Sign ``body`` with the org's key ``key_id`` (for ``wallet_id``, on
        ``network``), or answer the stored signature of an earlier request with the
        same ``externalId``. ``requester``: who asks (stored on a new signature row;
        its user is the approval's initiator when a policy triggers). ``large``:
        prepare chain payloads in a worker thread. The claim, and the signature or
        failure, are audited under ``audit``.

        The org's ``Wallets:Sign`` policies are evaluated first: a triggered Block
        answers 403 ``PolicyBlocked`` and stores nothing; a triggered RequestApproval
        stores the request Pending with its approval and returns it unsigned (the
        route answers 202); it is signed when the approval is granted
        (:meth:`execute_approved`)."""
        job = await self._prepare(org_id, key_id, body, network, large)
        approval = await self._gate(org_id, key_id, wallet_id, job, network, requester.user_id)
        normalized = job.normalized
        repository = self._repository
        deadline = anyio.current_time() + self._idempotency_wait_seconds
        while True:
            claim = await in_thread(
                repository.claim_signature,
                org_id,
                key_id,
                normalized,
                body.external_id,
                wallet_id,
                approval,
                audit=audit,
                requester_user_id=requester.user_id,
                requester_token_id=requester.token_id,
            )
            if claim.created:
                if claim.signature.status == SIG_PENDING:
                    return claim.signature  # waits for its approval
                return await self._run(claim.signature, claim.key, job, audit)
            # An earlier request holds this externalId.
            found: SignatureRow | None = claim.signature
            if found is not None and (
                found.request_body != normalized or found.wallet_id != wallet_id
            ):
                raise ApiError(
                    409,
                    "ExternalIdConflict",
                    "externalId was already used for a different request on this key",
                    # ``duplicate``: Dfns's name for the entity holding the externalId
                    details={
                        "signatureId": found.id,
                        "duplicate": {"id": found.id, "externalId": body.external_id},
                    },
                )
            delay = 0.005
            while found is not None and found.status == SIG_EXECUTING:
                if lease_expired(found):
                    break  # its process died: the next claim resolves it, takes the id
                if anyio.current_time() > deadline:
                    raise ApiError(
                        409,
                        "SignatureInProgress",
                        "a request with this externalId is still being signed; retry later",
                        details={"signatureId": found.id},
                    )
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.25)
                found = await in_thread(repository.get_signature, found.id)
            if found is not None and found.status in (SIG_SIGNED, SIG_PENDING):
                return found
            # The first attempt failed and released the externalId: claim it again.
            if anyio.current_time() > deadline:
                raise ApiError(409, "SignatureInProgress", "externalId is contended; retry later")

    async def _gate(
        self,
        org_id: str,
        key_id: str,
        wallet_id: str | None,
        job: SigningJob,
        network_name: str | None,
        user_id: str,
    ) -> PolicyApprovalRow | None:
        """Evaluate the org's signing policies: 403 ``PolicyBlocked``, or the approval
        to open, or None (sign now)."""
        policies = self._policies
        if policies is None:
            return None
        active = await in_thread(policies.active_policies, org_id, SIGNING_KINDS)
        if not active:
            return None
        scheme, _curve, public_key = await self._key_facts.get((org_id, key_id))
        network = get_network(network_name) if network_name is not None else None
        wallets: tuple[tuple[str, tuple[str, ...]], ...] = ()
        if any({"walletId", "walletTags"} & set(p.filters or {}) for p in active):
            if wallet_id is not None:
                wallet, _key = await in_thread(self._repository.get_wallet, org_id, wallet_id)
                of_request = [wallet]
            else:  # the key route signs for every wallet of the key
                of_request = await in_thread(self._repository.key_wallets, org_id, key_id)
            wallets = tuple((w.id, tuple(w.tags)) for w in of_request)
        now = utcnow()
        recent: tuple[tuple[datetime, Transfer], ...] | None = None
        velocity = [
            p.rule["configuration"]["timeframe"] for p in active if p.rule["kind"] in VELOCITY_RULES
        ]
        if velocity:
            rows = await in_thread(
                policies.recent_signatures,
                key_id,
                wallet_id,
                now - timedelta(minutes=max(velocity)),
            )
            recent = tuple(
                (row.date_requested, self._transfer(row.request_body, scheme, public_key))
                for row in rows
            )
        activity = Activity(
            key_id=key_id,
            wallets=wallets,
            transfer=transfer_of(job.normalized, network, scheme, public_key),
            recent=recent,
            now=now,
        )
        outcome = evaluate(active, activity)
        if outcome.blocked_by:
            raise ApiError(
                403,
                "PolicyBlocked",
                f"policy {outcome.blocked_by[0]} blocks this signature request",
                details={"policyIds": outcome.blocked_by, "evaluations": outcome.evaluations},
            )
        if not outcome.needs_approval:
            return None
        return new_approval(org_id, user_id, WALLETS_SIGN, outcome)

    @staticmethod
    def _transfer(request: dict[str, Any], scheme: str, public_key: bytes) -> Transfer:
        name = request.get("network")
        network = get_network(name) if isinstance(name, str) else None
        return transfer_of(request, network, scheme, public_key)

    async def execute_approved(
        self, sig: SignatureRow, key: KeyRow, audit: AuditContext
    ) -> SignatureRow:
        """Sign a request whose approval was just granted (the decision moved it to
        Executing, leased to this process): its job is prepared again from the stored
        request, exactly as when it was asked. Audited under ``audit`` (the decision
        that granted it)."""
        try:
            body = SignatureRequest.model_validate(
                {k: v for k, v in sig.request_body.items() if k != "network"}
            )
            network = sig.request_body.get("network")
            job = await self._prepare(key.org_id, key.id, body, network, True)
            if job.normalized != sig.request_body:
                raise ApiError(500, "InternalError", "the stored request does not re-prepare")
        except ApiError as exc:
            await in_thread(
                self._repository.fail_signature, sig.id, exc.code, exc.message, audit=audit
            )
            raise
        return await self._run(sig, key, job, audit)

    async def _sign_once(
        self, sig: SignatureRow, key: KeyRow, payload: bytes, root: bytes | None
    ) -> BackendSignature:
        """One back-end signature, checked (ECDSA: form and recovery to the key). The
        claim's lease is renewed first (a claim lost meanwhile signs nothing) and
        then every third of the lease while the back end signs."""
        if not await in_thread(self._repository.renew_lease, sig.id):
            raise ApiError(
                409,
                "SignatureInterrupted",
                f"signature {sig.id} was resolved as interrupted (its lease expired); "
                "retry the request",
                details={"signatureId": sig.id},
            )
        outcome: list[bytes | Exception] = []

        async def sign() -> None:
            try:
                outcome.append(
                    await self._backend.sign(key_record(key), payload, taproot_merkle_root=root)
                )
            except Exception as exc:  # re-raised below, outside the task group
                outcome.append(exc)
            finally:
                tg.cancel_scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(sign)
            tg.start_soon(self._keep_lease, sig.id)
        raw = outcome[0]
        if isinstance(raw, Exception):
            raise raw
        return checked_signature(key.scheme, raw, bytes.fromhex(key.public_key), payload)

    async def _keep_lease(self, signature_id: str) -> None:
        """Renew the claim's lease every third of it while the back end signs (a slow
        signature is not taken for a dead process's)."""
        period = self._repository.lease_seconds / 3
        while True:
            await anyio.sleep(period)
            try:
                if not await in_thread(self._repository.renew_lease, signature_id):
                    return  # resolved elsewhere: finishing will report it
            except Exception:  # a database hiccup: try again next period
                logger.warning("could not renew the lease of signature %s", signature_id)

    async def _run(
        self, sig: SignatureRow, key: KeyRow, job: SigningJob, audit: AuditContext
    ) -> SignatureRow:
        """Sign the claimed row's payloads and store the result, or the failure."""
        repository = self._repository
        result: SigningResult
        try:
            assert job.finish is not None
            signatures = [
                await self._sign_once(sig, key, payload, root) for payload, root in job.payloads
            ]
            result = job.finish(signatures)
        except ShardvaultError as exc:
            error = api_error_from(exc, signatureId=sig.id)
            with anyio.CancelScope(shield=True):
                await in_thread(
                    repository.fail_signature,
                    sig.id,
                    exc.code,
                    exc.message,
                    audit=audit,
                    status=error.status,
                )
            raise error from exc
        except ApiError:
            raise  # the row is no longer this process's (resolved as interrupted)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await in_thread(
                    repository.fail_signature,
                    sig.id,
                    "InternalError",
                    "internal error",
                    audit=audit,
                    status=500,
                )
            raise
        return await in_thread(
            repository.finish_signature,
            sig.id,
            result.r,
            result.s,
            result.encoded,
            result.recid,
            signed_data=result.signed_data,
            result_details=result.details,
            audit=audit,
        )
