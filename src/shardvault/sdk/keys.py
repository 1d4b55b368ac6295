"""``client.keys``: the ``/keys`` resource (create by DKG, list, get, update,
delete, refresh), its signature requests, and import/export (whose cryptography is
in ``key_transfer``)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any

from shardvault.sdk._http import Requester, follow_pages, get_page, parse, segment
from shardvault.sdk._keymaterial import Ed25519Format
from shardvault.sdk.errors import InvalidArgument
from shardvault.sdk.key_transfer import export_private_key, import_private_key
from shardvault.sdk.models import Key, KeyPage, Signature, SignaturePage
from shardvault.sdk.signature_requests import signature_body

__all__ = ["KeysApi"]


class KeysApi:
    """``/keys``: create (DKG), list, get, update, delete, refresh, import, sign, export."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    # -- CRUD ------------------------------------------------------------------

    def create(
        self, *, scheme: str, curve: str, name: str | None = None, exportable: bool | None = None
    ) -> Key:
        """A new key by distributed key generation (``POST /keys``); ``exportable=False``
        makes a key that can never be exported."""
        body: dict[str, Any] = {"scheme": scheme, "curve": curve}
        if name is not None:
            body["name"] = name
        if exportable is not None:
            body["exportable"] = exportable
        return parse(Key, self._client.request("POST", "/keys", json_body=body), "key")

    def get(self, key_id: str) -> Key:
        data = self._client.request("GET", f"/keys/{segment(key_id, 'key_id')}")
        return parse(Key, data, "key")

    def list(self, limit: int | None = None, pagination_token: str | None = None) -> KeyPage:
        """One page of keys; pass ``page.next_page_token`` back for the next one."""
        return get_page(self._client, "/keys", KeyPage, "key page", limit, pagination_token)

    def iter_all(self, page_size: int | None = None) -> Iterator[Key]:
        """Every key, following ``nextPageToken`` across pages."""
        return follow_pages("/keys", lambda t: self.list(limit=page_size, pagination_token=t))

    def update(
        self, key_id: str, *, name: str | None = None, exportable: bool | None = None
    ) -> Key:
        """Rename the key and/or switch ``exportable`` off (never back on: 409)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if exportable is not None:
            body["exportable"] = exportable
        if not body:
            raise InvalidArgument("give name or exportable")
        data = self._client.request("PUT", f"/keys/{segment(key_id, 'key_id')}", json_body=body)
        return parse(Key, data, "key")

    def delete(self, key_id: str) -> Key:
        """Archive the key: the signers erase their shares and it never signs again."""
        path = f"/keys/{segment(key_id, 'key_id')}"
        data = self._client.request("DELETE", path)
        if data is None:  # a bare 204: read back the archived key
            data = self._client.request("GET", path)
        return parse(Key, data, "key")

    def refresh(self, key_id: str) -> Key:
        """Proactive refresh of an ECDSA (CGGMP24) key (``POST /keys/{keyId}/refresh``):
        every signer gets a new share of the same key and erases its old one. The
        public key does not change. Needs every signer of the key; other schemes answer
        400 ``RefreshNotSupported``."""
        data = self._client.request(
            "POST", f"/keys/{segment(key_id, 'key_id')}/refresh", json_body={}
        )
        return parse(Key, data, "key")

    # -- signing -----------------------------------------------------------------

    def sign(
        self,
        key_id: str,
        hash: bytes | None = None,
        message: bytes | None = None,
        taproot_merkle_root: bytes | None = None,
        external_id: str | None = None,
        *,
        kind: str | None = None,
        network: str | None = None,
        transaction: bytes | str | None = None,
        psbt: bytes | str | None = None,
        typed_data: Mapping[str, Any] | None = None,
    ) -> Signature:
        """Sign a 32-byte ``hash`` (Schnorr/ECDSA) or a ``message`` (EdDSA), or a chain
        payload: ``transaction`` (kind Transaction, with ``network``: EVM or Solana),
        ``psbt`` (bytes, or base64/hex text), ``typed_data`` (an EIP-712 document), or
        ``message`` with ``kind="Eip191"`` / ``kind="Bip322"`` (Bip322 needs a Bitcoin
        ``network``). A Message with a Solana ``network`` is signed as a Solana
        off-chain message.

        ``taproot_merkle_root`` (Schnorr): ``None`` signs under the untweaked key
        (plain BIP 340), ``b""`` applies the BIP 86 key-path tweak, 32 bytes the
        BIP 341 script-tree tweak. A retry with the same ``external_id`` returns
        the first result and never signs twice.
        """
        body = signature_body(
            kind=kind,
            hash=hash,
            message=message,
            taproot_merkle_root=taproot_merkle_root,
            transaction=transaction,
            psbt=psbt,
            typed_data=typed_data,
            network=network,
            external_id=external_id,
        )
        data = self._client.request(
            "POST", f"/keys/{segment(key_id, 'key_id')}/signatures", json_body=body
        )
        return parse(Signature, data, "signature")

    def list_signatures(self, key_id: str) -> builtins.list[Signature]:
        """Every signature request of the key (all pages)."""
        path = f"/keys/{segment(key_id, 'key_id')}/signatures"

        def fetch(token: str | None) -> SignaturePage:
            data = self._client.request("GET", path, params={"paginationToken": token})
            if isinstance(data, list):  # a bare array is accepted too (one page)
                items = [parse(Signature, s, "signature") for s in data]
                return SignaturePage.model_construct(items=items, next_page_token=None)
            return parse(SignaturePage, data, "signature page")

        return builtins.list(follow_pages(path, fetch))

    def get_signature(self, key_id: str, signature_id: str) -> Signature:
        path = (
            f"/keys/{segment(key_id, 'key_id')}/signatures/{segment(signature_id, 'signature_id')}"
        )
        return parse(Signature, self._client.request("GET", path), "signature")

    # -- import / export -----------------------------------------------------------

    def import_key(
        self,
        private_key: bytes,
        *,
        curve: str,
        protocol: str,
        min_signers: int,
        name: str | None = None,
        ed25519_format: Ed25519Format | None = None,
        cluster_id: str | None = None,
    ) -> Key:
        """Import an existing private key without sending it anywhere.

        The SDK fetches the signers, checks each one's encryption-key signature
        under its identity key (and the pinned identity keys, if configured),
        derives the signing scalar, splits it ``min_signers``-of-n with Feldman
        commitments, seals each share to its signer with HPKE and posts only the
        sealed shares. Raises :class:`SignerVerificationError` naming a signer
        that fails the checks, before anything is sent.

        ``protocol``/``curve``: ``FROST``/``ed25519`` (EdDSA), ``FROST_BITCOIN``/
        ``secp256k1`` (Schnorr, BIP 340) or ``CGGMP24``/``secp256k1`` (ECDSA;
        ``CGGMP21`` is accepted as an alias and the key is stored as CGGMP24).

        ``private_key``: secp256k1 -- the 32-byte big-endian key; ed25519 -- a
        32-byte RFC 8032 seed (default), a 64-byte Solana keypair (seed || public
        key; chosen automatically for 64 bytes) or, with ``ed25519_format="scalar"``,
        the 32-byte little-endian signing scalar.
        """
        return import_private_key(
            self._client,
            private_key,
            curve=curve,
            protocol=protocol,
            min_signers=min_signers,
            name=name,
            ed25519_format=ed25519_format,
            cluster_id=cluster_id,
        )

    def export_key(self, key_id: str) -> bytes:
        """Export a key's private key; afterwards the key no longer signs.

        Generates a one-time HPKE key pair, asks every signer (through the API) for
        its share sealed to it, verifies each share against the signer's signed
        public share (a bad one raises, naming the signer), recombines and checks
        the result against the key's public key before returning it.

        Returns secp256k1 (Schnorr and ECDSA keys): the 32-byte big-endian private
        key; ed25519: the 32-byte little-endian signing scalar. An Ed25519 seed
        cannot come back: the scalar is SHA-512(seed) clamped, a one-way function,
        and only the scalar was ever shared among the signers.
        """
        return export_private_key(self._client, self.get(key_id))
