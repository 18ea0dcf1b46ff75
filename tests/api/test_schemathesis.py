"""Schemathesis against the OpenAPI schema: generated calls to every operation (positive
and negative data), with a valid token and without, never get a 5xx."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.openapi import from_asgi

from tests.api.conftest import Api


def test_no_server_errors(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_per_minute=1_000_000)
    schema = from_asgi("/openapi.json", api.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 6
    seen: list[tuple[str, str, int]] = []
    for operation in operations:
        strategy = st.one_of(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
            operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
        )

        @given(case=strategy)
        @settings(
            max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Case) -> None:
            for headers in (api.auth(), {}):
                response = case.call(headers=headers)
                seen.append((case.method, case.path, response.status_code))
                assert response.status_code < 500, (case.method, case.path, response.text)

        check()
    assert len({(m, p) for m, p, _ in seen}) == 6
    codes = {code for _, _, code in seen}
    assert {200, 401, 422} <= codes  # authenticated calls succeeded, bad ones were refused
