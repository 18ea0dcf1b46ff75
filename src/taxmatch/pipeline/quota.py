"""The agency's daily row quota: one definition of "charge the agency's quota", used by
the intake of a batch (one row per record, when it is queued) and of a lookup (one row).

The charge is one write transaction on ``agency_usage`` (``ServiceStore.charge_rows``):
it either fits under the quota and is recorded, or is refused whole with the seconds to
UTC midnight, when the day's count starts again.

Must never: charge part of a batch, or charge a refused request.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from taxmatch.errors import LimitExceeded
from taxmatch.store.service import ServiceStore


def seconds_to_midnight(now: datetime | None = None) -> int:
    """Seconds until the next UTC midnight (at least 1): the quota's ``Retry-After``."""
    moment = now or datetime.now(UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - moment).total_seconds()))


def charge_quota(
    service: ServiceStore,
    agency_id: str,
    rows: int,
    daily_row_quota: int,
    *,
    today: date | None = None,
) -> int:
    """Charge ``rows`` to ``agency_id``'s count for ``today`` (UTC) and return the day's
    new count; ``LimitExceeded`` (nothing charged) when it would pass ``daily_row_quota``."""
    day = today or datetime.now(UTC).date()
    used = service.charge_rows(agency_id, day, rows, daily_row_quota)
    if used is None:
        raise LimitExceeded("daily row quota reached", seconds_to_midnight())
    return used
