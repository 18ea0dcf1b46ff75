"""A chunk's ranking, evidence gathering and judging on Spark, from ``collapse``'s own
definitions: nothing of the matcher is written a second time for Spark.

- Ranking: ``collapse.ranking_sql`` (DuckDB's SQL, rendered in Spark's by
  ``dialect.query_in_dialect``), each request's rows brought together in one partition
  (``repartition`` and ``sortWithinPartitions`` on the row number) and ranked by
  ``collapse.ranked`` (``rules.rank_persons``) in ``mapInArrow``.
- Gathering: ``collapse.gather_sql``, rendered the same way (each common table expression
  computed once, written as Parquet and read back as a view:
  ``dialect.staged_query_in_dialect``), over the ranked best persons (``collapse_best``),
  the chunk's requests (``collapse_part``), their nicknames (``nick``) and the snapshot's
  person tables (``ref.persons`` read as the view ``tm_ref_persons``, and so on:
  ``REF_PREFIX``).
- Judging: ``judging.judge_batch`` (``rules.judge``) in ``mapInArrow``, giving rows of
  ``judging.OUTCOME_SCHEMA``.

The executors run taxmatch's Python, so it must be installed on them, and be the very
code the service runs: each task checks a digest of the package's source
(``code_digest``) against the service's and stops the batch when they differ. Never logs
a value.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec

import pyarrow as pa

import taxmatch
from taxmatch.errors import EngineUnavailable
from taxmatch.match.collapse import BEST_SCHEMA, gather_sql, ranked, ranking_sql
from taxmatch.match.dialect import query_in_dialect, staged_query_in_dialect
from taxmatch.match.judging import OUTCOME_SCHEMA, judge_batch, record_batch
from taxmatch.match.spark_session import spark_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The snapshot's person tables the ranking and gathering read (``ref.<table>``), and the
# prefix of the Spark views they are read from (``ref.persons``: ``tm_ref_persons``).
REF_TABLES = ("persons", "person_names", "filings", "person_addresses")
REF_PREFIX = "tm_ref_"
REQUESTS_VIEW = "collapse_part"  # the chunk's request columns (``collapse.REQUEST_COLUMNS``)
RANK_ROWS = 10_000  # best persons per Arrow batch a ranking task gives back
P = ParamSpec("P")
CODE_MISMATCH = "TM140: executor code differs"  # what a task's error says of ``same_code``
NOT_THE_SERVICES = (
    "--engine spark: the executors' taxmatch is not the service's "
    "(install the same version on every executor)"
)


@functools.cache
def code_digest() -> str:
    """sha256 over the taxmatch package's Python source (paths and contents)."""
    root = Path(taxmatch.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def same_code(digest: str) -> None:
    """EngineUnavailable unless this process runs the taxmatch whose digest is ``digest``."""
    if code_digest() != digest:
        raise EngineUnavailable(NOT_THE_SERVICES)


def quiet(
    task: Callable[P, Iterator[pa.RecordBatch]],
) -> Callable[P, Iterator[pa.RecordBatch]]:
    """``task`` whose errors say only their type (or ``CODE_MISMATCH``): Spark logs a
    task's error on the executor, and an error about a row could carry a value."""

    @functools.wraps(task)
    def run(*args: P.args, **kwargs: P.kwargs) -> Iterator[pa.RecordBatch]:
        try:
            yield from task(*args, **kwargs)
        except EngineUnavailable:
            raise RuntimeError(CODE_MISMATCH) from None
        except Exception as exc:
            raise RuntimeError(f"taxmatch task failed ({type(exc).__name__})") from None

    return run


@quiet
def rank_batches(
    batches: Iterator[pa.RecordBatch], review_threshold: float, margin: float, digest: str
) -> Iterator[pa.RecordBatch]:
    """``collapse.ranked`` over a partition of ``ranking_sql``'s rows (each request's rows
    one after another), as batches of ``BEST_SCHEMA``."""
    same_code(digest)
    rows = (r for batch in batches for r in zip(*batch.to_pydict().values(), strict=True))
    best = []
    for found in ranked(rows, review_threshold, margin):
        best.append(found)
        if len(best) == RANK_ROWS:
            yield record_batch(best, BEST_SCHEMA)
            best = []
    if best:
        yield record_batch(best, BEST_SCHEMA)


@quiet
def judge_batches(batches: Iterator[pa.RecordBatch], digest: str) -> Iterator[pa.RecordBatch]:
    """``judging.judge_batch`` on each batch of ``gather_sql``'s rows."""
    same_code(digest)
    for batch in batches:
        yield judge_batch(batch)


def spark_query(sql: str) -> str:
    """One of ``collapse``'s DuckDB queries in Spark's SQL, ``ref``'s tables read from the
    ``REF_PREFIX`` views."""
    return query_in_dialect(sql, "spark", {"ref": REF_PREFIX})


def decide(
    session: SparkSession, pairs: str, review_threshold: float, margin: float, work: Path
) -> DataFrame:
    """The chunk's outcomes (``OUTCOME_SCHEMA``) from the scored pairs in the view
    ``pairs``: ranked, gathered and judged as ``collapse`` does, in ``session`` (which has
    the views ``REQUESTS_VIEW``, ``nick`` and ``ref``'s tables under ``REF_PREFIX``). The
    best persons are kept (``persist``) as the view ``collapse_best`` until the caller
    clears the session's cache; the gathering's stages are written under ``work`` (the
    chunk's own directory, which the caller removes)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    digest = code_digest()
    ranking = session.sql(spark_query(ranking_sql(pairs, "ref", REQUESTS_VIEW)))
    rank = functools.partial(
        rank_batches, review_threshold=review_threshold, margin=margin, digest=digest
    )
    best = (
        ranking.repartition("row_number")
        .sortWithinPartitions("row_number")
        .mapInArrow(rank, from_arrow_schema(BEST_SCHEMA))
    )
    best.persist().createOrReplaceTempView("collapse_best")
    # Each common table expression computed once (Spark would inline each) and written as
    # Parquet, read back as a view: freed with the chunk's directory, with no Spark state
    # left to clear (Spark 4.1 failed to plan these queries over ``persist``ed stages).
    stages, gathering = staged_query_in_dialect(gather_sql("ref"), "spark", {"ref": REF_PREFIX})
    for name, sql in stages:
        path = spark_path(work / name)
        session.sql(sql).write.parquet(path)
        session.read.parquet(path).createOrReplaceTempView(name)
    gathered = session.sql(gathering)
    judge = functools.partial(judge_batches, digest=digest)
    return gathered.mapInArrow(judge, from_arrow_schema(OUTCOME_SCHEMA))
