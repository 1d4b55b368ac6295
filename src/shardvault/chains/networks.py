"""The networks wallets can live on: family, chain id, which key schemes each allows,
and the address a public key has there.

* EVM (``ECDSA``/secp256k1): EIP-55 address of the key; the same key has the same
  address on every EVM network.
* Bitcoin: ``ECDSA``/secp256k1 -> P2WPKH (bech32), ``Schnorr``/secp256k1 -> P2TR
  key path with the BIP 86 tweak (bech32m). Prefix per network (``bc``, ``tb``, ``bcrt``).
* Solana (``EdDSA``/ed25519): base58 of the 32-byte public key.

Pure functions; errors are :class:`~shardvault.errors.InvalidParameters` (HTTP 400)
with a specific ``code``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from shardvault.errors import InvalidEncoding, InvalidParameters

__all__ = [
    "NETWORKS",
    "Network",
    "SchemeCurve",
    "address_for",
    "check_scheme",
    "evm_network_by_chain_id",
    "get_network",
]

Family = Literal["EVM", "Bitcoin", "Solana"]


@dataclass(frozen=True, slots=True)
class SchemeCurve:
    scheme: str
    curve: str


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    family: Family
    allowed_schemes: tuple[SchemeCurve, ...]
    default_scheme: SchemeCurve
    #: EVM chain id (EIP-155).
    chain_id: int | None = None
    #: Bitcoin bech32 human-readable part.
    hrp: str | None = None

    def allows(self, scheme: str, curve: str) -> bool:
        return SchemeCurve(scheme, curve) in self.allowed_schemes


_ECDSA = SchemeCurve("ECDSA", "secp256k1")
_SCHNORR = SchemeCurve("Schnorr", "secp256k1")
_EDDSA = SchemeCurve("EdDSA", "ed25519")


def _evm(name: str, chain_id: int) -> Network:
    return Network(name, "EVM", (_ECDSA,), _ECDSA, chain_id=chain_id)


def _bitcoin(name: str, hrp: str) -> Network:
    return Network(name, "Bitcoin", (_ECDSA, _SCHNORR), _ECDSA, hrp=hrp)


def _solana(name: str) -> Network:
    return Network(name, "Solana", (_EDDSA,), _EDDSA)


#: Every network, by its (Dfns) name, in display order.
NETWORKS: Mapping[str, Network] = {
    n.name: n
    for n in (
        _evm("Ethereum", 1),
        _evm("EthereumSepolia", 11155111),
        _evm("Base", 8453),
        _evm("BaseSepolia", 84532),
        _evm("ArbitrumOne", 42161),
        _evm("Optimism", 10),
        _evm("Polygon", 137),
        _evm("Bsc", 56),
        _evm("AvalancheC", 43114),
        _bitcoin("Bitcoin", "bc"),
        _bitcoin("BitcoinTestnet3", "tb"),
        _bitcoin("BitcoinSignet", "tb"),
        _bitcoin("BitcoinRegtest", "bcrt"),
        _solana("Solana"),
        _solana("SolanaDevnet"),
    )
}


def get_network(name: str) -> Network:
    """The network called ``name``; unknown names raise ``UnknownNetwork``."""
    network = NETWORKS.get(name)
    if network is None:
        raise InvalidParameters(f"unknown network {name!r}", code="UnknownNetwork")
    return network


def evm_network_by_chain_id(chain_id: int) -> Network | None:
    """The EVM network of ``chain_id``, if shardvault knows it."""
    for network in NETWORKS.values():
        if network.family == "EVM" and network.chain_id == chain_id:
            return network
    return None


def check_scheme(network: Network, scheme: str, curve: str) -> None:
    """Raise ``SchemeNotSupportedByNetwork`` unless the network takes scheme/curve keys."""
    if not network.allows(scheme, curve):
        allowed = ", ".join(f"{s.scheme}/{s.curve}" for s in network.allowed_schemes)
        raise InvalidParameters(
            f"{network.name} does not take {scheme}/{curve} keys (allowed: {allowed})",
            code="SchemeNotSupportedByNetwork",
        )


def address_for(network: str | Network, scheme: str, curve: str, public_key: bytes) -> str:
    """The address of ``public_key`` (33-byte compressed secp256k1 or 32-byte Ed25519)
    on ``network`` for a key of ``scheme``/``curve``."""
    net = get_network(network) if isinstance(network, str) else network
    check_scheme(net, scheme, curve)
    expected = 32 if curve == "ed25519" else 33
    if len(public_key) != expected:
        raise InvalidEncoding(f"a {curve} public key has {expected} bytes, not {len(public_key)}")
    if net.family == "EVM":
        from shardvault.chains import evm

        return evm.address_from_public_key(public_key)
    if net.family == "Bitcoin":
        from shardvault.chains import btc_address

        assert net.hrp is not None
        if scheme == "Schnorr":
            return btc_address.p2tr_address(public_key, net.hrp)
        return btc_address.p2wpkh_address(public_key, net.hrp)
    from shardvault.chains import solana

    return solana.address_from_public_key(public_key)
