"""Reads and writes of the console's accounts: officers and sessions (the review queue,
reviews and releases are ``taxmatch.store.review``). A log-in or log-out appends its
ledger entry in the same transaction (``StateStore.writing``) as the row it changes.

Must never put a password, a token or a data value into a ledger payload or an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, delete, false, func, literal, null, or_, select, type_coerce

from taxmatch.errors import StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store.edge_models import console_sessions, officers
from taxmatch.store.models import UTCDateTime, find_one, from_row, has_row
from taxmatch.store.service import token_sha256 as token_sha256
from taxmatch.store.state import StateStore


@dataclass(frozen=True, slots=True)
class Officer:
    username: str
    role: str
    password_hash: str = field(repr=False)
    failed_logins: int
    locked_until: datetime | None
    disabled: bool = False


# --- officers and sessions ----------------------------------------------------------------


def add_officer(
    state: StateStore, username: str, role: str, password_hash: str, draft: LedgerDraft
) -> None:
    with state.writing("add_officer") as conn:
        if has_row(conn, officers.c.username, username):
            raise StoreError(f"officer {username} already exists")
        conn.execute(
            officers.insert(),
            {
                "username": username,
                "role": role,
                "password_hash": password_hash,
                "failed_logins": 0,
                "created_at": datetime.now(UTC),
            },
        )
        state.append(conn, [draft])


def find_officer(state: StateStore, username: str) -> Officer | None:
    query = select(officers).where(officers.c.username == username)
    return find_one(state, "find_officer", Officer, query)


@dataclass(frozen=True, slots=True)
class LoginClaim:
    """One log-in attempt, counted before its password is checked.

    ``status``: "claimed" (check the password against ``password_hash``), "locked",
    "disabled" or "unknown" (refuse; the caller still spends one verification on a dummy
    hash).
    """

    status: str
    password_hash: str = field(default="", repr=False)
    locks: bool = False  # this attempt reached the lock count: the account is now locked


def claim_login(
    state: StateStore, username: str, *, now: datetime, lock_after: int, lock_until: datetime
) -> LoginClaim:
    """Count one log-in attempt as a failure *before* its password is checked.

    One ``UPDATE ... RETURNING`` on the officer's row: concurrent attempts are serialised
    on it (PostgreSQL re-checks the WHERE clause after a concurrent update commits; SQLite
    takes the write lock at BEGIN), so no more than ``lock_after`` attempts are claimed
    before the lock holds, however many arrive at once. A success clears the count
    (``finish_login``).
    """
    counted = officers.c.failed_logins + 1
    reaches = counted >= lock_after
    query = (
        officers.update()
        .where(
            officers.c.username == username,
            officers.c.disabled == false(),
            or_(officers.c.locked_until.is_(None), officers.c.locked_until <= now),
        )
        .values(
            failed_logins=case((reaches, 0), else_=counted),
            locked_until=case((reaches, literal(lock_until, UTCDateTime())), else_=null()),
        )
        .returning(officers.c.password_hash, officers.c.locked_until)
    )
    with state.writing("claim_login") as conn:
        row = conn.execute(query).first()
        if row is not None:
            return LoginClaim("claimed", row.password_hash, row.locked_until is not None)
        found = conn.execute(select(officers.c.disabled).where(officers.c.username == username))
        other = found.first()
    if other is None:
        return LoginClaim("unknown")
    return LoginClaim("disabled" if other.disabled else "locked")


def finish_login(
    state: StateStore, username: str, *, ok: bool, drafts: Sequence[LedgerDraft]
) -> None:
    """Record a checked attempt: a success clears the count and any lock its own claim set."""
    with state.writing("finish_login") as conn:
        if ok:
            values = {"failed_logins": 0, "locked_until": None}
            conn.execute(officers.update().where(officers.c.username == username).values(values))
        state.append(conn, drafts)


def create_session(state: StateStore, token_hash: str, username: str, expires: datetime) -> None:
    with state.writing("create_session") as conn:
        now = datetime.now(UTC)
        conn.execute(delete(console_sessions).where(console_sessions.c.expires_at < now))
        conn.execute(
            console_sessions.insert(),
            {
                "token_sha256": token_hash,
                "username": username,
                "created_at": now,
                "expires_at": expires,
                "last_seen_at": now,
            },
        )


TOUCH_EVERY = timedelta(minutes=1)  # a session's idle clock is reset at most this often


def session_officer(
    state: StateStore, token_hash: str, now: datetime, idle: timedelta
) -> Officer | None:
    """The officer of a live session, or None: unknown token, expired, idle for ``idle``
    or longer, or the officer disabled. Using a session resets its idle clock."""
    seen = type_coerce(
        func.coalesce(console_sessions.c.last_seen_at, console_sessions.c.created_at),
        UTCDateTime(),
    )
    query = (
        select(officers, seen.label("seen"))
        .join(console_sessions, console_sessions.c.username == officers.c.username)
        .where(
            console_sessions.c.token_sha256 == token_hash,
            console_sessions.c.expires_at > now,
            seen > literal(now - idle, UTCDateTime()),
            officers.c.disabled == false(),
        )
    )
    with state.reading("session_officer") as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    if now - row.seen >= TOUCH_EVERY:
        with state.writing("touch_session") as conn:
            conn.execute(
                console_sessions.update()
                .where(console_sessions.c.token_sha256 == token_hash)
                .values(last_seen_at=now)
            )
    return from_row(Officer, row)


def change_officer(
    state: StateStore,
    username: str,
    draft: LedgerDraft,
    *,
    values: Mapping[str, object],
    end_sessions: bool,
) -> int | None:
    """Change an officer's row (``values``; may be empty) and, with ``end_sessions``, end
    every session of theirs, with ``draft`` in the same transaction. The number of
    sessions ended; None when there is no such officer (nothing written)."""
    with state.writing("change_officer") as conn:
        if not has_row(conn, officers.c.username, username):
            return None
        if values:
            conn.execute(officers.update().where(officers.c.username == username).values(values))
        ended = 0
        if end_sessions:
            result = conn.execute(
                delete(console_sessions).where(console_sessions.c.username == username)
            )
            ended = int(result.rowcount or 0)
        state.append(conn, [draft])
    return ended


def end_session(state: StateStore, token_hash: str, draft: LedgerDraft) -> None:
    with state.writing("end_session") as conn:
        conn.execute(delete(console_sessions).where(console_sessions.c.token_sha256 == token_hash))
        state.append(conn, [draft])
