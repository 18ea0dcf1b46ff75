"""Officer administration on SQLite and PostgreSQL: ``taxmatch officer disable|enable|
unlock|reset-password|sessions-revoke`` (each a ledger event naming the account only), the
idle timeout (policy ``console.idle_minutes``), Secure cookies for ``serve`` off loopback,
and ``/console/ledger/verify`` for supervisors and auditors, one run at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from taxmatch.cli import main
from taxmatch.pipeline import officers as officers_module
from taxmatch.pipeline.officers import LOCK_AFTER
from taxmatch.store.edge_models import console_sessions

from .conftest import ORIGIN, PASSWORD, Console

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def officer_cli(console: Console, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TAXMATCH_DATABASE_URL", console.settings.database_url or "")

    def run(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(
            main, ["officer", *args, "--store", str(console.store)], input=stdin
        )

    return run


def _try_login(c: Console, username: str, password: str = PASSWORD) -> int:
    c.client.cookies.clear()
    r = c.client.post(
        "/console/login",
        data={"username": username, "password": password},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    if r.status_code == 401:
        assert "Unknown username or wrong password." in r.text
    return r.status_code


def _logged_in(c: Console) -> bool:
    return c.client.get("/console/", follow_redirects=False).status_code == 200


def _events(c: Console, kind: str) -> list[Any]:
    return [e for e in c.state.iter_ledger() if e.event_type == kind]


def test_disable_ends_sessions_and_refuses_log_in_until_enabled(
    console: Console, officer_cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.login("olive")
    assert _logged_in(console)
    r = officer_cli("disable", "olive")
    assert r.exit_code == 0, r.output
    assert "1 session(s) ended" in r.output
    assert not _logged_in(console)  # the session is gone
    checked: list[str] = []
    real = officers_module._verify
    monkeypatch.setattr(officers_module, "_verify", lambda h, p: checked.append(h) or real(h, p))
    assert _try_login(console, "olive") == 401  # the right password, the one answer
    assert checked == [officers_module._DUMMY_HASH]  # one verification, not the account's
    assert [e.actor for e in _events(console, "login_refused_disabled")] == ["olive"]
    event = _events(console, "officer_disabled")[-1]
    assert (event.object_id, dict(event.payload)) == ("olive", {})
    assert officer_cli("enable", "olive").exit_code == 0
    assert _try_login(console, "olive") == 303
    assert _events(console, "officer_enabled")[-1].object_id == "olive"
    assert console.state.verify_ledger().ok


def test_unlock_lifts_a_lockout(console: Console, officer_cli: Any) -> None:
    for _ in range(LOCK_AFTER):
        assert _try_login(console, "olive", "wrong password") == 401
    assert _try_login(console, "olive") == 401  # locked
    r = officer_cli("unlock", "olive")
    assert r.exit_code == 0, r.output
    assert _try_login(console, "olive") == 303
    assert _events(console, "officer_unlocked")[-1].object_id == "olive"


def test_reset_password_and_revoke_sessions(console: Console, officer_cli: Any) -> None:
    console.login("olive")
    r = officer_cli("reset-password", "olive", stdin=NEW_PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert NEW_PASSWORD not in r.output
    assert not _logged_in(console)
    assert _try_login(console, "olive") == 401  # the old password
    assert _try_login(console, "olive", NEW_PASSWORD) == 303
    assert officer_cli("reset-password", "olive", stdin="short\n").exit_code == 2
    assert _logged_in(console)
    r = officer_cli("sessions-revoke", "olive")
    assert r.exit_code == 0, r.output
    assert "1 session(s) ended" in r.output
    assert not _logged_in(console)
    assert _try_login(console, "olive", NEW_PASSWORD) == 303  # may log in again
    kinds = [e.event_type for e in console.state.iter_ledger() if e.object_id == "olive"]
    assert {"officer_password_reset", "officer_sessions_revoked"} <= set(kinds)
    r = officer_cli("disable", "nobody")
    assert r.exit_code == 2
    assert "officer nobody not found" in r.output


def _age_sessions(c: Console, minutes: int) -> None:
    moment = datetime.now(UTC) - timedelta(minutes=minutes)
    with c.state.writing("test") as conn:
        conn.execute(update(console_sessions).values(last_seen_at=moment))


def test_an_idle_session_ends(console: Console) -> None:
    policy = console.settings.policy
    assert policy is not None
    policy.write_text(
        policy.read_text(encoding="utf-8") + "\nconsole:\n  idle_minutes: 10\n", encoding="utf-8"
    )
    console.login("olive")
    _age_sessions(console, 9)
    assert _logged_in(console)  # used within 10 minutes: alive, and the clock is reset
    with console.state.reading("test") as conn:
        seen = conn.execute(console_sessions.select()).first()
    assert seen is not None
    assert datetime.now(UTC) - seen.last_seen_at < timedelta(minutes=1)
    _age_sessions(console, 11)
    assert not _logged_in(console)


def test_secure_cookie_when_set(console: Console) -> None:
    console.settings.secure_cookie = True
    r = console.client.post(
        "/console/login",
        data={"username": "olive", "password": PASSWORD},
        headers={"Origin": ORIGIN},
        follow_redirects=False,
    )
    assert "secure" in r.headers["set-cookie"].lower()


@pytest.mark.parametrize(
    ("args", "secure"),
    [
        ([], False),
        (["--host", "127.0.0.1"], False),
        (["--host", "localhost"], False),
        (["--host", "::1"], False),
        (["--host", "0.0.0.0"], True),
        (["--host", "10.1.2.3"], True),
        (["--host", "console.example"], True),
        (["--host", "0.0.0.0", "--no-secure-cookies"], False),
        (["--host", "127.0.0.1", "--secure-cookies"], True),
    ],
)
def test_serve_secure_cookies_default_on_off_loopback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], secure: bool
) -> None:
    import taxmatch.api

    seen: list[Any] = []
    monkeypatch.setattr(taxmatch.api, "serve_app", lambda s, **_: seen.append(s))
    made = CliRunner().invoke(main, ["store", "init", "--store", str(tmp_path / "s")])
    assert made.exit_code == 0, made.output
    r = CliRunner().invoke(main, ["serve", "--store", str(tmp_path / "s"), *args])
    assert r.exit_code == 0, r.output
    assert seen[0].secure_cookies is secure


def test_ledger_verify_is_for_supervisors_and_auditors_one_at_a_time(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.login("olive")
    assert console.client.get("/console/ledger/verify").status_code == 403
    assert "Verify the whole ledger" not in console.client.get("/console/ledger").text
    console.login("ada")
    assert "Verify the whole ledger" in console.client.get("/console/ledger").text
    r = console.client.get("/console/ledger/verify")
    assert r.status_code == 200
    assert "Verified" in r.text
    runs: list[int] = []
    monkeypatch.setattr(type(console.state), "verify_ledger", lambda self: runs.append(1))
    with console.settings.verifying:  # a verification is running
        r = console.client.get("/console/ledger/verify")
    assert r.status_code == 409
    assert "already running" in r.text
    assert runs == []  # no second run


def test_serve_app_passes_secure_cookies_to_the_console(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from taxmatch.api.app import create_app
    from taxmatch.api.settings import ApiSettings
    from taxmatch.pipeline.officers import add_officer
    from taxmatch.store.state import StateStore

    store = tmp_path / "s"
    with StateStore.open(store, create=True) as state:
        add_officer(state, "olive", "officer", PASSWORD, actor="test", origin="test")
    app = create_app(ApiSettings(store=store, worker_threads=0, secure_cookies=True))
    with TestClient(app) as client:
        r = client.post(
            "/console/login",
            data={"username": "olive", "password": PASSWORD},
            headers={"Origin": ORIGIN},
            follow_redirects=False,
        )
    assert r.status_code == 303
    assert "secure" in r.headers["set-cookie"].lower()
