"""The warm matcher: one-record lookups scored in milliseconds, exactly as a batch scores them.

A batch hands the whole master file to Splink, which blocks and scores in one pass; for
one request against a million persons that costs seconds, most of it Splink building its
SQL and DuckDB scanning every master record. The warm matcher is kept open by a serving
process and removes both costs without changing a single weight:

- **Candidates by index.** Every blocking rule of the saved model is a conjunction of
  equalities ``l.a = r.b``. Beside each reference snapshot a *lookup index*
  (``<snapshot>.lookup-<rules digest>.duckdb``, built once) holds ``master_records`` with
  one hashed key per rule and an ART index on each. A request's own keys fetch, by index,
  every master record any rule could pair it with — a superset of the batch's candidate
  pairs (a hash collision only adds a record, which Splink's real blocking then drops).
- **Splink's SQL, generated once.** At start the model's ``predict_between`` is run once
  on empty tables through a recording database API, which keeps the two SQL statements
  Splink executes (blocking, then comparison and scoring). Each lookup re-runs those same
  statements on the request and its candidates. Blocking on a superset of the partners
  yields the same pairs, so the predictions, and everything ``collapse`` derives from
  them, are the batch's (``tests/integration/test_warm.py`` compares the two paths).

The connection is the lookup's workspace too (an in-memory DuckDB database), so one warm
matcher serves one lookup at a time: callers hold ``lock``. Never logs a value.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.match.features import FEATURE_COLUMNS, request_features
from taxmatch.match.model import ModelInfo, load_settings, quiet_splink
from taxmatch.match.probabilistic import CANDIDATE_FLOOR, collapse

INDEX_VERSION = "lookup-index-1"
_EQUALITY = re.compile(r'^\(?\s*l\."?(\w+)"?\s*=\s*r\."?(\w+)"?\s*\)?$')


@dataclass(frozen=True, slots=True)
class RuleKey:
    """One blocking rule as the columns whose values must be equal on each side."""

    left: tuple[str, ...]
    right: tuple[str, ...]


def rule_keys(settings: dict[str, Any]) -> list[RuleKey]:
    """The model's blocking rules as equality keys; an error for any other kind of rule."""
    keys: list[RuleKey] = []
    for rule in settings["blocking_rules_to_generate_predictions"]:
        sql = rule["blocking_rule"] if isinstance(rule, dict) else str(rule)
        left: list[str] = []
        right: list[str] = []
        for term in re.split(r"\s+AND\s+", sql.strip(), flags=re.IGNORECASE):
            m = _EQUALITY.match(term.strip())
            if m is None:
                raise ReferenceSnapshotError(
                    "the model has a blocking rule that is not a conjunction of equalities; "
                    "the lookup index cannot serve it"
                )
            left.append(m.group(1))
            right.append(m.group(2))
        keys.append(RuleKey(tuple(left), tuple(right)))
    return keys


def _key_sql(cols: tuple[str, ...], alias: str) -> str:
    """A rule's key: a hash of its columns' values, null when any value is null (an
    equality with a null never pairs two records)."""
    parts = [f"{alias}.{c}" for c in cols]
    nulls = " OR ".join(f"{p} IS NULL" for p in parts)
    values = ", ".join(f"CAST({p} AS VARCHAR)" for p in parts)
    return f"CASE WHEN {nulls} THEN NULL ELSE hash({values}) END"


def _rules_digest(keys: list[RuleKey]) -> str:
    text = json.dumps([[k.left, k.right] for k in keys])
    return hashlib.sha256(f"{INDEX_VERSION}|{duckdb.__version__}|{text}".encode()).hexdigest()


def index_path(snapshot: Path, keys: list[RuleKey]) -> Path:
    return snapshot.with_name(f"{snapshot.stem}.lookup-{_rules_digest(keys)[:12]}.duckdb")


# The person tables ``collapse`` reads, copied into the index with the keys a lookup
# fetches them by: the candidate persons' rows, and every filer at their addresses.
ADDRESS_KEY = (
    "CASE WHEN house_number <> '' THEN hash('H', house_number, street, zip5) "
    "ELSE hash('P', po_box, zip5) END"
)
TF_TABLES = (("tf_first", "tf_first_name_records"), ("tf_last", "tf_last_key_records"))
PERSON_TABLES: dict[str, dict[str, str]] = {
    "persons": {"person_id": "person_id"},
    "person_names": {"person_id": "person_id"},
    "filings": {"person_id": "person_id"},
    "person_addresses": {"ak": ADDRESS_KEY},
}


def build_lookup_index(snapshot: Path, keys: list[RuleKey]) -> Path:
    """The snapshot's lookup index for ``keys``, built now if it is not there yet.

    Written under a temporary name and renamed, so a reader never sees half an index and
    two processes building at once both end with a whole one. The digest in the name
    covers the DuckDB version: ``hash`` is only stable within one. DuckDB fetches rows by
    index only when no column is a list, so list columns are kept as JSON text here and
    decoded on the way out (``_columns``).
    """
    target = index_path(snapshot, keys)
    if target.exists():
        return target
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    con = duckdb.connect(str(tmp))
    try:
        con.execute(f"ATTACH '{_quote(snapshot)}' AS ref (READ_ONLY)")
        rule_cols = {f"k{i}": _key_sql(k.right, "m") for i, k in enumerate(keys)}
        tables = {"master": ("master_records", rule_cols), **{
            name: (name, cols) for name, cols in PERSON_TABLES.items()}}  # fmt: skip
        for name, (source, index_cols) in tables.items():
            stored = ", ".join(
                f"to_json(m.{c}) AS {c}" if t.endswith("[]") else f"m.{c}"
                for c, t in _describe(con, f"ref.{source}")
            )
            extra = "".join(f", {expr} AS {col}" for col, expr in index_cols.items() if col != expr)
            con.execute(f"CREATE TABLE {name} AS SELECT {stored}{extra} FROM ref.{source} m")
            for col in index_cols:
                con.execute(f"CREATE INDEX {name}_{col} ON {name} ({col})")
        con.execute("DETACH ref")
        con.close()
        os.replace(tmp, target)
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    return target


def _describe(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _columns(con: duckdb.DuckDBPyConnection, source: str) -> str:
    """The select list that gives back ``ref.<source>``'s columns from its index copy."""
    out = []
    for col, kind in _describe(con, f"ref.{source}"):
        if kind.endswith("[]"):
            out.append(f"CAST(from_json({col}, '[\"{kind[:-2]}\"]') AS {kind}) AS {col}")
        else:
            out.append(col)
    return ", ".join(out)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


class _Recorder:
    """Wraps a Splink ``DuckDBAPI`` to keep the SQL of every table it creates."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        from splink import DuckDBAPI

        recorded: list[tuple[str, str, str]] = []

        class Recording(DuckDBAPI):
            def sql_pipeline_to_splink_dataframe(self, pipeline: Any) -> Any:
                df = super().sql_pipeline_to_splink_dataframe(pipeline)
                recorded.append((df.templated_name, df.physical_name, df.sql_used_to_create))
                return df

        self.api = Recording(connection=con)
        self.recorded = recorded


class WarmMatcher:
    """A reference snapshot, its lookup index and the model's SQL, kept open."""

    def __init__(
        self,
        snapshot: Path,
        model: ModelInfo,
        *,
        memory_limit: str = "1GB",
        threads: int = 1,
    ) -> None:
        self.snapshot = snapshot
        self.model = model
        self.lock = threading.Lock()
        settings = load_settings(model)
        self.keys = rule_keys(settings)
        index = build_lookup_index(snapshot, self.keys)
        self.con = duckdb.connect()
        try:
            self.con.execute(f"SET memory_limit='{memory_limit}'")
            self.con.execute(f"SET threads={int(threads)}")
            # Fetch by index however many rows a key reaches (DuckDB's default turns to a
            # full scan past 0.1 % of a table, which for a common surname in a large ZIP
            # code is tens of milliseconds instead of one).
            self.con.execute("SET index_scan_max_count = 100000")
            self.con.execute("SET index_scan_percentage = 1.0")
            self.con.execute(f"ATTACH '{_quote(snapshot)}' AS ref (READ_ONLY)")
            self.con.execute(f"ATTACH '{_quote(index)}' AS lk (READ_ONLY)")
            self.con.execute("CREATE SCHEMA warm")
            sources = {"master": "master_records", **{t: t for t in PERSON_TABLES}}
            self._cols = {name: _columns(self.con, src) for name, src in sources.items()}
            self._empty = {src: f"SELECT * FROM ref.{src} LIMIT 0" for src in sources.values()}
            self._blocking_sql, self._scoring_sql = self._record(settings)
        except BaseException:
            self.con.close()
            raise

    def close(self) -> None:
        self.con.close()

    def _record(self, settings: dict[str, Any]) -> tuple[str, str]:
        """Run ``predict_between`` once on empty tables and keep Splink's two statements."""
        from splink import Linker

        quiet_splink()
        con = self.con
        cols = ", ".join(FEATURE_COLUMNS)
        con.execute(
            f"CREATE OR REPLACE TABLE req_features AS SELECT {cols} FROM ref.master_records LIMIT 0"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE warm_candidates AS "
            f"SELECT {cols} FROM ref.master_records LIMIT 0"
        )
        for view, table in TF_TABLES:
            con.execute(f"CREATE OR REPLACE TABLE warm_{view} AS SELECT * FROM ref.{table} LIMIT 0")
            con.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM warm_{view}")
        rec = _Recorder(con)
        db = rec.api
        requests = db.register("req_features", dataset_display_name="requests")
        master = db.register("warm_candidates", dataset_display_name="master")
        linker = Linker([requests, master], settings)
        linker.table_management.register_term_frequency_lookup(
            db.register("tf_first"), "first_name"
        )
        linker.table_management.register_term_frequency_lookup(db.register("tf_last"), "last_key")
        pred = linker.inference.predict_between(
            requests, master, link_type="link_only",
            threshold_match_probability=CANDIDATE_FLOOR, warning_mode="never",
        )  # fmt: skip
        pred.drop_table_from_database_and_remove_from_cache()
        made = [r for r in rec.recorded if r[0] in ("__splink__blocked_id_pairs",
                                                    "__splink__df_predict")]  # fmt: skip
        if [r[0] for r in made] != ["__splink__blocked_id_pairs", "__splink__df_predict"]:
            raise ReferenceSnapshotError(
                "this Splink version predicts in steps the warm matcher does not know"
            )
        (_, blocked_physical, blocking_sql), (_, _, scoring_sql) = made
        con.execute(f"DROP TABLE IF EXISTS {blocked_physical}")
        return blocking_sql, scoring_sql.replace(blocked_physical, "warm_blocked")

    def match(self, *, review_threshold: float, min_margin_log2: float) -> None:
        """Write ``outcomes`` for every row of this connection's ``valid`` view."""
        con = self.con
        request_features(con)
        branches = []
        for i, key in enumerate(self.keys):
            sql = f"SELECT DISTINCT {_key_sql(key.left, 'q')} FROM req_features q"
            for (value,) in con.execute(sql).fetchall():
                if value is not None:
                    branches.append(f"SELECT {self._cols['master']} FROM lk.master "
                                    f"WHERE k{i} = {int(value)}")  # fmt: skip
        _replace(con, "warm_candidates", branches, self._empty["master_records"],
                 distinct_on="unique_id")  # fmt: skip
        # Term frequencies of the names in play only (a left join by value: the rest of
        # the table can change nothing).
        for (view, table), col in zip(TF_TABLES, ("first_name", "last_key"), strict=True):
            con.execute(
                f"""CREATE OR REPLACE TABLE warm_{view} AS SELECT * FROM ref.{table}
                    WHERE {col} IN (SELECT {col} FROM warm_candidates
                                    UNION SELECT {col} FROM req_features)"""
            )
        con.execute(f"CREATE OR REPLACE TABLE warm_blocked AS {self._blocking_sql}")
        con.execute(f"CREATE OR REPLACE TABLE warm_pred AS {self._scoring_sql}")
        self._slice()
        collapse(con, "warm_pred", review_threshold, min_margin_log2, ref="warm")

    def _slice(self) -> None:
        """``warm.<table>``: the rows of the person tables ``collapse`` reads. It reads
        them for each request's best person only (ranked exactly as ``collapse`` ranks:
        highest weight, then person id): that person's rows, and everyone's at that
        person's addresses (who else files there, and whether with units)."""
        con = self.con
        best = [
            str(r[0])
            for r in con.execute(
                """SELECT DISTINCT person_id FROM (
                     SELECT person_id, row_number() OVER (
                       PARTITION BY row_number ORDER BY w DESC, person_id) AS rk
                     FROM (SELECT unique_id_l AS row_number,
                                  split_part(unique_id_r, '|', 1) AS person_id,
                                  max(match_weight) AS w
                           FROM warm_pred GROUP BY 1, 2))
                   WHERE rk = 1"""
            ).fetchall()
        ]
        for name in ("persons", "person_names", "filings"):
            branches = [f"SELECT {self._cols[name]} FROM lk.{name} WHERE person_id = {_lit(p)}"
                        for p in best]  # fmt: skip
            _replace(con, f"warm.{name}", branches, self._empty[name])
        addresses = [
            int(r[0])
            for r in con.execute(f"SELECT DISTINCT {ADDRESS_KEY} FROM warm.filings").fetchall()
        ]
        branches = [f"SELECT {self._cols['person_addresses']} FROM lk.person_addresses "
                    f"WHERE ak = {a}" for a in addresses]  # fmt: skip
        _replace(con, "warm.person_addresses", branches, self._empty["person_addresses"])


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _replace(
    con: duckdb.DuckDBPyConnection,
    table: str,
    branches: list[str],
    empty: str,
    *,
    distinct_on: str | None = None,
) -> None:
    """``table`` := the union of ``branches`` (each an index lookup), or ``empty``. The
    branches of the person tables are disjoint (one person, or one address, each); only
    the master records two rules both reach need ``distinct_on``."""
    if not branches:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {empty}")
        return
    union = " UNION ALL ".join(branches)
    if distinct_on:
        con.execute(f"""CREATE OR REPLACE TABLE {table} AS SELECT * FROM ({union})
                        QUALIFY row_number() OVER (PARTITION BY {distinct_on}) = 1""")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {union}")


__all__ = ["RuleKey", "WarmMatcher", "build_lookup_index", "index_path", "rule_keys"]
