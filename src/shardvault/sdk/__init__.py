"""Python SDK of the shardvault REST API.

>>> from shardvault.sdk import Client
>>> with Client.from_credentials_file(".shardvault/credentials.json") as client:
...     key = client.keys.create(scheme="EdDSA", curve="ed25519")
...     sig = client.keys.sign(key.id, message=b"hello")

Modules: ``client`` (the client; ``_http`` its plumbing), ``keys``, ``wallets``
and ``_signers`` (the resources), ``signature_requests`` (request bodies),
``key_transfer`` (the client-side halves of import and export), ``keyfiles``
(reading a private key from a file), ``models``, ``encoding``, ``errors``.
"""

from __future__ import annotations

from shardvault.sdk._keymaterial import Ed25519Format
from shardvault.sdk._signers import SignersApi
from shardvault.sdk.client import Client
from shardvault.sdk.errors import (
    ApiConnectionError,
    CredentialsError,
    InvalidArgument,
    InvalidResponse,
    SdkError,
    ShardvaultApiError,
    SignerVerificationError,
)
from shardvault.sdk.keyfiles import (
    KeyFilePermissionWarning,
    parse_private_key_material,
    read_private_key,
    read_private_key_file,
)
from shardvault.sdk.keys import KeysApi
from shardvault.sdk.models import (
    Cluster,
    EncryptedKeyShare,
    ExportedKey,
    Key,
    KeyPage,
    KeyWallet,
    Network,
    SchemeCurve,
    Signature,
    SignaturePage,
    SignatureRequester,
    SignatureValue,
    SignerInfo,
    Wallet,
    WalletPage,
    WalletSigningKey,
)
from shardvault.sdk.wallets import NetworksApi, WalletsApi

__all__ = [
    "ApiConnectionError",
    "Client",
    "Cluster",
    "CredentialsError",
    "Ed25519Format",
    "EncryptedKeyShare",
    "ExportedKey",
    "InvalidArgument",
    "InvalidResponse",
    "Key",
    "KeyFilePermissionWarning",
    "KeyPage",
    "KeyWallet",
    "KeysApi",
    "Network",
    "NetworksApi",
    "SchemeCurve",
    "SdkError",
    "ShardvaultApiError",
    "Signature",
    "SignaturePage",
    "SignatureRequester",
    "SignatureValue",
    "SignerInfo",
    "SignerVerificationError",
    "SignersApi",
    "Wallet",
    "WalletPage",
    "WalletSigningKey",
    "WalletsApi",
    "parse_private_key_material",
    "read_private_key",
    "read_private_key_file",
]
