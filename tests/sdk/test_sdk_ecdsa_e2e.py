"""ECDSA (CGGMP24) end to end: SDK -> REST API (real HTTP) -> coordinator -> three
signer nodes (2-of-3). Generate, sign a hash, import an eth-account key and sign for
its address, export, refresh; every signature is checked by coincurve, eth-keys and
eth-account. Paillier primes: TEST-ONLY fixtures (tests/fixtures/cggmp_primes.json)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import coincurve
import httpx
import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_keys import keys as eth_keys
from evmhelpers import eip1559_unsigned

from shardvault.api import set_key_export
from shardvault.sdk import Client, ShardvaultApiError
from shardvault.sdk.models import Signature
from shardvault.server import BackgroundVault

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "cggmp_primes.json"
Q = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _prime_pairs() -> list[tuple[int, int]]:
    """TEST ONLY: pregenerated, public safe primes."""
    p = [int(x, 16) for x in json.loads(FIXTURE.read_text())["safe_primes_1536"]]
    return [(p[0], p[1]), (p[2], p[3]), (p[4], p[5])]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundVault]:
    with BackgroundVault(
        tmp_path_factory.mktemp("vault"),
        os.urandom(32),
        ecdsa_primes=_prime_pairs(),
        presig_pool_target=1,
    ) as vault:
        health = httpx.get(vault.base_url + "/health").json()
        assert set(health) == {"status", "ecdsaReady", "auxInfoProgress"}
        deadline = time.monotonic() + 300
        while not health["ecdsaReady"]:
            assert time.monotonic() < deadline, health
            assert 0.0 <= health["auxInfoProgress"] < 1.0
            time.sleep(0.3)
            health = httpx.get(vault.base_url + "/health").json()
        assert health == {"status": "ok", "ecdsaReady": True, "auxInfoProgress": 1.0}
        yield vault


@pytest.fixture
def client(live: BackgroundVault) -> Iterator[Client]:
    with Client.from_credentials_file(live.credentials, timeout=60) as c:
        yield c


def _rsv(sig: Signature) -> tuple[int, int, int]:
    assert sig.status == "Signed" and sig.signature is not None
    value = sig.signature
    assert value.recid is not None and value.encoded is not None
    r, s = int(value.r, 16), int(value.s, 16)
    assert 0 < r < Q and 0 < s <= Q // 2  # low-s
    # `encoded` is the DER of (r, s), as libsecp256k1 serialises it.
    compact = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    der = coincurve.ecdsa.cdata_to_der(coincurve.ecdsa.deserialize_compact(compact))
    assert bytes.fromhex(value.encoded.removeprefix("0x")) == der
    return r, s, value.recid


def test_generate_and_sign_hash(client: Client) -> None:
    key = client.keys.create(scheme="ECDSA", curve="secp256k1")
    assert key.scheme == "ECDSA" and key.curve == "secp256k1"
    for _ in range(3):
        digest = os.urandom(32)
        r, s, recid = _rsv(client.keys.sign(key.id, hash=digest))
        recovered = coincurve.PublicKey.from_signature_and_message(
            r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([recid]), digest, hasher=None
        )
        assert recovered.format() == key.public_key_bytes


def test_imported_eth_key_signs_for_its_address(live: BackgroundVault, client: Client) -> None:
    account = Account.create()
    key = client.keys.import_key(
        bytes(account.key), curve="secp256k1", protocol="CGGMP21", min_signers=2
    )
    assert key.protocol == "CGGMP24"
    message = encode_defunct(text="move funds from the imported address")
    r, s, recid = _rsv(client.keys.sign(key.id, hash=_hash_eip191_message(message)))
    assert Account.recover_message(message, vrs=(27 + recid, r, s)) == account.address
    pub = eth_keys.Signature(vrs=(recid, r, s)).recover_public_key_from_msg_hash(
        _hash_eip191_message(message)
    )
    assert pub.to_checksum_address() == account.address

    refreshed = client.keys.refresh(key.id)
    assert refreshed.public_key == key.public_key
    r, s, recid = _rsv(client.keys.sign(key.id, hash=_hash_eip191_message(message)))
    assert Account.recover_message(message, vrs=(27 + recid, r, s)) == account.address

    set_key_export(live.database_url, True)
    try:
        assert client.keys.export_key(key.id) == bytes(account.key)
    finally:
        set_key_export(live.database_url, False)


def test_imported_eth_key_wallets_sign_transactions_on_every_evm_network(
    client: Client,
) -> None:
    """The same imported key on two EVM networks: one address (eth-account's), and an
    EIP-1559 transaction signed through the threshold vault recovers to it."""
    account = Account.create()
    key = client.keys.import_key(
        bytes(account.key), curve="secp256k1", protocol="CGGMP24", min_signers=2
    )
    mainnet = client.wallets.create("Ethereum", signing_key_id=key.id)
    base = client.wallets.create("Base", signing_key_id=key.id)
    assert mainnet.address == base.address == account.address
    unsigned, _ = eip1559_unsigned(8453, to=Account.create().address, gas=21000, data=b"")
    result = client.wallets.sign_transaction(base.id, "0x" + unsigned.hex())
    assert result.status == "Signed" and result.signed_data is not None
    assert Account.recover_transaction(result.signed_data) == account.address
    # The chain id must be the wallet's network's.
    with pytest.raises(ShardvaultApiError) as info:
        client.wallets.sign_transaction(mainnet.id, "0x" + unsigned.hex())
    assert info.value.status_code == 400


def test_bitcoin_p2wpkh_wallet_signs_a_psbt(client: Client) -> None:
    from embit import script as escript
    from embit.ec import PublicKey as EPublicKey
    from embit.psbt import PSBT
    from embit.transaction import Transaction as ETx
    from embit.transaction import TransactionInput, TransactionOutput

    wallet = client.wallets.create("BitcoinTestnet3")
    assert wallet.signing_key.scheme == "ECDSA" and wallet.address.startswith("tb1q")
    pub = EPublicKey.parse(bytes.fromhex(wallet.signing_key.public_key))
    spk = escript.p2wpkh(pub)
    tx = ETx(vin=[TransactionInput(os.urandom(32), 0)], vout=[TransactionOutput(90_000, spk)])
    psbt = PSBT(tx)
    psbt.inputs[0].witness_utxo = TransactionOutput(100_000, spk)
    result = client.wallets.sign_psbt(wallet.id, psbt.to_string())
    assert result.signed_inputs == [0] and result.signed_data is not None
    signed = PSBT.from_string(result.signed_data.removeprefix("0x"))
    sig = signed.inputs[0].partial_sigs[pub]
    digest = signed.tx.sighash_segwit(0, escript.p2pkh(pub), 100_000, sighash=1)
    assert coincurve.PublicKey(pub.sec()).verify(sig[:-1], digest, hasher=None)
