"""``client.wallets`` (``/wallets``: a key on a network, its address, chain-aware
signing) and ``client.networks`` (``GET /networks``)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from typing import Any

from shardvault.sdk._http import Requester, follow_pages, get_page, parse, segment
from shardvault.sdk.errors import InvalidArgument, InvalidResponse
from shardvault.sdk.models import Network, Signature, Wallet, WalletPage
from shardvault.sdk.signature_requests import signature_body

__all__ = ["NetworksApi", "WalletsApi"]


class _Unset:
    """The default of a field left out of an update (``None`` clears it)."""


_UNSET = _Unset()


class NetworksApi:
    """``GET /networks``."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def list(self) -> builtins.list[Network]:
        data = self._client.request("GET", "/networks")
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise InvalidResponse("GET /networks: expected {items: [...]}")
        return [parse(Network, n, "network") for n in items]


def _tags(tags: object) -> builtins.list[str]:
    if not isinstance(tags, list | tuple) or not all(isinstance(t, str) for t in tags):
        raise InvalidArgument("tags must be a list of strings")
    return [str(t) for t in tags]


class WalletsApi:
    """``/wallets``: create, list, get, update, tags, sign."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def create(
        self,
        network: str,
        signing_key_id: str | None = None,
        scheme: str | None = None,
        curve: str | None = None,
        name: str | None = None,
        external_id: str | None = None,
        tags: builtins.list[str] | None = None,
    ) -> Wallet:
        """A wallet on ``network``. Its key: the existing ``signing_key_id``, else a new
        key of ``scheme``/``curve`` (``curve`` left out: the scheme's default), else a
        new key of the network's default scheme.
        Repeating an ``external_id`` returns the wallet it created (409 if the request
        differs)."""
        body: dict[str, Any] = {"network": network}
        if signing_key_id is not None:
            if scheme is not None or curve is not None:
                raise InvalidArgument("pass signing_key_id or scheme and curve, not both")
            body["signingKey"] = {"id": signing_key_id}
        elif scheme is not None or curve is not None:
            if scheme is None:
                raise InvalidArgument("curve needs a scheme")
            # without a curve, the server takes the scheme's default (Dfns's)
            body["signingKey"] = {"scheme": scheme, **({"curve": curve} if curve else {})}
        if name is not None:
            body["name"] = name
        if external_id is not None:
            body["externalId"] = external_id
        if tags is not None:
            body["tags"] = _tags(tags)
        return parse(Wallet, self._client.request("POST", "/wallets", json_body=body), "wallet")

    def get(self, wallet_id: str) -> Wallet:
        data = self._client.request("GET", f"/wallets/{segment(wallet_id, 'wallet_id')}")
        return parse(Wallet, data, "wallet")

    def list(self, limit: int | None = None, pagination_token: str | None = None) -> WalletPage:
        """One page of wallets; pass ``page.next_page_token`` back for the next one."""
        return get_page(
            self._client, "/wallets", WalletPage, "wallet page", limit, pagination_token
        )

    def iter_all(self, page_size: int | None = None) -> Iterator[Wallet]:
        """Every wallet, following ``nextPageToken`` across pages."""
        return follow_pages("/wallets", lambda t: self.list(limit=page_size, pagination_token=t))

    def update(
        self,
        wallet_id: str,
        *,
        name: str | _Unset | None = _UNSET,
        external_id: str | _Unset | None = _UNSET,
    ) -> Wallet:
        """Set the wallet's ``name`` and/or ``external_id`` (``None`` clears one; one left
        out is kept)."""
        body: dict[str, Any] = {}
        if not isinstance(name, _Unset):
            body["name"] = name
        if not isinstance(external_id, _Unset):
            body["externalId"] = external_id
        data = self._client.request(
            "PUT", f"/wallets/{segment(wallet_id, 'wallet_id')}", json_body=body
        )
        return parse(Wallet, data, "wallet")

    def add_tags(self, wallet_id: str, tags: builtins.list[str]) -> Wallet:
        data = self._client.request(
            "PUT",
            f"/wallets/{segment(wallet_id, 'wallet_id')}/tags",
            json_body={"tags": _tags(tags)},
        )
        return parse(Wallet, data, "wallet")

    def remove_tags(self, wallet_id: str, tags: builtins.list[str]) -> Wallet:
        data = self._client.request(
            "DELETE",
            f"/wallets/{segment(wallet_id, 'wallet_id')}/tags",
            json_body={"tags": _tags(tags)},
        )
        return parse(Wallet, data, "wallet")

    def sign(
        self,
        wallet_id: str,
        *,
        kind: str | None = None,
        hash: bytes | None = None,
        message: bytes | str | None = None,
        taproot_merkle_root: bytes | None = None,
        transaction: bytes | str | None = None,
        psbt: bytes | str | None = None,
        typed_data: Mapping[str, Any] | None = None,
        external_id: str | None = None,
    ) -> Signature:
        """Sign with the wallet's key on the wallet's network (``POST
        /wallets/{walletId}/signatures``); payloads as :meth:`KeysApi.sign`."""
        body = signature_body(
            kind=kind,
            hash=hash,
            message=message,
            taproot_merkle_root=taproot_merkle_root,
            transaction=transaction,
            psbt=psbt,
            typed_data=typed_data,
            external_id=external_id,
        )
        data = self._client.request(
            "POST", f"/wallets/{segment(wallet_id, 'wallet_id')}/signatures", json_body=body
        )
        return parse(Signature, data, "signature")

    def sign_transaction(
        self, wallet_id: str, transaction: bytes | str, *, external_id: str | None = None
    ) -> Signature:
        """Sign an unsigned EVM or Solana transaction (bytes or hex); the signed one is
        ``signature.signed_data`` (0x-hex)."""
        return self.sign(wallet_id, transaction=transaction, external_id=external_id)

    def sign_psbt(
        self, wallet_id: str, psbt: bytes | str, *, external_id: str | None = None
    ) -> Signature:
        """Sign every input of the PSBT the wallet's key can spend; the result is
        ``signature.signed_data`` (0x-hex, as Dfns returns it)."""
        return self.sign(wallet_id, psbt=psbt, external_id=external_id)

    def sign_typed_data(
        self, wallet_id: str, typed_data: Mapping[str, Any], *, external_id: str | None = None
    ) -> Signature:
        """Sign an EIP-712 document (``signature.signature.encoded``: 65-byte r||s||v)."""
        return self.sign(wallet_id, typed_data=typed_data, external_id=external_id)
