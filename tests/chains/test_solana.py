"""Solana addresses and transactions (issue 6), checked against solders as the independent
reference (solders is a test-only dependency; src/ never imports it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st
from shared_vectors import LOCAL_VECTORS
from solders.address_lookup_table_account import AddressLookupTableAccount
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction, VersionedTransaction

from shardvault.chains import solana
from shardvault.errors import InvalidEncoding, InvalidParameters, ProtocolError, ShardvaultError

BLOCKHASH = Hash(bytes([9] * 32))
VAULT = Keypair.from_seed(bytes(range(32)))
OTHER = Keypair.from_seed(bytes([0x42] * 32))
DEST = Keypair.from_seed(bytes([7] * 32)).pubkey()
MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKQ96Qp9V29h7QLhqEbTHHdfnQ1D3zF")
RFC8032: dict[str, Any] = json.loads((LOCAL_VECTORS / "rfc8032-ed25519.json").read_text())


def vault_pub() -> bytes:
    return bytes(VAULT.pubkey())


def signer_for(kp: Keypair) -> Callable[[bytes], bytes]:
    """A vault-like callback backed by PyNaCl (independent of solders' signer)."""
    sk = nacl.signing.SigningKey(bytes(kp)[:32])
    assert bytes(sk.verify_key) == bytes(kp.pubkey())

    def sign(message: bytes) -> bytes:
        return bytes(sk.sign(message).signature)

    return sign


def transfer_message(payer: Pubkey | None = None) -> Message:
    payer = VAULT.pubkey() if payer is None else payer
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=DEST, lamports=1_000_000))
    return Message.new_with_blockhash([ix], payer, BLOCKHASH)


def two_signer_message(payer: Pubkey, cosigner: Pubkey) -> Message:
    ix = Instruction(
        MEMO_PROGRAM,
        b"two signers",
        [AccountMeta(payer, True, True), AccountMeta(cosigner, True, False)],
    )
    return Message.new_with_blockhash([ix], payer, BLOCKHASH)


def lookup_message_v0() -> MessageV0:
    alt = AddressLookupTableAccount(
        key=Pubkey(bytes([3] * 32)), addresses=[DEST, Pubkey(bytes([4] * 32))]
    )
    ix = transfer(TransferParams(from_pubkey=VAULT.pubkey(), to_pubkey=DEST, lamports=5))
    msg = MessageV0.try_compile(VAULT.pubkey(), [ix], [alt], BLOCKHASH)
    assert len(msg.address_table_lookups) == 1
    return msg


def unsigned_v0_tx(msg: MessageV0) -> bytes:
    n = msg.header.num_required_signatures
    return bytes(VersionedTransaction.populate(msg, [Signature.default()] * n))


# ---------------------------------------------------------------------------
# Addresses
# ---------------------------------------------------------------------------


def test_address_matches_solders() -> None:
    for seed in (bytes(range(32)), bytes([0x42] * 32), bytes(32)):
        kp = Keypair.from_seed(seed)
        addr = solana.address_from_public_key(bytes(kp.pubkey()))
        assert addr == str(kp.pubkey())
        assert solana.decode_address(addr) == bytes(kp.pubkey())


def test_address_known_vectors() -> None:
    assert solana.address_from_public_key(bytes(32)) == "11111111111111111111111111111111"
    assert solana.decode_address(str(MEMO_PROGRAM)) == bytes(MEMO_PROGRAM)
    # RFC 8032 TEST 1 public key.
    (test1,) = [v for v in RFC8032["vectors"] if v["name"] == "TEST 1"]
    pub = bytes.fromhex(test1["public_key"])
    assert solana.address_from_public_key(pub) == str(Pubkey(pub))


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1111111111111111111111111111111",  # 31 bytes
        "111111111111111111111111111111111",  # 33 bytes
        str(VAULT.pubkey()) + "11",  # 33 bytes
        str(VAULT.pubkey())[:30],
        "0" + str(VAULT.pubkey())[1:],  # '0' is not in the alphabet
        "O" + str(VAULT.pubkey())[1:],
        " " + str(VAULT.pubkey()),
        str(VAULT.pubkey()) + " ",
        str(VAULT.pubkey()) + "\n",
        "é" * 44,
    ],
)
def test_decode_address_rejects(bad: str) -> None:
    with pytest.raises(InvalidEncoding) as exc:
        solana.decode_address(bad)
    assert exc.value.code == "InvalidAddress"


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33)])
def test_address_from_public_key_rejects(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        solana.address_from_public_key(bad)


# ---------------------------------------------------------------------------
# Shortvec
# ---------------------------------------------------------------------------

# anza-xyz/solana-sdk short-vec/src/lib.rs tests (tag short-vec@v3.3.0), in
# tests/vectors/solana-short-vec-v3.3.0.json.
SHORTVEC: dict[str, Any] = json.loads((LOCAL_VECTORS / "solana-short-vec-v3.3.0.json").read_text())


def _valued(key: str) -> list[tuple[int, bytes]]:
    return [(v["value"], bytes.fromhex(v["encoded"])) for v in SHORTVEC[key]]


def _rejected(key: str) -> list[bytes]:
    return [bytes.fromhex(v["encoded"]) for v in SHORTVEC[key]]


SHORTVEC_VECTORS = _valued("encode_len")
SHORTVEC_DESERIALIZE = _valued("deserialize_valid")
SHORTVEC_INVALID = _rejected("deserialize_invalid") + _rejected("short_vec_u8_invalid")


def test_shortvec_vector_counts() -> None:
    assert (len(SHORTVEC_VECTORS), len(SHORTVEC_DESERIALIZE), len(SHORTVEC_INVALID)) == (7, 9, 15)


@pytest.mark.parametrize(("value", "encoded"), SHORTVEC_VECTORS)
def test_shortvec_vectors(value: int, encoded: bytes) -> None:
    assert solana.encode_shortvec(value) == encoded
    assert solana.decode_shortvec(encoded + b"junk", 0) == (value, len(encoded))


@pytest.mark.parametrize(("value", "encoded"), SHORTVEC_DESERIALIZE)
def test_shortvec_deserialize_vectors(value: int, encoded: bytes) -> None:
    assert solana.decode_shortvec(encoded, 0) == (value, len(encoded))
    assert solana.encode_shortvec(value) == encoded


@pytest.mark.parametrize(
    "bad", SHORTVEC_INVALID, ids=[b.hex() or "empty" for b in SHORTVEC_INVALID]
)
def test_shortvec_rejects_published(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding) as exc:
        solana.decode_shortvec(bad, 0)
    assert exc.value.code == "InvalidTransaction"


@given(st.integers(0, 0xFFFF))
def test_shortvec_round_trip(value: int) -> None:
    enc = solana.encode_shortvec(value)
    assert solana.decode_shortvec(enc, 0) == (value, len(enc))


@pytest.mark.parametrize(
    "bad",
    [  # ours; b"", 0x80, 0x8000 and 0xff8000 are in the published list above
        b"\xff\xff",  # truncated
        b"\x81\x00",  # alias of 1
        b"\xff\xff\x04",  # 65536+
        b"\xff\xff\x7f",  # overflow
        b"\x80\x80\x80\x01",  # 4 bytes
    ],
)
def test_shortvec_rejects(bad: bytes) -> None:
    with pytest.raises(InvalidEncoding) as exc:
        solana.decode_shortvec(bad, 0)
    assert exc.value.code == "InvalidTransaction"


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


def test_parse_legacy_transfer() -> None:
    msg = transfer_message()
    parsed = solana.parse_message(bytes(msg))
    assert parsed.version == "legacy"
    assert parsed.account_keys == tuple(bytes(k) for k in msg.account_keys)
    assert parsed.recent_blockhash == bytes(BLOCKHASH)
    assert parsed.signers == (vault_pub(),)
    assert (parsed.num_required_signatures, parsed.num_readonly_signed) == (1, 0)
    assert parsed.num_readonly_unsigned == 1
    [ix] = parsed.instructions
    assert ix.program_id_index == msg.instructions[0].program_id_index
    assert list(ix.accounts) == list(msg.instructions[0].accounts)
    assert ix.data == bytes(msg.instructions[0].data)
    assert parsed.address_table_lookups == ()


def test_parse_v0_with_lookup() -> None:
    msg = lookup_message_v0()
    parsed = solana.parse_message(to_bytes_versioned(msg))
    assert parsed.version == "v0"
    assert parsed.signers == (vault_pub(),)
    [lookup] = parsed.address_table_lookups
    solders_lookup = msg.address_table_lookups[0]
    assert lookup.account_key == bytes(solders_lookup.account_key)
    assert list(lookup.writable_indexes) == list(solders_lookup.writable_indexes)
    assert list(lookup.readonly_indexes) == list(solders_lookup.readonly_indexes)
    # bytes(MessageV0) lacks the 0x80 version prefix: not a valid message on its own.
    with pytest.raises(InvalidEncoding):
        solana.parse_message(bytes(msg))


def test_prepare_message_and_transaction() -> None:
    msg = transfer_message()
    as_msg = solana.prepare(bytes(msg))
    assert as_msg.kind == "message"
    assert as_msg.message == bytes(msg)
    assert as_msg.signers == (vault_pub(),)
    assert as_msg.signatures == (bytes(64),)
    assert as_msg.signer_addresses == (str(VAULT.pubkey()),)
    assert not as_msg.is_signed(0)

    raw_tx = bytes(Transaction.new_unsigned(msg))
    as_tx = solana.prepare(raw_tx)
    assert as_tx.kind == "transaction"
    assert as_tx.message == bytes(msg)
    assert as_tx.signers == as_msg.signers
    assert as_tx.signatures == (bytes(64),)

    assert solana.prepare(raw_tx, kind="transaction") == as_tx
    assert solana.prepare(bytes(msg), kind="message") == as_msg
    with pytest.raises(InvalidEncoding):
        solana.prepare(raw_tx, kind="message")
    with pytest.raises(InvalidEncoding):
        solana.prepare(bytes(msg), kind="transaction")

    v0 = lookup_message_v0()
    p = solana.prepare(unsigned_v0_tx(v0))
    assert (p.kind, p.version, p.message) == ("transaction", "v0", to_bytes_versioned(v0))


def test_prepare_reports_existing_signatures() -> None:
    msg = two_signer_message(OTHER.pubkey(), VAULT.pubkey())
    tx = Transaction.new_unsigned(msg)
    tx.partial_sign([OTHER], BLOCKHASH)
    p = solana.prepare(bytes(tx))
    assert p.signers == (bytes(OTHER.pubkey()), vault_pub())
    assert p.signatures == (bytes(tx.signatures[0]), bytes(64))
    assert p.is_signed(0) and not p.is_signed(1)


# ---------------------------------------------------------------------------
# Signing, verified by solders
# ---------------------------------------------------------------------------


def test_sign_legacy_transfer_from_message_and_from_tx() -> None:
    msg = transfer_message()
    for raw in (bytes(msg), bytes(Transaction.new_unsigned(msg))):
        signed = solana.sign_transaction(raw, vault_pub(), signer_for(VAULT))
        tx = Transaction.from_bytes(signed)
        tx.verify()  # raises if any signature is bad
        assert tx.verify_with_results() == [True]
        assert tx.message == msg
        assert tx.signatures[0].verify(VAULT.pubkey(), bytes(msg))
        # Ed25519 is deterministic: identical to what solders' own signer produces.
        reference = Transaction([VAULT], msg, BLOCKHASH)
        assert signed == bytes(reference)


def test_sign_v0_with_lookup_table() -> None:
    msg = lookup_message_v0()
    for raw in (to_bytes_versioned(msg), unsigned_v0_tx(msg)):
        signed = solana.sign_transaction(raw, vault_pub(), signer_for(VAULT))
        vtx = VersionedTransaction.from_bytes(signed)
        vtx.sanitize()
        assert vtx.verify_with_results() == [True]
        assert vtx.message == msg
        assert vtx.signatures[0].verify(VAULT.pubkey(), to_bytes_versioned(msg))
        assert signed == bytes(VersionedTransaction(msg, [VAULT]))


@pytest.mark.parametrize("vault_is_payer", [True, False])
def test_sign_with_cosigner_presigned(vault_is_payer: bool) -> None:
    payer, cosigner = (VAULT, OTHER) if vault_is_payer else (OTHER, VAULT)
    msg = two_signer_message(payer.pubkey(), cosigner.pubkey())
    tx = Transaction.new_unsigned(msg)
    tx.partial_sign([OTHER], BLOCKHASH)
    other_slot = 1 if vault_is_payer else 0
    other_sig = tx.signatures[other_slot]
    assert other_sig != Signature.default()

    signed = solana.sign_transaction(bytes(tx), vault_pub(), signer_for(VAULT))
    out = Transaction.from_bytes(signed)
    out.verify()
    assert out.verify_with_results() == [True, True]
    assert out.signatures[other_slot] == other_sig
    assert out.signatures[1 - other_slot].verify(VAULT.pubkey(), bytes(msg))


def test_sign_leaves_other_slot_empty() -> None:
    msg = two_signer_message(OTHER.pubkey(), VAULT.pubkey())
    signed = solana.sign_transaction(bytes(msg), vault_pub(), signer_for(VAULT))
    out = Transaction.from_bytes(signed)
    assert out.signatures[0] == Signature.default()
    assert out.verify_with_results() == [False, True]
    assert not out.is_signed()
    # The other party can finish it with solders.
    out.partial_sign([OTHER], BLOCKHASH)
    out.verify()


def test_sign_every_slot_of_a_duplicated_signer() -> None:
    # Hand-built legacy message whose two signer slots hold the same key
    # (solders never compiles one; the runtime would reject it, we sign both slots).
    key = vault_pub()
    body = (
        bytes([2, 0, 1])
        + solana.encode_shortvec(3)
        + key
        + key
        + bytes(MEMO_PROGRAM)
        + bytes(BLOCKHASH)
        + solana.encode_shortvec(1)
        + bytes([2])
        + solana.encode_shortvec(2)
        + bytes([0, 1])
        + solana.encode_shortvec(2)
        + b"hi"
    )
    calls: list[bytes] = []
    base = signer_for(VAULT)

    def sign(m: bytes) -> bytes:
        calls.append(m)
        return base(m)

    signed = solana.sign_transaction(body, key, sign)
    assert calls == [body]
    p = solana.prepare(signed)
    assert p.kind == "transaction"
    assert p.signatures[0] == p.signatures[1] != bytes(64)
    assert all(Signature(s).verify(VAULT.pubkey(), body) for s in p.signatures)


def test_key_not_a_signer() -> None:
    msg = transfer_message(OTHER.pubkey())
    with pytest.raises(InvalidParameters) as exc:
        solana.sign_transaction(bytes(msg), vault_pub(), signer_for(VAULT))
    assert exc.value.code == "KeyNotASigner"
    # DEST appears in the message but is not a signer.
    with pytest.raises(InvalidParameters) as exc:
        solana.sign_transaction(bytes(msg), bytes(DEST), signer_for(VAULT))
    assert exc.value.code == "KeyNotASigner"


def test_bad_signature_from_callback_is_refused() -> None:
    msg = transfer_message()
    cases: list[Callable[[bytes], bytes]] = [
        lambda m: bytes(64),
        lambda m: b"short",
        signer_for(OTHER),  # wrong key
        lambda m: signer_for(VAULT)(m + b"x"),  # wrong message
    ]
    for bad in cases:
        with pytest.raises(ProtocolError) as exc:
            solana.sign_transaction(bytes(msg), vault_pub(), bad)
        assert exc.value.code == "InvalidSignature"


def test_bad_public_key_length() -> None:
    with pytest.raises(InvalidEncoding):
        solana.sign_transaction(bytes(transfer_message()), bytes(31), signer_for(VAULT))


# ---------------------------------------------------------------------------
# Malformed inputs
# ---------------------------------------------------------------------------


def assert_invalid_tx(raw: bytes) -> None:
    with pytest.raises(InvalidEncoding) as exc:
        solana.prepare(raw)
    assert exc.value.code == "InvalidTransaction"
    with pytest.raises(InvalidEncoding) as exc:
        solana.sign_transaction(raw, vault_pub(), signer_for(VAULT))
    assert exc.value.code == "InvalidTransaction"


def valid_payloads() -> list[bytes]:
    msg = transfer_message()
    v0 = lookup_message_v0()
    return [
        bytes(msg),
        bytes(Transaction.new_unsigned(msg)),
        to_bytes_versioned(v0),
        unsigned_v0_tx(v0),
    ]


@pytest.mark.parametrize("which", range(4))
def test_truncated_and_trailing(which: int) -> None:
    raw = valid_payloads()[which]
    for cut in range(len(raw)):
        assert_invalid_tx(raw[:cut])
    assert_invalid_tx(raw + b"\x00")
    assert_invalid_tx(raw + b"\x01\x02")


def legacy_parts(msg: Message) -> dict[str, bytes]:
    raw = bytes(msg)
    # header(3) shortvec(3 keys)=1 byte, 3 keys, blockhash, rest = instructions
    keys_end = 4 + 32 * 3
    return {
        "header": raw[:3],
        "keys": raw[3:keys_end],
        "blockhash": raw[keys_end : keys_end + 32],
        "instructions": raw[keys_end + 32 :],
    }


def test_malformed_legacy_fields() -> None:
    msg = transfer_message()
    raw = bytes(msg)
    p = legacy_parts(msg)
    assert raw == p["header"] + p["keys"] + p["blockhash"] + p["instructions"]
    assert p["instructions"][:2] == b"\x01\x02"  # 1 instruction, program id index 2

    # Non-minimal shortvec for the account-key count (3 as 0x83 0x00).
    assert_invalid_tx(
        p["header"] + b"\x83\x00" + p["keys"][1:] + p["blockhash"] + p["instructions"]
    )
    # Program id index out of range / the fee payer as program.
    for idx in (3, 0xFF, 0):
        ix = b"\x01" + bytes([idx]) + p["instructions"][2:]
        assert_invalid_tx(p["header"] + p["keys"] + p["blockhash"] + ix)
    # Account index out of range: accounts [0, 1] -> [0, 3].
    ixs = p["instructions"]
    assert ixs[2:5] == b"\x02\x00\x01"
    bad_ix = ixs[:4] + b"\x03" + ixs[5:]
    assert_invalid_tx(p["header"] + p["keys"] + p["blockhash"] + bad_ix)
    # Header: no signer, read-only fee payer, more accounts than keys.
    for header in (b"\x00\x00\x01", b"\x01\x01\x01", b"\x01\x00\x03", b"\x04\x00\x00"):
        assert_invalid_tx(header + p["keys"] + p["blockhash"] + p["instructions"])
    # Data length longer than the data.
    assert_invalid_tx(raw[:-13] + b"\x0d" + raw[-12:])


def test_malformed_versioned() -> None:
    raw = to_bytes_versioned(lookup_message_v0())
    assert raw[0] == 0x80
    # Unsupported versions 1 and 127 (0xff is also the off-chain signing domain's first byte).
    for prefix in (0x81, 0xFF):
        assert_invalid_tx(bytes([prefix]) + raw[1:])
    # A lookup that selects no index: writable [0] -> [] (and drop the data byte).
    assert raw[-3:] == b"\x01\x00\x00"
    assert_invalid_tx(raw[:-3] + b"\x00\x00")
    # The ALT-loaded account is index 2 (3 = past the end).
    parsed = solana.parse_message(raw)
    [ix] = parsed.instructions
    assert list(ix.accounts) == [0, 2]
    pos = raw.index(bytes([ix.program_id_index, 2, 0, 2]))
    assert_invalid_tx(raw[: pos + 3] + b"\x03" + raw[pos + 4 :])
    # Program id may not come from a lookup table (index 2 is dynamic).
    assert_invalid_tx(raw[:pos] + b"\x02" + raw[pos + 1 :])


def test_signature_count_must_match() -> None:
    msg = two_signer_message(VAULT.pubkey(), OTHER.pubkey())
    raw = bytes(msg)
    for n in (0, 1, 3):
        assert_invalid_tx(solana.encode_shortvec(n) + bytes(64 * n) + raw)
    assert solana.prepare(solana.encode_shortvec(2) + bytes(128) + raw).kind == "transaction"


def test_too_many_account_keys() -> None:
    keys = b"".join(bytes([i % 256, i // 256]) + bytes(30) for i in range(1, 258))
    body = (
        b"\x01\x00\x00"
        + solana.encode_shortvec(257)
        + keys
        + bytes(BLOCKHASH)
        + solana.encode_shortvec(0)
    )
    assert_invalid_tx(body)
    ok = b"\x01\x00\x00" + solana.encode_shortvec(256) + keys[: 256 * 32] + body[-33:]
    assert solana.prepare(ok).signers == (keys[:32],)


# ---------------------------------------------------------------------------
# Fuzz
# ---------------------------------------------------------------------------


@given(st.binary(max_size=400))
def test_prepare_random_bytes_only_raises_our_errors(raw: bytes) -> None:
    try:
        solana.prepare(raw)
    except ShardvaultError as exc:
        assert exc.code == "InvalidTransaction"


@given(
    st.sampled_from(range(4)),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=4),
)
def test_mutated_payloads_agree_with_solders(which: int, edits: list[tuple[int, int]]) -> None:
    raw = bytearray(valid_payloads()[which])
    for pos, value in edits:
        raw[pos % len(raw)] = value
    data = bytes(raw)
    try:
        payload = solana.prepare(data)
    except ShardvaultError as exc:
        assert exc.code == "InvalidTransaction"
        return
    # Whatever we accept, solders parses and sanitizes to the same message.
    tx_bytes = (
        data
        if payload.kind == "transaction"
        else solana.serialize_transaction(payload.signatures, payload.message)
    )
    vtx = VersionedTransaction.from_bytes(tx_bytes)
    vtx.sanitize()
    assert bytes(vtx) == tx_bytes
    assert to_bytes_versioned(vtx.message) == payload.message
    assert [bytes(k) for k in vtx.message.account_keys][: len(payload.signers)] == list(
        payload.signers
    )
