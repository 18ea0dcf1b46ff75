"""The Spark session the Spark engine scores on, and the SQL functions it needs.

The master URL is ``TAXMATCH_SPARK_MASTER`` (or the ``master`` given), else ``local[*]``;
``SPARK_REMOTE`` selects Spark Connect instead (untested here: it needs pyspark's
``connect`` extra and a server). Memory and other settings come from ``spark_conf``
(``TAXMATCH_SPARK_DRIVER_MEMORY``, ``TAXMATCH_SPARK_EXECUTOR_MEMORY``, and anything
``spark-defaults.conf`` or ``spark-submit`` sets). An existing session (a test's, a
notebook's) is reused as it is.

The comparison levels' Jaro-Winkler on Spark is ``SPARK_JARO_WINKLER``: an Arrow UDF over
``similarity.jaro_winkler`` (rapidfuzz, DuckDB's measure to the last bit or so), shipped to
the executors by value, so their Python needs rapidfuzz and pyarrow but not taxmatch.
Never logs a value.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from taxmatch.errors import EngineUnavailable
from taxmatch.match import similarity
from taxmatch.match.levels import SPARK_JARO_WINKLER
from taxmatch.match.similarity import jaro_winkler

MASTER_ENV = "TAXMATCH_SPARK_MASTER"
REMOTE_ENV = "SPARK_REMOTE"
DRIVER_MEMORY_ENV = "TAXMATCH_SPARK_DRIVER_MEMORY"
EXECUTOR_MEMORY_ENV = "TAXMATCH_SPARK_EXECUTOR_MEMORY"
DEFAULT_MASTER = "local[*]"


def check_spark() -> None:
    """EngineUnavailable unless pyspark is installed and (for a session this process
    starts) Java is found."""
    if importlib.util.find_spec("pyspark") is None:
        raise EngineUnavailable(
            "--engine spark: pyspark is not installed (pip install -r requirements.lock)"
        )
    if os.environ.get(REMOTE_ENV):
        return  # Spark Connect: the server runs the JVM
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.isdir(java_home)):
        raise EngineUnavailable("--engine spark: no Java found (install Java 17 or set JAVA_HOME)")


def spark_conf(master: str | None = None) -> dict[str, str]:
    """The settings a session this process starts is built with (the master aside)."""
    conf = {
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.memory": os.environ.get(DRIVER_MEMORY_ENV, "2g"),
        # Splink's predict output is small; few shuffle partitions suit a batch's chunk.
        "spark.sql.shuffle.partitions": "16",
        "spark.ui.showConsoleProgress": "false",
    }
    executor = os.environ.get(EXECUTOR_MEMORY_ENV)
    if executor:
        conf["spark.executor.memory"] = executor
    if (master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER).startswith("local"):
        conf["spark.ui.enabled"] = "false"
    return conf


def spark_session(master: str | None = None, conf: Mapping[str, str] | None = None) -> Any:
    """The active Spark session, or a new one (``MASTER_ENV``, ``REMOTE_ENV``; ``conf``
    over ``spark_conf``'s settings), with ``SPARK_JARO_WINKLER`` registered."""
    check_spark()
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        register_functions(active)
        return active
    # Local Python workers run this interpreter (and its packages).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder: Any = SparkSession.builder.appName("taxmatch")
    remote = os.environ.get(REMOTE_ENV)
    if remote:
        if importlib.util.find_spec("grpc") is None:
            raise EngineUnavailable(f"{REMOTE_ENV}: Spark Connect needs pyspark's connect extra")
        builder = builder.remote(remote)
    else:
        builder = builder.master(master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER)
        for key, value in {**spark_conf(master), **(conf or {})}.items():
            builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: Java missing or broken
        raise EngineUnavailable(
            f"--engine spark: Spark did not start ({type(exc).__name__})"
        ) from exc
    if not remote:
        session.sparkContext.setLogLevel("ERROR")
    register_functions(session)
    return session


def jaro_winkler_arrow(left: pa.Array, right: pa.Array) -> pa.Array:
    """``similarity.jaro_winkler`` over two Arrow string arrays (NULL stays NULL)."""
    out = [
        None if a is None or b is None else jaro_winkler(a, b)
        for a, b in zip(left.to_pylist(), right.to_pylist(), strict=True)
    ]
    return pa.array(out, pa.float64())


def register_functions(session: Any) -> None:
    """Register ``SPARK_JARO_WINKLER`` in ``session`` (again is harmless)."""
    from pyspark import cloudpickle
    from pyspark.sql.pandas import functions

    arrow_udf: Any = functions.arrow_udf  # its overloads take no pyarrow hints

    # By value: the executors need rapidfuzz and pyarrow, not taxmatch itself.
    by_value: Any = cloudpickle.register_pickle_by_value  # untyped in pyspark
    by_value(sys.modules[__name__])
    by_value(similarity)
    session.udf.register(SPARK_JARO_WINKLER, arrow_udf(jaro_winkler_arrow, "double"))
