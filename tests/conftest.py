"""Shared fixtures. State database: ``state_url`` runs a test on SQLite and on PostgreSQL.

The PostgreSQL variant creates a fresh, uniquely named schema per test (first on the
search path; safe under pytest-xdist and much cheaper than a database) on the server
named by ``TAXMATCH_TEST_POSTGRES_URL`` (default: trust auth on 127.0.0.1:5432, database
``test``) and drops it afterwards. It is skipped only when ``TAXMATCH_SKIP_POSTGRES=1``;
otherwise an unreachable server is an error, not a skip.
Other fixture sections may be appended below.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from sqlalchemy.engine import make_url

from taxmatch.store.state import StateStore

POSTGRES_ADMIN_URL = os.environ.get(
    "TAXMATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def postgres_skipped() -> bool:
    return os.environ.get("TAXMATCH_SKIP_POSTGRES") == "1"


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema (first on the search path), dropped after."""
    if postgres_skipped():
        pytest.skip("TAXMATCH_SKIP_POSTGRES=1")
    name = f"tm_{uuid.uuid4().hex}"
    admin_url = make_url(POSTGRES_ADMIN_URL)
    with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{name}"')
    try:
        options = {**admin_url.query, "options": f"-csearch_path={name}"}
        yield admin_url.set(query=options).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A state database URL, once per backend. The database itself is created on open."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'state.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def state_store(state_url: str) -> Iterator[StateStore]:
    """An open, migrated ``StateStore`` on each backend; closed after the test."""
    store = StateStore(state_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture(scope="session", autouse=True)
def _session_keyring(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("keyring") / "test.keys"
    with pytest.MonkeyPatch.context() as patch:  # before module fixtures make databases
        patch.setenv("TAXMATCH_KEYRING", str(path))
        yield path


@pytest.fixture(autouse=True)
def _test_keyring(_session_keyring: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One keyring for the test run (per worker), outside every store: a test that opens
    the same database twice, or a copy of it (module fixtures), or a PostgreSQL schema
    without a store directory, finds the same keys. Tests of the keyring's own location
    and life unset ``TAXMATCH_KEYRING`` or point it elsewhere."""
    monkeypatch.setenv("TAXMATCH_KEYRING", str(_session_keyring))
    return _session_keyring


@pytest.fixture(autouse=True)
def _fresh_cli_settings() -> Iterator[None]:
    """The CLI reads its settings from the environment once per process (cached); a test
    that sets TAXMATCH_* variables must not see another test's cached settings."""
    from taxmatch.cli.common import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection of the test's own, closed after it (a module may
    define its own ``con``, e.g. one shared by the module's tests)."""
    c = duckdb.connect()
    try:
        yield c
    finally:
        c.close()
