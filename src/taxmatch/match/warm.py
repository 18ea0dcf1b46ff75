"""The warm matcher: one-record lookups scored in a tenth of the time, exactly as a batch scores.

A batch hands the whole master file to Splink, which blocks and scores in one pass; for
one request against a million persons that costs seconds, most of it Splink building its
SQL and DuckDB scanning every master record. The warm matcher is kept open by a serving
process and removes both costs without changing a single weight:

- **Candidates by key.** Every blocking rule of the saved model is a conjunction of
  equalities ``l.a = r.b``. Beside each reference snapshot a *lookup index* (directory
  ``<snapshot>.lookup-<digest>/``, built once) holds ``master_records`` and the person
  tables as memory-mapped Arrow files, with, per key, the sorted 64-bit hashes and the
  rows they come from: one hash per blocking rule for the master records, the person id
  and the address for the person tables. A request's own keys fetch every master record
  any rule could pair it with, a superset of the batch's candidates (a hash collision
  only adds a record, which Splink's real blocking then drops), in microseconds.
- **Splink's SQL, generated once.** At start the model's ``predict_between`` is run once
  on empty tables through a recording database API, which keeps the two SQL statements
  Splink executes (blocking, then comparison and scoring); they become one statement
  that each lookup re-runs on the request and its candidates. Blocking on a superset of
  the partners yields the same pairs, so the predictions are the batch's.
- **The person tables, sliced.** ``collapse`` (the batch's own SQL) then reads the best
  person's rows and everyone's at that person's addresses, taken from the index, instead
  of the snapshot's million-person tables; it reads nothing else, so its answer is the
  batch's too (``tests/integration/test_warm.py`` compares the two paths row by row).

The connection is the lookup's workspace too (an in-memory DuckDB database), so one warm
matcher serves one lookup at a time: callers hold ``lock``. Never logs a value.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.events import Event, emit
from taxmatch.match import collapse_rows, oneshot, strings
from taxmatch.match.collapse import collapse
from taxmatch.match.evidence import MAX_SLIP_SUPPORT
from taxmatch.match.features import (
    FEATURE_COLUMNS,
    REQUEST_INPUTS,
    request_feature_rows,
    request_features,
)
from taxmatch.match.model import ModelInfo, load_settings, quiet_splink
from taxmatch.match.probabilistic import TF_VIEWS, predict_pairs
from taxmatch.owner_only import make_dir, restrict_tree

INDEX_VERSION = "lookup-index-3"
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
    """Everything the index's content depends on besides the snapshot: the rules, how keys
    are made, which person tables are kept by which keys, and DuckDB's version."""
    text = json.dumps([[[k.left, k.right] for k in keys], _key_sql(("a", "b"), "m"),
                       PERSON_TABLES, ALIGNED])  # fmt: skip
    return hashlib.sha256(f"{INDEX_VERSION}|{duckdb.__version__}|{text}".encode()).hexdigest()


def index_path(snapshot: Path, keys: list[RuleKey]) -> Path:
    """The lookup index's directory beside ``snapshot``. The digest in the name covers
    the rules and the DuckDB version (``hash`` is only stable within one)."""
    return snapshot.with_name(f"{snapshot.stem}.lookup-{_rules_digest(keys)[:12]}")


# The person tables ``collapse`` reads, kept in the index with the keys a lookup fetches
# them by: the best person's rows, and every filer at that person's addresses.
ADDRESS_KEY = (
    "CASE WHEN house_number <> '' THEN hash('H', house_number, street, zip5) "
    "ELSE hash('P', po_box, zip5) END"
)
PERSON_TABLES: dict[str, dict[str, str]] = {
    "persons": {"pk": "hash(person_id)"},
    "person_names": {"pk": "hash(person_id)"},
    "filings": {"pk": "hash(person_id)"},
    "person_addresses": {"ak": ADDRESS_KEY},
}
# Per row, the key a lookup goes on to fetch by (so that it need not ask DuckDB to hash
# it): a candidate's person, a filing's address.
ALIGNED: dict[str, dict[str, str]] = {
    "master_records": {"pk": "hash(person_id)"},
    "filings": {"ak": ADDRESS_KEY},
}


class _Keyed:
    """One table of the lookup index: its rows (an Arrow file, memory-mapped: pages are
    read when a lookup touches them) and, per key, the sorted key values with the row
    each comes from."""

    def __init__(self, directory: Path, name: str, keys: list[str]) -> None:
        source = pa.memory_map(str(directory / f"{name}.arrow"), "r")
        self._source = source
        reader = pa.ipc.open_file(source)
        self.schema = reader.schema
        self.batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        sizes = [b.num_rows for b in self.batches]
        self.starts = np.cumsum([0, *sizes[:-1]]).astype(np.uint64) if sizes else np.empty(0)
        self.keys = {k: np.load(directory / f"{name}.{k}.npy", mmap_mode="r") for k in keys}
        self.aligned = {k: np.load(directory / f"{name}.{k}.aligned.npy", mmap_mode="r")
                        for k in ALIGNED.get(name, {})}  # fmt: skip

    def empty(self) -> pa.Table:
        return self.schema.empty_table()

    def close(self) -> None:
        self.batches = []
        self.keys = {}
        self.aligned = {}
        self._source.close()

    def take(self, wanted: dict[str, list[int]]) -> pa.Table:
        """The rows whose key ``k`` is one of ``wanted[k]``, for any ``k``, each once."""
        return self.take_rows(wanted)[0]

    def take_rows(self, wanted: dict[str, list[int]]) -> tuple[pa.Table, Any]:
        """``take`` and the row numbers taken, in the table's order (to index
        ``aligned`` with). Taken batch by batch: a take across the whole (chunked)
        table would copy it."""
        found: list[Any] = []
        for key, values in wanted.items():
            pairs = self.keys[key]
            for value in values:
                v = np.uint64(value)
                lo = int(np.searchsorted(pairs[0], v, "left"))
                hi = int(np.searchsorted(pairs[0], v, "right"))
                if hi > lo:
                    found.append(pairs[1][lo:hi])
        if not found:
            return self.empty(), np.empty(0, np.uint64)
        rows = np.unique(np.concatenate(found))
        which = np.searchsorted(self.starts, rows, "right") - 1
        taken = []
        for b in np.unique(which):
            local = rows[which == b] - self.starts[b]
            taken.append(self.batches[int(b)].take(pa.array(local, pa.uint64())))
        return pa.Table.from_batches(taken, self.schema), rows


def build_lookup_index(snapshot: Path, keys: list[RuleKey]) -> Path:
    """The snapshot's lookup index for ``keys``, built now if it is not there yet.

    ``master_records`` with one hashed key per blocking rule, and the person tables with
    the person's and the address's keys: each an Arrow file plus, per key, a sorted array
    of (key, row). Built in a temporary directory and renamed, so a reader never sees
    half an index and two processes building at once both end with a whole one.
    """
    target = index_path(snapshot, keys)
    if target.exists():
        return target
    _sweep_partials(target)
    tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    make_dir(tmp)
    con = duckdb.connect()
    try:
        con.execute("SET memory_limit='1GB'")
        con.execute("SET threads=2")
        con.execute(f"ATTACH '{_quote(snapshot)}' AS ref (READ_ONLY)")
        rules = {f"k{i}": _key_sql(k.right, "m") for i, k in enumerate(keys)}
        tables = {"master_records": rules, **PERSON_TABLES}
        for name, key_sql in tables.items():
            _write_keyed(con, tmp, name, key_sql, ALIGNED.get(name, {}))
        con.close()
        restrict_tree(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            if not target.exists():
                raise
            # another process finished first: its index is as good
    except BaseException:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


PARTIAL_AGE_SECONDS = 6 * 3600


def _sweep_partials(target: Path) -> None:
    """Remove what builds of this index that died left behind (a build takes seconds to
    minutes; one untouched for hours is dead, not running in another process)."""
    now = time.time()
    for partial in target.parent.glob(f"{target.name}.*.partial"):
        try:
            if now - partial.stat().st_mtime > PARTIAL_AGE_SECONDS:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            continue


def _write_keyed(
    con: duckdb.DuckDBPyConnection,
    directory: Path,
    name: str,
    key_sql: dict[str, str],
    aligned_sql: dict[str, str],
) -> None:
    cols = [c for c, _ in _describe(con, f"ref.{name}")]
    select = ", ".join(f"m.{c}" for c in cols)
    keyed = ", ".join(f"{expr} AS __{k}" for k, expr in key_sql.items())
    keyed += "".join(f", {expr} AS __aligned_{k}" for k, expr in aligned_sql.items())
    reader = con.sql(f"SELECT {select}, {keyed} FROM ref.{name} m").to_arrow_reader(200_000)
    parts: dict[str, list[Any]] = {k: [] for k in key_sql}
    aligned: dict[str, list[Any]] = {k: [] for k in aligned_sql}
    offset = 0
    writer: pa.ipc.RecordBatchFileWriter | None = None
    try:
        for batch in reader:
            data = batch.select(cols)
            if writer is None:
                writer = pa.ipc.new_file(str(directory / f"{name}.arrow"), data.schema)
            writer.write_batch(data)
            for k in key_sql:
                column = batch.column(f"__{k}")
                valid = np.asarray(column.is_valid())
                values = np.asarray(column.fill_null(0), dtype=np.uint64)
                rows = np.arange(offset, offset + batch.num_rows, dtype=np.uint64)
                parts[k].append(np.stack([values[valid], rows[valid]]))
            for k in aligned_sql:
                column = batch.column(f"__aligned_{k}")
                if column.null_count:
                    raise ReferenceSnapshotError("a lookup index key is unexpectedly null")
                aligned[k].append(np.asarray(column, dtype=np.uint64))
            offset += batch.num_rows
        if writer is None:
            schema = con.sql(f"SELECT {select} FROM ref.{name} m LIMIT 0").to_arrow_table()
            writer = pa.ipc.new_file(str(directory / f"{name}.arrow"), schema.schema)
    finally:
        if writer is not None:
            writer.close()
    for k, chunks in parts.items():
        pairs = np.concatenate(chunks, axis=1) if chunks else np.empty((2, 0), np.uint64)
        order = np.argsort(pairs[0], kind="stable")
        np.save(directory / f"{name}.{k}.npy", pairs[:, order])
    for k, chunks in aligned.items():
        values = np.concatenate(chunks) if chunks else np.empty(0, np.uint64)
        np.save(directory / f"{name}.{k}.aligned.npy", values)


_JOIN_KEY = '{side}."source_dataset" || \'-__-\' || {side}."unique_id" as join_key_{side}'


def _pairs_sql(keys: list[RuleKey], blocking_sql: str) -> str | None:
    """The blocked pairs as Splink's blocking SQL defines them, in a form that plans in a
    third of the time for one request and a few hundred candidates: every (request,
    candidate) pair some rule's equalities hold for (a null equals nothing), labelled
    with the first such rule. None when Splink's SQL does not have the shape this was
    read from (the join keys, the source names), and then Splink's own SQL is used.
    """
    shape = (
        "'requests' as source_dataset" in blocking_sql
        and "'master' as source_dataset" in blocking_sql
        and all(_JOIN_KEY.format(side=side) in blocking_sql for side in ("l", "r"))
        and f"'{len(keys) - 1}' as match_key" in blocking_sql
        and f"'{len(keys)}' as match_key" not in blocking_sql
    )
    if not shape:
        return None
    rules = [
        "coalesce(" + " AND ".join(f'l."{a}" = r."{b}"' for a, b in zip(k.left, k.right,
                                                                       strict=True)) + ", false)"
        for k in keys
    ]  # fmt: skip
    label = " ".join(f"WHEN {rule} THEN '{i}'" for i, rule in enumerate(rules))
    return (
        f"SELECT CASE {label} END AS match_key, "
        "'requests-__-' || l.unique_id AS join_key_l, 'master-__-' || r.unique_id AS join_key_r "
        f"FROM req_features l CROSS JOIN warm_candidates r WHERE {' OR '.join(rules)}"
    )


def _describe(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE {table}").fetchall()]


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
        self._closed = False
        self._literals: dict[float, float] = {}
        # Lookups answered by the Python path and by DuckDB's SQL, and Python answers
        # compared with the SQL's (benchmarks, tests).
        self.answered = {"python": 0, "sql": 0, "compared": 0}
        # Compare every Python answer with DuckDB's SQL, not just the first (an audit
        # of the Python path on real lookups; each then costs both paths' time).
        self.compare_always = False
        self._outcomes_schema = pa.schema([])
        self._features_schema = pa.schema([])
        self._features_types: dict[str, str] = {}
        settings = load_settings(model)
        self.keys = rule_keys(settings)
        index = build_lookup_index(snapshot, self.keys)
        self._master = _Keyed(index, "master_records", [f"k{i}" for i in range(len(self.keys))])
        self._people = {name: _Keyed(index, name, list(keys))
                        for name, keys in PERSON_TABLES.items()}  # fmt: skip
        self.con = duckdb.connect()
        try:
            self.con.execute(f"SET memory_limit='{memory_limit}'")
            self.con.execute(f"SET threads={int(threads)}")
            self.con.execute(f"ATTACH '{_quote(snapshot)}' AS ref (READ_ONLY)")
            # What a lookup takes from the index is registered under these names; the
            # ``warm`` schema gives ``collapse`` the person tables under their own names.
            self.con.register("warm_candidates", self._master.empty())
            self.con.execute("CREATE SCHEMA warm")
            for name, keyed in self._people.items():
                self.con.register(f"warm_{name}", keyed.empty())
                self.con.execute(f"CREATE VIEW warm.{name} AS SELECT * FROM warm_{name}")
            blocking_sql, scoring_sql = self._record(settings)
            # One statement: the blocked pairs as the first CTE of Splink's scoring.
            if not scoring_sql.lstrip().upper().startswith("WITH"):
                raise ReferenceSnapshotError(
                    "this Splink version scores in a form the warm matcher does not know"
                )
            pairs_sql = _pairs_sql(self.keys, blocking_sql)
            blocked = pairs_sql or blocking_sql
            self._predict_sql = f"WITH warm_blocked AS ({blocked}),{scoring_sql.lstrip()[4:]}"
            self._python = self._python_path(pairs_sql is not None)
        except BaseException:
            self.con.close()
            raise
        # Checked against DuckDB on the first lookup (``_check``) before it answers alone.
        self._checked = False
        self._sql_tables = False  # whether the last lookup registered the SQL path's tables

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def python(self) -> bool:
        """Whether lookups are answered in Python (``oneshot``, ``collapse_rows``)."""
        return self._python is not None

    def close(self) -> None:
        self._closed = True
        self.con.close()
        self._master.close()
        for keyed in self._people.values():
            keyed.close()

    def clear(self) -> None:
        """Forget the last lookup: drop its workspace and matcher tables, let go of the
        rows taken from the index and empty the string functions' memos (a lookup's names
        and addresses are not kept in the serving process longer than the lookup)."""
        if self._closed:
            return
        oneshot.clear_memos()
        self.con.execute(
            "DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS final; "
            "DROP TABLE IF EXISTS outcomes; DROP TABLE IF EXISTS req_features; "
            "DROP TABLE IF EXISTS warm_pred; DROP TABLE IF EXISTS nick; DROP VIEW IF EXISTS valid"
        )
        if self._sql_tables:
            self.con.register("warm_candidates", self._master.empty())
            for name, keyed in self._people.items():
                self.con.register(f"warm_{name}", keyed.empty())
            self._sql_tables = False

    def _python_path(self, blocking_known: bool) -> oneshot.SplinkScorer | None:
        """The Python scorer for this model, or None (lookups then run Splink's SQL and
        ``collapse`` in DuckDB): when the blocking's shape is not known, when DuckDB's
        string functions differ from ``taxmatch.match.strings`` here, when ``collapse``'s
        SQL is not the one ``collapse_rows`` was transcribed from, or when Splink's
        statement has anything ``oneshot`` does not evaluate."""
        why = None
        if not blocking_known:
            why = "blocking"
        elif not strings.calibrate(self.con):
            why = "strings"
        elif collapse_rows.sql_digest() != collapse_rows.SQL_DIGEST:
            why = "collapse"
        if why is None:
            tf = {
                f"tf_{column}": dict(self.con.execute(
                    f"SELECT {column}, tf_{column} FROM ref.{table} WHERE {column} IS NOT NULL"
                ).fetchall())
                for _, table, column in TF_VIEWS
            }  # fmt: skip
            try:
                return oneshot.SplinkScorer(
                    self.con, self._predict_sql, [(k.left, k.right) for k in self.keys], tf
                )
            except oneshot.Unsupported:
                why = "scoring"
        emit(Event.WARM_PYTHON_OFF, reason=why)
        return None

    def _record(self, settings: dict[str, Any]) -> tuple[str, str]:
        """Run ``predict_between`` once on empty tables and keep Splink's two statements."""
        quiet_splink()
        con = self.con
        cols = ", ".join(FEATURE_COLUMNS)
        con.execute(
            f"CREATE OR REPLACE TABLE req_features AS SELECT {cols} FROM ref.master_records LIMIT 0"
        )
        rec = _Recorder(con)
        pred = predict_pairs(con, rec.api, "req_features", "warm_candidates", settings)
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
        """Write ``outcomes`` for every row of this connection's ``valid`` view.

        In Python (``oneshot`` scoring, ``collapse_rows``) when it can; the first such
        lookup runs DuckDB's SQL as well and compares, and any difference, or anything
        the Python does not handle, sends lookups to the SQL."""
        con = self.con
        if self._python is not None and self._checked and not self.compare_always:
            try:
                self._match_all_python(review_threshold, min_margin_log2)
                self.answered["python"] += 1
                return
            except oneshot.Unsupported:
                con.execute("DROP TABLE IF EXISTS req_features")  # the SQL's below
        request_features(con)
        n, m = len(self.keys), len(_VALID_COLUMNS)
        exprs = ", ".join(_key_sql(k.left, "q") for k in self.keys)
        # One query: each request's keys, its features, its valid row and its nicknames.
        result = con.execute(
            f"SELECT {exprs}, {', '.join(f'v.{c}' for c in _VALID_COLUMNS)}, "
            "k.nicknames, q.* FROM req_features q "
            "JOIN valid v ON q.unique_id = CAST(v.row_number AS VARCHAR) "
            "LEFT JOIN nick k ON k.first_name = v.first_name"
        )
        names = [str(d[0]) for d in result.description or []][n + m + 1 :]
        requests: list[dict[str, Any]] = []
        valid: list[dict[str, Any]] = []
        nick: dict[str, list[str] | None] = {}
        wanted: dict[str, list[int]] = {f"k{i}": [] for i in range(n)}
        for row in result.fetchall():
            for i, value in enumerate(row[:n]):
                if value is not None:
                    wanted[f"k{i}"].append(int(value))
            v = dict(zip(_VALID_COLUMNS, row[n : n + m], strict=True))
            valid.append(v)
            if v["first_name"] is not None and row[n + m] is not None:
                nick[v["first_name"]] = row[n + m]
            requests.append(dict(zip(names, row[n + m + 1 :], strict=True)))
        candidates, taken = self._master.take_rows(wanted)
        if self._python is not None:
            try:
                rows = self._match_python(requests, valid, nick, candidates, taken,
                                          review_threshold, min_margin_log2)  # fmt: skip
            except oneshot.Unsupported:
                rows = None  # this lookup's values: SQL answers it
            if rows is not None and self._checked and not self.compare_always:
                self._write_outcomes(rows)
                self.answered["python"] += 1
                return
        else:
            rows = None
        con.register("warm_candidates", candidates)
        self._sql_tables = True
        con.execute(f"CREATE OR REPLACE TABLE warm_pred AS {self._predict_sql}")
        self._slice()
        collapse(con, "warm_pred", review_threshold, min_margin_log2, ref="warm")
        self.answered["sql"] += 1
        if rows is not None and (self.compare_always or not self._checked):
            self._check(rows)

    def _match_all_python(self, review_threshold: float, min_margin_log2: float) -> None:
        """The whole lookup in Python (request features too): the valid rows in one query,
        the candidates' keys hashed by DuckDB in another, ``req_features`` and
        ``outcomes`` written from Arrow."""
        con = self.con
        inputs = self._valid_inputs()
        try:
            requests = request_feature_rows(inputs)
        except TypeError as exc:
            raise oneshot.Unsupported("a request value of an unexpected type") from exc
        wanted: dict[str, list[int]] = {f"k{i}": [] for i in range(len(self.keys))}
        if requests:
            needed = sorted({c for k in self.keys for c in k.left})
            types = self._features_types
            if any(c not in types for c in needed):
                raise oneshot.Unsupported("a key column of an unknown type")
            unnest = ", ".join(f"unnest(?::{types[c]}[]) AS {c}" for c in needed)
            exprs = ", ".join(_key_sql(k.left, "q") for k in self.keys)
            hashed = con.execute(f"SELECT {exprs} FROM (SELECT {unnest}) q",
                                 [[r[c] for r in requests] for c in needed]).fetchall()  # fmt: skip
            for row in hashed:
                for i, value in enumerate(row):
                    if value is not None:
                        wanted[f"k{i}"].append(int(value))
        candidates, taken = self._master.take_rows(wanted)
        valid = [{c: v[c] for c in _VALID_COLUMNS} for v in inputs]
        nick: dict[str, list[str] | None] = {str(r["first_name"]): r["nicknames"] for r in requests
                if r["first_name"] is not None}  # fmt: skip
        rows = self._match_python(requests, valid, nick, candidates, taken,
                                  review_threshold, min_margin_log2)  # fmt: skip
        warm_features = pa.table(  # read by name (DuckDB's scan of a local)
            {c: [r[c] for r in requests] for c in self._features_schema.names},
            schema=self._features_schema,
        )
        con.execute("CREATE OR REPLACE TABLE req_features AS SELECT * FROM warm_features")
        del warm_features
        self._write_outcomes(rows)

    def _valid_inputs(self) -> list[dict[str, Any]]:
        """The ``valid`` rows with the columns request features and ``collapse`` read."""
        columns = list(dict.fromkeys((*_VALID_COLUMNS, *REQUEST_INPUTS)))
        rows = self.con.execute(f"SELECT {', '.join(columns)} FROM valid").fetchall()
        return [dict(zip(columns, r, strict=True)) for r in rows]

    def _check_features(self) -> bool:
        """The Python request features equal the SQL's (just written to ``req_features``)."""
        sql = self.con.sql("SELECT * FROM req_features").to_arrow_table()
        self._features_schema = sql.schema
        self._features_types = {
            str(name): str(kind) for name, kind in self.con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE table_name = 'req_features' AND database_name = 'memory'").fetchall()
        }  # fmt: skip
        inputs = self._valid_inputs()
        try:
            ours = request_feature_rows(inputs)
        except TypeError:
            return False

        def norm(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            out = []
            for r in rows:
                r = dict(r)
                if r["last_parts"] is not None:
                    r["last_parts"] = sorted(r["last_parts"])  # DuckDB's order is no order
                out.append(r)
            return sorted(out, key=lambda r: str(r["unique_id"]))

        return norm(ours) == norm(sql.to_pylist())

    def _check(self, rows: list[dict[str, Any]]) -> None:
        """Compare the Python answer with the SQL's ``outcomes`` (written just now);
        equal: the Python answers from now on; not: never again in this matcher."""
        self.answered["compared"] += 1
        sql = self.con.sql("SELECT * FROM outcomes").to_arrow_table()
        self._outcomes_schema = sql.schema
        ours = sorted((self._arrow(rows).to_pylist()), key=_row_order)
        if not self._check_features():
            self._python = None
            emit(Event.WARM_PYTHON_OFF, reason="features")
        elif ours == sorted(sql.to_pylist(), key=_row_order):
            self._checked = True
        else:
            self._python = None
            emit(Event.WARM_PYTHON_OFF, reason="differs")

    def _arrow(self, rows: list[dict[str, Any]]) -> pa.Table:
        columns = {name: [r[name] for r in rows] for name in self._outcomes_schema.names}
        return pa.table(columns, schema=self._outcomes_schema)

    def _write_outcomes(self, rows: list[dict[str, Any]]) -> None:
        warm_outcomes = self._arrow(rows)  # read by name (DuckDB's scan of a local)
        self.con.execute("CREATE OR REPLACE TABLE outcomes AS SELECT * FROM warm_outcomes")
        del warm_outcomes

    def _doubles(self, *values: float) -> list[float]:
        """The doubles DuckDB reads these numbers' Python reprs as (``collapse`` writes
        its thresholds into its SQL that way)."""
        missing = [v for v in values if v not in self._literals]
        if missing:
            got = self.con.execute(
                "SELECT " + ", ".join(f"CAST({v!r} AS DOUBLE)" for v in missing)
            ).fetchall()[0]
            self._literals.update(zip(missing, (float(g) for g in got), strict=True))
        return [self._literals[v] for v in values]

    def _match_python(
        self,
        requests: list[dict[str, Any]],
        valid: list[dict[str, Any]],
        nick: dict[str, list[str] | None],
        candidates: pa.Table,
        taken: Any,
        review_threshold: float,
        min_margin_log2: float,
    ) -> list[dict[str, Any]]:
        assert self._python is not None
        listed = candidates.to_pylist()
        pred = self._python.score(requests, listed)
        # Each request's best person (highest weight, then person id), as collapse ranks.
        weights: dict[tuple[str, str], float] = {}
        for p in pred:
            key = (str(p["unique_id_l"]), str(p["unique_id_r"]).split("|", 1)[0])
            weights[key] = max(weights.get(key, p["match_weight"]), p["match_weight"])
        best: dict[str, tuple[float, str]] = {}
        for (rid, pid), w in weights.items():
            if rid not in best or (-w, pid) < (-best[rid][0], best[rid][1]):
                best[rid] = (w, pid)
        ids = {pid for _, pid in best.values()}
        people: dict[str, list[dict[str, Any]]] = {name: [] for name in self._people}
        if ids:
            # The persons' keys, as the index stored them beside each candidate.
            person_hash = self._master.aligned["pk"]
            hashes = sorted({int(person_hash[row]) for row, c in zip(taken, listed, strict=True)
                             if c["person_id"] in ids})  # fmt: skip
            for name in ("persons", "person_names"):
                rows = self._people[name].take({"pk": hashes}).to_pylist()
                # a 64-bit hash collision would add another person's rows: keep the persons'
                people[name] = [r for r in rows if r["person_id"] in ids]
            filings, filing_rows = self._people["filings"].take_rows({"pk": hashes})
            address_key = self._people["filings"].aligned["ak"]
            keys: set[int] = set()
            for row, filing in zip(filing_rows, filings.to_pylist(), strict=True):
                if filing["person_id"] in ids:
                    people["filings"].append(filing)
                    keys.add(int(address_key[row]))
            people["person_addresses"] = (
                self._people["person_addresses"].take({"ak": sorted(keys)}).to_pylist()
                if keys
                else []
            )
        threshold, margin = self._doubles(review_threshold, min_margin_log2)
        return collapse_rows.collapse_rows(
            valid, pred, people["persons"], people["person_names"], people["filings"],
            people["person_addresses"], nick, review_threshold=threshold, margin=margin,
            max_slip_support=MAX_SLIP_SUPPORT,
        )  # fmt: skip

    def _slice(self) -> None:
        """``warm.<table>``: the rows of the person tables ``collapse`` reads. It reads
        them for each request's best person only (ranked exactly as ``collapse`` ranks:
        highest weight, then person id): that person's rows, and everyone's at that
        person's addresses (who else files there, and whether with units)."""
        con = self.con
        best = con.execute(
            """SELECT DISTINCT person_id, hash(person_id) FROM (
                 SELECT person_id, row_number() OVER (
                   PARTITION BY row_number ORDER BY w DESC, person_id) AS rk
                 FROM (SELECT unique_id_l AS row_number,
                              split_part(unique_id_r, '|', 1) AS person_id,
                              max(match_weight) AS w
                       FROM warm_pred GROUP BY 1, 2))
               WHERE rk = 1"""
        ).fetchall()
        ids = pa.array([str(r[0]) for r in best], pa.string())
        for name in ("persons", "person_names", "filings"):
            rows = self._people[name].take({"pk": [int(r[1]) for r in best]})
            # a 64-bit hash collision would add another person's rows: keep the persons'
            rows = rows.filter(pc.is_in(rows.column("person_id"), value_set=ids))
            con.register(f"warm_{name}", rows)
        addresses = con.execute(
            f"SELECT list(DISTINCT {ADDRESS_KEY}) FROM warm.filings"
        ).fetchall()[0]
        wanted = [
            int(a) for a in (addresses[0] if addresses and addresses[0] else []) if a is not None
        ]
        con.register("warm_person_addresses", self._people["person_addresses"].take({"ak": wanted}))


_VALID_COLUMNS = ("row_number", "first_name", "last_name", "tax_periods", "house_number",
                  "street", "zip5", "po_box", "suffix", "date_of_birth")  # fmt: skip


def _row_order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["row_number"], repr(sorted(row.items())))


__all__ = ["RuleKey", "WarmMatcher", "build_lookup_index", "index_path", "rule_keys"]
