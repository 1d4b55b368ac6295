"""Chain signature kinds: what the vault signs for a ``Transaction``, ``Eip191``,
``Eip712``, ``Psbt``, ``Bip322`` or Solana ``Message`` request, and how the result is
assembled.

:func:`prepare_chain_job` validates the whole request *before* anything is stored or
signed (a malformed transaction, a wrong chain id, a PSBT without an input of this key
answer 400 and leave no signature row). It returns a :class:`SigningJob`: the payloads
for the back end (one, or one per PSBT input to sign, each with its Taproot root) and a
function that assembles the result from their signatures. Everything that can be
computed before signing is (sighashes, addresses, the BIP 322 challenge), so the
finishing step only places and checks signatures.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from shardvault.api.encoding import hex0x, parse_hex0x
from shardvault.api.errors import ApiError
from shardvault.api.schemas import SignatureRequest
from shardvault.api.signing.jobs import (
    BackendSignature,
    SigningJob,
    SigningResult,
    compact_ecdsa,
    der_result,
    ecdsa_values,
    evm_result,
    raw_result,
)
from shardvault.chains import bitcoin, eip712, evm, evm_tx, psbt_signing, solana, solana_offchain
from shardvault.chains.networks import (
    Network,
    address_for,
    evm_network_by_chain_id,
    get_network,
)
from shardvault.errors import ShardvaultError

__all__ = [
    "CHAIN_KINDS",
    "MAX_PSBT_SIGNATURES",
    "is_chain_request",
    "parse_psbt",
    "prepare_chain_job",
]

#: At most this many PSBT inputs are signed per request (each is one threshold
#: signature; an ECDSA one without a warm presignature takes about a second). Larger
#: PSBTs answer 400 ``TooManyInputs`` and sign nothing.
MAX_PSBT_SIGNATURES = 256

#: Kinds handled here (``Hash`` and ``Message`` without a Solana network: ``plain.py``).
CHAIN_KINDS = frozenset({"Transaction", "Eip191", "Eip712", "Psbt", "Bip322"})


def is_chain_request(kind: str, family: str | None) -> bool:
    """Whether a request of ``kind`` for a chain ``family`` (the network's, or the
    ``blockchainKind``'s) is prepared here: a ``Message`` on Solana is a Solana
    off-chain message, on EVM an EIP-191 message (Dfns: "Eip191 ... also available as
    Message")."""
    return kind in CHAIN_KINDS or (kind == "Message" and family in ("Solana", "EVM"))


def _kind_error(scheme: str, kind: str, network: Network | None, why: str) -> ApiError:
    return ApiError(
        400,
        "InvalidSignatureKind",
        why,
        details={
            "scheme": scheme,
            "kind": kind,
            **({"network": network.name} if network else {}),
        },
    )


def _require_network(kind: str, network: Network | None, families: tuple[str, ...]) -> Network:
    if network is None:
        raise ApiError(
            400,
            "NetworkRequired",
            f"kind {kind} needs a network ({' or '.join(families)})",
            details={"field": "network"},
        )
    return network


def _require(
    scheme: str,
    kind: str,
    network: Network | None,
    *,
    schemes: tuple[str, ...],
    families: tuple[str, ...],
    family: str | None = None,
) -> None:
    if scheme not in schemes:
        raise _kind_error(scheme, kind, network, f"{scheme} keys cannot sign kind {kind}")
    if network is not None and network.family not in families:
        raise _kind_error(scheme, kind, network, f"kind {kind} does not exist on {network.name}")
    if network is None and family is not None and family not in families:
        raise _kind_error(scheme, kind, network, f"kind {kind} does not exist on {family}")


_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def parse_psbt(value: str) -> bytes:
    """A PSBT given as 0x-hex, plain hex or base64 (standard alphabet, padded)."""
    if value.startswith("0x"):
        return parse_hex0x(value, "psbt")
    if re.fullmatch(r"(?:[0-9a-fA-F]{2})+", value) and value[:10].lower() == "70736274ff":
        return bytes.fromhex(value)
    if _B64_RE.fullmatch(value) and len(value) % 4 == 0:
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            pass
    raise ApiError(
        400,
        "InvalidEncoding",
        "psbt: must be base64 or 0x-prefixed hex",
        details={"field": "psbt"},
    )


def _psbt_job(job: SigningJob, raw: bytes, scheme: str, public_key: bytes) -> None:
    """Plan the PSBT now (nothing signed): one payload per input this key signs."""
    kind: Any = scheme
    try:
        plan = psbt_signing.plan_psbt_signing(raw, public_key=public_key, scheme=kind)
    except ShardvaultError as exc:
        raise _chain_error(exc, "psbt") from None
    skipped = [{"index": i, "reason": why} for i, why in plan.skipped]
    if not plan.items:
        raise ApiError(
            400,
            "NothingToSign",
            "the PSBT has inputs of this key but none can be signed",
            details={"field": "psbt", "skippedInputs": skipped},
        )
    if len(plan.items) > MAX_PSBT_SIGNATURES:
        raise ApiError(
            400,
            "TooManyInputs",
            f"the PSBT has {len(plan.items)} inputs of this key to sign; at most "
            f"{MAX_PSBT_SIGNATURES} are signed per request",
            details={"field": "psbt", "inputs": len(plan.items), "max": MAX_PSBT_SIGNATURES},
        )
    root = b"" if scheme == "Schnorr" else None  # BIP 86: key path, no script tree

    def finish(sigs: list[BackendSignature]) -> SigningResult:
        if scheme == "ECDSA":
            compact = [compact_ecdsa(sig) for sig in sigs]
        else:
            compact = [sig.raw for sig in sigs]
        result = plan.complete(compact)
        # Dfns answers a PSBT's signatures as ``signatures: [{r, s, recid, encoded}]``
        # (ECDSA encoded as DER), one per input signed.
        each = [der_result(sig) if scheme == "ECDSA" else raw_result(sig) for sig in sigs]
        values = [
            {
                "r": hex0x(v.r or b""),
                "s": hex0x(v.s or b""),
                **({"recid": v.recid} if v.recid is not None else {}),
                "encoded": hex0x(v.encoded or b""),
            }
            for v in each
        ]
        return SigningResult(
            r=None,
            s=None,
            recid=None,
            encoded=None,
            signed_data=result.psbt,
            details={
                "signedInputs": list(result.signed),
                "skippedInputs": skipped,
                "signatures": values,
            },
        )

    job.payloads = [(item.digest, root) for item in plan.items]
    job.finish = finish


def _chain_error(exc: ShardvaultError, field_name: str) -> ApiError:
    """A 400 naming the request field for a chain module's complaint about it."""
    return ApiError(400, exc.code, exc.message, details={"field": field_name})


def _evm_network_of(raw: bytes) -> Network:
    """The network an unsigned EVM transaction names (its chain id), for a request
    that gives ``blockchainKind: Evm`` without a network."""
    try:
        chain_id = evm_tx.transaction_chain_id(raw)
    except ShardvaultError as exc:
        raise _chain_error(exc, "transaction") from None
    network = evm_network_by_chain_id(chain_id) if chain_id is not None else None
    if network is None:
        raise ApiError(
            400,
            "NetworkRequired",
            "the transaction names no chain id shardvault knows; name the network"
            if chain_id is None
            else f"chain id {chain_id} is not a network shardvault knows",
            details={"field": "network", **({"chainId": chain_id} if chain_id else {})},
        )
    return network


def prepare_chain_job(
    scheme: str,
    curve: str,
    public_key: bytes,
    body: SignatureRequest,
    network_name: str | None,
    family: str | None = None,
) -> SigningJob:
    """Validate a chain-kind request for a key; raises :class:`ApiError` (400).
    ``family``: the chain family of the request's ``blockchainKind`` when it names no
    network."""
    kind = body.kind
    network = get_network(network_name) if network_name is not None else None
    if network is None and kind == "Transaction" and family == "EVM":
        assert isinstance(body.transaction, str)
        network = _evm_network_of(parse_hex0x(body.transaction, "transaction"))
    if network is not None and not network.allows(scheme, curve):
        raise ApiError(
            400,
            "SchemeNotSupportedByNetwork",
            f"{network.name} does not take {scheme}/{curve} keys",
            details={"network": network.name, "scheme": scheme},
        )
    normalized: dict[str, Any] = {"kind": kind}
    if network is not None and network_name is not None:
        normalized["network"] = network.name
    if body.blockchain_kind is not None:
        normalized["blockchainKind"] = body.blockchain_kind
    fam = network.family if network is not None else family
    job = SigningJob(normalized)

    if kind == "Transaction":
        assert body.transaction is not None
        raw = parse_hex0x(body.transaction, "transaction")
        normalized["transaction"] = hex0x(raw)
        if network is None and fam != "Solana":
            _require_network(kind, network, ("EVM", "Solana"))
        if network is not None and network.family == "EVM":
            net = network
            _require(scheme, kind, net, schemes=("ECDSA",), families=("EVM",))
            assert net.chain_id is not None
            try:
                tx = evm_tx.parse_unsigned_transaction(raw, net.chain_id)
            except ShardvaultError as exc:
                raise _chain_error(exc, "transaction") from None

            def finish_evm(sig: BackendSignature) -> SigningResult:
                r, s, recid = ecdsa_values(sig)
                return evm_result(sig, tx.assemble(r, s, recid))

            job.single(tx.signing_hash(), finish_evm)
        elif fam == "Solana":
            _require(scheme, kind, network, schemes=("EdDSA",), families=("Solana",), family=fam)
            try:
                payload = solana.prepare(raw)
            except ShardvaultError as exc:
                raise _chain_error(exc, "transaction") from None
            if public_key not in payload.signers:
                raise ApiError(
                    400,
                    "KeyNotASigner",
                    f"{solana.address_from_public_key(public_key)} is not a required "
                    "signer of this transaction",
                    details={"field": "transaction"},
                )

            def finish_solana(sig: BackendSignature) -> SigningResult:
                return raw_result(sig, solana.place_signature(payload, public_key, sig.raw))

            job.single(payload.message, finish_solana)
        else:
            assert network is not None
            raise _kind_error(
                scheme,
                kind,
                network,
                f"kind Transaction does not exist on {network.name}; use Psbt",
            )
    elif kind == "Eip191" or (kind == "Message" and fam == "EVM"):
        # Dfns: on EVM networks, Message is Eip191 (personal_sign).
        _require(scheme, kind, network, schemes=("ECDSA",), families=("EVM",), family=fam)
        assert isinstance(body.message, str)
        message = parse_hex0x(body.message, "message")
        normalized["message"] = hex0x(message)
        job.single(evm.eip191_hash(message), evm_result)
    elif kind == "Message":
        # Only reached for Solana (network or blockchainKind): a Solana off-chain message.
        _require(scheme, kind, network, schemes=("EdDSA",), families=("Solana",), family=fam)
        assert isinstance(body.message, str)
        message = parse_hex0x(body.message, "message")
        normalized["message"] = hex0x(message)
        try:
            offchain = solana_offchain.offchain_message(message)
        except ShardvaultError as exc:
            raise _chain_error(exc, "message") from None
        job.single(offchain, raw_result)
    elif kind == "Eip712":
        _require(scheme, kind, network, schemes=("ECDSA",), families=("EVM",), family=fam)
        document = {
            "types": body.types,
            "domain": body.domain,
            "primaryType": body.primary_type,
            "message": body.message,
        }
        try:
            typed = eip712.hash_typed_data(document)
        except ShardvaultError as exc:
            raise ApiError(400, exc.code, exc.message) from None
        if (
            network is not None
            and typed.chain_id is not None
            and typed.chain_id != network.chain_id
        ):
            raise ApiError(
                400,
                "ChainIdMismatch",
                f"the EIP-712 domain names chain {typed.chain_id}, not {network.name} "
                f"({network.chain_id})",
                details={"field": "domain.chainId"},
            )
        normalized.update(document)
        job.single(typed.digest, evm_result)
    elif kind == "Psbt":
        _require(
            scheme, kind, network, schemes=("ECDSA", "Schnorr"), families=("Bitcoin",), family=fam
        )
        assert body.psbt is not None
        raw = parse_psbt(body.psbt)
        normalized["psbt"] = base64.b64encode(raw).decode("ascii")
        _psbt_job(job, raw, scheme, public_key)
    elif kind == "Bip322":
        _require(
            scheme, kind, network, schemes=("ECDSA", "Schnorr"), families=("Bitcoin",), family=fam
        )
        net = _require_network(kind, network, ("Bitcoin",))
        _require(scheme, kind, net, schemes=("ECDSA", "Schnorr"), families=("Bitcoin",))
        assert isinstance(body.message, str)
        message = parse_hex0x(body.message, "message")
        normalized["message"] = hex0x(message)
        address = address_for(net, scheme, curve, public_key)
        try:
            challenge = bitcoin.bip322_to_sign(message, address)
        except ShardvaultError as exc:  # pragma: no cover - our own addresses are supported
            raise _chain_error(exc, "message") from None
        signing: Any = scheme

        def finish_bip322(sig: BackendSignature) -> SigningResult:
            signature = compact_ecdsa(sig) if scheme == "ECDSA" else sig.raw
            encoded = bitcoin.bip322_complete_simple(
                challenge, public_key=public_key, scheme=signing, signature=signature
            )
            if scheme == "ECDSA":
                return der_result(sig, encoded.encode("ascii"))
            return raw_result(sig, encoded.encode("ascii"))

        job.single(challenge.sighash, finish_bip322, root=b"" if scheme == "Schnorr" else None)
    else:  # pragma: no cover - the schema admits no other kind here
        raise _kind_error(scheme, kind, network, f"kind {kind} is not supported")
    if body.external_id is not None:
        normalized["externalId"] = body.external_id
    return job
