"""Dependencies of every authenticated route: the bearer token, the agency's status and
its request rate. One place for the checks, so no route can forget one.

401: no token, an unknown or a revoked one. 403: the agency is suspended. 429: over the
request rate (``Retry-After`` in seconds). The agency id goes to ``request.state`` for
the audit entry the middleware writes.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from taxmatch.api.settings import ApiSettings
from taxmatch.errors import AgencySuspended, LimitExceeded
from taxmatch.pipeline.stores import Agency, ServiceStore

bearer = HTTPBearer(auto_error=False, description="A token from `taxmatch agency token NAME`")


class RateLimiter:
    """Sliding one-minute window per agency, in this process."""

    def __init__(self) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, agency_id: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            calls = self._calls.setdefault(agency_id, deque())
            while calls and now - calls[0] >= 60.0:
                calls.popleft()
            if len(calls) >= per_minute:
                wait = max(1, math.ceil(60.0 - (now - calls[0])))
                raise LimitExceeded("request rate limit reached", wait)
            calls.append(now)


@dataclass(frozen=True, slots=True)
class Limits:
    daily_row_quota: int
    rate_per_minute: int
    max_upload_bytes: int


def limits_for(agency: Agency, settings: ApiSettings) -> Limits:
    """The agency's own limits where set, else the serve defaults."""
    return Limits(
        agency.daily_row_quota or settings.daily_row_quota,
        agency.rate_per_minute or settings.rate_per_minute,
        agency.max_upload_bytes or settings.max_upload_bytes,
    )


def origin_of(request: Request) -> str:
    """Where an API call comes from, as its ledger entries record it: ``api@<host>``."""
    return f"api@{request.client.host if request.client else 'unknown'}"


def _unauthorised(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def current_agency(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Agency:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("missing bearer token")
    service: ServiceStore = request.app.state.service
    agency = service.authenticate(credentials.credentials)
    if agency is None:
        raise _unauthorised("unknown or revoked token")
    request.state.agency_id = agency.agency_id
    if agency.suspended:
        raise AgencySuspended("agency is suspended")
    settings: ApiSettings = request.app.state.settings
    request.app.state.rate.hit(agency.agency_id, limits_for(agency, settings).rate_per_minute)
    return agency


CurrentAgency = Annotated[Agency, Depends(current_agency)]
