"""The probabilistic matcher: Splink scores request × (person, address) pairs, ``collapse``
ranks them to persons and judges the best: in the batch workspace (DuckDB), or, with a
``ChunkDecider`` (the Spark engine, ``spark_engine``), all three elsewhere from the same
definitions, the workspace reading back each chunk's outcomes. Never decides disclosure,
never logs a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from taxmatch.files.duck import attach
from taxmatch.match.chunk_ref import SCHEMA, ChunkReference
from taxmatch.match.collapse import judging, rank_into
from taxmatch.match.features import first_name_shares, nickname_table, request_features
from taxmatch.match.lookup_index import INDEX_MEMORY_LIMIT
from taxmatch.match.model import (
    BLOCKING,
    ModelInfo,
    load_settings,
    quiet_splink,
    rule_sql,
    settings_dict,
)
from taxmatch.match.thresholds import CANDIDATE_FLOOR

if TYPE_CHECKING:
    from splink.internals.database_api import DatabaseAPI
    from splink.internals.splink_dataframe import SplinkDataFrame

# Requests scored per pass. Each pass reads the master's blocking keys (once per rule) to
# find its candidate records, so passes are as large as the batch workspace's 2 GB allows:
# 100 000 requests against 3 M persons fit it.
MATCH_CHUNK_ROWS = 100_000


# The snapshot's term-frequency tables, as the views Splink's lookups are registered from.
TF_VIEWS = (
    ("tf_first", "tf_first_name_records", "first_name"),
    ("tf_last", "tf_last_key_records", "last_key"),
)


def predict_pairs(
    con: duckdb.DuckDBPyConnection,
    db: DatabaseAPI[Any],
    requests_table: str,
    master_table: str,
    settings: dict[str, Any],
) -> SplinkDataFrame:
    """Splink's scored pairs of ``requests_table`` × ``master_table`` at or above
    ``CANDIDATE_FLOOR``, term frequencies from the attached snapshot ``ref``: the one way
    the matchers and ``explain`` call Splink (``db``: a ``DuckDBAPI`` on ``con``)."""
    for view, table, _ in TF_VIEWS:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM ref.{table}")
    return predict_between(db, requests_table, master_table, settings)


def predict_between(
    db: DatabaseAPI[Any], requests_table: str, master_table: str, settings: dict[str, Any]
) -> SplinkDataFrame:
    """Splink's ``predict_between`` on ``db`` (a Splink database API of any engine) with
    the term-frequency lookups of the tables named as ``TF_VIEWS``' views in it: the one
    set of arguments every engine scores with."""
    from splink import Linker

    requests = db.register(requests_table, dataset_display_name="requests")
    master = db.register(master_table, dataset_display_name="master")
    linker = Linker([requests, master], settings, validate_settings=False)  # checked at training
    for view, _, column in TF_VIEWS:
        linker.table_management.register_term_frequency_lookup(db.register(view), column)
    return linker.inference.predict_between(
        requests,
        master,
        link_type="link_only",
        threshold_match_probability=CANDIDATE_FLOOR,
        warning_mode="never",
    )


# Scores the workspace's ``req_features`` against the snapshot's ``master_records`` with
# the saved model's settings: a context giving the name of a workspace table of the pairs
# (``score.PAIR_COLUMNS``), dropped on exit.
# ``chunk``: the snapshot's lookup index, when the model's rules are the declared ones (an
# engine with its own copy of the master file may score against that instead).
PairScorer = Callable[
    [duckdb.DuckDBPyConnection, dict[str, Any], ChunkReference | None],
    AbstractContextManager[str],
]


# Decides a chunk elsewhere than in the workspace, from the same definitions (the Spark
# engine): given the workspace's ``req_features`` and ``valid_part`` (the chunk's rows)
# and ``nick``, the saved model's settings and the policy's review threshold and margin,
# a context giving the name of a workspace view of the chunk's ``outcomes`` rows (the
# columns of ``judging.OUTCOME_SCHEMA``), dropped on exit.
ChunkDecider = Callable[
    [duckdb.DuckDBPyConnection, dict[str, Any], float, float], AbstractContextManager[str]
]


def declared_rules(settings: dict[str, Any]) -> bool:
    """Whether the saved model blocks on the declared rules (``model.BLOCKING``)."""
    return rule_sql(settings) == rule_sql(settings_dict("link_only", 0.5))


def candidate_records(
    con: duckdb.DuckDBPyConnection,
    requests_table: str,
    settings: dict[str, Any],
    chunk: ChunkReference | None = None,
) -> str:
    """The table of the master records a blocking rule pairs with some row of
    ``requests_table`` (``master_cand``), or, when the saved model blocks on other rules
    than the declared ones, the whole master (``master_view``). Splink pairs a request
    only with records its rules reach, and the term frequencies come from the snapshot's
    tables, not from the records given, so the pairs and their scores are the same: only
    the records Splink reads (and joins to term frequencies) no longer grow with the
    master file. With the lookup index (``chunk``) they are found by its keys; without
    (or when the requests' key columns are not of the master's types), by one scan of the
    master per rule."""
    if not declared_rules(settings):
        return "master_view"
    found = None if chunk is None else chunk.candidates(requests_table)
    if found is not None:
        con.register("master_cand_rows", found)
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE master_cand AS FROM master_cand_rows")
        finally:
            con.unregister("master_cand_rows")
        return "master_cand"
    reached = " UNION ".join(
        f"SELECT m.rowid AS id FROM ref.master_records m SEMI JOIN {requests_table} r ON "
        + " AND ".join(f"m.{b} = r.{a}" for a, b in zip(rule.left, rule.right, strict=True))
        for rule in BLOCKING
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE master_cand AS "
        f"SELECT * FROM ref.master_records WHERE rowid IN ({reached})"
    )
    return "master_cand"


@contextmanager
def duckdb_pairs(
    con: duckdb.DuckDBPyConnection,
    settings: dict[str, Any],
    chunk: ChunkReference | None = None,
) -> Iterator[str]:
    """The DuckDB engine's ``PairScorer``: Splink on the workspace's own connection, on
    the chunk's candidate records (``candidate_records``)."""
    from splink import DuckDBAPI

    master = candidate_records(con, "req_features", settings, chunk)
    try:
        pred = predict_pairs(con, DuckDBAPI(connection=con), "req_features", master, settings)
        yield pred.physical_name
        pred.drop_table_from_database_and_remove_from_cache()
    finally:
        con.execute("DROP TABLE IF EXISTS master_cand")


def match_probabilistic(
    con: duckdb.DuckDBPyConnection,
    reference: Path,
    model: ModelInfo,
    *,
    review_threshold: float,
    min_margin_log2: float,
    chunk_rows: int | None = None,
    on_chunk: Callable[[int], None] | None = None,
    scorer: PairScorer = duckdb_pairs,
    on_window: Callable[[int], None] | None = None,
    decider: ChunkDecider | None = None,
    index_memory_limit: str = INDEX_MEMORY_LIMIT,
) -> None:
    """Write ``outcomes`` for every row of the workspace's ``valid`` view.

    Requests are scored, ranked and judged ``chunk_rows`` (default ``MATCH_CHUNK_ROWS``)
    at a time, so the candidate pairs of a batch of millions never have to fit in memory
    at once. A pair's score depends on the request, the candidate and the reference's term
    frequencies only, and a row's judgement on its own best person, so the chunks change
    nothing but the memory used. ``scorer`` scores the pairs (Splink on DuckDB); ranking
    and judging run here, in the workspace. With ``decider`` (the Spark engine), scoring,
    ranking and judging all run there instead, and the workspace reads back each chunk's
    outcomes. After each chunk, ``on_chunk`` is told how many row
    numbers it spanned and ``on_window`` the row number below which every row of ``valid``
    has its outcome (on this thread, with the snapshot attached as ``ref``). The snapshot's
    lookup index, if it must be built first, is built under ``index_memory_limit``.
    """
    quiet_splink()
    attach(con, reference)
    settings = load_settings(model)
    chunk = None
    try:
        if decider is None and declared_rules(settings):
            chunk = ChunkReference(con, reference, list(BLOCKING), memory_limit=index_memory_limit)
        ref = SCHEMA if chunk is not None else "ref"
        con.execute("CREATE OR REPLACE TEMP VIEW master_view AS SELECT * FROM ref.master_records")
        for table in ("outcomes", "req_kept", "collapse_best"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        # Once for the whole batch: the chunks and the judging read it.
        nickname_table(con, shares=first_name_shares(con))
        (total,) = con.execute("SELECT count(*) FROM valid").fetchall()[0]
        with judging(con, 0 if decider else total, ref=ref) as judge:
            for i, (lo, hi) in enumerate(_ranges(con, chunk_rows or MATCH_CHUNK_ROWS)):
                con.execute(
                    f"""CREATE OR REPLACE TEMP VIEW valid_part AS
                        SELECT * FROM valid WHERE row_number >= {lo} AND row_number < {hi}"""
                )
                request_features(con, source="valid_part")
                if decider is not None:
                    with decider(con, settings, review_threshold, min_margin_log2) as decided:
                        con.execute(f"INSERT INTO outcomes BY NAME SELECT * FROM {decided}")
                else:
                    with scorer(con, settings, chunk) as pairs:
                        if chunk is not None:
                            chunk.persons(f"SELECT split_part(unique_id_r, '|', 1) FROM {pairs}")
                        rank_into(con, pairs, review_threshold, min_margin_log2, ref=ref)
                # The request features of every chunk are kept (``taxmatch explain`` reads
                # the features of any row).
                con.execute(
                    "INSERT INTO req_kept SELECT * FROM req_features; DROP TABLE req_features"
                    if i
                    else "ALTER TABLE req_features RENAME TO req_kept"
                )
                if chunk is not None:
                    chunk.evidence(
                        "SELECT person_id FROM collapse_best "
                        f"WHERE row_number >= {lo} AND row_number < {hi}"
                    )
                if decider is None:
                    judge(lo, hi)
                if on_chunk is not None:
                    on_chunk(hi - lo)
                if on_window is not None:
                    on_window(hi)
        con.execute("ALTER TABLE req_kept RENAME TO req_features")
    finally:
        if chunk is not None:
            chunk.close()
        con.execute("DETACH ref")


def _ranges(con: duckdb.DuckDBPyConnection, chunk_rows: int) -> list[tuple[int, int]]:
    """Row-number ranges of at most ``chunk_rows`` valid rows each (one, possibly empty,
    range when the batch is smaller)."""
    lo, hi = con.execute("SELECT min(row_number), max(row_number) FROM valid").fetchall()[0]
    if lo is None:
        return [(0, 1)]
    step = max(1, chunk_rows)
    return [(start, min(start + step, int(hi) + 1)) for start in range(int(lo), int(hi) + 1, step)]
