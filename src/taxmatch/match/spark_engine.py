"""The Spark engine: a batch's pairs scored by Splink on Apache Spark.

Only the scoring moves: ``match_probabilistic`` builds the chunk's ``req_features`` in the
batch workspace as ever, ``SparkPairs`` writes them to Parquet, Splink's
``predict_between`` runs on Spark (``SparkAPI``) with the saved model in Spark's SQL
(``dialect.settings_in_dialect``), the same ``CANDIDATE_FLOOR`` and the same
term-frequency lookups (``probabilistic.predict_between``), and the pairs come back as
Parquet that the workspace reads into the table ``rank_into`` ranks. Ranking, judging
(``rules``) and everything after stay in the service's DuckDB workspace.

The snapshot's ``master_records`` and tf tables are exported once per snapshot to
``<root>/<snapshot_id>/`` (Parquet, split into files Spark reads in parallel; a marker
file says the export is whole). Both that root and the batch's exchange directory must
be paths the executors see as the service does (local mode: any; a cluster: a shared
mount). Files are 0600 and directories 0700, as everything taxmatch writes. Never logs
a value.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from taxmatch.files.duck import sql_path
from taxmatch.match.chunk_ref import ChunkReference
from taxmatch.match.dialect import settings_in_dialect
from taxmatch.match.probabilistic import TF_VIEWS, predict_between
from taxmatch.match.score import PAIR_COLUMNS
from taxmatch.match.spark_session import register_functions, spark_session
from taxmatch.owner_only import make_dir, restrict_tree, write_private_text

EXPORTED = "_TAXMATCH_EXPORTED"  # marks a whole export of a snapshot
MASTER_TABLE = "master_records"
EXPORT_FILE_BYTES = "64MB"  # per Parquet file of an export: Spark reads the files in parallel
PAIRS_TABLE = "spark_pairs"  # the workspace table of a chunk's pairs


def export_reference(con: duckdb.DuckDBPyConnection, root: Path, snapshot_id: str) -> Path:
    """``<root>/<snapshot_id>``: the attached snapshot ``ref``'s ``master_records`` and tf
    tables as Parquet, written once (a concurrent writer's export is kept: the same
    snapshot makes the same tables)."""
    target = root / snapshot_id
    if (target / EXPORTED).is_file():
        return target
    make_dir(root)
    partial = root / f".{snapshot_id}.{uuid.uuid4().hex}"
    make_dir(partial)
    try:
        for table in (MASTER_TABLE, *(t for _, t, _ in TF_VIEWS)):
            con.execute(
                f"COPY (SELECT * FROM ref.{table}) TO '{sql_path(partial / table)}' "
                f"(FORMAT parquet, FILE_SIZE_BYTES '{EXPORT_FILE_BYTES}')"
            )
        write_private_text(partial / EXPORTED, snapshot_id + "\n")
        restrict_tree(partial)
        try:
            os.rename(partial, target)
        except OSError:  # exported meanwhile by another batch
            if not (target / EXPORTED).is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


@dataclass(frozen=True, slots=True)
class SparkOptions:
    """Where the Spark engine keeps its Parquet, and the cluster to use."""

    reference_root: Path  # the snapshot exports (``<store>/spark`` unless named)
    work: Path  # the batch's exchange directory, removed chunk by chunk
    master: str | None = None  # None: ``TAXMATCH_SPARK_MASTER`` or ``local[*]``


class SparkPairs:
    """The Spark engine's ``probabilistic.PairScorer`` for one batch."""

    def __init__(self, options: SparkOptions, snapshot_id: str) -> None:
        self.options = options
        self.snapshot_id = snapshot_id
        self._session: Any = None

    def session(self) -> Any:
        if self._session is None:
            self._session = spark_session(self.options.master)
        return self._session

    @contextmanager
    def __call__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: dict[str, Any],
        _index: ChunkReference | None = None,  # Spark scores against its own copy
    ) -> Iterator[str]:
        from splink.backends import spark

        spark_api: Any = spark.SparkAPI  # untyped in Splink

        spark_settings = settings_in_dialect(settings, "spark")
        exported = export_reference(con, self.options.reference_root, self.snapshot_id)
        chunk = make_dir(self.options.work / uuid.uuid4().hex)
        session = self.session().newSession()  # this chunk's own views and functions
        register_functions(session)
        try:
            con.execute(f"COPY req_features TO '{sql_path(chunk / 'requests.parquet')}'")
            restrict_tree(chunk)
            session.read.parquet(str(chunk / "requests.parquet")).createOrReplaceTempView(
                "tm_requests"
            )
            session.read.parquet(str(exported / MASTER_TABLE)).createOrReplaceTempView("tm_master")
            for view, table, _ in TF_VIEWS:
                session.read.parquet(str(exported / table)).createOrReplaceTempView(view)
            db = spark_api(
                spark_session=session,
                break_lineage_method="persist",
                register_udfs_automatically=False,  # the levels use taxmatch's functions
            )
            pred = predict_between(db, "tm_requests", "tm_master", spark_settings)
            pairs = chunk / "pairs"
            pred.as_spark_dataframe().select(*PAIR_COLUMNS).write.parquet(str(pairs))
            restrict_tree(pairs)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {PAIRS_TABLE} AS
                    SELECT CAST(unique_id_l AS VARCHAR) AS unique_id_l,
                           CAST(unique_id_r AS VARCHAR) AS unique_id_r,
                           CAST(match_weight AS DOUBLE) AS match_weight,
                           CAST(match_probability AS DOUBLE) AS match_probability
                    FROM read_parquet('{sql_path(pairs)}/*.parquet')"""
            )
            yield PAIRS_TABLE
        finally:
            con.execute(f"DROP TABLE IF EXISTS {PAIRS_TABLE}")
            session.catalog.clearCache()  # what Splink persisted for the chunk
            shutil.rmtree(chunk, ignore_errors=True)
            with contextlib.suppress(OSError):  # the batch's exchange directory, once empty
                self.options.work.rmdir()
