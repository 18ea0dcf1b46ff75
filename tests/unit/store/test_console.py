"""Schema 0009 of the console's tables, on SQLite and PostgreSQL: existing officers are
enabled and existing sessions keep working (their idle clock starts at their creation);
downgrade to 0005 and upgrade again keep the rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine, inspect, text

from taxmatch.store import console as cs
from taxmatch.store.state import StateStore

from .test_state import _alembic


def test_0009_adds_disabled_and_last_seen_to_existing_rows(state_url: str) -> None:
    now = datetime.now(UTC)
    naive, later = now.replace(tzinfo=None), (now + timedelta(hours=1)).replace(tzinfo=None)
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "upgrade", "0005")
            conn.execute(
                text(
                    "INSERT INTO officers (username, role, password_hash, failed_logins, "
                    "created_at) VALUES ('olive', 'officer', 'x', 0, :t)"
                ),
                {"t": naive},
            )
            conn.execute(
                text(
                    "INSERT INTO console_sessions (token_sha256, username, created_at, "
                    "expires_at) VALUES ('a', 'olive', :c, :e)"
                ),
                {"c": naive, "e": later},
            )
    finally:
        engine.dispose()
    with StateStore(state_url) as state:  # upgrades to head on open
        officer = cs.find_officer(state, "olive")
        assert officer is not None
        assert officer.disabled is False
        assert cs.session_officer(state, "a", now, timedelta(minutes=30)) is not None
        assert (
            cs.session_officer(state, "a", now + timedelta(minutes=31), timedelta(minutes=30))
            is None
        )
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "0005")
            assert "disabled" not in {c["name"] for c in inspect(conn).get_columns("officers")}
            columns = {c["name"] for c in inspect(conn).get_columns("console_sessions")}
            assert "last_seen_at" not in columns
            assert conn.execute(text("SELECT count(*) FROM officers")).scalar_one() == 1
            _alembic(conn, "upgrade", "head")
            assert "disabled" in {c["name"] for c in inspect(conn).get_columns("officers")}
    finally:
        engine.dispose()
