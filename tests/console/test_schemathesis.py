"""Schemathesis over every console route: generated paths, queries and form bodies
(positive and negative data, oversized integers among them), with an officer's session and
without, never get a 5xx. The console serves no schema; the test builds one from its routes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.openapi import from_asgi

from taxmatch.console import console_app

from .conftest import Console

HUGE = "99999999999999999999999"


def _session(c: Console, username: str) -> dict[str, str]:
    c.login(username)
    token = c.client.cookies.get("tm_session")
    assert token
    return {"Cookie": f"tm_session={token}", "Sec-Fetch-Site": "same-origin"}


def test_oversized_integers_are_refused_not_a_server_error(console: Console) -> None:
    console.login("sam")
    for path in (
        f"/console/review/B-OLD/{HUGE}",
        f"/console/review/B-OLD/-{HUGE}",
        "/console/review/B-OLD/0",
        f"/console/queue?after=B-OLD:{HUGE}",
        "/console/queue?after=B-OLD:%C2%B2",  # a superscript digit
        f"/console/ledger?before={HUGE}",
        f"/console/report?year={HUGE}",
    ):
        r = console.client.get(path)
        assert r.status_code in (200, 404, 422), path
        assert "TM999" not in r.text, path
    r = console.post(f"/console/review/B-OLD/{HUGE}", action="withhold", reason="x" * 20)
    assert r.status_code in (404, 422)  # type: ignore[attr-defined]


def test_no_server_errors_on_any_console_route(console: Console) -> None:
    app = console_app(console.settings)
    app.openapi_url = "/openapi.json"
    app.setup()  # the console serves no schema; this test app does
    schema = from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    sessions = [
        _session(console, "sam"),
        _session(console, "ada"),
        {"Sec-Fetch-Site": "same-origin"},
    ]
    # Log-out last: it ends the session the other operations use.
    operations.sort(key=lambda o: o.path == "/logout")
    seen: list[tuple[str, str, int]] = []
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Case) -> None:
            for headers in sessions:
                response = case.call(headers=headers, allow_redirects=False)
                seen.append((case.method, case.path, response.status_code))
                assert response.status_code < 500, (case.method, case.path, response.text[-300:])

        check()
    assert {(m, p) for m, p, _ in seen} == {(o.method.upper(), o.path) for o in operations}
    assert {200, 303, 403} <= {code for _, _, code in seen}
