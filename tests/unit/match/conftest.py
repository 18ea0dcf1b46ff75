"""The Spark tests' session (tests/unit/match/test_spark_*.py), shared by the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One small local session for the test run: the engine reuses the active session."""
    from taxmatch.match.spark_session import spark_session

    conf = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"}
    session = spark_session("local[2]", conf)
    assert session.conf.get("spark.ui.enabled") == "false"
    yield session
    session.stop()
