"""Accuracy of one response package, judged against a truth file with known answers.

``evaluate_package`` joins the truth rows (``TRUTH_COLUMNS`` plus an optional
``person_tins``) to the package's four files by request_id and classifies each record:
a disclosure is *right* when its address is the expected one (street line, unit and ZIP5
after ``parse_address`` on both sides; city and state are not compared), *wrong person*
when the state database's person key for the decision is not the keyed hash of any of the
true person's TINs, and *right person, not latest* when the person is right but the
address is not. Without a store the person is judged from the address and the expected
outcome alone, and the result says so. Validation is compared too: rejected versus
expected REJECTED, and the exact set of reason codes.

Counts are kept overall and per stratum (each ``;``-separated tag). The join runs in an
in-memory DuckDB database so that truth and package files of millions of rows are never
held as Python objects. This module never returns, logs or raises with a value of a
record (name, address, TIN): only counts, ids of strata and ids of files, rows and columns.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from functools import lru_cache
from itertools import islice
from pathlib import Path

import duckdb
import pyarrow as pa

from taxmatch.contracts import (
    DISCLOSED_COLUMNS,
    PENDING_COLUMNS,
    REJECTED_COLUMNS,
    TRUTH_COLUMNS,
    UNMATCHED_COLUMNS,
    Outcome,
    ReasonCode,
)
from taxmatch.disclose.csvout import neutralise
from taxmatch.disclose.package import read_summary, verify_manifest
from taxmatch.errors import BatchNotFound, InputFileError, PackageError, StoreError
from taxmatch.ledger.digest import keyed_hash
from taxmatch.normalise.address import parse_address
from taxmatch.normalise.text import fold
from taxmatch.normalise.usps import street_spelling
from taxmatch.pipeline.evaluate_groups import load_truth_groups
from taxmatch.pipeline.evaluate_result import (
    EXPECTED_OUTCOMES,
    MISSING,
    REJECTED,
    CodeAgreement,
    Evaluation,
    Person,
    PersonCheck,
    RowResult,
    metrics,
    tally,
)
from taxmatch.policy.accuracy import AccuracyEstimate
from taxmatch.policy.coverage import GROUPS, names_of
from taxmatch.policy.validate import GENERATED_ID_PREFIX
from taxmatch.store.state import STATE_FILE, StateStore

_CHUNK = 50_000
_DIGITS = re.compile(r"\D")
# City and state are not compared; fixed valid stand-ins keep a misspelt or blank city
# from making an otherwise comparable street line unparseable.
_CITY, _STATE = "SPRINGFIELD", "IL"
# Spellings of one street name that parse_address leaves apart (USPS would print either,
# ``usps.street_spelling``): a disclosure of "9490 FT HILL RD" for a true "9490 FORT HILL
# RD" is the same door. The ordinals of a line that does not parse are read as
# parse_address reads them.


def tin_digits(tin: str) -> str:
    """A TIN as the reference stores it: digits only."""
    return _DIGITS.sub("", tin)


@lru_cache(maxsize=1 << 16)
def address_key(street: str, unit: str, zip_code: str) -> tuple[tuple[str, str, str], bool]:
    """(street line, unit, ZIP5) in USPS form (folded raw text when the line will not
    parse), and whether the address parses as complete (house, street, ZIP).

    Ordinal words and SAINT / FORT / MOUNT are spelt one way, so that two spellings of
    one street name compare equal; nothing else is relaxed.
    """
    parsed = parse_address(street, unit, _CITY, _STATE, zip_code).address
    if parsed is not None:
        return (street_spelling(parsed.street_line), parsed.unit, parsed.zip5), True
    return (street_spelling(fold(street)), fold(unit), tin_digits(zip_code)[:5]), False


def classify(
    *,
    expected: str,
    got: str,
    truth_address: tuple[str, str, str],
    got_address: tuple[str, str, str],
    truth_tins: Sequence[str],
    expected_codes: frozenset[str],
    got_codes: frozenset[str],
    person_key: str | None,
    key: bytes | None,
) -> RowResult:
    """Classify one row. ``key`` is the store's ledger key (None: judge by address only)."""
    disclosed = got == Outcome.DISCLOSED
    got_key, complete = address_key(*got_address) if disclosed else (("", "", ""), True)
    right = disclosed and any(truth_address) and address_key(*truth_address)[0] == got_key
    person = _person(truth_tins, person_key, key, right, expected) if disclosed else None
    return RowResult(expected, got, right, person, expected_codes == got_codes, not complete)


def _person(
    truth_tins: Sequence[str], person_key: str | None, key: bytes | None, right: bool, expected: str
) -> Person:
    """Whether a disclosure was about the true person: by the keyed hash of a true TIN
    when there is a store's key, else only where the address and the truth tell."""
    tins = [t for t in (tin_digits(t) for t in truth_tins) if t]
    if not tins:
        return "wrong"  # the true person is not in the master file at all
    if key is None:
        return "wrong" if not right and expected == Outcome.NO_MATCH else "unknown"
    if person_key is None:
        return "unknown"
    return "right" if person_key in {keyed_hash(key, t) for t in tins} else "wrong"


def _codes(text: str) -> frozenset[str]:
    return frozenset(c.strip() for c in text.split(";") if c.strip())


# --- reading ---------------------------------------------------------------------------


def _rows(path: Path, required: Sequence[str], package: bool) -> Iterator[dict[str, str]]:
    """Data rows of a CSV file by column name, checking the header and row shape."""

    def fail(problem: str, row: int | None = None, field: str | None = None) -> Exception:
        if package:
            where = path.name + (f", row {row}" if row is not None else "")
            where += f", field {field!r}" if field is not None else ""
            return PackageError(f"{path.parent}: {where}: {problem}")
        return InputFileError(str(path), problem, row=row, field=field)

    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            for name in required:
                if name not in header:
                    raise fail("required column is missing", field=name)
            index = {name: header.index(name) for name in dict.fromkeys(header)}
            line = 0
            try:
                for row in reader:
                    line += 1
                    if not row:
                        continue
                    if len(row) != len(header):
                        raise fail("row has the wrong number of fields", row=line)
                    yield {name: row[i] for name, i in index.items()}
            except csv.Error:
                raise fail("row is not valid CSV", row=line + 1) from None
    except UnicodeDecodeError:
        raise fail("not UTF-8 text") from None
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror})") from None


_TRUTH = (
    "line",
    "request_id",
    "pkg_id",
    "tins",
    "expected",
    "codes",
    "street",
    "unit",
    "zip",
    "stratum",
)
_PKG = ("request_id", "got", "codes", "street", "unit", "zip")
_KEYS = ("request_id", "person_key")
Row = tuple[str | None, ...]  # a row of text cells to load


def _load(
    con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str], rows: Iterable[Row]
) -> None:
    """Make ``table`` (text ``columns``) of ``rows``, appended in Arrow chunks."""
    con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} VARCHAR' for c in columns)})")
    pending = iter(rows)
    while chunk := list(islice(pending, _CHUNK)):
        cells = zip(columns, zip(*chunk, strict=True), strict=True)
        con.register("chunk", pa.table({c: pa.array(list(v), pa.string()) for c, v in cells}))
        con.execute(f"INSERT INTO {table} SELECT * FROM chunk")
        con.unregister("chunk")


def _truth_rows(path: Path) -> Iterator[Row]:
    required = tuple(c for c in TRUTH_COLUMNS if c != "person_tins")  # optional
    for line, r in enumerate(_rows(path, required, package=False), start=1):
        expected = r["expected_outcome"].strip()
        if expected not in EXPECTED_OUTCOMES:
            raise InputFileError(str(path), "unknown outcome", row=line, field="expected_outcome")
        rid = r["request_id"].strip()
        tins = ";".join(t for t in (r["tin"], *r.get("person_tins", "").split(";")) if t.strip())
        kept = (r[c] for c in ("expected_reason_codes", "street_address", "unit", "zip", "stratum"))
        yield (str(line), rid, neutralise(rid), tins, expected, *kept)


def _package_rows(package: Path) -> Iterator[Row]:
    for r in _rows(package / "disclosed.csv", DISCLOSED_COLUMNS, package=True):
        yield r["request_id"], Outcome.DISCLOSED.value, "", r["street_address"], r["unit"], r["zip"]
    for r in _rows(package / "rejected.csv", REJECTED_COLUMNS, package=True):
        yield r["request_id"], REJECTED, r["reason_codes"], "", "", ""
    path = package / "unmatched.csv"
    for line, r in enumerate(_rows(path, UNMATCHED_COLUMNS, package=True), start=1):
        if r["outcome"] not in EXPECTED_OUTCOMES - {REJECTED, Outcome.DISCLOSED.value}:
            raise PackageError(f"{package}: unmatched.csv, row {line}: unknown outcome")
        yield r["request_id"], r["outcome"], "", "", "", ""
    for r in _rows(package / "pending.csv", PENDING_COLUMNS, package=True):
        yield r["request_id"], Outcome.REVIEW.value, "", "", "", ""


def _load_package(con: duckdb.DuckDBPyConnection, package: Path) -> None:
    _load(con, "pkg", _PKG, _package_rows(package))
    repeated = _scalar(
        con, "SELECT count(*) FROM (SELECT request_id FROM pkg GROUP BY 1 HAVING count(*) > 1)"
    )
    if repeated:
        raise PackageError(f"{package}: {repeated} request ids appear in more than one row")


def _load_person_keys(
    con: duckdb.DuckDBPyConnection, batch_id: str, store: Path | None, database_url: str | None
) -> bytes:
    if database_url is None and store is not None and not (store / STATE_FILE).exists():
        raise StoreError(f"{store}: no state database in this store")
    with StateStore.open(store or Path("."), database_url) as state:
        if state.find_batch(batch_id) is None:
            raise BatchNotFound(f"batch {batch_id} not found in the state database")
        decisions = state.iter_decisions(batch_id)
        keys = ((d.request_id, d.person_key) for d in decisions if d.disposition == "disclosed")
        _load(con, "person_keys", _KEYS, keys)
        return state.ledger_key()


# --- the evaluation --------------------------------------------------------------------

_JOIN = """
WITH t AS (
  SELECT *, row_number() OVER (PARTITION BY request_id ORDER BY CAST(line AS BIGINT)) AS k
  FROM truth WHERE request_id <> ''
)
SELECT t.expected, t.codes, t.street, t.unit, t.zip, t.tins, t.stratum,
       coalesce(p.got, 'MISSING') AS got, coalesce(p.codes, '') AS got_codes,
       coalesce(p.street, '') AS got_street, coalesce(p.unit, '') AS got_unit,
       coalesce(p.zip, '') AS got_zip, pk.person_key, coalesce(g.groups, 0) AS groups
FROM t LEFT JOIN pkg p ON p.request_id = t.pkg_id
LEFT JOIN person_keys pk ON pk.request_id = t.request_id
LEFT JOIN grp g ON g.request_id = t.request_id
WHERE t.k = 1
"""


def evaluate_package(
    truth: Path, package: Path, *, store: Path | None = None, database_url: str | None = None
) -> Evaluation:
    """Judge ``package`` against ``truth``; with a store (or database URL), check persons."""
    summary = read_summary(package)
    if (package / "manifest.json").exists() and verify_manifest(package):
        raise PackageError(f"{package}: files differ from manifest.json")
    batch_id = str(summary.get("batch_id") or package.name)
    check: PersonCheck = "store" if store is not None or database_url else "address"
    con = duckdb.connect()
    try:
        _load(con, "truth", _TRUTH, _truth_rows(truth))
        _load_package(con, package)
        key = None
        if check == "store":
            key = _load_person_keys(con, batch_id, store, database_url)
        else:
            _load(con, "person_keys", _KEYS, ())
        load_truth_groups(con, store, summary)
        estimate: AccuracyEstimate | None = summary.get("accuracy_estimate")
        coverage = summary.get("coverage")
        return replace(_tally(con, batch_id, check, key), estimate=estimate, coverage=coverage)
    finally:
        con.close()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _tally(
    con: duckdb.DuckDBPyConnection, batch_id: str, check: PersonCheck, key: bytes | None
) -> Evaluation:
    overall: Counter[str] = Counter()
    strata: defaultdict[str, Counter[str]] = defaultdict(Counter)
    confusion: defaultdict[str, Counter[str]] = defaultdict(Counter)
    codes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    groups: defaultdict[str, Counter[str]] = defaultdict(Counter)
    reader = con.sql(_JOIN).to_arrow_reader(_CHUNK)
    for batch in reader:
        b = batch.to_pydict()
        for i, expected in enumerate(b["expected"]):
            want, got_codes = _codes(b["codes"][i]), _codes(b["got_codes"][i])
            result = classify(
                expected=expected,
                got=b["got"][i],
                truth_address=(b["street"][i], b["unit"][i], b["zip"][i]),
                got_address=(b["got_street"][i], b["got_unit"][i], b["got_zip"][i]),
                truth_tins=b["tins"][i].split(";"),
                expected_codes=want,
                got_codes=got_codes,
                person_key=b["person_key"][i],
                key=key,
            )
            tally(overall, result)
            for tag in dict.fromkeys(t.strip() for t in b["stratum"][i].split(";")):
                if tag:
                    tally(strata[tag], result)
            for name in names_of(b["groups"][i]):
                tally(groups[name], result)
            confusion[expected][result.got] += 1
            both = want & got_codes
            for kind, group in (("expected", want), ("reported", got_codes), ("both", both)):
                for code in group:
                    codes[code][kind] += 1
    generated = con.execute(
        f"SELECT got, count(*) FROM pkg WHERE starts_with(request_id, '{GENERATED_ID_PREFIX}') "
        "GROUP BY got ORDER BY got"
    ).fetchall()
    unjoinable = _scalar(
        con,
        "SELECT count(*) - count(DISTINCT request_id) FILTER (WHERE request_id <> '') FROM truth",
    )
    not_in_truth = _scalar(
        con,
        f"SELECT count(*) FROM pkg p WHERE NOT starts_with(p.request_id, '{GENERATED_ID_PREFIX}') "
        "AND NOT EXISTS (SELECT 1 FROM truth t WHERE t.pkg_id = p.request_id)",
    )
    known = [c.value for c in ReasonCode]
    return Evaluation(
        batch_id=batch_id,
        person_check=check,
        overall=metrics(overall, check),
        strata={tag: metrics(strata[tag], check) for tag in sorted(strata)},
        groups={g.name: metrics(groups[g.name], check) for g in GROUPS if g.name in groups},
        confusion={e: dict(sorted(c.items())) for e, c in sorted(confusion.items())},
        reason_codes={
            code: CodeAgreement(c["expected"], c["reported"], c["both"])
            for code, c in sorted(codes.items(), key=lambda kv: (kv[0] not in known, kv[0]))
        },
        generated_ids={str(got): int(n) for got, n in generated},
        truth_unjoinable=unjoinable,
        truth_not_in_package=sum(c.get(MISSING, 0) for c in confusion.values()),
        package_not_in_truth=not_in_truth,
    )
