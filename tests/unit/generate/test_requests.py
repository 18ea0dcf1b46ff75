"""generate_requests: contracts, determinism, reason-code coverage and truth consistency."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taxmatch.contracts import REQUEST_COLUMNS, TRUTH_COLUMNS, Envelope, Outcome, ReasonCode
from taxmatch.errors import InputFileError
from taxmatch.generate import PopulationSummary, RequestsSummary, generate_requests
from taxmatch.generate.request_rows import BOILERPLATE, VALID_STATUTES, first_name_key
from taxmatch.normalise.typos import fixable

from .generate_support import AS_OF, ROWS, population_dir

PER_RECORD_CODES = {c.value for c in ReasonCode} - {"R07", "R12"}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh))


def test_files_follow_the_contracts(batch: RequestsSummary) -> None:
    assert tuple(_header(batch.requests_path)) == REQUEST_COLUMNS
    assert tuple(_header(batch.truth_path)) == TRUTH_COLUMNS
    requests, truth = _csv(batch.requests_path), _csv(batch.truth_path)
    assert len(requests) == len(truth) == ROWS == batch.rows
    assert [r["request_id"] for r in requests] == [t["request_id"] for t in truth]
    outcomes = {t["expected_outcome"] for t in truth}
    assert outcomes <= {o.value for o in Outcome} | {"REJECTED"}


def test_envelope_is_valid_and_officers_are_not_overloaded(batch: RequestsSummary) -> None:
    envelope = Envelope.model_validate_json(batch.envelope_path.read_text())
    assert envelope.requesting_agency == "ICE"
    assert envelope.requesting_official.title == "Director"
    assert AS_OF - timedelta(days=10) <= envelope.signed_on < AS_OF
    assert "solely for use in the investigation" in envelope.attestation
    officers = set(envelope.recipient_officers)
    load = Counter(r["officer_id"] for r in _csv(batch.requests_path))
    assert max(n for o, n in load.items() if o in officers) <= 40
    strays = {o for o in load if o not in officers}
    truth = {t["request_id"]: t for t in _csv(batch.truth_path)}
    for r in _csv(batch.requests_path):
        if r["officer_id"] in strays:
            assert "R08" in truth[r["request_id"]]["expected_reason_codes"]


def test_every_per_record_reason_code_is_present(batch: RequestsSummary) -> None:
    truth = _csv(batch.truth_path)
    codes = Counter(c for t in truth for c in t["expected_reason_codes"].split(";") if c)
    assert set(codes) == PER_RECORD_CODES  # and no batch-level code for a proper envelope
    rejected = [t for t in truth if t["expected_outcome"] == "REJECTED"]
    assert 0.10 <= len(rejected) / len(truth) <= 0.15
    assert all(t["expected_reason_codes"] for t in rejected)
    assert all(not t["street_address"] for t in rejected)


def test_mix_of_outcomes(batch: RequestsSummary) -> None:
    truth = _csv(batch.truth_path)
    outcomes = Counter(t["expected_outcome"] for t in truth)
    for outcome in ("DISCLOSED", "NO_MATCH", "STALE", "INELIGIBLE", "NO_FILING_IN_PERIOD"):
        assert outcomes[outcome] > 0, outcome
    in_master = sum(1 for t in truth if t["tin"])
    assert 0.70 <= in_master / len(truth) <= 0.90
    strata = Counter(s for t in truth for s in t["stratum"].split(";"))
    for tag in (
        "not_in_master",
        "household_member",
        "nickname",
        "compound_surname",
        "itin",
        "mover",
        "old_address",
        "noisy_request",
        "invalid",
        "lookalike_surname_city",
    ):
        assert strata[tag] > 0, tag


def test_boilerplate_is_over_the_identical_share(batch: RequestsSummary) -> None:
    requests = _csv(batch.requests_path)
    same = sum(1 for r in requests if r["relevance"] == BOILERPLATE)
    assert same / len(requests) > 0.05
    others = Counter(r["relevance"] for r in requests if r["relevance"] != BOILERPLATE)
    assert max(others.values()) / len(requests) < 0.05


def test_duplicates_point_at_an_earlier_row(batch: RequestsSummary) -> None:
    requests = _csv(batch.requests_path)
    truth = _csv(batch.truth_path)
    ids: set[str] = set()
    person_case: set[tuple[str, ...]] = set()
    found = 0
    for r, t in zip(requests, truth, strict=True):
        key = (r["first_name"], r["last_name"], r["date_of_birth"], r["case_number"])
        dup = r["request_id"] in ids or (r["case_number"] and key in person_case)
        assert bool(dup) == ("R10" in t["expected_reason_codes"])
        found += bool(dup)
        ids.add(r["request_id"])
        person_case.add(key)
    assert found > 0


def test_valid_rows_are_well_formed(batch: RequestsSummary) -> None:
    window = set(range(AS_OF.year - 6, AS_OF.year))
    for r, t in zip(_csv(batch.requests_path), _csv(batch.truth_path), strict=True):
        if t["expected_outcome"] == "REJECTED":
            continue
        for required in ("first_name", "last_name", "street_address", "case_number"):
            assert r[required].strip(), required
        assert {int(y) for y in r["tax_periods"].split(";")} <= window
        assert r["statute"] in VALID_STATUTES
        assert date.fromisoformat(r["removal_order_date"]) <= AS_OF - timedelta(days=90)
        assert len(r["relevance"].split()) >= 6
        if r["date_of_birth"]:
            assert date.fromisoformat(r["date_of_birth"]) <= AS_OF


def test_truth_address_is_the_true_latest_filing_in_period(
    batch: RequestsSummary, population: PopulationSummary
) -> None:
    people = pq.read_table(population.people_path).to_pylist()
    by_tin = {p["tin"]: p for p in people}
    checked = 0
    for r, t in zip(_csv(batch.requests_path), _csv(batch.truth_path), strict=True):
        if t["expected_outcome"] not in ("DISCLOSED", "STALE"):
            continue
        person = by_tin[t["tin"]]
        periods = {int(y) for y in r["tax_periods"].split(";")}
        filed = [y for y in person["history"] if y["filed"] and y["tax_year"] in periods]
        latest = max(filed, key=lambda y: y["tax_year"])
        assert int(t["tax_year"]) == latest["tax_year"]
        expected = [
            latest[f"filing_{k}"] for k in ("street_address", "unit", "city", "state", "zip")
        ]
        assert [t["street_address"], t["unit"], t["city"], t["state"], t["zip"]] == expected
        stale = date(latest["tax_year"], 12, 31) < AS_OF.replace(year=AS_OF.year - 3)
        assert (t["expected_outcome"] == "STALE") == stale
        assert not person["date_of_death"] or date.fromisoformat(person["date_of_death"]) > AS_OF
        checked += 1
    assert checked > 500


def test_same_seed_same_bytes(tmp_path: Path, population: PopulationSummary) -> None:
    for name in ("a", "b", "c"):
        generate_requests(
            population=population_dir(population),
            rows=300,
            out=tmp_path / name,
            seed=9 if name != "c" else 10,
            as_of=AS_OF,
        )
    for file in ("requests.csv", "truth.csv", "envelope.json", "requests.json"):
        a, b, c = ((tmp_path / n / file).read_bytes() for n in "abc")
        assert a == b, file
        if file != "envelope.json":
            assert a != c, file


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_other_formats_hold_the_same_rows(
    tmp_path: Path, population: PopulationSummary, fmt: str
) -> None:
    generate_requests(
        population=population_dir(population), rows=250, seed=2, out=tmp_path / "csv", as_of=AS_OF
    )
    summary = generate_requests(
        population=population_dir(population),
        rows=250,
        seed=2,
        out=tmp_path / fmt,
        as_of=AS_OF,
        fmt=fmt,  # type: ignore[arg-type]
    )
    expected = _csv(tmp_path / "csv" / "requests.csv")
    if fmt == "jsonl":
        lines = summary.requests_path.read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines]
        assert all(tuple(r) == REQUEST_COLUMNS for r in rows)
    else:
        table = pq.read_table(summary.requests_path)
        assert tuple(table.column_names) == REQUEST_COLUMNS
        assert all(f.type == pa.string() for f in table.schema)
        rows = table.to_pylist()
    assert rows == expected


def test_official_title_and_progress(tmp_path: Path, population: PopulationSummary) -> None:
    seen: list[int] = []
    summary = generate_requests(
        population=population_dir(population),
        rows=120,
        seed=1,
        out=tmp_path,
        as_of=AS_OF,
        official_title="Deputy Assistant",
        progress=seen.append,
    )
    envelope = Envelope.model_validate_json(summary.envelope_path.read_text())
    assert envelope.requesting_official.title == "Deputy Assistant"
    assert sum(seen) == 120 == summary.rows
    truth = _csv(summary.truth_path)
    assert all(t["expected_outcome"] == "REJECTED" for t in truth)
    assert all("R07" in t["expected_reason_codes"].split(";") for t in truth)
    assert all(not t["street_address"] for t in truth)


def test_safeguards_lapse_rejects_the_batch(tmp_path: Path, population: PopulationSummary) -> None:
    summary = generate_requests(
        population=population_dir(population),
        rows=60,
        seed=1,
        out=tmp_path,
        as_of=date(2031, 1, 5),
    )
    truth = _csv(summary.truth_path)
    assert all(t["expected_reason_codes"].split(";").count("R12") == 1 for t in truth)
    assert not any("R07" in t["expected_reason_codes"] for t in truth)


def test_a_directory_that_is_not_a_population_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"population\.json"):
        generate_requests(population=tmp_path, rows=10, seed=1, out=tmp_path / "o", as_of=AS_OF)


def test_a_misspelt_first_name_is_findable_exactly_when_the_matcher_fixes_it(
    batch: RequestsSummary, population: PopulationSummary
) -> None:
    """A valid row of a filer whose only first-name noise is a misspelling is expected
    NO_MATCH unless ``normalise.typos.fixable`` takes it for the filed name, by the
    population filers' first-name shares; both happen in the batch."""
    people = pq.read_table(population_dir(population) / "people.parquet").to_pylist()
    parts = ("first_name", "middle_name", "last_name", "suffix")
    filers = [p for p in people if "never_filed" not in p["flags"]]
    counts = Counter(first_name_key(*(p[c] or "" for c in parts)) for p in filers)
    shares = {n: k / len(filers) for n, k in counts.items()}
    by_tin = {p["tin"]: first_name_key(*(p[c] or "" for c in parts)) for p in filers}
    asked = {r["request_id"]: r for r in _csv(batch.requests_path)}
    seen = Counter()
    for t in _csv(batch.truth_path):
        tags = set(t["stratum"].split(";"))
        if "first_name_typo" not in tags or tags & {"initial", "invalid", "r06_boilerplate"}:
            continue
        if not t["tin"] or t["expected_outcome"] == "REJECTED":
            continue
        r = asked[t["request_id"]]
        name = first_name_key(*(r[c] for c in parts))
        filed = by_tin[t["tin"]]
        fixed = fixable(name, filed, shares.get(name, 0.0), shares.get(filed, 0.0))
        assert ("first_name_unconfirmed" not in tags) == fixed, t["request_id"]
        assert fixed or t["expected_outcome"] == "NO_MATCH"
        seen[fixed] += 1
    assert seen[True]
    assert seen[False]
