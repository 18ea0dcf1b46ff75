"""The batch's engine (``pipeline.matching``): chosen by ``BatchRequest.engine`` (the CLI's
``--engine`` / ``TAXMATCH_ENGINE``), refused clearly when unknown or unable to run, and
named in the matching event. The Spark engine's own matching is held to DuckDB's in
tests/unit/match/test_spark_engine.py; here its matcher is stood in for, so no JVM starts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from click.testing import CliRunner

from taxmatch.cli import main
from taxmatch.errors import BadArgument, EngineUnavailable
from taxmatch.match import collapse, spark_engine, spark_session
from taxmatch.match.judging import OUTCOME_SCHEMA, judge_batch
from taxmatch.match.probabilistic import duckdb_pairs
from taxmatch.pipeline.batch import BatchRequest, run_batch
from taxmatch.pipeline.matching import check_engine
from taxmatch.pipeline.reference import load_reference_snapshot

from .conftest import AS_OF, read_package, request_row, write_envelope, write_requests


def _request(tmp: Path, store: Path, **changes: Any) -> BatchRequest:
    tmp.mkdir(exist_ok=True)
    return BatchRequest(
        store=store,
        requests=write_requests(tmp / "r.csv", [request_row(1)]),
        envelope=write_envelope(tmp / "e.json"),
        out=tmp / "out",
        as_of=AS_OF,
        database_url=f"sqlite:///{tmp / 's.sqlite3'}",
        shadow_probes=False,
        **changes,
    )


def test_unknown_engine_is_refused(model_store: Path, tmp_path: Path) -> None:
    with pytest.raises(BadArgument, match="unknown engine 'hadoop'"):
        run_batch(_request(tmp_path, model_store, engine="hadoop"))


def test_spark_runs_the_probabilistic_matcher_only() -> None:
    with pytest.raises(EngineUnavailable, match="probabilistic matcher only"):
        check_engine("spark", "exact")


def test_missing_pyspark_or_java_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spark_session.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineUnavailable, match="pyspark is not installed") as caught:
        check_engine("spark", "probabilistic")
    assert caught.value.code == "TM140"
    monkeypatch.undo()
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_session.shutil, "which", lambda name: None)
    with pytest.raises(EngineUnavailable, match="no Java found"):
        check_engine("spark", "probabilistic")


def test_spark_connect_without_its_client_or_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``SPARK_REMOTE``: TM140 when the Connect client's packages are missing, and when no
    server answers there (at once, not after the client's minutes of retries)."""
    monkeypatch.setenv("SPARK_REMOTE", "sc://127.0.0.1:9")  # nothing listens there
    find_spec = spark_session.importlib.util.find_spec
    monkeypatch.setattr(
        spark_session.importlib.util,
        "find_spec",
        lambda name: None if name == "zstandard" else find_spec(name),
    )
    with pytest.raises(EngineUnavailable, match="needs its client's packages") as caught:
        check_engine("spark", "probabilistic")
    assert caught.value.code == "TM140"
    monkeypatch.setattr(spark_session.importlib.util, "find_spec", find_spec)
    check_engine("spark", "probabilistic")  # the client is installed
    monkeypatch.setattr(spark_session, "CONNECT_WAIT", 0.5)
    with pytest.raises(EngineUnavailable, match="no Spark Connect server answered"):
        spark_session.spark_session()


def test_cli_refuses_an_unknown_engine_from_the_environment(tmp_path: Path) -> None:
    files = ("--requests", __file__, "--envelope", __file__)
    result = CliRunner().invoke(
        main,
        ["batch", "run", "--store", str(tmp_path), "--out", str(tmp_path / "out"), *files],
        env={"TAXMATCH_ENGINE": "hadoop"},
    )
    assert result.exit_code == 2
    assert "Invalid value for '--engine'" in result.output


def test_reference_load_chooses_its_engine_as_batch_run_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reference load`` reads ``--engine`` / ``TAXMATCH_ENGINE`` as ``batch run`` does,
    and refuses Spark where it cannot run before it writes anything."""
    master = tmp_path / "master.csv"
    master.write_text("tin,tax_year\n")
    store = tmp_path / "store"
    result = CliRunner().invoke(
        main,
        ["reference", "load", "--store", str(store), str(master)],
        env={"TAXMATCH_ENGINE": "hadoop"},
    )
    assert result.exit_code == 2
    assert "Invalid value for '--engine'" in result.output
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark_session.shutil, "which", lambda name: None)
    with pytest.raises(EngineUnavailable, match="no Java found") as caught:
        load_reference_snapshot(store, [master], engine="spark")
    assert caught.value.code == "TM140"
    with pytest.raises(BadArgument, match="unknown engine 'hadoop'"):
        load_reference_snapshot(store, [master], engine="hadoop")
    assert not store.exists()


def test_spark_engine_scores_the_batch(
    model_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    """``engine="spark"`` hands each chunk to the Spark engine's matcher (here a stand-in
    that scores, ranks, gathers and judges with DuckDB, as the Spark engine does on
    Spark), whose outcomes decide as the DuckDB engine's do."""
    used: list[Path] = []

    class StandIn:
        def __init__(self, options: spark_engine.SparkOptions, snapshot_id: str) -> None:
            used.append(options.reference_root)

        @contextmanager
        def __call__(
            self, con: duckdb.DuckDBPyConnection, settings: Any, review: float, margin: float
        ) -> Iterator[str]:
            con.execute("DROP TABLE IF EXISTS collapse_best")
            with duckdb_pairs(con, settings) as pairs:
                collapse.rank_into(con, pairs, review, margin)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE collapse_part AS "
                f"SELECT {', '.join(collapse.REQUEST_COLUMNS)} FROM valid_part"
            )
            collapse._gather(con, "ref")
            reader = con.sql("SELECT * FROM collapse_in").to_arrow_reader(1000)
            judged = pa.Table.from_batches(map(judge_batch, reader), schema=OUTCOME_SCHEMA)
            con.register("stand_in_outcomes", judged)
            yield "stand_in_outcomes"
            con.unregister("stand_in_outcomes")

    monkeypatch.setattr(spark_engine, "SparkMatcher", StandIn)
    monkeypatch.setattr(spark_session, "check_spark", lambda: None)
    caplog.set_level(logging.INFO, logger="taxmatch")
    spark = run_batch(_request(tmp_path / "s", model_store, engine="spark"))
    assert used == [model_store / "spark"]
    assert "engine=spark" in caplog.text
    duck = run_batch(_request(tmp_path / "d", model_store))
    assert read_package(spark.package)["disclosed"][0]["street_address"] == "77 PINE ST"
    assert spark.counts == duck.counts
