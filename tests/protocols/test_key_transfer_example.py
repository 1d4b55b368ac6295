"""The worked example of docs/import-export-format.md section 6, reproduced byte for byte
from its fixed inputs (tests/vectors/shardvault-import-example.json), rebuilt from the
documented layouts independently of the encoders, and quoted verbatim by the document.

Regenerate the example vector (only when the format deliberately changes) with::

    .venv/bin/python tests/protocols/test_key_transfer_example.py --write-vector
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import nacl.signing
from key_transfer_helpers import det

from shardvault.crypto import hpke
from shardvault.crypto.codec import b64url_encode
from shardvault.crypto.groups import SECP256K1
from shardvault.crypto.hpke import HpkeKeyPair
from shardvault.crypto.shamir import evaluate_polynomial
from shardvault.protocols.key_export import (
    EXPORT_INFO,
    export_statement,
    open_export_shares,
    seal_export_share,
)
from shardvault.protocols.key_import import (
    IMPORT_INFO,
    ImportContext,
    ImportedShare,
    commitments_hash,
    import_aad,
    import_commitments_digest,
    open_import_share,
    seal_import_shares,
)

VECTOR_PATH = Path(__file__).resolve().parents[1] / "vectors" / "shardvault-import-example.json"

# ---------------------------------------------------------------------------------------
# The worked example of docs/import-export-format.md
# ---------------------------------------------------------------------------------------

EXAMPLE_IDS_AS_GIVEN = ["sgn-7k2m9", "sgn-0a4f1", "sgn-3x8q5"]
EXAMPLE_KEY_ID = "key-5d1c0e"
#: 2026-12-07T12:00:00Z, the issue time of the example's import context.
EXAMPLE_ISSUED_AT = 1796644800


def _hx(label: str) -> bytes:
    return det("shardvault example " + label)


def build_example() -> dict[str, Any]:
    """Every value of the worked example, computed from its fixed inputs with the code."""
    curve, protocol, t = "secp256k1", "FROST_BITCOIN", 2
    g = SECP256K1
    secret = int.from_bytes(_hx("secret"), "big") % g.order
    coefficient = int.from_bytes(_hx("coefficient a1"), "big") % g.order
    ids = sorted(EXAMPLE_IDS_AS_GIVEN)
    x25519 = {sid: HpkeKeyPair.from_private_bytes(_hx("x25519 " + sid)) for sid in ids}
    ephemerals = [HpkeKeyPair.from_private_bytes(_hx("ephemeral " + sid)) for sid in ids]
    context = ImportContext(_hx("import id")[:16], EXAMPLE_ISSUED_AT)
    gpk, blobs = seal_import_shares(
        secret,
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signers=[(sid, x25519[sid].public_key) for sid in EXAMPLE_IDS_AS_GIVEN],
        coefficients=[coefficient],
        ephemeral_keys=ephemerals,
    )
    commitments = [gpk, g.mul_base(coefficient).encode()]
    c_hash = commitments_hash(commitments)
    signers = []
    shares: dict[str, ImportedShare] = {}
    for j, (sid, blob) in enumerate(blobs):
        index = j + 1
        value = evaluate_polynomial([secret, coefficient], index, g.order)
        header_size = 7 + t * 33
        sealed = blob[header_size:]
        aad = import_aad(
            context=context,
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=ids,
            index=index,
            group_public_key=gpk,
            commitments_hash=c_hash,
        )
        plaintext = hpke.open_sealed(x25519[sid], sealed, info=IMPORT_INFO, aad=aad)
        shares[sid] = open_import_share(
            blob,
            key_pair=x25519[sid],
            my_signer_id=sid,
            context=context,
            curve=curve,
            protocol=protocol,
            min_signers=t,
            signer_ids=EXAMPLE_IDS_AS_GIVEN,
        )
        signers.append(
            {
                "signer_id": sid,
                "index": index,
                "x25519_private_key": x25519[sid].private_bytes().hex(),
                "encryption_key": x25519[sid].public_key.hex(),
                "encryption_key_b64url": b64url_encode(x25519[sid].public_key),
                "ephemeral_private_key": ephemerals[j].private_bytes().hex(),
                "ephemeral_public_key": ephemerals[j].public_key.hex(),
                "share": g.encode_scalar(value).hex(),
                "verifying_share": g.mul_base(value).encode().hex(),
                "header": blob[:header_size].hex(),
                "plaintext": plaintext.hex(),
                "aad": aad.hex(),
                "enc": sealed[:32].hex(),
                "ciphertext": sealed[32:].hex(),
                "encrypted_key_share": blob.hex(),
                "encrypted_key_share_b64url": b64url_encode(blob),
            }
        )
    digest = import_commitments_digest(
        context=context,
        curve=curve,
        protocol=protocol,
        min_signers=t,
        signer_ids=ids,
        commitments=commitments,
    )
    request = {
        "curve": curve,
        "protocol": protocol,
        "minSigners": t,
        "encryptedKeyShares": [
            {"signerId": s["signer_id"], "encryptedKeyShare": s["encrypted_key_share_b64url"]}
            for s in signers
        ],
        "importId": b64url_encode(context.import_id),
    }

    # Export of the same key by signers 1 and 3 to a one-time requester key.
    requester = HpkeKeyPair.from_private_bytes(_hx("requester"))
    identities = {sid: nacl.signing.SigningKey(_hx("identity " + sid)) for sid in ids}
    export_shares = []
    returned = []
    for sid in (ids[0], ids[2]):
        kept = shares[sid]
        ephemeral = HpkeKeyPair.from_private_bytes(_hx("export ephemeral " + sid))
        blob = seal_export_share(
            identity_key=identities[sid],
            signer_id=sid,
            key_id=EXAMPLE_KEY_ID,
            curve=curve,
            protocol=protocol,
            group_public_key=gpk,
            min_signers=t,
            index=kept.index,
            share_value=kept.value,
            requester_encryption_key=requester.public_key,
            ephemeral_key=ephemeral,
        )
        public_share = g.mul_base(kept.value).encode()
        statement = export_statement(
            key_id=EXAMPLE_KEY_ID,
            curve=curve,
            protocol=protocol,
            group_public_key=gpk,
            min_signers=t,
            signer_id=sid,
            index=kept.index,
            public_share=public_share,
            requester_encryption_key=requester.public_key,
        )
        sealed = blob[6 + 33 + 64 :]
        returned.append((sid, blob))
        export_shares.append(
            {
                "signer_id": sid,
                "index": kept.index,
                "identity_seed": _hx("identity " + sid).hex(),
                "identity_key": bytes(identities[sid].verify_key).hex(),
                "ephemeral_private_key": ephemeral.private_bytes().hex(),
                "ephemeral_public_key": ephemeral.public_key.hex(),
                "public_share": public_share.hex(),
                "statement": statement.hex(),
                "plaintext": (bytes([kept.index]) + g.encode_scalar(kept.value)).hex(),
                "enc": sealed[:32].hex(),
                "ciphertext": sealed[32:].hex(),
                "sealed_sha256": hashlib.sha256(sealed).hexdigest(),
                "signature": blob[6 + 33 : 6 + 33 + 64].hex(),
                "encrypted_key_share": blob.hex(),
                "encrypted_key_share_b64url": b64url_encode(blob),
            }
        )
    recovered = open_export_shares(
        returned,
        signer_identity_keys={s: bytes(k.verify_key) for s, k in identities.items()},
        key_pair=requester,
        key_id=EXAMPLE_KEY_ID,
        curve=curve,
        protocol=protocol,
        group_public_key=gpk,
        min_signers=t,
        signer_ids=ids,
    )
    assert recovered == secret

    return {
        "description": (
            "Worked example of docs/import-export-format.md: a 2-of-3 secp256k1 "
            "FROST_BITCOIN import, then an export by signers 1 and 3. All byte strings "
            "are hex unless the name ends in _b64url. Inputs: secret, coefficients, "
            "signer ids, x25519_private_key, ephemeral_private_key, requester key, "
            "identity seeds; everything else is derived."
        ),
        "generator": "tests/protocols/test_key_transfer_example.py::build_example",
        "import": {
            "curve": curve,
            "protocol": protocol,
            "min_signers": t,
            "import_id": context.import_id.hex(),
            "import_id_b64url": b64url_encode(context.import_id),
            "issued_at": context.issued_at,
            "hpke_suite_id": hpke.SUITE_ID.hex(),
            "hpke_info": IMPORT_INFO.decode(),
            "signer_ids_as_given": EXAMPLE_IDS_AS_GIVEN,
            "signer_ids_sorted": ids,
            "secret": g.encode_scalar(secret).hex(),
            "coefficients": [g.encode_scalar(secret).hex(), g.encode_scalar(coefficient).hex()],
            "group_public_key": gpk.hex(),
            "commitments": [c.hex() for c in commitments],
            "commitments_hash": c_hash.hex(),
            "commitments_digest": digest.hex(),
            "signers": signers,
            "request": request,
        },
        "export": {
            "key_id": EXAMPLE_KEY_ID,
            "hpke_info": EXPORT_INFO.decode(),
            "requester_private_key": requester.private_bytes().hex(),
            "requester_encryption_key": requester.public_key.hex(),
            "encryption_key_b64url": b64url_encode(requester.public_key),
            "shares": export_shares,
            "private_key": g.encode_scalar(recovered).hex(),
        },
    }


def test_worked_example_is_reproduced_byte_for_byte() -> None:
    stored = json.loads(VECTOR_PATH.read_text())
    assert build_example() == stored


def test_worked_example_matches_the_documented_layouts() -> None:
    """Rebuild the example's AADs, headers, plaintexts and statements from the layouts as
    documented (independently of the dealer's own encoders)."""
    v = json.loads(VECTOR_PATH.read_text())
    imp_v, exp_v = v["import"], v["export"]
    ids = imp_v["signer_ids_sorted"]
    assert ids == sorted(imp_v["signer_ids_as_given"])
    n = SECP256K1.order

    def lp(b: bytes) -> bytes:
        return bytes([len(b)]) + b

    secret = int(imp_v["secret"], 16)
    a1 = int(imp_v["coefficients"][1], 16)
    commitments = [bytes.fromhex(c) for c in imp_v["commitments"]]
    assert commitments[0] == SECP256K1.mul_base(secret).encode()
    assert commitments[1] == SECP256K1.mul_base(a1).encode()
    c_hash = hashlib.sha256(b"".join(commitments)).digest()
    assert c_hash.hex() == imp_v["commitments_hash"]
    assert imp_v["request"]["importId"] == imp_v["import_id_b64url"]
    import_id = bytes.fromhex(imp_v["import_id"])
    assert len(import_id) == 16
    assert base64.urlsafe_b64decode(imp_v["import_id_b64url"] + "==") == import_id
    context = (
        b"\x02"
        + import_id
        + imp_v["issued_at"].to_bytes(8, "big")
        + lp(b"secp256k1")
        + lp(b"FROST_BITCOIN")
        + bytes([2, 3])
        + b"".join(lp(s.encode()) for s in ids)
    )
    digest = hashlib.sha256(b"SVKC" + context + lp(commitments[0]) + c_hash).digest()
    assert digest.hex() == imp_v["commitments_digest"]
    for s in imp_v["signers"]:
        i = s["index"]
        share = (secret + a1 * i) % n
        assert s["share"] == share.to_bytes(32, "big").hex()
        aad = b"SVKI" + context + bytes([i]) + lp(commitments[0]) + c_hash
        assert s["aad"] == aad.hex()
        header = b"SVKI" + bytes([2, i, 2]) + b"".join(commitments)
        assert s["header"] == header.hex()
        pt = bytes([i]) + share.to_bytes(32, "big") + commitments[0] + b"".join(commitments)
        assert s["plaintext"] == pt.hex()
        blob = bytes.fromhex(s["encrypted_key_share"])
        assert blob == header + bytes.fromhex(s["enc"]) + bytes.fromhex(s["ciphertext"])
        assert base64.urlsafe_b64decode(s["encrypted_key_share_b64url"] + "==") == blob
        assert s["enc"] == s["ephemeral_public_key"]  # DHKEM(X25519): enc = pkE
        key = HpkeKeyPair.from_private_bytes(bytes.fromhex(s["x25519_private_key"]))
        assert (
            hpke.open_sealed(key, blob[len(header) :], info=b"shardvault/import/v1", aad=aad) == pt
        )
    requester = bytes.fromhex(exp_v["requester_encryption_key"])
    for s in exp_v["shares"]:
        i = s["index"]
        statement = (
            b"shardvault/export-statement/v1\x02"
            + lp(exp_v["key_id"].encode())
            + lp(b"secp256k1")
            + lp(b"FROST_BITCOIN")
            + lp(commitments[0])
            + b"\x02"
            + lp(s["signer_id"].encode())
            + bytes([i])
            + lp(bytes.fromhex(s["public_share"]))
            + lp(requester)
        )
        assert s["statement"] == statement.hex()
        sealed = bytes.fromhex(s["enc"] + s["ciphertext"])
        nacl.signing.VerifyKey(bytes.fromhex(s["identity_key"])).verify(
            statement + hashlib.sha256(sealed).digest(), bytes.fromhex(s["signature"])
        )
        blob = bytes.fromhex(s["encrypted_key_share"])
        assert blob == (
            b"SVKE\x02"
            + bytes([i])
            + bytes.fromhex(s["public_share"])
            + bytes.fromhex(s["signature"])
            + sealed
        )
    assert exp_v["private_key"] == imp_v["secret"]


def test_doc_quotes_the_worked_example() -> None:
    """docs/import-export-format.md shows the stored example's values verbatim."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "import-export-format.md").read_text()
    v = json.loads(VECTOR_PATH.read_text())
    imp_v, exp_v = v["import"], v["export"]
    quoted = [imp_v["secret"], *imp_v["commitments"], imp_v["commitments_hash"]]
    quoted += [imp_v["import_id"], imp_v["import_id_b64url"], str(imp_v["issued_at"])]
    quoted.append(imp_v["commitments_digest"])
    for s in imp_v["signers"]:
        quoted += [s[k] for k in s if k not in ("signer_id", "index")]
    for s in exp_v["shares"]:
        quoted += [s[k] for k in s if k not in ("signer_id", "index")]
    quoted += [exp_v["requester_private_key"], exp_v["requester_encryption_key"]]
    quoted += [exp_v["encryption_key_b64url"], exp_v["private_key"]]
    missing = [q for q in quoted if q not in doc]
    assert missing == []
    assert json.dumps(imp_v["request"], indent=2) in doc


if __name__ == "__main__":  # pragma: no cover - regenerates the stored example
    if sys.argv[1:] != ["--write-vector"]:
        sys.exit("usage: python tests/protocols/test_key_transfer_example.py --write-vector")
    VECTOR_PATH.write_text(json.dumps(build_example(), indent=2) + "\n")
    print(f"wrote {VECTOR_PATH}")
