"""The REST API: Dfns-shaped routes over a :class:`SigningBackend` and the API database.

``create_app(backend, database_url)`` builds the FastAPI application. The API keeps
public key metadata and signature records; every secret operation goes to the
back end (the coordinator and its signers).
"""

from __future__ import annotations

import base64
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Generic, Literal, ParamSpec, TypeVar

import anyio
import anyio.to_thread
import coincurve
from fastapi import APIRouter, Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shardvault import __version__
from shardvault.api.auth import AuthMiddleware, Principal, current_principal
from shardvault.api.chainsign import (
    CHAIN_KINDS,
    BackendSignature,
    ChainJob,
    ChainResult,
    plain_result,
)
from shardvault.api.chainsign import prepare as prepare_chain_job
from shardvault.api.encoding import (
    b64url_decode,
    b64url_encode,
    hex0x,
    iso_utc,
    parse_hex0x,
)
from shardvault.api.errors import (
    ApiError,
    BodyLimitMiddleware,
    CatchAllMiddleware,
    api_error_from,
    http_exception_handler,
    shardvault_error_handler,
    validation_exception_handler,
)
from shardvault.api.repository import (
    ApiRepository,
    key_not_found,
    signature_not_found,
    wallet_not_found,
)
from shardvault.api.schemas import (
    ClusterOut,
    CreateKeyRequest,
    CreateWalletRequest,
    EncryptedKeyShareOut,
    ErrorEnvelope,
    ExportKeyRequest,
    ExportKeyResponse,
    HealthOut,
    ImportKeyRequest,
    KeyList,
    KeyOut,
    NetworkList,
    NetworkOut,
    RefreshKeyRequest,
    SchemeCurveOut,
    SignatureList,
    SignatureOut,
    SignatureRequest,
    SignatureValue,
    SignerOut,
    SignersOut,
    UpdateKeyRequest,
    UpdateWalletRequest,
    WalletList,
    WalletOut,
    WalletSigningKeyOut,
    WalletTagsRequest,
)
from shardvault.chains.networks import NETWORKS, address_for, check_scheme, get_network
from shardvault.coordinator.backend import KeyRecord, SigningBackend
from shardvault.crypto import hpke
from shardvault.crypto.groups import SECP256K1, Point
from shardvault.crypto.shamir import public_shares_consistent
from shardvault.db.engine import make_engine, upgrade_database
from shardvault.db.ids import is_id, new_id
from shardvault.db.models import (
    KEY_ACTIVE,
    KEY_ARCHIVED,
    SIG_FAILED,
    SIG_PENDING,
    SIG_SIGNED,
    WALLET_ACTIVE,
    KeyRow,
    SignatureRow,
    WalletRow,
    utcnow,
)
from shardvault.errors import InvalidEncoding, NotFound, ShardvaultError
from shardvault.protocols.registry import PROTOCOLS, canonical_protocol, protocol_for_scheme

__all__ = ["create_app"]

logger = logging.getLogger("shardvault.api")

P = ParamSpec("P")
T = TypeVar("T")
K = TypeVar("K")
R = TypeVar("R")

#: Public key sizes per curve (Ed25519: 32 bytes; secp256k1: 33-byte compressed).
_PUBLIC_KEY_SIZES = {"ed25519": 32, "secp256k1": 33}
#: Which signature kinds each scheme takes.
_KINDS = {"EdDSA": "Message", "Schnorr": "Hash", "ECDSA": "Hash"}
_X25519_KEY_SIZE = 32
#: Kinds whose ``signedData`` is base64 (Bitcoin conventions); others are 0x-hex.
_BASE64_SIGNED_DATA = frozenset({"Psbt", "Bip322"})
#: Protocols whose keys support proactive share refresh (POST /keys/{keyId}/refresh).
_REFRESHABLE_PROTOCOLS = frozenset({"CGGMP24"})
#: Chain payloads above this many bytes of request body are prepared (parsed, hashed)
#: in a worker thread, so a large PSBT or EIP-712 document never stalls the event loop.
_LARGE_REQUEST_BYTES = 64 * 1024
#: How long GET /health waits for the back end's ECDSA status.
_HEALTH_STATUS_TIMEOUT = 2.0

# Parameter types (module level: FastAPI resolves the string annotations here).
Caller = Annotated[Principal, Depends(current_principal)]
KeyId = Annotated[str, Path(alias="keyId", max_length=64)]
SignatureId = Annotated[str, Path(alias="signatureId", max_length=64)]
WalletId = Annotated[str, Path(alias="walletId", max_length=64)]
Limit = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str | None, Query(alias="paginationToken", max_length=256)]

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope} for status in (400, 401, 403, 404, 409, 500, 502, 503)
}


async def _db(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a synchronous database operation in a worker thread."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


class _Facts(Generic[K, T]):
    """Facts that never change once a row exists (a key's scheme, curve and public key;
    a wallet's key and network), remembered so a signing request is checked without a
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


def _is_large(request: Request) -> bool:
    """Whether the request body is large (or of unknown size)."""
    length = request.headers.get("content-length")
    return length is None or not length.isdigit() or int(length) > _LARGE_REQUEST_BYTES


# -- conversions ---------------------------------------------------------------------
def _key_out(key: KeyRow) -> KeyOut:
    return KeyOut(
        id=key.id,
        scheme=key.scheme,
        curve=key.curve,
        public_key=key.public_key,
        name=key.name,
        status="Archived" if key.status == KEY_ARCHIVED else "Active",
        imported=key.imported,
        exported=key.exported,
        date_exported=iso_utc(key.date_exported) if key.date_exported else None,
        date_created=iso_utc(key.date_created),
        protocol=key.protocol,
        min_signers=key.min_signers,
        signers=list(key.signer_ids),
    )


def _key_record(key: KeyRow) -> KeyRecord:
    return KeyRecord(
        key_id=key.id,
        protocol=key.protocol,
        curve=key.curve,
        public_key=bytes.fromhex(key.public_key),
        min_signers=key.min_signers,
        signer_ids=tuple(key.signer_ids),
        verifying_shares={sid: bytes.fromhex(v) for sid, v in key.verifying_shares.items()},
    )


def _signature_out(sig: SignatureRow) -> SignatureOut:
    value = None
    if sig.status == SIG_SIGNED and sig.sig_encoded is not None:
        value = SignatureValue(
            r=hex0x(sig.sig_r or b""),
            s=hex0x(sig.sig_s or b""),
            recid=sig.sig_recid,
            encoded=hex0x(sig.sig_encoded),
        )
    reason = None
    if sig.status == SIG_FAILED:
        reason = f"{sig.error_code}: {sig.error_message}" if sig.error_code else "failed"
    status: Literal["Pending", "Signed", "Failed"] = (
        "Signed"
        if sig.status == SIG_SIGNED
        else "Failed"
        if sig.status == SIG_FAILED
        else "Pending"
    )
    kind = sig.request_body.get("kind")
    signed_data = None
    if sig.status == SIG_SIGNED and sig.signed_data is not None:
        signed_data = (
            base64.b64encode(sig.signed_data).decode("ascii")
            if kind in _BASE64_SIGNED_DATA
            else hex0x(sig.signed_data)
        )
    details = sig.result_details or {}
    return SignatureOut(
        id=sig.id,
        key_id=sig.key_id,
        wallet_id=sig.wallet_id,
        network=sig.request_body.get("network"),
        status=status,
        request_body=dict(sig.request_body),
        signature=value,
        signed_data=signed_data,
        signed_inputs=details.get("signedInputs"),
        skipped_inputs=details.get("skippedInputs"),
        reason=reason,
        external_id=sig.request_body.get("externalId"),
        date_requested=iso_utc(sig.date_requested),
        date_signed=iso_utc(sig.date_signed) if sig.date_signed else None,
    )


def _wallet_out(wallet: WalletRow, key: KeyRow) -> WalletOut:
    return WalletOut(
        id=wallet.id,
        network=wallet.network,
        address=wallet.address,
        signing_key=WalletSigningKeyOut(
            id=key.id, scheme=key.scheme, curve=key.curve, public_key=key.public_key
        ),
        status="Archived" if key.status == KEY_ARCHIVED else "Active",
        name=wallet.name,
        tags=list(wallet.tags),
        external_id=wallet.external_id,
        date_created=iso_utc(wallet.date_created),
    )


def _networks_out() -> NetworkList:
    return NetworkList(
        items=[
            NetworkOut(
                network=n.name,
                family=n.family,
                chain_id=n.chain_id,
                allowed_schemes=[
                    SchemeCurveOut(scheme=a.scheme, curve=a.curve) for a in n.allowed_schemes
                ],
                default_scheme=SchemeCurveOut(
                    scheme=n.default_scheme.scheme, curve=n.default_scheme.curve
                ),
            )
            for n in NETWORKS.values()
        ]
    )


def _unique_tags(tags: list[str] | None) -> list[str]:
    return list(dict.fromkeys(tags or []))


def _page_token(last_id: str) -> str:
    return b64url_encode(last_id.encode("ascii"))


def _one_page(rows: list[R], limit: int, id_of: Callable[[R], str]) -> tuple[list[R], str | None]:
    """The page (the first ``limit`` of the ``limit + 1`` rows fetched) and the token of
    the next one, if that extra row exists."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, _page_token(id_of(page[-1]))


def _parse_page_token(token: str | None, prefix: str) -> str | None:
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


def _check_key_id(key_id: str) -> None:
    if not is_id(key_id, "key"):
        raise key_not_found(key_id)


def _row_from_record(
    record: KeyRecord,
    *,
    expected: tuple[str, str, str, int],
    org_id: str,
    scheme: str,
    name: str | None,
    imported: bool,
) -> KeyRow:
    """The row to store for what the back end created; refuses inconsistent records."""
    got = (record.key_id, record.protocol, record.curve, record.min_signers)
    size = _PUBLIC_KEY_SIZES.get(record.curve)
    if got != expected or size is None or len(record.public_key) != size:
        raise RuntimeError("signing back end returned a key record that does not match")
    if len(set(record.signer_ids)) != len(record.signer_ids) or not (
        1 <= record.min_signers <= len(record.signer_ids)
    ):
        raise RuntimeError("signing back end returned an inconsistent signer set")
    return KeyRow(
        id=record.key_id,
        org_id=org_id,
        scheme=scheme,
        curve=record.curve,
        protocol=record.protocol,
        public_key=record.public_key.hex(),
        name=name,
        status=KEY_ACTIVE,
        imported=imported,
        exported=False,
        date_created=utcnow(),
        shares_erased=False,
        min_signers=record.min_signers,
        signer_ids=list(record.signer_ids),
        verifying_shares={sid: v.hex() for sid, v in record.verifying_shares.items()},
    )


def _supported_pairs() -> list[dict[str, str]]:
    return [{"protocol": p, "curve": c, "scheme": s} for (p, c), s in PROTOCOLS.items()]


def _require_usable(key: KeyRow) -> None:
    """409 for a key that is archived or was exported."""
    if key.status != KEY_ACTIVE:
        raise ApiError(409, "KeyArchived", f"key {key.id} is archived")
    if key.exported:
        raise ApiError(409, "KeyExported", f"key {key.id} was exported")


def _ecdsa_signature(encoded: bytes, public_key: bytes, digest: bytes) -> tuple[int, int, int]:
    """``(r, s, recid)`` of a back end's CGGMP24 signature ``r || s || recid``, after
    checking its form (ranges, low-s) and that it recovers to the key's public key."""
    if len(encoded) != 65:
        raise RuntimeError("signing back end returned an ECDSA signature of the wrong size")
    r = int.from_bytes(encoded[:32], "big")
    s = int.from_bytes(encoded[32:64], "big")
    recid = encoded[64]
    n = SECP256K1.order  # r in 1..n-1, low-s: s in 1..n/2
    if not (0 < r < n and 0 < s <= n // 2 and recid <= 3):
        raise RuntimeError("signing back end returned a malformed ECDSA signature")
    try:
        recovered = coincurve.PublicKey.from_signature_and_message(
            encoded, digest, hasher=None
        ).format(compressed=True)
    except Exception:
        recovered = b""
    if recovered != public_key:
        raise RuntimeError("signing back end returned an ECDSA signature that does not verify")
    return r, s, recid


def _check_verifying_shares(
    public_key: bytes, min_signers: int, signer_ids: tuple[str, ...], shares: dict[str, bytes]
) -> bool:
    """Whether secp256k1 verifying shares (signer ``signer_ids[i]`` holds index i + 1)
    lie on one polynomial of degree ``min_signers - 1`` through the public key."""
    try:
        points: dict[int, Point] = {
            signer_ids.index(sid) + 1: SECP256K1.decode_point(v) for sid, v in shares.items()
        }
        group_key = SECP256K1.decode_point(public_key)
    except (ValueError, InvalidEncoding):
        return False
    if len(points) < min_signers:
        return False
    return public_shares_consistent(SECP256K1, group_key, points, min_signers)


def create_app(
    backend: SigningBackend,
    database_url: str,
    *,
    max_body_bytes: int = 1_048_576,
    default_min_signers: int = 2,
    migrate: bool = True,
    idempotency_wait_seconds: float = 30.0,
) -> FastAPI:
    """The shardvault REST API.

    ``database_url``: ``sqlite:///...`` or ``postgresql+psycopg://...``; with
    ``migrate`` (default) the schema is upgraded to the latest revision first.
    ``default_min_signers``: threshold of keys generated by ``POST /keys``.
    ``idempotency_wait_seconds``: how long a request repeating an ``externalId``
    whose first request is still signing waits for it before answering 409.
    """
    if max_body_bytes < 1:
        raise ValueError("max_body_bytes must be positive")
    if default_min_signers < 1:
        raise ValueError("default_min_signers must be positive")
    if migrate:
        upgrade_database(database_url)
    engine = make_engine(database_url)
    store = ApiRepository(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="shardvault",
        version=__version__,
        description="Self-hosted threshold-signing vault (Dfns-shaped REST API).",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.store = store
    app.state.backend = backend

    app.add_exception_handler(ShardvaultError, shardvault_error_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)

    async def lookup(token: str) -> Principal | None:
        return await _db(store.principal, token)

    # Added innermost first: CatchAll(Auth(BodyLimit(app))).
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)
    app.add_middleware(AuthMiddleware, lookup=lookup)
    app.add_middleware(CatchAllMiddleware)

    @app.get("/health", response_model=HealthOut, tags=["meta"])
    async def health() -> HealthOut:
        """Liveness, and whether ECDSA (CGGMP24) is ready: the signers first search
        Paillier safe primes, then run aux-info generation once (``auxInfoProgress``).
        EdDSA and Schnorr keys work meanwhile."""
        ready, progress = False, 0.0
        try:
            with anyio.fail_after(_HEALTH_STATUS_TIMEOUT):
                status = await backend.ecdsa_status()
            ready = status.ready is True
            value = float(status.progress)
            progress = 1.0 if ready else min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
        except Exception as exc:  # a health check must answer even so
            logger.debug("ECDSA status unavailable: %s", type(exc).__name__)
        return HealthOut(status="ok", ecdsa_ready=ready, aux_info_progress=progress)

    router = APIRouter(responses=_ERROR_RESPONSES)

    async def discard_key(record: KeyRecord) -> None:
        """Best effort: the API could not store a key the signers created."""
        with anyio.CancelScope(shield=True):
            try:
                await backend.delete_key(record)
            except Exception:
                logger.warning("could not erase the shares of unstored key %s", record.key_id)

    # -- signers ----------------------------------------------------------------------
    @router.get("/signers", response_model=SignersOut, tags=["signers"])
    async def list_signers(_caller: Caller) -> SignersOut:
        signers = await backend.list_signers()
        return SignersOut(
            clusters=[
                ClusterOut(
                    cluster_id=backend.cluster_id,
                    signers=[
                        SignerOut(
                            signer_id=s.signer_id,
                            encryption_key=b64url_encode(s.encryption_key),
                            identity_key=b64url_encode(s.identity_key),
                            encryption_key_signature=b64url_encode(s.encryption_key_signature),
                        )
                        for s in signers
                    ],
                )
            ]
        )

    # -- keys -----------------------------------------------------------------------------
    async def generate_key(
        org_id: str, scheme: str, curve: str, name: str | None
    ) -> tuple[KeyRecord, KeyRow]:
        """A new key by DKG and the row to store for it (not stored yet: on any
        failure to store it the caller must ``discard_key`` the record)."""
        protocol = protocol_for_scheme(scheme, curve)
        if protocol is None:
            raise ApiError(
                400,
                "UnsupportedScheme",
                f"unsupported scheme/curve combination {scheme}/{curve}",
                details={"supported": _supported_pairs()},
            )
        key_id = new_id("key")
        expected = (key_id, protocol, curve, default_min_signers)
        record = await backend.generate_key(key_id, protocol, curve, default_min_signers)
        try:
            row = _row_from_record(
                record,
                expected=expected,
                org_id=org_id,
                scheme=scheme,
                name=name,
                imported=False,
            )
        except BaseException:
            await discard_key(record)
            raise
        logger.info("key %s generated (%s/%s)", key_id, protocol, curve)
        return record, row

    @router.post("/keys", response_model=KeyOut, response_model_exclude_none=True, tags=["keys"])
    async def create_key(body: CreateKeyRequest, caller: Caller) -> KeyOut:
        record, row = await generate_key(caller.org_id, body.scheme, body.curve, body.name)
        try:
            await _db(store.insert_key, row)
        except BaseException:
            await discard_key(record)
            raise
        return _key_out(row)

    @router.post(
        "/keys/import", response_model=KeyOut, response_model_exclude_none=True, tags=["keys"]
    )
    async def import_key(body: ImportKeyRequest, caller: Caller) -> KeyOut:
        protocol = canonical_protocol(body.protocol)
        scheme = PROTOCOLS.get((protocol, body.curve))
        if scheme is None:
            raise ApiError(
                400,
                "UnsupportedProtocol",
                f"unsupported protocol/curve combination {body.protocol}/{body.curve}",
                details={"supported": _supported_pairs()},
            )
        shares: dict[str, bytes] = {}
        for i, item in enumerate(body.encrypted_key_shares):
            if item.signer_id in shares:
                raise ApiError(
                    400,
                    "DuplicateSigner",
                    f"signer {item.signer_id} appears more than once",
                    details={"signers": [item.signer_id]},
                )
            shares[item.signer_id] = b64url_decode(
                item.encrypted_key_share, f"encryptedKeyShares.{i}.encryptedKeyShare"
            )
        if not 1 <= body.min_signers <= len(shares):
            raise ApiError(
                400,
                "InvalidMinSigners",
                f"minSigners must be between 1 and the number of shares ({len(shares)})",
                details={"field": "minSigners"},
            )
        key_id = new_id("key")
        expected = (key_id, protocol, body.curve, body.min_signers)
        record = await backend.import_key(key_id, protocol, body.curve, body.min_signers, shares)
        try:
            row = _row_from_record(
                record,
                expected=expected,
                org_id=caller.org_id,
                scheme=scheme,
                name=body.name,
                imported=True,
            )
            await _db(store.insert_key, row)
        except BaseException:
            await discard_key(record)
            raise
        logger.info("key %s imported (%s/%s)", key_id, protocol, body.curve)
        return _key_out(row)

    @router.get("/keys", response_model=KeyList, response_model_exclude_none=True, tags=["keys"])
    async def list_keys(
        caller: Caller, limit: Limit = 50, pagination_token: PageToken = None
    ) -> KeyList:
        before = _parse_page_token(pagination_token, "key")
        rows = await _db(store.list_keys, caller.org_id, before, limit + 1)
        page, next_token = _one_page(rows, limit, lambda k: k.id)
        return KeyList(items=[_key_out(k) for k in page], next_page_token=next_token)

    @router.get(
        "/keys/{keyId}", response_model=KeyOut, response_model_exclude_none=True, tags=["keys"]
    )
    async def get_key(key_id: KeyId, caller: Caller) -> KeyOut:
        _check_key_id(key_id)
        return _key_out(await _db(store.get_key, caller.org_id, key_id))

    @router.put(
        "/keys/{keyId}", response_model=KeyOut, response_model_exclude_none=True, tags=["keys"]
    )
    async def update_key(key_id: KeyId, body: UpdateKeyRequest, caller: Caller) -> KeyOut:
        _check_key_id(key_id)
        return _key_out(await _db(store.rename_key, caller.org_id, key_id, body.name))

    @router.delete(
        "/keys/{keyId}", response_model=KeyOut, response_model_exclude_none=True, tags=["keys"]
    )
    async def delete_key(key_id: KeyId, caller: Caller) -> KeyOut:
        _check_key_id(key_id)
        key = await _db(store.get_key, caller.org_id, key_id)
        if key.status == KEY_ARCHIVED and key.shares_erased:
            return _key_out(key)
        # Archive first (signing is refused from now on), then erase the shares; if
        # the signers fail, the key stays Archived and a repeated DELETE retries.
        key = await _db(store.archive_key, caller.org_id, key_id)
        try:
            await backend.delete_key(_key_record(key))
        except NotFound:
            pass  # the signers no longer hold it
        key = await _db(store.mark_shares_erased, caller.org_id, key_id)
        logger.info("key %s archived, shares erased", key_id)
        return _key_out(key)

    # -- refresh ------------------------------------------------------------------------
    @router.post(
        "/keys/{keyId}/refresh",
        response_model=KeyOut,
        response_model_exclude_none=True,
        tags=["keys"],
    )
    async def refresh_key(
        key_id: KeyId,
        caller: Caller,
        _body: Annotated[RefreshKeyRequest | None, Body()] = None,
    ) -> KeyOut:
        """Proactive refresh of an ECDSA (CGGMP24) key: every signer gets a new share of
        the same key and erases the old one. Needs every signer of the key."""
        _check_key_id(key_id)
        key = await _db(store.get_key, caller.org_id, key_id)
        if key.protocol not in _REFRESHABLE_PROTOCOLS:
            raise ApiError(
                400,
                "RefreshNotSupported",
                f"only ECDSA (CGGMP24) keys can be refreshed; key {key_id} is "
                f"{key.scheme} ({key.protocol})",
                details={"scheme": key.scheme, "protocol": key.protocol},
            )
        _require_usable(key)
        record = _key_record(key)
        refreshed = await backend.refresh_key(record)
        if refreshed.public_key != record.public_key:
            logger.error("refresh of key %s returned another public key; not stored", key_id)
            raise ApiError(
                502,
                "PublicKeyChanged",
                f"the refresh of key {key_id} reported another public key; nothing was stored",
            )
        shares = dict(refreshed.verifying_shares)
        if (
            (refreshed.key_id, refreshed.protocol, refreshed.curve, refreshed.min_signers)
            != (record.key_id, record.protocol, record.curve, record.min_signers)
            or tuple(refreshed.signer_ids) != record.signer_ids
            or set(shares) != set(record.verifying_shares)
            or not _check_verifying_shares(
                record.public_key, record.min_signers, record.signer_ids, shares
            )
        ):
            logger.error("refresh of key %s returned an inconsistent record; not stored", key_id)
            raise ApiError(
                502,
                "InconsistentRefresh",
                f"the refresh of key {key_id} returned inconsistent verifying shares; "
                "nothing was stored",
            )
        key = await _db(
            store.set_verifying_shares,
            caller.org_id,
            key_id,
            key.public_key,
            {sid: v.hex() for sid, v in shares.items()},
        )
        logger.info("key %s refreshed (%d signers)", key_id, len(shares))
        return _key_out(key)

    # -- export -------------------------------------------------------------------------
    @router.post(
        "/keys/{keyId}/export",
        response_model=ExportKeyResponse,
        response_model_exclude_none=True,
        tags=["keys"],
    )
    async def export_key(
        key_id: KeyId, body: ExportKeyRequest, caller: Caller
    ) -> ExportKeyResponse:
        org = await _db(store.org, caller.org_id)
        if org is None or not org.key_export_enabled:
            raise ApiError(
                403,
                "KeyExportDisabled",
                "key export is disabled for this org (shardvault admin enable-export)",
            )
        _check_key_id(key_id)
        key = await _db(store.get_key, caller.org_id, key_id)
        if key.status != KEY_ACTIVE:
            raise ApiError(409, "KeyArchived", f"key {key_id} is archived")
        if not any(
            canonical_protocol(s.protocol) == key.protocol and s.curve == key.curve
            for s in body.supported_schemes
        ):
            raise ApiError(
                400,
                "UnsupportedScheme",
                f"the key is {key.protocol}/{key.curve}, not among supportedSchemes",
                details={"protocol": key.protocol, "curve": key.curve},
            )
        encryption_key = b64url_decode(body.encryption_key, "encryptionKey", size=_X25519_KEY_SIZE)
        try:
            hpke.validate_public_key(encryption_key)
        except InvalidEncoding as exc:
            raise ApiError(
                400,
                "InvalidEncoding",
                f"encryptionKey: {exc.message}",
                details={"field": "encryptionKey"},
            ) from None
        key, already_exported = await _db(store.begin_export, caller.org_id, key_id)
        try:
            shares = await backend.export_key(_key_record(key), encryption_key)
        except BaseException:
            if not already_exported:
                with anyio.CancelScope(shield=True):
                    await _db(store.undo_export, caller.org_id, key_id)
            raise
        logger.info("key %s exported (%d shares)", key_id, len(shares))
        return ExportKeyResponse(
            public_key=key.public_key,
            protocol=key.protocol,
            curve=key.curve,
            min_signers=key.min_signers,
            encrypted_key_shares=[
                EncryptedKeyShareOut(
                    signer_id=s.signer_id, encrypted_key_share=b64url_encode(s.encrypted_key_share)
                )
                for s in shares
            ],
        )

    # -- signatures ---------------------------------------------------------------------
    def parse_signature_request(
        scheme: str, body: SignatureRequest, network: str | None = None
    ) -> tuple[dict[str, Any], bytes, bytes | None]:
        """(normalised request body, bytes to sign, taproot merkle root)."""
        wanted = _KINDS.get(scheme)
        if body.kind != wanted:
            raise ApiError(
                400,
                "InvalidSignatureKind",
                f"{scheme} keys sign kind {wanted}, not {body.kind}",
                details={"scheme": scheme, "kind": body.kind},
            )
        normalized: dict[str, Any] = {"kind": body.kind}
        if network is not None:
            normalized["network"] = network
        root: bytes | None = None
        if body.kind == "Hash":
            assert body.hash is not None
            payload = parse_hex0x(body.hash, "hash", size=32)
            normalized["hash"] = hex0x(payload)
            if body.taproot_merkle_root is not None:
                if scheme != "Schnorr":
                    raise ApiError(
                        400,
                        "InvalidRequest",
                        "taprootMerkleRoot only applies to Schnorr keys",
                        details={"field": "taprootMerkleRoot"},
                    )
                if body.taproot_merkle_root == "":
                    root = b""  # BIP 86: key-path only, no script tree
                else:
                    root = parse_hex0x(body.taproot_merkle_root, "taprootMerkleRoot", size=32)
                normalized["taprootMerkleRoot"] = hex0x(root) if root else ""
        else:
            assert isinstance(body.message, str)
            payload = parse_hex0x(body.message, "message")
            normalized["message"] = hex0x(payload)
        if body.external_id is not None:
            normalized["externalId"] = body.external_id
        return normalized, payload, root

    async def load_key_identity(org_key: tuple[str, str]) -> tuple[str, str, bytes]:
        key = await _db(store.get_key, *org_key)
        return key.scheme, key.curve, bytes.fromhex(key.public_key)

    #: (org, key id) -> (scheme, curve, public key)
    key_identities = _Facts(load_key_identity)

    async def sign_once(key: KeyRow, payload: bytes, root: bytes | None) -> BackendSignature:
        """One back-end signature, checked (ECDSA: form and recovery to the key)."""
        raw = await backend.sign(_key_record(key), payload, taproot_merkle_root=root)
        if key.scheme == "ECDSA":
            r, s, recid = _ecdsa_signature(raw, bytes.fromhex(key.public_key), payload)
            return BackendSignature(raw, r, s, recid)
        if len(raw) != 64:
            raise RuntimeError("signing back end returned a signature of the wrong size")
        return BackendSignature(raw)

    async def run_signing(sig: SignatureRow, key: KeyRow, job: ChainJob) -> SignatureRow:
        result: ChainResult
        try:
            assert job.finish is not None
            signatures = [await sign_once(key, payload, root) for payload, root in job.payloads]
            result = job.finish(signatures)
        except ShardvaultError as exc:
            with anyio.CancelScope(shield=True):
                await _db(store.fail_signature, sig.id, exc.code, exc.message)
            raise api_error_from(exc, signatureId=sig.id) from exc
        except BaseException:
            with anyio.CancelScope(shield=True):
                await _db(store.fail_signature, sig.id, "InternalError", "internal error")
            raise
        return await _db(
            store.finish_signature,
            sig.id,
            result.r,
            result.s,
            result.encoded,
            result.recid,
            signed_data=result.signed_data,
            result_details=result.details,
        )

    @router.post(
        "/keys/{keyId}/signatures",
        response_model=SignatureOut,
        response_model_exclude_none=True,
        tags=["signatures"],
    )
    async def create_signature(
        key_id: KeyId, body: SignatureRequest, caller: Caller, request: Request
    ) -> SignatureOut:
        _check_key_id(key_id)
        return await sign_request(
            caller.org_id, key_id, body, body.network, None, large=_is_large(request)
        )

    async def sign_request(
        org_id: str,
        key_id: str,
        body: SignatureRequest,
        network: str | None,
        wallet_id: str | None,
        *,
        large: bool = False,
    ) -> SignatureOut:
        # A key's scheme never changes: after the first lookup the request is checked
        # without a database round trip (the claim below still reads the key, locked,
        # and refuses archived, exported or unknown keys).
        scheme, curve, public_key = await key_identities.get((org_id, key_id))
        net = get_network(network) if network is not None else None
        if body.kind in CHAIN_KINDS or (
            body.kind == "Message" and net is not None and net.family == "Solana"
        ):
            if large:
                job = await anyio.to_thread.run_sync(
                    prepare_chain_job, scheme, curve, public_key, body, network
                )
            else:
                job = prepare_chain_job(scheme, curve, public_key, body, network)
            normalized = job.normalized
        else:
            if net is not None:
                check_scheme(net, scheme, curve)
            normalized, payload, root = parse_signature_request(scheme, body, network)
            job = ChainJob(normalized)
            job.single(payload, plain_result, root)
        deadline = anyio.current_time() + idempotency_wait_seconds
        while True:
            claim = await _db(
                store.claim_signature, org_id, key_id, normalized, body.external_id, wallet_id
            )
            if claim.created:
                done = await run_signing(claim.signature, claim.key, job)
                return _signature_out(done)
            # An earlier request holds this externalId.
            found: SignatureRow | None = claim.signature
            if found is not None and (
                found.request_body != normalized or found.wallet_id != wallet_id
            ):
                raise ApiError(
                    409,
                    "ExternalIdConflict",
                    "externalId was already used for a different request on this key",
                    details={"signatureId": found.id},
                )
            delay = 0.005
            while found is not None and found.status == SIG_PENDING:
                if anyio.current_time() > deadline:
                    raise ApiError(
                        409,
                        "SignatureInProgress",
                        "a request with this externalId is still being signed; retry later",
                        details={"signatureId": found.id},
                    )
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.25)
                found = await _db(store.get_signature, found.id)
            if found is not None and found.status == SIG_SIGNED:
                return _signature_out(found)
            # The first attempt failed and released the externalId: claim it again.
            if anyio.current_time() > deadline:
                raise ApiError(409, "SignatureInProgress", "externalId is contended; retry later")

    @router.get(
        "/keys/{keyId}/signatures",
        response_model=SignatureList,
        response_model_exclude_none=True,
        tags=["signatures"],
    )
    async def list_signatures(
        key_id: KeyId, caller: Caller, limit: Limit = 50, pagination_token: PageToken = None
    ) -> SignatureList:
        _check_key_id(key_id)
        before = _parse_page_token(pagination_token, "sig")
        rows = await _db(store.list_signatures, caller.org_id, key_id, before, limit + 1)
        page, next_token = _one_page(rows, limit, lambda sig: sig.id)
        return SignatureList(
            items=[_signature_out(sig) for sig in page], next_page_token=next_token
        )

    @router.get(
        "/keys/{keyId}/signatures/{signatureId}",
        response_model=SignatureOut,
        response_model_exclude_none=True,
        tags=["signatures"],
    )
    async def get_signature(
        key_id: KeyId,
        signature_id: SignatureId,
        caller: Caller,
    ) -> SignatureOut:
        _check_key_id(key_id)
        if not is_id(signature_id, "sig"):
            raise signature_not_found(signature_id)
        return _signature_out(
            await _db(store.get_key_signature, caller.org_id, key_id, signature_id)
        )

    # -- networks and wallets ----------------------------------------------------------
    @router.get(
        "/networks", response_model=NetworkList, response_model_exclude_none=True, tags=["wallets"]
    )
    async def list_networks(_caller: Caller) -> NetworkList:
        """The networks wallets can be created on, with the key schemes each takes."""
        return _networks_out()

    def check_wallet_id(wallet_id: str) -> None:
        if not is_id(wallet_id, "wa"):
            raise wallet_not_found(wallet_id)

    async def load_wallet_facts(org_wallet: tuple[str, str]) -> tuple[str, str]:
        wallet, _key = await _db(store.get_wallet, *org_wallet)
        return wallet.key_id, wallet.network

    #: (org, wallet id) -> (key id, network)
    wallet_facts = _Facts(load_wallet_facts)

    def same_wallet_request(body: CreateWalletRequest, wallet: WalletRow, key: KeyRow) -> bool:
        """Whether a repeated externalId asks for what the existing wallet is."""
        network = get_network(body.network)
        spec = body.signing_key
        if spec is None:
            key_ok = (key.scheme, key.curve) == (
                network.default_scheme.scheme,
                network.default_scheme.curve,
            )
        elif spec.id is not None:
            key_ok = spec.id == key.id
        else:
            key_ok = (spec.scheme, spec.curve) == (key.scheme, key.curve)
        return (
            key_ok
            and wallet.network == network.name
            and wallet.name == body.name
            and list(wallet.tags) == _unique_tags(body.tags)
        )

    def existing_wallet(body: CreateWalletRequest, found: tuple[WalletRow, KeyRow]) -> WalletOut:
        wallet, key = found
        if not same_wallet_request(body, wallet, key):
            raise ApiError(
                409,
                "ExternalIdConflict",
                "externalId was already used for a different wallet",
                details={"walletId": wallet.id},
            )
        return _wallet_out(wallet, key)

    @router.post(
        "/wallets", response_model=WalletOut, response_model_exclude_none=True, tags=["wallets"]
    )
    async def create_wallet(body: CreateWalletRequest, caller: Caller) -> WalletOut:
        """A wallet on ``network``: a new key of the network's default scheme, a new key
        of ``signingKey {scheme, curve}``, or the existing key ``signingKey {id}``.
        Repeating an ``externalId`` returns the wallet it created when the request is
        the same, else 409 ``ExternalIdConflict``."""
        network = get_network(body.network)
        if body.external_id is not None:
            found = await _db(store.wallet_by_external_id, caller.org_id, body.external_id)
            if found is not None:
                return existing_wallet(body, found)
        spec = body.signing_key
        record: KeyRecord | None = None
        new_key: KeyRow | None = None
        if spec is not None and spec.id is not None:
            _check_key_id(spec.id)
            key = await _db(store.get_key, caller.org_id, spec.id)
            _require_usable(key)
            check_scheme(network, key.scheme, key.curve)
        else:
            scheme, curve = (
                (spec.scheme, spec.curve)
                if spec is not None and spec.scheme is not None and spec.curve is not None
                else (network.default_scheme.scheme, network.default_scheme.curve)
            )
            check_scheme(network, scheme, curve)
            record, new_key = await generate_key(caller.org_id, scheme, curve, None)
            key = new_key
        try:
            address = address_for(network, key.scheme, key.curve, bytes.fromhex(key.public_key))
            wallet = WalletRow(
                id=new_id("wa"),
                org_id=caller.org_id,
                key_id=key.id,
                network=network.name,
                address=address,
                name=body.name,
                status=WALLET_ACTIVE,
                tags=_unique_tags(body.tags),
                external_id=body.external_id,
                date_created=utcnow(),
            )
            inserted = await _db(store.insert_wallet, wallet, new_key)
        except BaseException:
            if record is not None:
                await discard_key(record)
            raise
        if not inserted:  # a concurrent request took the externalId first
            if record is not None:
                await discard_key(record)
            assert body.external_id is not None
            found = await _db(store.wallet_by_external_id, caller.org_id, body.external_id)
            if found is None:
                raise ApiError(409, "ExternalIdConflict", "externalId is contended; retry")
            return existing_wallet(body, found)
        logger.info("wallet %s created on %s (key %s)", wallet.id, network.name, key.id)
        return _wallet_out(wallet, key)

    @router.get(
        "/wallets", response_model=WalletList, response_model_exclude_none=True, tags=["wallets"]
    )
    async def list_wallets(
        caller: Caller, limit: Limit = 50, pagination_token: PageToken = None
    ) -> WalletList:
        before = _parse_page_token(pagination_token, "wa")
        rows = await _db(store.list_wallets, caller.org_id, before, limit + 1)
        page, next_token = _one_page(rows, limit, lambda row: row[0].id)
        return WalletList(items=[_wallet_out(w, k) for w, k in page], next_page_token=next_token)

    @router.get(
        "/wallets/{walletId}",
        response_model=WalletOut,
        response_model_exclude_none=True,
        tags=["wallets"],
    )
    async def get_wallet(wallet_id: WalletId, caller: Caller) -> WalletOut:
        check_wallet_id(wallet_id)
        return _wallet_out(*await _db(store.get_wallet, caller.org_id, wallet_id))

    @router.put(
        "/wallets/{walletId}",
        response_model=WalletOut,
        response_model_exclude_none=True,
        tags=["wallets"],
    )
    async def update_wallet(
        wallet_id: WalletId, body: UpdateWalletRequest, caller: Caller
    ) -> WalletOut:
        check_wallet_id(wallet_id)
        found = await _db(store.update_wallet, caller.org_id, wallet_id, name=body.name)
        return _wallet_out(*found)

    @router.put(
        "/wallets/{walletId}/tags",
        response_model=WalletOut,
        response_model_exclude_none=True,
        tags=["wallets"],
    )
    async def add_wallet_tags(
        wallet_id: WalletId, body: WalletTagsRequest, caller: Caller
    ) -> WalletOut:
        """Add tags (already present ones are kept once)."""
        check_wallet_id(wallet_id)
        found = await _db(store.update_wallet, caller.org_id, wallet_id, add_tags=body.tags)
        return _wallet_out(*found)

    @router.delete(
        "/wallets/{walletId}/tags",
        response_model=WalletOut,
        response_model_exclude_none=True,
        tags=["wallets"],
    )
    async def remove_wallet_tags(
        wallet_id: WalletId, body: WalletTagsRequest, caller: Caller
    ) -> WalletOut:
        """Remove tags (absent ones are ignored)."""
        check_wallet_id(wallet_id)
        found = await _db(store.update_wallet, caller.org_id, wallet_id, remove_tags=body.tags)
        return _wallet_out(*found)

    @router.post(
        "/wallets/{walletId}/signatures",
        response_model=SignatureOut,
        response_model_exclude_none=True,
        tags=["wallets", "signatures"],
    )
    async def create_wallet_signature(
        wallet_id: WalletId, body: SignatureRequest, caller: Caller, request: Request
    ) -> SignatureOut:
        """Sign with the wallet's key; ``network`` is the wallet's (a different one
        in the body answers 400 ``NetworkMismatch``)."""
        check_wallet_id(wallet_id)
        key_id, network = await wallet_facts.get((caller.org_id, wallet_id))
        if body.network is not None and body.network != network:
            raise ApiError(
                400,
                "NetworkMismatch",
                f"wallet {wallet_id} is on {network}, not {body.network}",
                details={"field": "network"},
            )
        return await sign_request(
            caller.org_id, key_id, body, network, wallet_id, large=_is_large(request)
        )

    app.include_router(router)
    return app
