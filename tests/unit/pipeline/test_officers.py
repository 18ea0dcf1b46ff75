"""Console log-in (``taxmatch.pipeline.officers``) on SQLite and PostgreSQL: the lockout
holds against parallel attempts, and every failure gives one answer for one argon2
verification, whether the name is unknown, the password wrong or the account locked."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from threading import Lock

import pytest

from taxmatch.pipeline import officers
from taxmatch.pipeline.officers import LOCK_AFTER, add_officer, log_in
from taxmatch.policy.model import ConsolePolicy
from taxmatch.store.state import StateStore

PASSWORD = "correct horse battery"


class Verifications:
    """Wraps the argon2 verifier: which hashes were checked, in order."""

    def __init__(self, real: Callable[[str, str], bool]) -> None:
        self.real = real
        self.hashes: list[str] = []
        self._lock = Lock()

    def __call__(self, stored: str, password: str) -> bool:
        with self._lock:
            self.hashes.append(stored)
        return self.real(stored, password)

    def against_dummy(self) -> int:
        return sum(h == officers._DUMMY_HASH for h in self.hashes)

    def against_accounts(self) -> int:
        return len(self.hashes) - self.against_dummy()


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> Verifications:
    counter = Verifications(officers._verify)
    monkeypatch.setattr(officers, "_verify", counter)
    return counter


def _events(state: StateStore, kind: str) -> list[str]:
    return [e.actor for e in state.iter_ledger() if e.event_type == kind]


def test_parallel_wrong_passwords_cannot_outrun_the_lock(
    state_store: StateStore, verifications: Verifications
) -> None:
    add_officer(state_store, "olive", "officer", PASSWORD, actor="test", origin="test")

    def attempt(n: int) -> bool:
        return log_in(state_store, "olive", f"wrong password {n}", origin="test").ok

    with ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(attempt, range(40)))
    assert not any(results)
    # Exactly the policy's count of attempts was checked against the account's hash; the
    # rest were refused (each still spending one verification on the dummy hash).
    assert verifications.against_accounts() == LOCK_AFTER
    assert verifications.against_dummy() == 40 - LOCK_AFTER
    assert len(_events(state_store, "login_failed")) == LOCK_AFTER
    assert len(_events(state_store, "officer_locked")) == 1
    assert len(_events(state_store, "login_refused_locked")) == 40 - LOCK_AFTER
    # Locked: even the right password is refused, unchecked against the account.
    assert not log_in(state_store, "olive", PASSWORD, origin="test").ok
    assert verifications.against_accounts() == LOCK_AFTER
    assert state_store.verify_ledger().ok


def test_the_policy_sets_the_lock_count(
    state_store: StateStore, verifications: Verifications
) -> None:
    add_officer(state_store, "olive", "officer", PASSWORD, actor="test", origin="test")
    rules = ConsolePolicy(lock_after=2)
    for n in range(4):
        assert not log_in(state_store, "olive", f"wrong {n}", origin="t", rules=rules).ok
    assert verifications.against_accounts() == 2
    assert not log_in(state_store, "olive", PASSWORD, origin="t", rules=rules).ok


def test_every_failure_is_one_answer_for_one_verification(
    state_store: StateStore, verifications: Verifications
) -> None:
    add_officer(state_store, "olive", "officer", PASSWORD, actor="test", origin="test")
    add_officer(state_store, "lock", "officer", PASSWORD, actor="test", origin="test")
    for n in range(LOCK_AFTER):
        log_in(state_store, "lock", f"wrong {n}", origin="t")
    cases = {
        "unknown": ("nobody", PASSWORD),
        "malformed name": ("Not A Name!", PASSWORD),
        "wrong password": ("olive", "not the password"),
        "locked, right password": ("lock", PASSWORD),
    }
    answers = {}
    for case, (username, password) in cases.items():
        before = len(verifications.hashes)
        answers[case] = log_in(state_store, username, password, origin="t")
        assert len(verifications.hashes) == before + 1, case
    assert {repr(a) for a in answers.values()} == {repr(officers.LoginResult(ok=False))}
    assert log_in(state_store, "olive", PASSWORD, origin="t").ok
