"""Console officers: accounts (argon2 password hashes), log-in with lockout, sessions.

``add_officer`` and the administration below it (disable, enable, unlock, reset a
password, revoke sessions) are what ``taxmatch officer ...`` calls; ``log_in``,
``session_of`` and ``log_out`` are what the console calls. Every log-in, failure, lock-out,
log-out and administrative change is a ledger event (actor: the username or the
administrator; origin: the caller's address) with ids only.

Must never: store, log or put into an error a password or session token (only an argon2
hash and a sha256 are stored), or tell a caller whether a username exists.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from taxmatch.errors import TaxmatchError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.policy.model import ConsolePolicy
from taxmatch.store import console as cs
from taxmatch.store.edge_models import ROLES
from taxmatch.store.state import StateStore

_RULES: Final = ConsolePolicy()  # lockout and idle rules when no policy is given
LOCK_AFTER: Final = _RULES.lock_after  # failed log-ins in a row (the default policy's)
SESSION_FOR: Final = timedelta(hours=8)
MIN_PASSWORD: Final = 12
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_HASHER = PasswordHasher()
# Verified against when the username is unknown or the account locked or disabled, so
# every failure costs what a wrong password costs.
_DUMMY_HASH: Final = _HASHER.hash("taxmatch-no-such-officer")
_NO_SUCH_NAME: Final = "-"  # stands in for a malformed username: no officer has it


class OfficerError(TaxmatchError):
    """A console account cannot be created as asked (bad username, role or password)."""

    code = "TM800"
    exit_status = 2


@dataclass(frozen=True, slots=True)
class LoginResult:
    ok: bool
    token: str | None = None
    officer: cs.Officer | None = None


def add_officer(
    state: StateStore, username: str, role: str, password: str, *, actor: str, origin: str
) -> None:
    """Create a console account. Usernames are lower-case ids, never a person's name."""
    if not _USERNAME.match(username):
        raise OfficerError("username must be 2-64 characters: a-z first, then a-z 0-9 . _ -")
    if role not in ROLES:
        raise OfficerError(f"role must be one of {', '.join(ROLES)}")
    _check_password(password)
    draft = LedgerDraft("officer_added", actor, origin, True, username, {"role": role})
    cs.add_officer(state, username, role, _HASHER.hash(password), draft)


def log_in(
    state: StateStore,
    username: str,
    password: str,
    *,
    origin: str,
    rules: ConsolePolicy = _RULES,
    now: datetime | None = None,
) -> LoginResult:
    """Check a password; on success open a session and return its token (for the cookie).

    The attempt is counted (and the account locked at ``rules.lock_after``) before the
    password is checked, atomically, so parallel attempts cannot outrun the lock. Every
    failure gives the same answer for the same work: one claim on the account's row and
    one argon2 verification, against a dummy hash when the username is unknown or the
    account locked or disabled: neither the answer nor its timing tells that an account
    exists or is locked.
    """
    moment = now or datetime.now(UTC)
    name = username if _USERNAME.match(username) else _NO_SUCH_NAME
    claim = cs.claim_login(
        state,
        name,
        now=moment,
        lock_after=rules.lock_after,
        lock_until=moment + timedelta(minutes=rules.lock_minutes),
    )
    if claim.status != "claimed":
        _verify(_DUMMY_HASH, password)
        if claim.status == "unknown":
            draft = LedgerDraft("login_failed", "unknown", origin, False, "console")
        else:
            draft = LedgerDraft(f"login_refused_{claim.status}", name, origin, False, "console")
        state.append_ledger([draft])
        return LoginResult(ok=False)
    ok = _verify(claim.password_hash, password)
    drafts = [LedgerDraft("login" if ok else "login_failed", name, origin, ok, "console")]
    if claim.locks and not ok:
        drafts.append(
            LedgerDraft("officer_locked", name, origin, True, name, {"minutes": rules.lock_minutes})
        )
    cs.finish_login(state, name, ok=ok, drafts=drafts)
    if not ok:
        return LoginResult(ok=False)
    officer = cs.find_officer(state, name)
    token = secrets.token_urlsafe(32)
    cs.create_session(state, cs.token_sha256(token), name, moment + SESSION_FOR)
    return LoginResult(ok=True, token=token, officer=officer)


def session_of(
    state: StateStore, token: str | None, *, idle_minutes: int = _RULES.idle_minutes
) -> cs.Officer | None:
    """The officer of a live session: not expired, used within ``idle_minutes``, not
    disabled. None otherwise (the console sends the browser to the log-in form)."""
    if not token or len(token) > 128:
        return None
    idle = timedelta(minutes=idle_minutes)
    return cs.session_officer(state, cs.token_sha256(token), datetime.now(UTC), idle)


def log_out(state: StateStore, token: str, username: str, *, origin: str) -> None:
    cs.end_session(
        state, cs.token_sha256(token), LedgerDraft("logout", username, origin, True, "console")
    )


# --- administration (``taxmatch officer ...``) ---------------------------------------------


def disable_officer(state: StateStore, username: str, *, actor: str, origin: str) -> int:
    """Disable an account: it cannot log in and its sessions end. Sessions ended."""
    return _change(state, username, "officer_disabled", actor, origin, {"disabled": True}, True)


def enable_officer(state: StateStore, username: str, *, actor: str, origin: str) -> None:
    _change(state, username, "officer_enabled", actor, origin, {"disabled": False}, False)


def unlock_officer(state: StateStore, username: str, *, actor: str, origin: str) -> None:
    """Lift a lockout now and clear the failed log-in count."""
    values = {"failed_logins": 0, "locked_until": None}
    _change(state, username, "officer_unlocked", actor, origin, values, False)


def reset_password(
    state: StateStore, username: str, password: str, *, actor: str, origin: str
) -> int:
    """A new password (argon2 hash); the lockout is lifted and every session ends."""
    _check_password(password)
    values = {"password_hash": _HASHER.hash(password), "failed_logins": 0, "locked_until": None}
    return _change(state, username, "officer_password_reset", actor, origin, values, True)


def revoke_sessions(state: StateStore, username: str, *, actor: str, origin: str) -> int:
    """End every session of the officer (log-in stays possible). Sessions ended."""
    return _change(state, username, "officer_sessions_revoked", actor, origin, {}, True)


def _change(
    state: StateStore,
    username: str,
    event: str,
    actor: str,
    origin: str,
    values: Mapping[str, object],
    end_sessions: bool,
) -> int:
    draft = LedgerDraft(event, actor, origin, True, username)
    ended = cs.change_officer(state, username, draft, values=values, end_sessions=end_sessions)
    if ended is None:
        raise OfficerError(f"officer {username} not found")
    return ended


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise OfficerError(f"password must have at least {MIN_PASSWORD} characters")


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
