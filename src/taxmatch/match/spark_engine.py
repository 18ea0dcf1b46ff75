"""The Spark engine: a batch's pairs scored, ranked and judged on Apache Spark.

``match_probabilistic`` builds each chunk's ``req_features`` in the batch workspace as
ever; ``SparkMatcher`` (its ``ChunkDecider``) writes them, the chunk's request columns and
its nicknames to Parquet. On Spark, Splink's ``predict_between`` (``SparkAPI``) scores the
pairs with the saved model in Spark's SQL (``dialect.settings_in_dialect``), the same
``CANDIDATE_FLOOR`` and the same term-frequency lookups (``probabilistic.predict_between``);
``spark_decide`` then ranks, gathers and judges them with ``collapse``'s own definitions.
What comes back, as Parquet, is the chunk's ``outcomes`` rows, which the workspace reads.

The snapshot's ``master_records``, tf tables and person tables are exported once per
snapshot to ``<root>/<snapshot_id>/`` (Parquet, split into files Spark reads in parallel;
a marker file naming the tables says the export is whole). Both that root and the batch's
exchange directory must be paths the executors see as the service does (local mode: any;
a cluster: a shared mount). Files are 0600 and directories 0700, as everything taxmatch
writes. Never logs a value.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from taxmatch.errors import EngineUnavailable, memory_size
from taxmatch.files.duck import attach, sql_path
from taxmatch.match.collapse import REQUEST_COLUMNS
from taxmatch.match.dialect import settings_in_dialect
from taxmatch.match.judging import OUTCOME_SCHEMA
from taxmatch.match.probabilistic import TF_VIEWS, predict_between
from taxmatch.match.score import PAIR_COLUMNS
from taxmatch.match.spark_decide import (
    CODE_MISMATCH,
    NOT_THE_SERVICES,
    REF_PREFIX,
    REF_TABLES,
    REQUESTS_VIEW,
    decide,
)
from taxmatch.match.spark_session import end_session, own_session, spark_path, spark_session
from taxmatch.owner_only import make_dir, restrict_tree, write_private_text

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

EXPORTED = "_TAXMATCH_EXPORTED"  # marks a whole export of a snapshot: names its tables
MASTER_TABLE = "master_records"
# What an export holds: the tables Splink scores against, and those collapse reads.
EXPORT_TABLES = (MASTER_TABLE, *(t for _, t, _ in TF_VIEWS), *REF_TABLES)
EXPORT_FILE_BYTES = "64MB"  # per Parquet file of an export: Spark reads the files in parallel
OUTCOMES_VIEW = "spark_outcomes"  # the workspace view of a chunk's outcomes
PAIRS_VIEW = "tm_pairs"  # the Spark view of a chunk's scored pairs


def _marker(snapshot_id: str) -> str:
    return "\n".join((snapshot_id, *EXPORT_TABLES)) + "\n"


def exported(target: Path, snapshot_id: str) -> bool:
    """Whether ``target`` holds a whole export of ``snapshot_id`` with every table of
    ``EXPORT_TABLES`` (an export made before a table was added is not)."""
    marker = target / EXPORTED
    return marker.is_file() and marker.read_text() == _marker(snapshot_id)


def export_reference(con: duckdb.DuckDBPyConnection, root: Path, snapshot_id: str) -> Path:
    """``<root>/<snapshot_id>``: the attached snapshot ``ref``'s ``EXPORT_TABLES`` as
    Parquet, written once (a concurrent writer's export is kept: the same snapshot makes
    the same tables; an older export lacking a table is replaced)."""
    target = root / snapshot_id
    if exported(target, snapshot_id):
        return target
    make_dir(root)
    partial = root / f".{snapshot_id}.{uuid.uuid4().hex}"
    stale = root / f".{snapshot_id}.stale.{uuid.uuid4().hex}"
    make_dir(partial)
    try:
        for table in EXPORT_TABLES:
            con.execute(
                f"COPY (SELECT * FROM ref.{table}) TO '{sql_path(partial / table)}' "
                f"(FORMAT parquet, FILE_SIZE_BYTES '{EXPORT_FILE_BYTES}')"
            )
        write_private_text(partial / EXPORTED, _marker(snapshot_id))
        restrict_tree(partial)
        if target.exists() and not exported(target, snapshot_id):
            with contextlib.suppress(FileNotFoundError):  # replaced meanwhile
                os.rename(target, stale)
        try:
            os.rename(partial, target)
        except OSError:  # exported meanwhile by another batch
            if not exported(target, snapshot_id):
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(stale, ignore_errors=True)
    return target


def export_snapshot(path: Path, root: Path, snapshot_id: str, *, memory_limit: str) -> Path:
    """``export_reference`` of the snapshot database at ``path`` (read only), DuckDB
    under ``memory_limit``."""
    con = duckdb.connect()
    try:
        con.execute(f"SET memory_limit='{memory_size(memory_limit)}'")
        attach(con, path)
        return export_reference(con, root, snapshot_id)
    finally:
        con.close()


@dataclass(frozen=True, slots=True)
class SparkOptions:
    """Where the Spark engine keeps its Parquet, and the cluster to use."""

    reference_root: Path  # the snapshot exports (``<store>/spark`` unless named)
    work: Path  # the batch's exchange directory, removed chunk by chunk
    master: str | None = None  # None: ``TAXMATCH_SPARK_MASTER`` or ``local[*]``


class SparkMatcher:
    """The Spark engine's ``probabilistic.ChunkDecider`` for one batch (and its shadow
    probes, which run through the batch's matcher)."""

    def __init__(self, options: SparkOptions, snapshot_id: str) -> None:
        self.options = options
        self.snapshot_id = snapshot_id
        self._session: SparkSession | None = None

    def session(self) -> SparkSession:
        if self._session is None:
            self._session = spark_session(self.options.master)
        return self._session

    def scored(self, session: SparkSession, settings: dict[str, Any]) -> DataFrame:
        """Splink's scored pairs (``PAIR_COLUMNS``) of the chunk's requests
        (``tm_requests``) against the master (``tm_master``), in ``session``."""
        from splink.backends import spark

        spark_api: Any = spark.SparkAPI  # untyped in Splink
        # Splink's own default, without its probe of the unset ``spark.default.parallelism``
        # (which a Spark Connect server logs as an error).
        shuffle = session.conf.get("spark.sql.shuffle.partitions") or "200"  # Spark's default
        partitions = math.ceil(int(shuffle) / 2)
        db = spark_api(
            spark_session=session,
            break_lineage_method="persist",
            register_udfs_automatically=False,  # the levels use taxmatch's functions
            num_partitions_on_repartition=partitions,
        )
        pred = predict_between(db, "tm_requests", "tm_master", settings)
        pairs: DataFrame = pred.as_spark_dataframe().select(*PAIR_COLUMNS)
        return pairs

    @contextmanager
    def __call__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: dict[str, Any],
        review_threshold: float,
        margin: float,
    ) -> Iterator[str]:
        columns = ", ".join(OUTCOME_SCHEMA.names)
        (rows,) = con.execute("SELECT count(*) FROM valid_part").fetchall()[0]
        if not rows:  # nothing to match: no need of Spark
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW {OUTCOMES_VIEW} AS "
                f"SELECT {columns} FROM outcomes LIMIT 0"
            )
            try:
                yield OUTCOMES_VIEW
            finally:
                con.execute(f"DROP VIEW IF EXISTS {OUTCOMES_VIEW}")
            return
        spark_settings = settings_in_dialect(settings, "spark")
        reference = export_reference(con, self.options.reference_root, self.snapshot_id)
        chunk = make_dir(self.options.work / uuid.uuid4().hex)
        session = own_session(self.session())  # this chunk's own views and functions
        try:
            self._write_chunk(con, chunk)
            self._views(session, chunk, reference)
            self.scored(session, spark_settings).createOrReplaceTempView(PAIRS_VIEW)
            outcomes = chunk / "outcomes"
            decided = decide(session, PAIRS_VIEW, review_threshold, margin, chunk / "stages")
            try:
                decided.write.parquet(spark_path(outcomes))
            except Exception as exc:  # a task's error: ``spark_decide.quiet``
                if CODE_MISMATCH in str(exc):
                    raise EngineUnavailable(NOT_THE_SERVICES) from None
                raise
            restrict_tree(chunk)
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW {OUTCOMES_VIEW} AS
                    SELECT {columns} FROM read_parquet('{sql_path(outcomes)}/*.parquet')
                    ORDER BY row_number"""
            )
            yield OUTCOMES_VIEW
        finally:
            try:
                con.execute(f"DROP VIEW IF EXISTS {OUTCOMES_VIEW}")
                session.catalog.clearCache()  # what Splink and the ranking persisted
                end_session(session)
            finally:  # the chunk's requests never stay on disk, whatever Spark does
                shutil.rmtree(chunk, ignore_errors=True)
                with contextlib.suppress(OSError):  # the batch's exchange directory, once empty
                    self.options.work.rmdir()

    @staticmethod
    def _write_chunk(con: duckdb.DuckDBPyConnection, chunk: Path) -> None:
        """The chunk's request features, request columns and nicknames, as Parquet."""
        con.execute(f"COPY req_features TO '{sql_path(chunk / 'requests.parquet')}'")
        con.execute(
            f"COPY (SELECT {', '.join(REQUEST_COLUMNS)} FROM valid_part) "
            f"TO '{sql_path(chunk / 'part.parquet')}'"
        )
        con.execute(
            "COPY (SELECT * FROM nick WHERE first_name IN (SELECT first_name FROM valid_part)) "
            f"TO '{sql_path(chunk / 'nick.parquet')}'"
        )
        restrict_tree(chunk)

    @staticmethod
    def _views(session: SparkSession, chunk: Path, reference: Path) -> None:
        """The chunk's files and the snapshot's export as the views ``scored`` and
        ``spark_decide.decide`` read."""
        read = session.read.parquet
        read(spark_path(chunk / "requests.parquet")).createOrReplaceTempView("tm_requests")
        read(spark_path(chunk / "part.parquet")).createOrReplaceTempView(REQUESTS_VIEW)
        read(spark_path(chunk / "nick.parquet")).createOrReplaceTempView("nick")
        read(spark_path(reference / MASTER_TABLE)).createOrReplaceTempView("tm_master")
        for view, table, _ in TF_VIEWS:
            read(spark_path(reference / table)).createOrReplaceTempView(view)
        for table in REF_TABLES:
            read(spark_path(reference / table)).createOrReplaceTempView(REF_PREFIX + table)
