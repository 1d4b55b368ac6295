"""The network table and address dispatch (issue 6), checked against eth-account, embit
and solders."""

from __future__ import annotations

import coincurve
import pytest
from embit import script as escript
from embit.ec import PublicKey as EPublicKey
from embit.networks import NETWORKS as EMBIT_NETWORKS
from eth_account import Account
from evmhelpers import EVM_CHAIN_IDS
from nacl.signing import SigningKey
from solders.pubkey import Pubkey

from shardvault.chains.networks import NETWORKS, address_for, check_scheme, get_network
from shardvault.errors import InvalidEncoding, InvalidParameters

BITCOIN = {
    "Bitcoin": "bc",
    "BitcoinTestnet3": "tb",
    "BitcoinSignet": "tb",
    "BitcoinRegtest": "bcrt",
}
EMBIT_NET = {"bc": "main", "tb": "test", "bcrt": "regtest"}


def test_table() -> None:
    assert set(NETWORKS) == set(EVM_CHAIN_IDS) | set(BITCOIN) | {"Solana", "SolanaDevnet"}
    for name, chain_id in EVM_CHAIN_IDS.items():
        n = get_network(name)
        assert (n.family, n.chain_id, n.hrp) == ("EVM", chain_id, None)
        assert [(s.scheme, s.curve) for s in n.allowed_schemes] == [("ECDSA", "secp256k1")]
        assert n.default_scheme.scheme == "ECDSA"
    for name, hrp in BITCOIN.items():
        n = get_network(name)
        assert (n.family, n.hrp, n.chain_id) == ("Bitcoin", hrp, None)
        assert {s.scheme for s in n.allowed_schemes} == {"ECDSA", "Schnorr"}
        assert n.default_scheme.scheme == "ECDSA"
    for name in ("Solana", "SolanaDevnet"):
        n = get_network(name)
        assert n.family == "Solana" and n.default_scheme.curve == "ed25519"


def test_unknown_network_and_scheme() -> None:
    with pytest.raises(InvalidParameters) as info:
        get_network("ethereum")
    assert info.value.code == "UnknownNetwork"
    for network, scheme, curve in (
        ("Ethereum", "EdDSA", "ed25519"),
        ("Ethereum", "Schnorr", "secp256k1"),
        ("Solana", "ECDSA", "secp256k1"),
        ("Bitcoin", "EdDSA", "ed25519"),
        ("Bitcoin", "ECDSA", "ed25519"),
    ):
        with pytest.raises(InvalidParameters) as info:
            check_scheme(get_network(network), scheme, curve)
        assert info.value.code == "SchemeNotSupportedByNetwork"
        with pytest.raises(InvalidParameters):
            address_for(network, scheme, curve, bytes(33))


def test_evm_address_is_the_same_on_every_evm_network() -> None:
    account = Account.create()
    pub = coincurve.PrivateKey(bytes(account.key)).public_key.format()
    for name in EVM_CHAIN_IDS:
        assert address_for(name, "ECDSA", "secp256k1", pub) == account.address


def test_bitcoin_addresses_match_embit() -> None:
    pub = coincurve.PrivateKey().public_key.format()
    epub = EPublicKey.parse(pub)
    for name, hrp in BITCOIN.items():
        net = EMBIT_NETWORKS[EMBIT_NET[hrp]]
        assert address_for(name, "ECDSA", "secp256k1", pub) == escript.p2wpkh(epub).address(net)
        assert address_for(name, "Schnorr", "secp256k1", pub) == escript.p2tr(epub).address(net)


def test_solana_address_matches_solders() -> None:
    pub = bytes(SigningKey.generate().verify_key)
    for name in ("Solana", "SolanaDevnet"):
        assert address_for(name, "EdDSA", "ed25519", pub) == str(Pubkey.from_bytes(pub))


def test_wrong_public_key_sizes() -> None:
    with pytest.raises(InvalidEncoding):
        address_for("Ethereum", "ECDSA", "secp256k1", bytes(32))
    with pytest.raises(InvalidEncoding):
        address_for("Solana", "EdDSA", "ed25519", bytes(33))
    with pytest.raises(InvalidEncoding):
        address_for("Bitcoin", "ECDSA", "secp256k1", b"\x02" + bytes(31) + b"\x07")
