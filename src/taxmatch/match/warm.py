"""The warm matcher: one-record lookups, kept open by a serving process, scored exactly as
a batch scores them (not a weight changed) in a tenth of the time:

- candidates by key from memory-mapped Arrow files (``lookup_index``), not a scan;
- scores in Python from the saved model (``score``), not Splink's SQL;
- outcomes by the batch's rules (``rules``), gathered from the index's rows (``lookup_judge``).

A pair the scorer is not sure of, or a value it does not expect, sends the lookup to the
SQL path: Splink's ``predict_pairs`` on its candidates, then the batch's ``collapse``.
``audit`` runs both paths and counts differences (the SQL's answer is given).

The connection is the lookup's in-memory workspace, so one warm matcher serves one
lookup at a time: callers hold ``lock``. Never logs a value.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from taxmatch.errors import ReferenceSnapshotError
from taxmatch.events import Event, emit
from taxmatch.files.duck import attach
from taxmatch.match.collapse import REQUEST_COLUMNS, collapse
from taxmatch.match.features import (
    FEATURE_COLUMNS,
    REQUEST_INPUTS,
    first_name_shares,
    request_feature_rows,
)
from taxmatch.match.features import request_features as sql_request_features
from taxmatch.match.judging import OUTCOME_SCHEMA
from taxmatch.match.levels import RuleKey, Unsure
from taxmatch.match.lookup_index import PERSON_TABLES, Keyed, build_lookup_index, key_sql, people_of
from taxmatch.match.lookup_judge import best_persons, outcomes_of
from taxmatch.match.model import (
    BLOCKING,
    ModelInfo,
    load_settings,
    quiet_splink,
    rule_sql,
    settings_dict,
)
from taxmatch.match.probabilistic import TF_VIEWS, predict_pairs
from taxmatch.match.score import Scorer, Unsupported
from taxmatch.normalise.typos import fixes

Row = dict[str, Any]


def rule_keys(settings: dict[str, Any] | None = None) -> list[RuleKey]:
    """The declared blocking rules (``model.BLOCKING``); with a saved model's
    ``settings``, an error when its rules are not these (the index could not serve it)."""
    if settings is not None and rule_sql(settings) != rule_sql(settings_dict("link_only", 0.5)):
        raise ReferenceSnapshotError(
            "the model's blocking rules are not the declared ones; the lookup index cannot serve it"
        )
    return list(BLOCKING)


_INPUTS = tuple(dict.fromkeys((*REQUEST_COLUMNS, *REQUEST_INPUTS)))  # what a lookup reads


class WarmMatcher:
    """A reference snapshot, its lookup index and the model's scorer, kept open."""

    def __init__(
        self, snapshot: Path, model: ModelInfo, *, memory_limit: str = "1GB", threads: int = 1
    ) -> None:
        self.snapshot = snapshot
        self.model = model
        self.lock = threading.Lock()
        self.closed = False
        # Lookups answered in Python, by SQL, sent from Python to SQL (unsure); with
        # ``audit``, answered both ways and those whose answers differed.
        self.answered = {"python": 0, "sql": 0, "unsure": 0, "audited": 0, "differed": 0}
        self.audit = False
        self._settings = load_settings(model)
        self.keys = rule_keys(self._settings)
        index = build_lookup_index(snapshot, self.keys)
        self._master = Keyed(index, "master_records", [f"k{i}" for i in range(len(self.keys))])
        self._people = {t: Keyed(index, t, list(keys)) for t, keys in PERSON_TABLES.items()}
        self._features_schema = pa.schema([self._master.schema.field(c) for c in FEATURE_COLUMNS])
        self.con = duckdb.connect()
        try:
            self.con.execute(f"SET memory_limit='{memory_limit}'")
            self.con.execute(f"SET threads={int(threads)}")
            attach(self.con, snapshot)
            # The SQL path's candidates, taken from the index, are registered under this name.
            self.con.register("warm_candidates", self._master.schema.empty_table())
            described = self.con.execute("DESCRIBE ref.master_records").fetchall()
            self._types = {str(r[0]): str(r[1]) for r in described}
            # Each first name's share of persons, for a misspelt first name (``nick``'s fixes).
            self._shares = first_name_shares(self.con)
            self._scorer = self._python_scorer()
        except BaseException:
            self.con.close()
            raise
        self._sql_tables = False  # whether the last lookup registered the SQL path's tables

    @property
    def python(self) -> bool:
        """Whether lookups are scored in Python (``score``, ``lookup_judge``)."""
        return self._scorer is not None

    def close(self) -> None:
        self.closed = True
        self.con.close()
        self._master.close()
        for keyed in self._people.values():
            keyed.close()

    def clear(self) -> None:
        """Forget the last lookup: its tables (Splink's too) and the rows taken from the
        index (a lookup's names and addresses are not kept longer than the lookup)."""
        if self.closed:
            return
        self.con.execute(
            "DROP TABLE IF EXISTS records; DROP TABLE IF EXISTS final; "
            "DROP TABLE IF EXISTS outcomes; DROP TABLE IF EXISTS req_features; "
            "DROP TABLE IF EXISTS warm_pred; DROP TABLE IF EXISTS nick; DROP VIEW IF EXISTS valid; "
            "DROP TABLE IF EXISTS collapse_best; DROP TABLE IF EXISTS collapse_in"
        )
        if self._sql_tables:
            for (name,) in self.con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name IN ('memory', "
                "'temp') AND starts_with(table_name, '__splink__')"
            ).fetchall():
                self.con.execute(f'DROP TABLE IF EXISTS "{name}"')
            self.con.register("warm_candidates", self._master.schema.empty_table())
            self._sql_tables = False

    def _python_scorer(self) -> Scorer | None:
        """The Python scorer for this model, or None (lookups then take the SQL path)
        when the saved model's levels are not the declared ones."""
        tf: dict[str, dict[Any, float]] = {}
        for _, table, column in TF_VIEWS:
            sql = f"SELECT {column}, tf_{column} FROM ref.{table} WHERE {column} IS NOT NULL"
            tf[f"tf_{column}"] = dict(self.con.execute(sql).fetchall())
        try:
            return Scorer(self._settings, tf)
        except Unsupported:
            emit(Event.WARM_PYTHON_OFF, reason="scoring")
            return None

    def match(self, *, review_threshold: float, min_margin_log2: float) -> None:
        """Write ``outcomes`` and ``req_features`` for every row of this connection's
        ``valid`` view: in Python when the scorer is sure of every pair, else by SQL."""
        got = self.con.execute(f"SELECT {', '.join(_INPUTS)} FROM valid").fetchall()
        inputs = [dict(zip(_INPUTS, r, strict=True)) for r in got]
        rows = None
        if self._scorer is not None:
            try:
                rows, requests = self._match_python(inputs, review_threshold, min_margin_log2)
            except (Unsupported, Unsure, TypeError):
                rows = None  # this lookup's values: the SQL answers it
                self.answered["unsure"] += 1
        if rows is not None and not self.audit:
            self._write("req_features", requests, self._features_schema)
            self._write("outcomes", rows, OUTCOME_SCHEMA)
            self.answered["python"] += 1
            return
        self._match_sql(review_threshold, min_margin_log2)
        self.answered["sql"] += 1
        if rows is not None:
            self.answered["audited"] += 1
            sql = self.con.sql("SELECT * FROM outcomes").to_arrow_table()
            ours = pa.Table.from_pylist(rows, schema=sql.schema).to_pylist()
            if sorted(map(repr, ours)) != sorted(map(repr, sql.to_pylist())):
                self.answered["differed"] += 1

    def _match_python(
        self, inputs: list[Row], review_threshold: float, min_margin_log2: float
    ) -> tuple[list[Row], list[Row]]:
        assert self._scorer is not None
        requests = request_feature_rows(inputs)
        candidates, taken = self._master.take(self._wanted(requests))
        listed = candidates.to_pylist()
        scored = self._scorer.score(requests, listed)
        if scored.uncertain:
            raise Unsupported("a pair the scorer is not sure of")
        nick = {
            str(r["first_name"]): (r["nicknames"], fixes(str(r["first_name"]), self._shares))
            for r in requests
            if r["first_name"] is not None
        }
        # A master record carries its person's own first name (``persons``').
        own = {str(r["person_id"]): r["first_name"] for r in listed}
        best = best_persons(
            inputs, scored.pairs, own, review_threshold=review_threshold, margin=min_margin_log2
        )
        ids = {b.person_id for b in best.values() if b is not None}
        people = people_of(self._master, self._people, ids, listed, taken)
        return outcomes_of(inputs, best, people, nick), requests

    def _wanted(self, requests: list[Row]) -> dict[str, list[int]]:
        """Each rule's key of each request, hashed by DuckDB as the index's were."""
        wanted: dict[str, list[int]] = {f"k{i}": [] for i in range(len(self.keys))}
        needed = sorted({c for k in self.keys for c in k.left})
        if not requests:
            return wanted
        unnest = ", ".join(f"unnest(?::{self._types[c]}[]) AS {c}" for c in needed)
        exprs = ", ".join(key_sql(k.left, "q") for k in self.keys)
        values = [[r[c] for r in requests] for c in needed]
        hashed = self.con.execute(f"SELECT {exprs} FROM (SELECT {unnest}) q", values).fetchall()
        for row in hashed:
            for i, value in enumerate(row):
                if value is not None:
                    wanted[f"k{i}"].append(int(value))
        return wanted

    def _match_sql(self, review_threshold: float, min_margin_log2: float) -> None:
        """Splink's ``predict_pairs`` on the requests and their candidates, then
        ``collapse``'s SQL on the person tables the best persons reach."""
        from splink import DuckDBAPI

        quiet_splink()
        con = self.con
        sql_request_features(con, shares=self._shares)
        requests = con.sql("SELECT * FROM req_features").to_arrow_table().to_pylist()
        candidates, _ = self._master.take(self._wanted(requests))
        con.register("warm_candidates", candidates)
        self._sql_tables = True
        pred = predict_pairs(
            con, DuckDBAPI(connection=con), "req_features", "warm_candidates", self._settings
        )
        con.execute(f"CREATE OR REPLACE TABLE warm_pred AS SELECT * FROM {pred.physical_name}")
        pred.drop_table_from_database_and_remove_from_cache()
        collapse(con, "warm_pred", review_threshold, min_margin_log2, ref="ref")

    def _write(self, table: str, rows: list[Row], schema: pa.Schema) -> None:
        warm_rows = pa.table({n: [r[n] for r in rows] for n in schema.names}, schema=schema)
        self.con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM warm_rows")
        del warm_rows  # read by name (DuckDB's scan of a local)
