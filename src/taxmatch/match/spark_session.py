"""The Spark session the Spark engine scores on, and the SQL functions it needs.

The master URL is ``TAXMATCH_SPARK_MASTER`` (or the ``master`` given), else ``local[*]``;
``SPARK_REMOTE`` (``sc://HOST:PORT``) selects a Spark Connect session on that server
instead, which needs the client's packages (grpcio, grpcio-status,
googleapis-common-protos, zstandard). Memory and other settings come from ``spark_conf``
(``TAXMATCH_SPARK_DRIVER_MEMORY``, ``TAXMATCH_SPARK_EXECUTOR_MEMORY``, and anything
``spark-defaults.conf`` or ``spark-submit`` sets); a Connect session takes only the
runtime SQL settings (``spark.sql.*``), the rest being the server's. An existing session
of the kind asked for (a test's, a notebook's) is reused as it is. ``own_session`` gives
a chunk or a load a session of its own on the same cluster, in either kind.

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
from pathlib import Path
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
CONNECT_WAIT = 30.0  # seconds a Spark Connect server has to answer (its client retries ~10 min)
# What a Spark Connect client imports besides pyspark, pandas and pyarrow.
CONNECT_MODULES = ("grpc", "grpc_status", "google.rpc", "zstandard")


def check_spark() -> None:
    """EngineUnavailable unless pyspark is installed and (for a session this process
    starts) Java is found."""
    if importlib.util.find_spec("pyspark") is None:
        raise EngineUnavailable(
            "--engine spark: pyspark is not installed (pip install -r requirements.lock)"
        )
    if os.environ.get(REMOTE_ENV):  # Spark Connect: the server runs the JVM
        if any(_missing(name) for name in CONNECT_MODULES):
            raise EngineUnavailable(
                f"{REMOTE_ENV}: Spark Connect needs its client's packages "
                "(pip install -r requirements.lock)"
            )
        return
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and os.path.isdir(java_home)):
        raise EngineUnavailable("--engine spark: no Java found (install Java 17 or set JAVA_HOME)")


def _missing(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # its parent package is missing
        return True


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
    """The active Spark session, or a new one (``MASTER_ENV``; with ``REMOTE_ENV`` set, a
    Spark Connect session on that server; ``conf`` over ``spark_conf``'s settings), with
    ``SPARK_JARO_WINKLER`` registered."""
    check_spark()
    settings = {**spark_conf(master), **(conf or {})}
    remote = os.environ.get(REMOTE_ENV)
    if remote:
        return _connect_session(remote, settings)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        register_functions(active)
        return active
    # Local Python workers run this interpreter (and its packages).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder: Any = SparkSession.builder.appName("taxmatch")
    builder = builder.master(master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: Java missing or broken
        raise EngineUnavailable(
            f"--engine spark: Spark did not start ({type(exc).__name__})"
        ) from exc
    session.sparkContext.setLogLevel("ERROR")
    register_functions(session)
    return session


def _connect_session(remote: str, settings: Mapping[str, str]) -> Any:
    """The active Spark Connect session, or a new one on ``remote`` with the runtime SQL
    ``settings`` (the others are the server's). Built by the Connect client's own builder,
    so a classic session in this process (a test's) is neither reused nor disturbed."""
    try:
        from pyspark.sql.connect.session import SparkSession as ConnectSession
    except ImportError as exc:  # a client package too old
        raise EngineUnavailable(
            f"{REMOTE_ENV}: the Connect client does not load ({type(exc).__name__})"
        ) from None
    active = ConnectSession.getActiveSession()
    if active is None:
        if not _answers(remote):
            raise EngineUnavailable(
                f"{REMOTE_ENV}: no Spark Connect server answered within {CONNECT_WAIT:g} s"
            )
        builder = ConnectSession.builder.remote(remote)
        for key, value in settings.items():
            if key.startswith("spark.sql."):  # runtime settings: the rest are the server's
                builder = builder.config(key, value)
        try:
            active = builder.getOrCreate()
            active.version  # the server answers  # noqa: B018
        except Exception as exc:  # no server there, or it refused the session
            raise EngineUnavailable(
                f"{REMOTE_ENV}: no Spark Connect session ({type(exc).__name__})"
            ) from None
    register_functions(active)
    return active


def _answers(remote: str) -> bool:
    """Whether the Spark Connect server at ``remote`` accepts a connection within
    ``CONNECT_WAIT`` seconds."""
    import grpc
    from pyspark.sql.connect.client import DefaultChannelBuilder

    channel = DefaultChannelBuilder(remote).toChannel()
    try:
        grpc.channel_ready_future(channel).result(timeout=CONNECT_WAIT)
    except grpc.FutureTimeoutError:
        return False
    finally:
        channel.close()
    return True


def is_connect(session: Any) -> bool:
    """Whether ``session`` is a Spark Connect session (not a classic one)."""
    return type(session).__module__.startswith("pyspark.sql.connect.")


def own_session(session: Any) -> Any:
    """A session on ``session``'s cluster with its own temporary views, functions and
    SQL settings, ``SPARK_JARO_WINKLER`` registered. Classic: ``newSession`` (its settings
    the context's). Connect, which has no ``newSession``: ``cloneSession``, a new session
    on the server starting from ``session``'s settings (those ``spark_session`` set). The
    cache is the cluster's, shared by both. Release it with ``end_session``."""
    own = session.cloneSession() if is_connect(session) else session.newSession()
    register_functions(own)
    return own


def end_session(session: Any) -> None:
    """Release ``own_session``'s session: Connect, on the server (a classic one goes with
    its last reference; stopping it would stop the whole context)."""
    if is_connect(session):
        from pyspark.sql.connect.client.reattach import (
            ExecutePlanResponseReattachableIterator as Executions,
        )

        # Let the client finish releasing its executions first: released after the
        # session, each would be an error in the server's log.
        Executions.shutdown()
        session.client.release_session()
        session.client.close()


def spark_path(path: Path) -> str:
    """``path`` as Spark is given it to read or write: absolute, since a Spark Connect
    server resolves a relative path in its own working directory, not the service's."""
    return str(path.absolute())


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
    from pyspark.sql.types import DoubleType

    arrow_udf: Any = functions.arrow_udf  # its overloads take no pyarrow hints

    # By value: the executors need rapidfuzz and pyarrow, not taxmatch itself.
    by_value: Any = cloudpickle.register_pickle_by_value  # untyped in pyspark
    by_value(sys.modules[__name__])
    by_value(similarity)
    # A type, not the string "double": parsing a type's name needs a classic SparkContext.
    udf = arrow_udf(jaro_winkler_arrow, DoubleType())
    session.udf.register(SPARK_JARO_WINKLER, udf)
