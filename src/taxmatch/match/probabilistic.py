"""The probabilistic matcher: Splink scores request × (person, address) pairs; candidates
are collapsed to persons; the best person's summary goes to the decision rule.

For each valid request it writes one ``outcomes`` row (the columns of
``taxmatch.match.exact.OUTCOME_COLUMNS``): how many distinct persons reach the review
threshold, the best person's match probability, the margin in bits over the runner-up
person, whether the first name agrees (exact, a filed variant, a nickname, or an initial
where the file has only an initial), whether the requester's address is in the person's
address history, and the person's latest filing within the requested periods.

It never decides disclosure and never logs a value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from taxmatch.match.features import request_features
from taxmatch.match.model import ModelInfo, load_settings, quiet_splink

# Pairs below this probability are not kept: they can neither be the best person nor
# narrow the margin of one that reaches the review threshold.
CANDIDATE_FLOOR = 0.01
# A "slip" address with more filings than this (by anyone) is a real address.
MAX_SLIP_SUPPORT = 50
# Requests scored per pass: 25 000 requests against a million persons fit the batch
# workspace's 512 MB (100 000 did not, on bench/api_load.py's 1 M-row upload).
MATCH_CHUNK_ROWS = 25_000


# The snapshot's term-frequency tables, as the views Splink's lookups are registered from.
TF_VIEWS = (
    ("tf_first", "tf_first_name_records", "first_name"),
    ("tf_last", "tf_last_key_records", "last_key"),
)


def predict_pairs(
    con: duckdb.DuckDBPyConnection,
    db: Any,
    requests_table: str,
    master_table: str,
    settings: dict[str, Any],
) -> Any:
    """Splink's scored pairs of ``requests_table`` × ``master_table`` at or above
    ``CANDIDATE_FLOOR``, term frequencies from the attached snapshot ``ref``: the one way
    the matcher, the warm matcher (recording its SQL) and ``explain`` call Splink. ``db``
    is the Splink ``DuckDBAPI`` on ``con``."""
    from splink import Linker

    for view, table, _ in TF_VIEWS:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM ref.{table}")
    requests = db.register(requests_table, dataset_display_name="requests")
    master = db.register(master_table, dataset_display_name="master")
    linker = Linker([requests, master], settings)
    for view, _, column in TF_VIEWS:
        linker.table_management.register_term_frequency_lookup(db.register(view), column)
    return linker.inference.predict_between(
        requests, master, link_type="link_only",
        threshold_match_probability=CANDIDATE_FLOOR, warning_mode="never",
    )  # fmt: skip


def match_probabilistic(
    con: duckdb.DuckDBPyConnection,
    reference: Path,
    model: ModelInfo,
    *,
    review_threshold: float,
    min_margin_log2: float,
    chunk_rows: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> None:
    """Write ``outcomes`` for every row of the workspace's ``valid`` view.

    ``candidates`` counts the persons at or above the review threshold whose match weight
    is within ``min_margin_log2`` of the best: persons a field such as the suffix or the
    date of birth separates by more than the margin are not rivals.

    Requests are scored ``chunk_rows`` (default ``MATCH_CHUNK_ROWS``) at a time, by
    row-number range, so the candidate pairs of a batch of millions never have to fit in
    the workspace's memory at once. A pair's score depends on the request, the candidate
    and the reference's term frequencies only, so the chunks change nothing but the
    memory used.
    """
    from splink import DuckDBAPI

    quiet_splink()
    path = str(reference).replace("'", "''")
    con.execute(f"ATTACH '{path}' AS ref (READ_ONLY)")
    try:
        con.execute("CREATE OR REPLACE TEMP VIEW master_view AS SELECT * FROM ref.master_records")
        for table in ("outcomes", "req_kept"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        first = True
        for lo, hi in _ranges(con, chunk_rows or MATCH_CHUNK_ROWS):
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW valid_part AS
                    SELECT * FROM valid WHERE row_number >= {lo} AND row_number < {hi}"""
            )
            request_features(con, source="valid_part")
            pred = predict_pairs(con, DuckDBAPI(connection=con), "req_features", "master_view",
                                 load_settings(model))  # fmt: skip
            collapse(con, pred.physical_name, review_threshold, min_margin_log2,
                     valid="valid_part", into="outcomes_part")  # fmt: skip
            pred.drop_table_from_database_and_remove_from_cache()
            # Outcomes and request features of every chunk are kept (``taxmatch
            # explain`` reads the features of any row).
            for part, whole in (("outcomes_part", "outcomes"), ("req_features", "req_kept")):
                if first:
                    con.execute(f"ALTER TABLE {part} RENAME TO {whole}")
                else:
                    con.execute(f"INSERT INTO {whole} SELECT * FROM {part}")
                    con.execute(f"DROP TABLE {part}")
            first = False
            if on_chunk is not None:
                on_chunk(hi - lo)
        con.execute("ALTER TABLE req_kept RENAME TO req_features")
    finally:
        con.execute("DETACH ref")


def _ranges(con: duckdb.DuckDBPyConnection, chunk_rows: int) -> list[tuple[int, int]]:
    """Row-number ranges of at most ``chunk_rows`` valid rows each (one, possibly empty,
    range when the batch is smaller)."""
    lo, hi = con.execute("SELECT min(row_number), max(row_number) FROM valid").fetchall()[0]
    if lo is None:
        return [(0, 1)]
    step = max(1, chunk_rows)
    return [(start, min(start + step, int(hi) + 1)) for start in range(int(lo), int(hi) + 1, step)]


def collapse(
    con: duckdb.DuckDBPyConnection,
    pred: str,
    review_threshold: float,
    margin: float,
    *,
    ref: str = "ref",
    valid: str = "valid",
    into: str = "outcomes",
) -> None:
    """``into`` (default ``outcomes``) from the scored pairs in ``pred``, one row per row
    of ``valid``; ``ref`` is the schema holding the snapshot's person tables (the warm
    matcher passes the slice a lookup can reach)."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {into} AS
        WITH pairs AS (
          SELECT CAST(unique_id_l AS BIGINT) AS row_number,
                 split_part(unique_id_r, '|', 1) AS person_id,
                 max(match_weight) AS w, max(match_probability) AS p
          FROM {pred} GROUP BY 1, 2
        ),
        ranked AS (
          SELECT *, row_number() OVER (PARTITION BY row_number ORDER BY w DESC, person_id) AS rk,
                 max(w) OVER (PARTITION BY row_number) AS best_w
          FROM pairs
        ),
        rivals AS (
          SELECT row_number, count(*) AS strong FROM ranked
          WHERE p >= {review_threshold!r} AND w >= best_w - {margin!r}
          GROUP BY row_number
        ),
        best AS (
          SELECT b.row_number, b.person_id, b.p, coalesce(r.strong, 0) AS strong,
                 b.w - coalesce(s.w, -1e9) AS margin
          FROM ranked b LEFT JOIN ranked s ON s.row_number = b.row_number AND s.rk = 2
          LEFT JOIN rivals r ON r.row_number = b.row_number
          WHERE b.rk = 1
        ),
        judged AS (
          SELECT b.*, v.first_name AS rq_first, replace(v.last_name, ' ', '') AS rq_last_key,
                 v.tax_periods,
                 v.house_number AS rq_house, v.street AS rq_street, v.zip5 AS rq_zip,
                 v.po_box AS rq_box, v.suffix AS rq_suffix, v.date_of_birth AS rq_dob,
                 p.first_name AS pf, p.tin AS person_tin, p.deceased,
                 p.suffix AS p_suffix, p.date_of_birth AS p_dob
          FROM best b JOIN {valid} v USING (row_number) JOIN {ref}.persons p USING (person_id)
        ),
        names_ok AS (
          SELECT j.row_number,
                 bool_or(n.first_name = j.rq_first
                         OR list_contains(coalesce(rk.nicknames, []), n.first_name)
                         OR (length(n.first_name) = 1 AND j.rq_first[1] = n.first_name)
                         -- first and last name swapped on the request
                         OR (n.first_name = j.rq_last_key AND n.last_key = j.rq_first))
                   AS first_ok
          FROM judged j JOIN {ref}.person_names n USING (person_id)
          LEFT JOIN nick rk ON rk.first_name = j.rq_first
          GROUP BY j.row_number
        ),
        address_ok AS (
          SELECT j.row_number, bool_or(
                   (j.rq_house <> '' AND a.zip5 = j.rq_zip AND (
                      (a.house_number = j.rq_house
                       AND (a.street = j.rq_street
                            OR jaro_winkler_similarity(a.street, j.rq_street) >= 0.88))
                      -- one mistyped house-number character, on exactly the same street
                      OR (levenshtein(a.house_number, j.rq_house) = 1
                          AND a.street = j.rq_street)))
                   OR (j.rq_box <> '' AND a.po_box = j.rq_box AND a.zip5 = j.rq_zip))
                 AS corroborated
          FROM judged j JOIN {ref}.person_addresses a USING (person_id)
          GROUP BY j.row_number
        ),
        latest AS (
          SELECT j.row_number, j.person_id, f.tax_year, f.house_number, f.street, f.unit,
                 f.po_box, f.city, f.state, f.zip5, f.line1, f.phone,
                 -- every selected column orders: the chosen filing never depends on
                 -- the order rows happen to be read in
                 row_number() OVER (PARTITION BY j.row_number
                                    ORDER BY f.tax_year DESC, f.line1, f.unit, f.house_number,
                                             f.street, f.po_box, f.city, f.state, f.zip5,
                                             f.phone) AS rn
          FROM judged j JOIN {ref}.filings f ON f.person_id = j.person_id
          WHERE list_contains(j.tax_periods, f.tax_year)
        ),
        -- The person's own history mends a slip on the chosen filing, when the same
        -- address as the person filed it elsewhere is plainly the one meant:
        --  * a unit dropped: the same house and street with a unit, filed in more years;
        --  * a typo: the same house and street give or take one typo, filed in more
        --    years than the slip;
        --  * a one-off (one year) a few characters from an address the person filed in
        --    other years or that others share ("1231 RKVERSIDE DR", "AP NHR 10086").
        -- A typo or one-off must be the person's own or their household's (a joint
        -- return carries one address for two filers): an address that someone who never
        -- lived at the mended address files at is a real address, not a slip.
        slip AS (
          SELECT l.*, coalesce(s.n_years, 1) AS slip_years,
                 coalesce(s.support, 1) AS slip_support,
                 l.line1 || ' ' || l.unit AS slip_text
          FROM latest l LEFT JOIN {ref}.person_addresses s
            ON s.person_id = l.person_id AND s.house_number = l.house_number
           AND s.street = l.street AND s.zip5 = l.zip5 AND s.unit = l.unit
           AND s.po_box = l.po_box
          WHERE l.rn = 1
        ),
        -- Who else files at each slip address (none, for most). An address with more
        -- than MAX_SLIP_SUPPORT filings is real, never a slip: it is left out here and
        -- never mended below (and a group-quarters address with thousands of filers
        -- never makes thousands of rows per request).
        slip_others AS (
          SELECT l.row_number, o.person_id
          FROM slip l JOIN {ref}.person_addresses o
            ON o.house_number = l.house_number AND o.street = l.street
           AND o.zip5 = l.zip5 AND o.unit = l.unit AND o.po_box = l.po_box
           AND o.person_id <> l.person_id
          WHERE l.slip_support <= {MAX_SLIP_SUPPORT}
        ),
        mended AS (
          SELECT l.*,
                 (SELECT {{'line1': a.line1, 'unit': a.unit, 'house_number': a.house_number,
                           'street': a.street}}
                   FROM {ref}.person_addresses a
                   WHERE a.person_id = l.person_id AND a.zip5 = l.zip5
                     AND (a.house_number <> '' OR a.po_box <> '')
                     AND NOT (a.house_number = l.house_number AND a.street = l.street
                              AND a.unit = l.unit AND a.po_box = l.po_box)
                     AND ((a.po_box = l.po_box AND a.house_number = l.house_number
                           AND a.street = l.street AND l.unit = '' AND a.unit <> ''
                           AND a.n_years > l.slip_years)
                       OR (((a.po_box = l.po_box
                           AND (a.house_number = l.house_number
                                OR levenshtein(a.house_number, l.house_number) = 1)
                           AND (a.street = l.street
                                OR jaro_winkler_similarity(a.street, l.street) >= 0.85)
                           AND (a.unit = l.unit OR l.unit = '')
                           AND a.n_years > l.slip_years)
                       OR (l.slip_years = 1
                           AND (a.support >= 2 OR a.n_years >= 2)
                           AND (a.po_box = '') = (l.po_box = '')
                           AND levenshtein(a.house_number, l.house_number) <= 2
                           AND levenshtein(a.line1 || ' ' || a.unit, l.slip_text)
                               <= greatest(1, length(l.slip_text) // 4)))
                         -- everyone else at the slip has filed at the mended address too
                         AND l.slip_support <= {MAX_SLIP_SUPPORT}
                         AND NOT EXISTS (
                           SELECT 1 FROM slip_others so
                           WHERE so.row_number = l.row_number AND NOT EXISTS (
                             SELECT 1 FROM {ref}.person_addresses q
                             WHERE q.person_id = so.person_id
                               AND q.house_number = a.house_number AND q.street = a.street
                               AND q.zip5 = a.zip5 AND q.unit = a.unit
                               AND q.po_box = a.po_box))))
                   ORDER BY a.n_years DESC, a.support DESC, a.last_year DESC, a.line1,
                            a.unit, a.house_number, a.street
                   LIMIT 1) AS consensus,
                 (SELECT a.unit FROM {ref}.person_addresses a
                   WHERE a.person_id = l.person_id AND a.house_number = l.house_number
                     AND a.street = l.street AND a.zip5 = l.zip5 AND a.unit <> ''
                   ORDER BY a.n_years DESC, a.unit LIMIT 1) AS history_unit,
                 -- A filing whose address cannot be delivered (no house number, a stray
                 -- token) is the same address as a complete one the person filed in
                 -- other years, when the two lines are nearly the same.
                 (SELECT {{'line1': a.line1, 'unit': a.unit, 'city': a.city,
                           'state': a.state, 'zip5': a.zip5, 'house_number': a.house_number,
                           'street': a.street}}
                   FROM {ref}.person_addresses a
                   WHERE a.person_id = l.person_id AND a.zip5 <> '' AND a.city <> ''
                     AND a.state <> '' AND ((a.house_number <> '' AND a.street <> '')
                                            OR a.po_box <> '')
                     AND jaro_winkler_similarity(a.line1, l.line1) >= 0.85
                   ORDER BY a.n_years DESC, a.last_year DESC, a.line1, a.unit, a.city,
                            a.state, a.zip5, a.house_number, a.street LIMIT 1) AS complete
          FROM slip l
        ),
        checked AS (
          SELECT *, ((house_number <> '' AND street <> '') OR po_box <> '') AND zip5 <> ''
                      AND city <> '' AND state <> '' AS filed_usable
          FROM mended
        ),
        in_period AS (
          SELECT row_number, tax_year, phone,
                 CASE WHEN filed_usable THEN coalesce(consensus.line1, line1)
                      ELSE complete.line1 END AS line1,
                 CASE WHEN NOT filed_usable THEN complete.unit
                      WHEN consensus IS NOT NULL THEN consensus.unit
                      WHEN unit = '' THEN coalesce(history_unit, '') ELSE unit END AS unit,
                 CASE WHEN filed_usable THEN city ELSE complete.city END AS city,
                 CASE WHEN filed_usable THEN state ELSE complete.state END AS state,
                 CASE WHEN filed_usable THEN zip5 ELSE complete.zip5 END AS zip5,
                 CASE WHEN NOT filed_usable THEN complete.house_number
                      WHEN consensus IS NOT NULL THEN consensus.house_number
                      ELSE house_number END AS house,
                 CASE WHEN NOT filed_usable THEN complete.street
                      WHEN consensus IS NOT NULL THEN consensus.street
                      ELSE street END AS street,
                 filed_usable OR complete IS NOT NULL AS usable
          FROM checked
        ),
        -- An address without a unit in a building where others file with units is
        -- incomplete (USPS: missing secondary): an officer looks at it.
        unit_missing AS (
          SELECT ip.row_number FROM in_period ip
          WHERE ip.unit = '' AND ip.house <> '' AND EXISTS (
            SELECT 1 FROM {ref}.person_addresses b
            WHERE b.house_number = ip.house AND b.street = ip.street AND b.zip5 = ip.zip5
              AND b.unit <> '')
        )
        SELECT v.row_number,
               coalesce(j.strong, 0) AS candidates,
               coalesce(j.p, 0.0) AS score,
               CASE WHEN j.margin IS NULL THEN 0.0 WHEN j.margin > 1e8 THEN 'Infinity'::DOUBLE
                    ELSE j.margin END AS margin_log2,
               coalesce(n.first_ok, false) AS first_name_agrees,
               coalesce(a.corroborated, false) AS address_corroborated,
               ip.tax_year AS filing_year,
               coalesce(j.deceased, false) AS ineligible,
               coalesce(
                 (j.rq_suffix <> '' AND j.p_suffix <> '' AND j.rq_suffix <> j.p_suffix)
                 OR (j.rq_dob IS NOT NULL AND j.p_dob IS NOT NULL AND j.rq_dob <> j.p_dob
                     AND abs(date_diff('day', j.rq_dob, j.p_dob)) > 366
                     AND NOT (month(j.rq_dob) = day(j.p_dob) AND day(j.rq_dob) = month(j.p_dob))),
                 false) AS identifier_conflict,
               coalesce(j.p_suffix <> '' AND j.rq_suffix = ''
                        AND NOT coalesce(j.rq_dob = j.p_dob, false), false) AS suffix_unconfirmed,
               coalesce(ip.usable AND um.row_number IS NULL, true) AS address_usable,
               j.person_tin,
               ip.line1, ip.unit, ip.city, ip.state, ip.zip5, ip.phone
        FROM {valid} v
        LEFT JOIN judged j USING (row_number)
        LEFT JOIN names_ok n USING (row_number)
        LEFT JOIN address_ok a USING (row_number)
        LEFT JOIN in_period ip ON ip.row_number = v.row_number
        LEFT JOIN unit_missing um ON um.row_number = v.row_number"""
    )
