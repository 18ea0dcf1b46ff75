"""The Spark tests' session (tests/unit/match/test_spark_*.py), shared by the run.

``spark`` is one small classic local session. With ``TAXMATCH_TEST_SPARK_CONNECT=1`` its
driver also serves Spark Connect on a free loopback port (Spark's own
``SparkConnectPlugin``), and ``connect`` names it (``sc://127.0.0.1:PORT``): a Spark
Connect server on the same cluster, with no second JVM to start.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

CONNECT_OPT_IN = "TAXMATCH_TEST_SPARK_CONNECT"  # "1": run the Spark Connect tests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def connect_port() -> int | None:
    return _free_port() if os.environ.get(CONNECT_OPT_IN) == "1" else None


@pytest.fixture(scope="session")
def spark(connect_port: int | None) -> Iterator[Any]:
    """One small local session for the test run: the engine reuses the active session."""
    from taxmatch.match.spark_session import spark_session

    conf = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "1g"}
    if connect_port is not None:
        conf["spark.plugins"] = "org.apache.spark.sql.connect.SparkConnectPlugin"
        conf["spark.connect.grpc.binding.address"] = "127.0.0.1"
        conf["spark.connect.grpc.binding.port"] = str(connect_port)
    session = spark_session("local[2]", conf)
    assert session.conf.get("spark.ui.enabled") == "false"
    yield session
    session.stop()


@pytest.fixture
def connect(spark: Any, connect_port: int | None) -> str:
    """``SPARK_REMOTE`` for ``spark``'s Spark Connect server."""
    assert connect_port is not None, f"{CONNECT_OPT_IN}=1 starts the server"
    return f"sc://127.0.0.1:{connect_port}"
