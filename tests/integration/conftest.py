"""A tiny, hand-written master file and request builder for end-to-end batch tests.

Synthetic people only. The cast covers the hard cases of docs/domain.md: a Jr/Sr pair at one
address, twins, a deceased filer, a mover, an ITIN filer and a spouse who never filed.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import and_, select

from taxmatch.contracts import MASTER_COLUMNS, REQUEST_COLUMNS
from taxmatch.pipeline.accounting import annual_report, write_batch_accounting
from taxmatch.pipeline.transparency import transparency_report
from taxmatch.reference.snapshot import load_reference
from taxmatch.store.accounting import disclosures_about
from taxmatch.store.ledger_bound import DISCLOSURES, release_subjects
from taxmatch.store.models import disclosure_subjects
from taxmatch.store.state import StateStore

AS_OF = date(2026, 11, 30)

# tin, first, middle, last, suffix, dob, {year: (street, unit, city, state, zip)}, dod
_HOME = ("410 Oak Avenue", "", "Spokane", "WA", "99201")
_MOVED = ("77 Pine St", "Apt 2", "Tacoma", "WA", "98402")
_RIVERSIDE = ("1231 Riverside Dr", "", "Madison", "WI", "53703")
_FARWELL = ("8203 W Farwell Ave", "", "Chicago", "IL", "60626")
_FARWELL_NEW = ("8003 W Farwell Ave", "", "Chicago", "IL", "60626")
_ROSA_OLD = ("5 Cedar Ln", "", "Olympia", "WA", "98501")
PEOPLE: list[tuple[str, str, str, str, str, str, dict[int, tuple[str, ...]], str]] = [
    ("123456789", "Maria", "Elena", "Garcia Lopez", "", "1980-03-01",
     {2021: ("12 N Main St", "Apt 4", "Seattle", "WA", "98101"),
      2022: ("12 North Main Street", "Apt 4", "Seattle", "WA", "98101"),
      2023: _MOVED, 2024: _MOVED}, ""),
    ("223456789", "John", "", "Carter", "Sr", "1955-05-05",
     {y: _HOME for y in (2021, 2022, 2023, 2024)}, ""),
    ("323456789", "John", "", "Carter", "Jr", "1985-06-06",
     {y: _HOME for y in (2021, 2022, 2023, 2024)}, ""),
    ("423456789", "Anh", "", "Nguyen", "", "1990-01-01",
     {y: ("9 Elm St", "", "Houston", "TX", "77002") for y in (2022, 2023, 2024)}, ""),
    ("523456789", "Robert", "", "Old", "", "1940-01-01",
     {2021: ("5 Birch Rd", "", "Boise", "ID", "83702")}, "2022-02-02"),
    ("923456789", "Jose", "", "Munoz", "", "1979-07-07",
     {y: ("300 W 5th St", "Unit 9", "Austin", "TX", "78701") for y in (2023, 2024)}, ""),
    ("623456789", "Li", "", "Wang", "", "1970-01-01",
     {y: ("1 Lake Dr", "", "Miami", "FL", "33101") for y in (2019, 2020)}, ""),
    # Moved in 2024, and that year's filing carries a mistyped TIN.
    ("723456789", "Grace", "B", "Hopper", "", "1960-12-09",
     {y: ("88 Harbor Way", "", "Norfolk", "VA", "23510") for y in (2021, 2022, 2023)}, ""),
    ("723456780", "Grace", "B", "Hopper", "", "1960-12-09",
     {2024: ("15 Navy Ct", "", "Arlington", "VA", "22201")}, ""),
    # The 2024 filing misspells the street Ada filed for three years: a one-off slip.
    ("133456789", "Ada", "", "Byron", "", "1975-12-10",
     {2021: _RIVERSIDE, 2022: _RIVERSIDE, 2023: _RIVERSIDE,
      2024: ("1231 Ahivrside Dr", "", "Madison", "WI", "53703")}, ""),
    # Alan moved two doors down in 2024, where Joan files too: a real move, not a slip.
    ("143456789", "Alan", "", "Turing", "", "1972-06-23",
     {2021: _FARWELL, 2022: _FARWELL, 2023: _FARWELL, 2024: _FARWELL_NEW}, ""),
    ("153456789", "Joan", "", "Clarke", "", "1977-06-24", {2024: _FARWELL_NEW}, ""),
    # Rosa moved in 2024 into Maria's building; her filing gives no apartment.
    ("163456789", "Rosa", "", "Parks", "", "1968-02-04",
     {2022: _ROSA_OLD, 2023: _ROSA_OLD, 2024: ("77 Pine St", "", "Tacoma", "WA", "98402")}, ""),
    # Mario is a name people file under (as in any real master file): a request for a
    # Mario at Maria's door is no misspelling of hers (``normalise.typos``).
    ("173456789", "Mario", "", "Rossi", "", "1965-03-03",
     {y: ("40 Hanover St", "", "Boston", "MA", "02113") for y in (2022, 2023, 2024)}, ""),
]  # fmt: skip


# Requests for the cast's hard cases, shared by the integration tests.
CARTER = {
    "first_name": "John",
    "last_name": "Carter",
    "street_address": "410 Oak Ave",
    "unit": "",
    "city": "Spokane",
    "zip": "99201",
}
NGUYEN = {
    "first_name": "Anh",
    "last_name": "Nguyen",
    "street_address": "9 Elm Street",
    "unit": "",
    "city": "Houston",
    "state": "TX",
    "zip": "77002",
}
HOPPER = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "street_address": "88 Harbor Way",
    "unit": "",
    "city": "Norfolk",
    "state": "VA",
    "zip": "23510",
}


def write_master(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(MASTER_COLUMNS))
        w.writeheader()
        for tin, first, middle, last, suffix, dob, years, dod in PEOPLE:
            for year, (street, unit, city, state, zip_code) in years.items():
                w.writerow(
                    {
                        "tin": tin,
                        "tax_year": year,
                        "first_name": first,
                        "middle_name": middle,
                        "last_name": last,
                        "suffix": suffix,
                        "date_of_birth": dob,
                        "street_address": street,
                        "unit": unit,
                        "city": city,
                        "state": state,
                        "zip": zip_code,
                        "phone": "",
                        "date_of_death": dod,
                    }
                )
    return path


def request_row(n: int, **changes: str) -> dict[str, str]:
    row = {c: "" for c in REQUEST_COLUMNS}
    row.update(
        request_id=f"REQ-{n:05d}",
        first_name="Maria",
        last_name="Garcia Lopez",
        street_address="12 N Main St",
        unit="Apt 4",
        city="Seattle",
        state="WA",
        zip="98101",
        tax_periods="2023;2024",
        statute="8 U.S.C. 1253(a)(1)",
        removal_order_number=f"A-{100000000 + n}",
        removal_order_date="2025-01-15",
        case_number=f"ICE-2026-{n:06d}",
        officer_id=f"OFC-{n % 20:04d}",
        relevance=f"Subject {n} failed to depart after a final order of removal in case {n}",
    )
    row.update(changes)
    return row


def write_requests(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(REQUEST_COLUMNS))
        w.writeheader()
        w.writerows(rows)
    return path


def write_envelope(path: Path, **changes: object) -> Path:
    env: dict[str, object] = {
        "requesting_agency": "ICE",
        "requesting_official": {"name": "A. Director", "title": "Director"},
        "request_letter_id": "LTR-2026-1",
        "signed_on": "2026-11-02",
        "recipient_officers": [f"OFC-{i:04d}" for i in range(20)],
        "attestation": "Information will be used solely for use in the investigation.",
    }
    env.update(changes)
    path.write_text(json.dumps(env), encoding="utf-8")
    return path


def read_package(package: Path) -> dict[str, list[dict[str, str]]]:
    out = {}
    for name in ("disclosed", "rejected", "unmatched", "pending"):
        with (package / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            out[name] = list(csv.DictReader(fh))
    return out


def accounted(
    store: Path, url: str | None, batch_id: str, tins: Iterable[str], tmp: Path
) -> dict[str, int]:
    """The disclosures every reader of the accounting shows, this year: ``accounting
    taxpayer`` (summed over ``tins``), ``accounting batch``, ``accounting report`` and the
    transparency report (total, by agency, by month), and the disclosures the ledger binds."""
    year = datetime.now(UTC).year
    report = annual_report(store, year, database_url=url)
    t = transparency_report(store, year, database_url=url)
    listed = write_batch_accounting(store, batch_id, tmp / "accounting-batch.csv", database_url=url)
    with StateStore.open(store, url) as state:
        about = sum(len(disclosures_about(state, tin)) for tin in set(tins))
        entries = sum(bound_disclosures(state).values())
    return {
        "accounting taxpayer": about,
        "accounting batch": listed,
        "accounting report": report.totals["disclosures"],
        "accounting report by agency": sum(a["disclosures"] for a in report.by_agency.values()),
        "transparency report": t.accounting.totals["disclosures"],
        "transparency report by agency": sum(a.disclosed for a in t.agencies),
        "transparency report by month": sum(d for _, _, d in t.months),
        "ledger disclosures bound": entries,
    }


def batch_tins(store: Path, url: str | None, batch_id: str, tmp: Path) -> dict[str, str]:
    """disclosure_id -> TIN, as ``accounting batch`` lists them."""
    out = tmp / "batch-tins.csv"
    write_batch_accounting(store, batch_id, out, database_url=url)
    with out.open(newline="", encoding="utf-8") as fh:
        return {row["disclosure_id"]: row["tin"] for row in csv.DictReader(fh)}


@pytest.fixture(scope="session")
def reference_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("store")
    master = write_master(store.parent / f"{store.name}-master.csv")
    load_reference(store, [master])
    return store


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cast loaded with person resolution and matcher features, and a trained model."""
    from taxmatch.pipeline.reference import load_reference_snapshot, train_current_model

    store = tmp_path_factory.mktemp("model-store")
    master = write_master(store.parent / f"{store.name}-master.csv")
    load_reference_snapshot(store, [master])
    train_current_model(store)
    return store


def bound_disclosures(state: StateStore) -> Counter[str]:
    """Per disclosure id, how many ledger entries bind its accounting row: the
    ``disclosures`` entries whose chunk (row range of its batch) or release holds it
    (each must bind exactly the rows it counts), and ``disclosure`` entries of older
    versions. Each disclosure made must come out once."""
    entries = [e for e in state.iter_ledger() if e.event_type in ("disclosures", "disclosure")]
    found: Counter[str] = Counter()
    s = disclosure_subjects.c
    with state.reading("test") as conn:
        for e in entries:
            if e.event_type == "disclosure":
                found[e.object_id] += 1
                continue
            release = e.payload.get("release_id")
            if isinstance(release, str):
                where = release_subjects(release)
            else:
                first, last = e.payload["first_row"], e.payload["last_row"]
                where = and_(s.batch_id == e.object_id, s.row_number.between(first, last))
            ids = conn.execute(select(s.disclosure_id).where(DISCLOSURES.rows, where)).scalars()
            bound = list(ids)
            assert len(bound) == e.payload["bound_disclosures_rows"], f"entry {e.seq}"
            found.update(bound)
    return found
