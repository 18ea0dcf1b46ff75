"""Why the probabilistic matcher scored one request as it did: the custodian's view. One
valid request of a past batch is re-scored exactly as the batch did (the same model,
snapshot and request features) keeping Splink's per-comparison match weights, so that each
person's match weight shows as a sum: the prior, then each comparison's bits.

Reads the workspace and the snapshot read-only and writes nothing. Never logs a value;
a clear TIN never leaves this module (candidates carry it masked, and a prefix of the
keyed person hash the decisions table uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from taxmatch.contracts import Address as Postal
from taxmatch.errors import StoreError
from taxmatch.files.duck import attach
from taxmatch.ledger.digest import keyed_hash
from taxmatch.match import model
from taxmatch.match.collapse import struct_sql
from taxmatch.match.evidence import Address, Name
from taxmatch.match.features import first_name_shares
from taxmatch.match.judging import request_of
from taxmatch.match.model import ModelInfo, load_settings, quiet_splink
from taxmatch.match.probabilistic import candidate_records, predict_pairs
from taxmatch.match.rules import address_corroborated, first_name_agrees
from taxmatch.match.score import prob_to_weight
from taxmatch.normalise.typos import fixes

# Comparisons in the order the waterfall shows them (the model's order).
COMPARISONS = tuple(c.name for c in model.COMPARISONS)
PERSON_KEY_SHOWN = 8  # hex characters of the keyed person hash a page may show


@dataclass(frozen=True, slots=True)
class Step:
    """One bar of the waterfall: a comparison's contribution in bits."""

    name: str  # "prior", a comparison, or "<comparison> (term frequency)"
    label: str  # the comparison level the pair fell in
    bits: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """One person the request was scored against, at that person's best record."""

    rank: int
    match_weight: float
    probability: float
    margin: float  # bits below the best person (0 for the best)
    levels: tuple[tuple[str, str], ...]  # (comparison, level label)
    steps: tuple[Step, ...]  # prior, every comparison, term-frequency adjustments
    first_name_agrees: bool
    address_corroborated: bool
    person_key_prefix: str  # first characters of the keyed person hash, never all of it
    decided: bool  # the person the stored decision is about (same keyed person hash)
    tin_masked: str
    name: str  # as filed (the person's modal name)
    date_of_birth: date | None
    address: str  # the matched record's address, as filed


@dataclass(frozen=True, slots=True)
class Explanation:
    row_number: int
    candidates: tuple[Candidate, ...]  # best first; empty when no pair reached the floor
    persons: int  # persons above the candidate floor, before ``top`` was applied
    # What the batch's matcher told the decision rule (the workspace's ``outcomes`` row):
    # counts, flags and a tax year, never a value of the person's.
    decision_inputs: tuple[tuple[str, str], ...] = ()


def mask_tin(tin: str | None) -> str:
    """``***-**-1234``: the last four digits only, as on a notice."""
    digits = "".join(ch for ch in (tin or "") if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "***-**-****"


def level_labels(settings: dict[str, Any]) -> dict[str, dict[int, str]]:
    """Comparison → gamma → label. Splink numbers the non-null levels from the last
    (the else level is 0) and gives the null level -1."""
    out: dict[str, dict[int, str]] = {}
    for comparison in settings["comparisons"]:
        non_null = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        labels = {i: str(v.get("label_for_charts", "?")) for i, v in enumerate(reversed(non_null))}
        out[str(comparison["output_column_name"])] = {**labels, -1: "not given on one side"}
    return out


def explain_row(
    workspace: Path,
    reference: Path,
    model: ModelInfo,
    row_number: int,
    *,
    key: bytes,
    decided_key: str | None = None,
    top: int = 5,
) -> Explanation:
    """Score the workspace's request ``row_number`` again and explain its candidates."""
    from splink import DuckDBAPI

    quiet_splink()
    settings = load_settings(model)
    explained = {
        **settings,
        "retain_intermediate_calculation_columns": True,
        "retain_matching_columns": True,
    }
    con = duckdb.connect()
    try:
        _attach(con, workspace, "ws", "the batch workspace")
        _attach(con, reference, "ref", "the reference snapshot")
        _request_tables(con, workspace, row_number)
        inputs = _decision_inputs(con, row_number)
        con.execute("CREATE TEMP VIEW master_view AS SELECT * FROM ref.master_records")
        master = candidate_records(con, "req_one", settings)
        pred = predict_pairs(con, DuckDBAPI(connection=con), "req_one", master, explained)
        rows = _best_pair_per_person(con, pred.physical_name)
    finally:
        con.close()
    base = prob_to_weight(float(settings["probability_two_random_records_match"]))
    labels = level_labels(settings)
    best_w = rows[0]["w"] if rows else 0.0
    candidates = tuple(
        _candidate(rank, row, base, best_w, labels, key, decided_key)
        for rank, row in enumerate(rows[: max(1, top)], start=1)
    )
    return Explanation(row_number, candidates, len(rows), inputs)


_INPUTS = (
    "candidates", "margin_log2", "first_name_agrees", "address_corroborated",
    "identifier_conflict", "suffix_unconfirmed", "ineligible", "filing_year", "address_usable",
    "address_mended", "mended_from",
)  # fmt: skip


def _decision_inputs(
    con: duckdb.DuckDBPyConnection, row_number: int
) -> tuple[tuple[str, str], ...]:
    try:
        found = con.execute(
            f"SELECT {', '.join(_INPUTS)} FROM ws.outcomes WHERE row_number = ?", [row_number]
        ).fetchall()
    except duckdb.Error:
        return ()
    if not found:
        return ()
    return tuple(
        (name, "" if v is None else str(v)) for name, v in zip(_INPUTS, found[0], strict=True)
    )


def _request_tables(con: duckdb.DuckDBPyConnection, workspace: Path, row_number: int) -> None:
    """``req_one`` (the row's matcher features) and ``rq`` (its normalised request)."""
    try:
        con.execute(
            "CREATE TEMP TABLE req_one AS SELECT * FROM ws.req_features WHERE unique_id = ?",
            [str(row_number)],
        )
        con.execute(
            "CREATE TEMP TABLE rq AS SELECT * FROM ws.valid WHERE row_number = ?", [row_number]
        )
        found = con.execute("SELECT (SELECT count(*) FROM req_one), (SELECT count(*) FROM rq)")
        counts = found.fetchall()
    except duckdb.Error:
        raise StoreError(f"{workspace}: the batch workspace lacks the matcher's tables") from None
    if not counts or counts[0] != (1, 1):
        raise StoreError(f"{workspace}: row {row_number} is not in the batch workspace")


def _attach(con: duckdb.DuckDBPyConnection, path: Path, alias: str, what: str) -> None:
    if not path.exists():
        raise StoreError(f"{path}: {what} is no longer present")
    try:
        attach(con, path, alias)
    except duckdb.Error:
        raise StoreError(f"{path}: cannot open {what} read-only") from None


def _best_pair_per_person(con: duckdb.DuckDBPyConnection, pred: str) -> list[dict[str, Any]]:
    """The best record per person, ranked by weight then person_id, with the first-name and
    address checks of the decision summary (``rules``, as the batch ran them) for each."""
    cur = con.execute(
        f"""WITH pairs AS (
          SELECT *, split_part(unique_id_r, '|', 1) AS person_id,
                 row_number() OVER (PARTITION BY split_part(unique_id_r, '|', 1)
                                    ORDER BY match_weight DESC, unique_id_r) AS k
          FROM {pred}
        ),
        best AS (SELECT * EXCLUDE (k) FROM pairs WHERE k = 1)
        SELECT b.*, b.match_weight AS w, b.match_probability AS p,
               (SELECT list({struct_sql("n", Name._fields)})
                FROM ref.person_names n WHERE n.person_id = b.person_id) AS names,
               (SELECT list({struct_sql("a", Address._fields)}) FROM ref.person_addresses a
                WHERE a.person_id = b.person_id) AS addresses,
               concat_ws(' ', nullif(p.first_name, ''), nullif(p.middle_name, ''),
                         nullif(p.last_name, ''), nullif(p.suffix, '')) AS filed_name,
               p.tin AS person_tin, p.date_of_birth AS filed_dob
        FROM best b JOIN ref.persons p USING (person_id)
        ORDER BY b.match_weight DESC, b.person_id"""
    )
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    request = con.sql("SELECT * FROM rq").to_arrow_table().to_pylist()[0]
    found = con.execute("SELECT nicknames FROM req_one").fetchall()
    nicknames = (found[0][0] if found else None) or []
    checked = request_of(request)
    # The names the request's first name is a misspelling of, as the batch's ``nick`` had.
    typos = fixes(checked.first_name or "", first_name_shares(con))
    for row in rows:
        filed = [Name(n["first_name"], n["last_key"]) for n in row["names"] or ()]
        row["first_ok"] = first_name_agrees(checked, filed, nicknames, typos)
        row["corroborated"] = address_corroborated(
            checked, [Address._make(a.values()) for a in row["addresses"] or ()]
        )
    return rows


# ``contracts.Address``'s fields, as the scored pairs name them (``<field>_r``; one the
# pairs lack is left out of the line)
_POSTAL = ("house_number", "street", "unit", "po_box", "city", "state", "zip5")


def _candidate(
    rank: int,
    row: dict[str, Any],
    base: float,
    best_w: float,
    labels: dict[str, dict[int, str]],
    key: bytes,
    decided_key: str | None,
) -> Candidate:
    steps = [Step("prior", "probability two random records match", base)]
    levels: list[tuple[str, str]] = []
    for name in COMPARISONS:
        gamma = row.get(f"gamma_{name}")
        label = labels.get(name, {}).get(int(gamma) if gamma is not None else -1, "?")
        levels.append((name, label))
        steps.append(Step(name, label, float(row.get(f"mw_{name}") or 0.0)))
        tf = row.get(f"mw_tf_adj_{name}")
        if tf:
            steps.append(Step(f"{name} (term frequency)", "how common the value is", float(tf)))
    tin = row["person_tin"]
    person_key = keyed_hash(key, tin) if tin else ""
    return Candidate(
        rank=rank,
        match_weight=float(row["w"]),
        probability=float(row["p"]),
        margin=best_w - float(row["w"]),
        levels=tuple(levels),
        steps=tuple(steps),
        first_name_agrees=bool(row["first_ok"]),
        address_corroborated=bool(row["corroborated"]),
        person_key_prefix=person_key[:PERSON_KEY_SHOWN],
        decided=bool(person_key) and person_key == decided_key,
        tin_masked=mask_tin(tin),
        name=str(row["filed_name"] or ""),
        date_of_birth=row["filed_dob"],
        address=_filed_address(row),
    )


def _filed_address(row: dict[str, Any]) -> str:
    """The candidate's master record's address as one line, its street line as a
    disclosure prints it (``contracts.Address.street_line``)."""
    return Postal(*(str(row.get(f"{c}_r") or "") for c in _POSTAL)).one_line
