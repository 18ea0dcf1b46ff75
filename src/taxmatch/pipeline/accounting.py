"""The custodian's accounting of disclosures and the ledger's witness document, one
function per command: every disclosure about a TIN, a batch's disclosure_id -> TIN list
(CSV), the § 6103(p)(3)(C) annual counts, the verified ledger head for an outside witness
and the ledger checked against such a witness.

TINs appear only in what these functions return or write for the custodian; never in a
log line or an error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from taxmatch.disclose.csvout import SafeCsvWriter
from taxmatch.errors import InputFileError, LedgerError
from taxmatch.ledger.chain import VerifyResult, format_recorded_at
from taxmatch.ledger.digest import head_document, read_head_document
from taxmatch.owner_only import write_private_text
from taxmatch.store.accounting import (
    CountRow,
    DisclosureRecord,
    batch_subjects,
    disclosures_about,
    year_counts,
)
from taxmatch.store.state import StateStore

REPORT_SCHEMA = "taxmatch/accounting-report/v1"
BATCH_COLUMNS = ("disclosure_id", "tin")


@dataclass(frozen=True, slots=True)
class AnnualReport:
    year: int
    totals: dict[str, int]
    by_agency: dict[str, dict[str, int]]
    rows: list[CountRow]

    def as_dict(self) -> dict[str, object]:
        return {
            "schema": REPORT_SCHEMA,
            "year": self.year,
            **self.totals,
            "by_agency": self.by_agency,
            "by_agency_statute": [{**asdict(r), "statute": r.statute or None} for r in self.rows],
        }


def taxpayer_accounting(
    store: Path, tin: str, *, database_url: str | None = None
) -> list[DisclosureRecord]:
    with StateStore.open(store, database_url) as state:
        return disclosures_about(state, tin)


def write_batch_accounting(
    store: Path, batch_id: str, out: Path, *, database_url: str | None = None
) -> int:
    """Write ``out`` (CSV: disclosure_id, tin); the number of disclosures listed."""
    with StateStore.open(store, database_url) as state, SafeCsvWriter(out, BATCH_COLUMNS) as csv:
        for disclosure_id, tin in batch_subjects(state, batch_id):
            csv.write([disclosure_id, tin])
        return csv.rows


def annual_report(store: Path, year: int, *, database_url: str | None = None) -> AnnualReport:
    with StateStore.open(store, database_url) as state:
        rows, totals, taxpayers = year_counts(state, year)
    by_agency: dict[str, dict[str, int]] = {}
    for r in rows:
        fresh = {"requests": 0, "disclosures": 0, "taxpayers": taxpayers.get(r.agency, 0)}
        entry = by_agency.setdefault(r.agency, fresh)
        entry["requests"] += r.requests
        entry["disclosures"] += r.disclosures
    return AnnualReport(year, totals, by_agency, rows)


def export_head(
    store: Path, out: Path | None = None, *, database_url: str | None = None
) -> dict[str, str | int]:
    """Verify the ledger and return (and write to ``out``) its head for a witness.

    Refuses (``LedgerError``) when verification fails: a witness must not sign a bad head.
    """
    with StateStore.open(store, database_url) as state:
        result = state.verify_ledger()
    if not result.ok:
        raise LedgerError(
            f"ledger verification failed at entry {result.first_bad_seq}; head not exported"
        )
    doc = head_document(result.entries, result.head, format_recorded_at(datetime.now(UTC)))
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        write_private_text(tmp, json.dumps(doc, indent=2, sort_keys=True) + "\n")
        tmp.replace(out)
    return doc


def read_witness(path: Path) -> tuple[int, str]:
    """The witnessed head (seq, hash) in ``path``, a file ``export_head`` wrote.

    ``InputFileError`` naming the file (and the field) when it cannot be read or is not a
    ledger head document of a known version.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(str(path), f"cannot read the witness ({exc.strerror})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InputFileError(str(path), "the witness is not JSON") from None
    try:
        return read_head_document(document)
    except LedgerError as exc:
        raise InputFileError(str(path), exc.message) from None


def verify_ledger(
    store: Path, witness: Path | None = None, *, database_url: str | None = None
) -> VerifyResult:
    """``ledger verify``: the whole ledger, against the head witnessed in ``witness``."""
    head = None if witness is None else read_witness(witness)
    with StateStore.open(store, database_url) as state:
        return state.verify_ledger(head)
