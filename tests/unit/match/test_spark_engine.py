"""The Spark engine decides as the DuckDB engine does (``taxmatch.match.spark_engine``).

A generated population (2,000 people) and a generated request batch (with the generator's
noise, invalid rows and people not in the master) are run as a batch (DuckDB engine);
its validated workspace is then matched again by ``match_probabilistic`` with each
engine: DuckDB's pair scorer, ranking and judging in the workspace; Spark's matcher
(``SparkMatcher``: scoring, ranking, gathering and judging on one local session,
``local[2]``), of which only the outcomes come back. The Spark ``outcomes`` must be
DuckDB's row by row (a difference is allowed only where a score lies within ``EPSILON``
of a threshold, and the test lists those), and every scored pair's match weight DuckDB's
within ``EPSILON``. The DuckDB re-run must also equal the batch's own outcomes.

The same comparison through Spark Connect (``SPARK_REMOTE``) runs when asked for
(``TAXMATCH_TEST_SPARK_CONNECT=1``): it costs about as much CPU again as the classic one.
Needs Java; skipped only where there is none.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from taxmatch.generate import generate_population, generate_requests
from taxmatch.match.chunk_ref import ChunkReference
from taxmatch.match.dialect import NotTheDeclaredModel, settings_in_dialect
from taxmatch.match.model import ModelInfo, load_model_info, load_settings
from taxmatch.match.probabilistic import (
    ChunkDecider,
    PairScorer,
    duckdb_pairs,
    match_probabilistic,
)
from taxmatch.match.spark_engine import (
    EXPORT_TABLES,
    EXPORTED,
    SparkMatcher,
    SparkOptions,
    export_reference,
    exported,
)
from taxmatch.match.spark_session import is_connect
from taxmatch.match.thresholds import CANDIDATE_FLOOR
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.reference import load_reference_snapshot, train_current_model
from taxmatch.reference.snapshot import ReferenceInfo, current_reference

from ...integration.conftest import AS_OF
from .conftest import CONNECT_OPT_IN

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("java") is None, reason="the Spark engine needs Java"),
]

ROOT = Path(__file__).resolve().parents[3]  # the repository: ``tests`` is importable from it
EPSILON = 1e-9
PEOPLE, ROWS = 2000, 300
DISCLOSE, REVIEW, MARGIN = 0.999, 0.98, 5.0  # the default policy's thresholds


@dataclass(frozen=True)
class Matched:
    outcomes: list[dict[str, Any]]
    pairs: dict[tuple[str, str], float]


@dataclass(frozen=True)
class Generated:
    store: Path
    batch: Path  # the DuckDB batch's workspace
    reference: ReferenceInfo
    model: ModelInfo


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    root = tmp_path_factory.mktemp("spark")
    generate_population(people=PEOPLE, years=(2019, 2025), seed=23, out=root / "pop")
    generate_requests(population=root / "pop", rows=ROWS, seed=24, out=root / "req", as_of=AS_OF)
    store = root / "store"
    load_reference_snapshot(store, [root / "pop" / "master.parquet"])
    train_current_model(store)
    result = run_batch(
        BatchRequest(
            store=store,
            requests=root / "req" / "requests.csv",
            envelope=root / "req" / "envelope.json",
            out=root / "out",
            as_of=AS_OF,
            database_url=f"sqlite:///{root / 'state.sqlite3'}",
            shadow_probes=False,
        )
    )
    reference = current_reference(store)
    model = load_model_info(store, reference.snapshot_id)
    return Generated(store, store / "work" / result.batch_id / "work.duckdb", reference, model)


def _pairs(con: duckdb.DuckDBPyConnection, table: str) -> dict[tuple[str, str], float]:
    rows = con.execute(f"SELECT unique_id_l, unique_id_r, match_weight FROM {table}").fetchall()
    return {(str(left), str(right)): float(w) for left, right, w in rows}


def _outcomes(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = con.execute("SELECT * FROM outcomes ORDER BY row_number")
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


class RecordingMatcher(SparkMatcher):
    """The Spark engine's matcher, which also collects the pairs it scores."""

    def __init__(self, options: SparkOptions, snapshot_id: str) -> None:
        super().__init__(options, snapshot_id)
        self.pairs: dict[tuple[str, str], float] = {}

    def scored(self, session: Any, settings: dict[str, Any]) -> Any:
        pairs = super().scored(session, settings)
        rows = pairs.select("unique_id_l", "unique_id_r", "match_weight").collect()
        self.pairs.update({(str(left), str(right)): float(w) for left, right, w in rows})
        return pairs


def _match(
    g: Generated,
    tmp: Path,
    scorer: PairScorer = duckdb_pairs,
    decider: ChunkDecider | None = None,
    chunk_rows: int | None = None,
) -> list[dict[str, Any]]:
    """The outcomes of the batch's validated workspace (a copy) matched again with
    ``scorer`` (or ``decider``)."""
    copy = tmp / f"work-{len(list(tmp.glob('work-*')))}.duckdb"
    shutil.copyfile(g.batch, copy)
    con = duckdb.connect(str(copy))
    try:
        match_probabilistic(
            con,
            g.reference.path,
            g.model,
            review_threshold=REVIEW,
            min_margin_log2=MARGIN,
            chunk_rows=chunk_rows,
            scorer=scorer,
            decider=decider,
        )
        return _outcomes(con)
    finally:
        con.close()


def _recording(pairs: dict[tuple[str, str], float]) -> PairScorer:
    """DuckDB's pair scorer, recording the pairs it scores in ``pairs``."""

    @contextmanager
    def recording(
        con: duckdb.DuckDBPyConnection, settings: dict[str, Any], index: ChunkReference | None
    ) -> Iterator[str]:
        with duckdb_pairs(con, settings, index) as table:
            pairs.update(_pairs(con, table))
            yield table

    return recording


def _near_threshold(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Either run's score or margin within EPSILON of a threshold the rules compare to."""
    near = [("score", DISCLOSE), ("score", REVIEW), ("margin_log2", MARGIN)]
    return any(abs(r[k] - t) <= EPSILON for k, t in near for r in (a, b))


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(
        math.isclose(a[k], b[k], rel_tol=0, abs_tol=EPSILON)
        if isinstance(b[k], float)
        else a[k] == b[k]
        for k in b
    )


@pytest.fixture(scope="module")
def duck(generated: Generated, tmp_path_factory: pytest.TempPathFactory) -> Matched:
    """The DuckDB engine's outcomes and pairs, matching again the batch's workspace."""
    con = duckdb.connect(str(generated.batch), read_only=True)
    try:
        batch = _outcomes(con)
    finally:
        con.close()
    pairs: dict[tuple[str, str], float] = {}
    matched = Matched(_match(generated, tmp_path_factory.mktemp("duck"), _recording(pairs)), pairs)
    assert matched.outcomes == batch  # the re-run is the batch's own matching
    return matched


def test_spark_scores_and_decides_as_duckdb(
    generated: Generated, duck: Matched, spark: Any, tmp_path: Path
) -> None:
    """One test, so that one worker builds the population, the model and the batch."""
    options = SparkOptions(reference_root=tmp_path / "spark", work=tmp_path / "exchange")
    matcher = RecordingMatcher(options, generated.reference.snapshot_id)
    ours = Matched(_match(generated, tmp_path, decider=matcher), matcher.pairs)
    assert not is_connect(matcher.session())
    assert not (tmp_path / "exchange").exists()  # each chunk's Parquet is removed
    assert not dict(spark.sparkContext._jsc.getPersistentRDDs())  # nor is anything kept
    _as_duckdb(ours, duck, "classic")
    _an_older_export_is_replaced(generated, tmp_path / "spark")
    _spark_settings_are_the_saved_models(generated)


@pytest.mark.skipif(
    os.environ.get(CONNECT_OPT_IN) != "1",
    reason=f"Spark Connect parity: opt in with {CONNECT_OPT_IN}=1 (about a minute of CPU)",
)
def test_spark_connect_scores_and_decides_as_duckdb(
    generated: Generated, duck: Matched, spark: Any, connect: str, tmp_path: Path
) -> None:
    """The same matching through a Spark Connect session (``SPARK_REMOTE``) of the test
    run's cluster, from a process of its own (``connect_client``): one where no classic
    session exists, as in a service that only has the Connect client. Its paths are
    relative to its own working directory, which is not the server's."""
    job = tmp_path / "job.pickle"
    job.write_bytes(pickle.dumps(generated))
    env = {
        **os.environ,
        "SPARK_REMOTE": connect,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    client = "from tests.unit.match.test_spark_engine import connect_client; connect_client()"
    subprocess.run([sys.executable, "-c", client, job.name], cwd=tmp_path, env=env, check=True)
    ours: Matched = pickle.loads((tmp_path / "matched.pickle").read_bytes())
    assert not (tmp_path / "exchange").exists()  # each chunk's Parquet is removed
    assert not dict(spark.sparkContext._jsc.getPersistentRDDs())  # nor is anything kept
    _as_duckdb(ours, duck, "connect")


def connect_client() -> None:
    """The Connect test's client (run in its working directory, ``SPARK_REMOTE`` set):
    matches the pickled ``Generated`` named by its argument with the Spark engine, whose
    paths are relative, and pickles the outcomes and pairs to ``matched.pickle``."""
    from pyspark import SparkContext

    generated: Generated = pickle.loads(Path(sys.argv[1]).read_bytes())
    options = SparkOptions(reference_root=Path("spark"), work=Path("exchange"))
    matcher = RecordingMatcher(options, generated.reference.snapshot_id)
    outcomes = _match(generated, Path.cwd(), decider=matcher)
    assert is_connect(matcher.session())
    assert SparkContext._active_spark_context is None  # no classic session here
    matcher.session().stop()
    Path("matched.pickle").write_bytes(pickle.dumps(Matched(outcomes, matcher.pairs)))


def _as_duckdb(ours: Matched, duck: Matched, kind: str) -> None:
    """Every pair weighed and every outcome decided as DuckDB does."""
    # Every pair, as DuckDB weighs it (a pair only one engine kept lies at the floor).
    floor = math.log2(CANDIDATE_FLOOR / (1 - CANDIDATE_FLOOR))
    weights = {**duck.pairs, **ours.pairs}
    only = set(ours.pairs) ^ set(duck.pairs)
    assert all(abs(weights[k] - floor) <= EPSILON for k in only), "pairs only one engine kept"
    common = set(ours.pairs) & set(duck.pairs)
    assert len(common) > ROWS  # the batch's requests found their candidates
    worst = max(abs(ours.pairs[k] - duck.pairs[k]) for k in common)
    assert worst <= EPSILON

    # Every decision's inputs, row by row.
    assert len(ours.outcomes) == len(duck.outcomes) > ROWS // 2
    at_threshold = []
    for s, d in zip(ours.outcomes, duck.outcomes, strict=True):
        assert s["row_number"] == d["row_number"]
        if not _same(s, d):
            assert _near_threshold(s, d), f"row {d['row_number']} differs"
            at_threshold.append(d["row_number"])
    print(
        f"{kind}: {len(common)} pairs compared (largest weight difference {worst:.3g}); "
        f"{len(ours.outcomes)} outcomes compared; at a threshold, allowed to differ: {at_threshold}"
    )


def _an_older_export_is_replaced(g: Generated, root: Path) -> None:
    """The export is whole; one whose marker does not name every table (made before the
    person tables were exported) is made again."""
    snapshot_id = g.reference.snapshot_id
    target = root / snapshot_id
    assert exported(target, snapshot_id)
    (target / EXPORTED).write_text(snapshot_id + "\n")
    shutil.rmtree(target / "persons")
    assert not exported(target, snapshot_id)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{g.reference.path}' AS ref (READ_ONLY)")
        assert export_reference(con, root, snapshot_id) == target
    finally:
        con.close()
    assert exported(target, snapshot_id)
    assert {p.name for p in target.iterdir()} == {EXPORTED, *EXPORT_TABLES}
    assert [p.name for p in root.iterdir()] == [snapshot_id]  # nothing left aside
    assert all(p.stat().st_mode & 0o077 == 0 for p in (target, *target.rglob("*")))


def _spark_settings_are_the_saved_models(g: Generated) -> None:
    saved = load_settings(g.model)
    spark = settings_in_dialect(saved, "spark")
    levels = [lv for c in spark["comparisons"] for lv in c["comparison_levels"]]
    trained = [lv for c in saved["comparisons"] for lv in c["comparison_levels"]]
    for key in ("m_probability", "u_probability"):
        assert [lv.get(key) for lv in levels] == [lv.get(key) for lv in trained]
    assert not any("jaro_winkler_similarity" in lv["sql_condition"] for lv in levels)
    assert settings_in_dialect(saved, "duckdb")["comparisons"] == saved["comparisons"]
    altered = json.loads(json.dumps(saved))
    altered["comparisons"][0]["comparison_levels"][1]["sql_condition"] = "true"
    with pytest.raises(NotTheDeclaredModel):
        settings_in_dialect(altered, "spark")
