"""A batch's matching stage: the matcher (exact or probabilistic) and, for the
probabilistic one, the engine that scores, ranks and judges its pairs (``ENGINES``:
DuckDB in the batch workspace, or Spark). The engine changes where that runs, never the
declarations, the model or the rules that decide. Never logs a value.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from taxmatch.errors import BadArgument, EngineUnavailable
from taxmatch.match.exact import match_exact
from taxmatch.match.model import ModelInfo
from taxmatch.match.probabilistic import ChunkDecider, match_probabilistic

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun

ENGINES = ("duckdb", "spark")

# The exact baseline has no trained model; it is identified by its version alone.
EXACT = ModelInfo(Path("exact"), "exact-1", hashlib.sha256(b"exact-1").hexdigest(), "")

# A matcher: (workspace connection, on_chunk, on_window); see ``batch_matcher``.
Match = Callable[
    [duckdb.DuckDBPyConnection, Callable[[int], None] | None, Callable[[int], None] | None],
    None,
]


def check_engine(engine: str, matcher: str = "probabilistic") -> None:
    """BadArgument for an unknown engine; EngineUnavailable when it cannot run ``matcher``
    here (Spark: the probabilistic matcher only, with pyspark and Java)."""
    if engine not in ENGINES:
        raise BadArgument(f"unknown engine {engine!r}; choose one of {ENGINES}")
    if engine == "spark":
        if matcher != "probabilistic":
            raise EngineUnavailable(
                f"--engine spark runs the probabilistic matcher only, not {matcher!r}"
            )
        from taxmatch.match.spark_session import check_spark

        check_spark()


def _decider(run: BatchRun, work: Path) -> ChunkDecider | None:
    """The Spark engine's matcher (None: DuckDB's, in the workspace)."""
    req = run.req
    if req.engine != "spark":
        return None
    from taxmatch.match.spark_engine import SparkMatcher, SparkOptions

    root = req.spark_dir if req.spark_dir is not None else req.store / "spark"
    options = SparkOptions(reference_root=root, work=work / "spark")
    return SparkMatcher(options, run.reference.snapshot_id)


def batch_matcher(run: BatchRun, work: Path) -> Match:
    """The batch's matcher: writes ``outcomes`` in a workspace connection (the batch's,
    or a shadow probe run's), ``on_chunk`` told of each chunk of requests matched and
    ``on_window`` of the row number below which every valid row has its outcome (the
    probabilistic matcher's chunks; the exact matcher tells it nothing: its outcomes are
    all there when it returns)."""
    decider = _decider(run, work)

    def match(
        con: duckdb.DuckDBPyConnection,
        on_chunk: Callable[[int], None] | None,
        on_window: Callable[[int], None] | None,
    ) -> None:
        if run.model.version == EXACT.version:
            match_exact(con, run.reference.path)
            return
        policy = run.policy.matching
        match_probabilistic(
            con,
            run.reference.path,
            run.model,
            review_threshold=policy.review_threshold,
            min_margin_log2=policy.min_margin_log2,
            on_chunk=on_chunk,
            decider=decider,
            on_window=on_window,
            # a batch builds the index (when ``reference load`` did not) within its own limit
            index_memory_limit=run.req.memory_limit,
        )

    return match
