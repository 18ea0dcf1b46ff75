"""A reference load's ``filings`` built on Apache Spark (``reference load --engine spark``).

The load hands over the master's rows as Parquet (read as the view ``raw``), its
normalising steps and its ``filings`` query, all defined once in ``reference.snapshot``:
each step's distinct raw values are selected by its DuckDB query rendered in Spark's SQL
(``dialect.query_in_dialect``) and normalised by its own Python function (the same
``_name_row`` / ``_address_row`` the DuckDB load calls) in ``mapInArrow``; the filings
query, rendered the same way, joins them back onto the rows, and Spark writes them as
Parquet. Executors run taxmatch's Python, so each task checks the source digest as the
batch engine's do (``spark_decide.same_code``). A task's error says only its type; a
failed load says only that it failed and the type of the error (TM200), never a value.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from taxmatch.errors import EngineUnavailable, ReferenceSnapshotError
from taxmatch.match.dialect import query_in_dialect
from taxmatch.match.spark_decide import (
    CODE_MISMATCH,
    NOT_THE_SERVICES,
    code_digest,
    quiet,
    same_code,
)
from taxmatch.match.spark_session import end_session, own_session, spark_path, spark_session
from taxmatch.normalise import NormaliseStep, RowFunction

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RAW_VIEW = "raw"  # the master's rows, as the load's queries read them


@quiet
def normalise_batches(
    batches: Iterator[pa.RecordBatch], row: RowFunction, names: Sequence[str], digest: str
) -> Iterator[pa.RecordBatch]:
    """``row`` over each row of each batch: batches of ``names`` (strings)."""
    same_code(digest)
    for batch in batches:
        made = [row(raw) for raw in zip(*batch.to_pydict().values(), strict=True)]
        columns = list(zip(*made, strict=True)) if made else [() for _ in names]
        arrays = [pa.array(list(c), pa.string()) for c in columns]
        yield pa.RecordBatch.from_arrays(arrays, names=list(names))


def _normalised(session: SparkSession, step: NormaliseStep, digest: str) -> None:
    from pyspark.sql.types import StringType, StructField, StructType

    view, select, row, columns = step
    schema = StructType([StructField(c, StringType()) for c in columns])
    task = functools.partial(normalise_batches, row=row, names=columns, digest=digest)
    session.sql(query_in_dialect(select, "spark")).mapInArrow(task, schema).createOrReplaceTempView(
        view
    )


def build_filings(
    raw: Path, steps: Sequence[NormaliseStep], sql: str, out: Path, *, master: str | None = None
) -> None:
    """``sql``'s rows (a DuckDB query over ``raw`` and each step's view) written by Spark
    as Parquet to ``out``: the master's rows read from the Parquet under ``raw``, each
    step's view its query's rows normalised by its function. ``master``: as
    ``spark_session``'s. ``EngineUnavailable`` when the executors' taxmatch is not this
    one; ``ReferenceSnapshotError`` when Spark fails otherwise."""
    session = own_session(spark_session(master))  # this load's own views
    try:
        session.read.parquet(spark_path(raw)).createOrReplaceTempView(RAW_VIEW)
        digest = code_digest()
        for step in steps:
            _normalised(session, step, digest)
        session.sql(query_in_dialect(sql, "spark")).write.parquet(spark_path(out))
    except Exception as exc:  # Spark's error may quote a value: only its type goes on
        if CODE_MISMATCH in str(exc):
            raise EngineUnavailable(NOT_THE_SERVICES) from None
        raise ReferenceSnapshotError(
            f"reference load on Spark failed ({type(exc).__name__})"
        ) from None
    finally:
        try:
            for view in (RAW_VIEW, *(step[0] for step in steps)):
                session.catalog.dropTempView(view)
        finally:
            end_session(session)
