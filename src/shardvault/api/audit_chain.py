"""The audit log's hash chain: the canonical encoding of a row, its hash, and the
verification of whole chains (``shardvault audit verify``; docs/governance-audit.md).

A row's hash is SHA-256 over ``shardvault/audit/v1`` + NUL + the canonical JSON of
every column but ``hash`` (keys sorted, no whitespace, ASCII only, dates as ISO 8601
UTC with milliseconds), which includes ``prevHash``, the previous row's hash (64
zeros for row 1). So editing any field of a row changes its hash; changing the hash
too breaks the next row's ``prevHash``; deleting or reordering rows breaks the
``seq`` sequence 1, 2, 3, ... or a ``prevHash``; deleting the tail leaves the chain
shorter than its head (``audit_heads``) and than any checkpoint kept elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shardvault.api.encoding import iso_utc
from shardvault.db.models import AuditHead, AuditRow, Org

__all__ = [
    "GENESIS_HASH",
    "ChainProblem",
    "VerifyReport",
    "canonical_json",
    "row_fields",
    "row_hash",
    "values_hash",
    "verify_chains",
    "verify_items",
]

#: ``prevHash`` of the first row of every chain.
GENESIS_HASH = "0" * 64
_DOMAIN = b"shardvault/audit/v1\x00"
_VERSION = 1


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, ASCII only (``\\u`` escapes), no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


_COLUMNS = (
    ("id", "id"),
    ("orgId", "org_id"),
    ("seq", "seq"),
    ("actor", "actor"),
    ("userId", "user_id"),
    ("tokenId", "token_id"),
    ("credentialId", "credential_id"),
    ("tokenHashPrefix", "token_hash_prefix"),
    ("action", "action"),
    ("targetId", "target_id"),
    ("method", "method"),
    ("path", "path"),
    ("requestHash", "request_hash"),
    ("result", "result"),
    ("status", "status"),
    ("errorCode", "error_code"),
    ("details", "details"),
    ("prevHash", "prev_hash"),
)


def values_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """What a row's hash covers, from its column values (every column but ``hash``),
    camelCase, with the date in the API's ISO form."""
    fields: dict[str, Any] = {"v": _VERSION, "date": iso_utc(values["date"])}
    for name, column in _COLUMNS:
        fields[name] = values[column]
    return fields


def row_fields(row: AuditRow) -> dict[str, Any]:
    """What a stored row's hash covers."""
    return values_fields({column: getattr(row, column) for _n, column in (*_COLUMNS, ("", "date"))})


def values_hash(values: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the domain tag and the canonical encoding of the values."""
    return hashlib.sha256(_DOMAIN + canonical_json(values_fields(values))).hexdigest()


def row_hash(row: AuditRow) -> str:
    """SHA-256 (hex) of the domain tag and the stored row's canonical encoding."""
    return hashlib.sha256(_DOMAIN + canonical_json(row_fields(row))).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first thing wrong in one chain."""

    org_id: str
    seq: int | None
    row_id: str | None
    message: str

    def __str__(self) -> str:
        where = f"chain {self.org_id}"
        if self.seq is not None:
            where += f", row {self.seq}"
        if self.row_id is not None:
            where += f" ({self.row_id})"
        return f"{where}: {self.message}"


@dataclass(slots=True)
class VerifyReport:
    """What :func:`verify_chains` found: each chain's last row ``(seq, hash)``, the
    number of rows checked and the first problem of each bad chain."""

    heads: dict[str, tuple[int, str]] = field(default_factory=dict)
    rows: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(session: Session, org_id: str) -> Iterator[AuditRow]:
    stmt = (
        select(AuditRow)
        .where(AuditRow.org_id == org_id)
        .order_by(AuditRow.seq)
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(stmt)


def _verify_one(
    session: Session,
    org_id: str,
    head: AuditHead | None,
    checkpoint: tuple[int, str] | None,
    report: VerifyReport,
) -> ChainProblem | None:
    expected_seq = 1
    prev = GENESIS_HASH
    last: tuple[int, str] = (0, GENESIS_HASH)
    for row in _rows(session, org_id):
        report.rows += 1
        if row.seq != expected_seq:
            if row.seq > expected_seq:
                what = (
                    f"row {expected_seq} is missing (deleted)"
                    if row.seq == expected_seq + 1
                    else f"rows {expected_seq} to {row.seq - 1} are missing (deleted)"
                )
            else:
                what = f"sequence number {row.seq} repeats or goes back (reordered)"
            return ChainProblem(org_id, row.seq, row.id, what)
        if row.prev_hash != prev:
            return ChainProblem(
                org_id,
                row.seq,
                row.id,
                "prevHash does not match the hash of the row before "
                "(a row before it was edited, reordered or replaced)",
            )
        if row_hash(row) != row.hash:
            return ChainProblem(
                org_id, row.seq, row.id, "hash does not match the row's content (edited)"
            )
        if checkpoint is not None and row.seq == checkpoint[0] and row.hash != checkpoint[1]:
            return ChainProblem(
                org_id,
                row.seq,
                row.id,
                "differs from the checkpoint (the chain was rewritten from here or before)",
            )
        prev = row.hash
        last = (row.seq, row.hash)
        expected_seq += 1
    report.heads[org_id] = last
    if head is None:
        return ChainProblem(org_id, None, None, "the chain has no head row (audit_heads edited)")
    if head.seq > last[0]:
        return ChainProblem(
            org_id,
            last[0] + 1,
            None,
            f"the head says {head.seq} rows; rows {last[0] + 1} to {head.seq} are missing "
            "(tail deleted)",
        )
    if (head.seq, head.hash) != last:
        return ChainProblem(
            org_id, head.seq, None, "the head does not match the chain's last row (head edited)"
        )
    if checkpoint is not None and checkpoint[0] > last[0]:
        return ChainProblem(
            org_id,
            last[0] + 1,
            None,
            f"the checkpoint has {checkpoint[0]} rows; rows {last[0] + 1} to {checkpoint[0]} "
            "are missing (tail deleted)",
        )
    return None


def verify_chains(
    session: Session,
    *,
    org_id: str | None = None,
    checkpoint: Mapping[str, tuple[int, str]] | None = None,
) -> VerifyReport:
    """Recompute every chain (or ``org_id``'s) and report the first bad row of each.

    Checks: sequence numbers 1, 2, 3, ... without gaps; each ``prevHash`` is the row
    before's hash; each ``hash`` matches the row; the head (``audit_heads``) is the
    last row; every org has a chain; and, with ``checkpoint`` (org -> ``(seq, hash)``
    from an earlier run, kept elsewhere), each chain still holds that row unchanged."""
    report = VerifyReport()
    heads = {h.org_id: h for h in session.scalars(select(AuditHead))}
    chains = set(heads) | set(session.scalars(select(AuditRow.org_id).distinct()))
    orgs = set(session.scalars(select(Org.id)))
    expected = dict(checkpoint or {})
    if org_id is not None:
        chains &= {org_id}
        orgs &= {org_id}
        expected = {k: v for k, v in expected.items() if k == org_id}
    for missing in sorted((orgs | set(expected)) - chains):
        report.problems.append(
            ChainProblem(missing, None, None, "the org has no audit chain (deleted)")
        )
    for chain in sorted(chains):
        problem = _verify_one(session, chain, heads.get(chain), expected.get(chain), report)
        if problem is not None:
            report.problems.append(problem)
    return report


def _item_values(item: Mapping[str, Any]) -> dict[str, Any]:
    """An API row (``GET /audit`` item, camelCase, ``None`` fields left out) as the
    column values its hash covers."""
    actor = item.get("actor") or {}
    return {
        "id": item.get("id"),
        "org_id": item.get("orgId"),
        "seq": item.get("seq"),
        "date": datetime.fromisoformat(str(item.get("date", "")).replace("Z", "+00:00")),
        "actor": actor.get("kind"),
        "user_id": actor.get("userId"),
        "token_id": actor.get("tokenId"),
        "credential_id": actor.get("credentialId"),
        "token_hash_prefix": actor.get("tokenHashPrefix"),
        "action": item.get("action"),
        "target_id": item.get("targetId"),
        "method": item.get("method"),
        "path": item.get("path"),
        "request_hash": item.get("requestHash"),
        "result": item.get("result"),
        "status": item.get("status"),
        "error_code": item.get("errorCode"),
        "details": item.get("details"),
        "prev_hash": item.get("prevHash"),
    }


def verify_items(org_id: str, items: Sequence[Mapping[str, Any]]) -> VerifyReport:
    """Verify one org's chain from its ``GET /audit`` items, oldest first (no database
    access: what a client can check; a deleted tail needs a checkpoint here)."""
    report = VerifyReport()
    prev = GENESIS_HASH
    last = (0, GENESIS_HASH)
    for expected_seq, item in enumerate(items, start=1):
        report.rows += 1
        seq, row_id = item.get("seq"), item.get("id")
        where = (org_id, seq if isinstance(seq, int) else None, str(row_id))
        problem: str | None = None
        if seq != expected_seq:
            problem = f"expected row {expected_seq} here (a row was deleted or reordered)"
        elif item.get("prevHash") != prev:
            problem = "prevHash does not match the hash of the row before"
        else:
            try:
                digest = values_hash(_item_values(item))
            except (ValueError, TypeError):
                digest = ""
            if digest != item.get("hash"):
                problem = "hash does not match the row's content (edited)"
        if problem is not None:
            report.problems.append(ChainProblem(*where, problem))
            return report
        prev = str(item["hash"])
        last = (expected_seq, prev)
    report.heads[org_id] = last
    return report
