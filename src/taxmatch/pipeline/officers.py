"""Console officers: accounts (argon2 password hashes), log-in with lockout, sessions.

``add_officer`` is what ``taxmatch officer add`` calls; ``log_in``, ``session_of`` and
``log_out`` are what the console calls. Every log-in, failure, lock-out and log-out is a
ledger event (actor: the username; origin: the caller's address) with no payload values.

Must never: store, log or put into an error a password or session token (only an argon2
hash and a sha256 are stored), or tell a caller whether a username exists.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from taxmatch.errors import TaxmatchError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.policy.model import ConsolePolicy
from taxmatch.store import console as cs
from taxmatch.store.console_models import ROLES
from taxmatch.store.state import StateStore

_RULES: Final = ConsolePolicy()  # lockout and idle rules when no policy is given
LOCK_AFTER: Final = _RULES.lock_after  # failed log-ins in a row (the default policy's)
SESSION_FOR: Final = timedelta(hours=8)
MIN_PASSWORD: Final = 12
_USERNAME = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
_HASHER = PasswordHasher()
# Verified against when the username is unknown, so a miss costs what a hit costs.
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
    if len(password) < MIN_PASSWORD:
        raise OfficerError(f"password must have at least {MIN_PASSWORD} characters")
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
    account is locked, so neither the answer nor its timing tells that an account exists.
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


def session_of(state: StateStore, token: str | None) -> cs.Officer | None:
    if not token or len(token) > 128:
        return None
    return cs.session_officer(state, cs.token_sha256(token), datetime.now(UTC))


def log_out(state: StateStore, token: str, username: str, *, origin: str) -> None:
    cs.end_session(
        state, cs.token_sha256(token), LedgerDraft("logout", username, origin, True, "console")
    )


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


__all__ = [
    "LOCK_AFTER",
    "LoginResult",
    "OfficerError",
    "add_officer",
    "log_in",
    "log_out",
    "session_of",
]
