"""Python SDK of the shardvault REST API.

>>> from shardvault.sdk import Client
>>> with Client.from_credentials_file(".shardvault/credentials.json") as client:
...     key = client.keys.create(scheme="EdDSA", curve="ed25519")
...     sig = client.keys.sign(key.id, message=b"hello")
"""

from __future__ import annotations

from shardvault.sdk._keymaterial import Ed25519Format
from shardvault.sdk.client import Client, KeysApi, NetworksApi, SignersApi, WalletsApi
from shardvault.sdk.errors import (
    ApiConnectionError,
    CredentialsError,
    InvalidArgument,
    InvalidResponse,
    SdkError,
    ShardvaultApiError,
    SignerVerificationError,
)
from shardvault.sdk.models import (
    Cluster,
    EncryptedKeyShare,
    ExportedKey,
    Key,
    KeyPage,
    Network,
    SchemeCurve,
    Signature,
    SignaturePage,
    SignatureValue,
    SignerInfo,
    Wallet,
    WalletPage,
    WalletSigningKey,
)

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
    "KeyPage",
    "KeysApi",
    "Network",
    "NetworksApi",
    "SchemeCurve",
    "SdkError",
    "ShardvaultApiError",
    "Signature",
    "SignaturePage",
    "SignatureValue",
    "SignerInfo",
    "SignerVerificationError",
    "SignersApi",
    "Wallet",
    "WalletPage",
    "WalletSigningKey",
    "WalletsApi",
]
