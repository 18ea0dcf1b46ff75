"""The service's half of the state database: agencies, their API tokens and daily usage.

Shares the state database (and its migrations, connection and transactions:
``store.database``) with ``StateStore``; the job queue is in
``taxmatch.store.jobs`` on the same engine. A token is a random secret shown once; only
its sha256 is stored, so a copy of the database cannot be used to call the API.

Must never: store or log a token, let a database error escape unwrapped, or name a value
in an error (errors name agency ids and operations only).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

from sqlalchemy import select, update

from taxmatch.errors import BadArgument, LimitExceeded, StoreError
from taxmatch.store.database import StateDatabase
from taxmatch.store.edge_models import AGENCY_STATUSES, agencies, agency_usage, api_tokens
from taxmatch.store.models import batches, find_one, has_row

TOKEN_PREFIX: Final = "tm_"  # noqa: S105 (a prefix, not a secret)
_AGENCY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AgencyNotFound(StoreError):
    code = "TM310"


class AgencyExists(StoreError):
    code = "TM311"


@dataclass(frozen=True, slots=True)
class Agency:
    """A requesting agency as the custodian registered it. ``None`` limits: serve defaults."""

    agency_id: str
    status: str  # "active" / "suspended"
    daily_row_quota: int | None = None
    rate_per_minute: int | None = None
    max_upload_bytes: int | None = None

    @property
    def suspended(self) -> bool:
        return self.status == "suspended"


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def seconds_to_midnight(now: datetime | None = None) -> int:
    """Seconds until the next UTC midnight (at least 1): the quota's ``Retry-After``."""
    moment = now or datetime.now(UTC)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - moment).total_seconds()))


def check_agency_id(agency_id: str) -> str:
    """``agency_id`` when it is a well-formed agency name; ``BadArgument`` (bad input, exit
    2) naming the rule, never the value, otherwise."""
    if not _AGENCY_ID.fullmatch(agency_id):
        raise BadArgument(
            "agency name: must be 1-64 letters, digits, '_', '.' or '-', starting with a "
            "letter or digit"
        )
    return agency_id


class ServiceStore(StateDatabase):
    """Agencies, tokens and usage, in ``StateDatabase``'s transactions. Thread-safe; one per
    process is enough."""

    # --- agencies ---------------------------------------------------------------------

    def add_agency(
        self,
        agency_id: str,
        *,
        daily_row_quota: int | None = None,
        rate_per_minute: int | None = None,
        max_upload_bytes: int | None = None,
    ) -> Agency:
        limits = daily_row_quota, rate_per_minute, max_upload_bytes
        agency = Agency(check_agency_id(agency_id), "active", *limits)
        now = datetime.now(UTC)
        with self.writing("add_agency") as conn:
            if has_row(conn, agencies.c.agency_id, agency_id):
                raise AgencyExists(f"agency {agency_id} already exists")
            conn.execute(
                agencies.insert(), {**asdict(agency), "created_at": now, "updated_at": now}
            )
        return agency

    def get_agency(self, agency_id: str) -> Agency | None:
        query = select(agencies).where(agencies.c.agency_id == agency_id)
        return find_one(self, "get_agency", Agency, query)

    def set_agency_status(self, agency_id: str, status: str) -> None:
        if status not in AGENCY_STATUSES:
            raise StoreError(f"agency status must be one of {list(AGENCY_STATUSES)}")
        with self.writing("set_agency_status") as conn:
            done = conn.execute(
                update(agencies)
                .where(agencies.c.agency_id == agency_id)
                .values(status=status, updated_at=datetime.now(UTC))
            )
            if done.rowcount == 0:
                raise AgencyNotFound(f"agency {agency_id} not found")

    # --- tokens -----------------------------------------------------------------------

    def issue_token(self, agency_id: str) -> str:
        """A new bearer token for ``agency_id``; shown once, stored as its sha256."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.writing("issue_token") as conn:
            if not has_row(conn, agencies.c.agency_id, agency_id):
                raise AgencyNotFound(f"agency {agency_id} not found")
            conn.execute(
                api_tokens.insert(),
                {
                    "token_sha256": token_sha256(token),
                    "agency_id": agency_id,
                    "created_at": datetime.now(UTC),
                    "revoked_at": None,
                },
            )
        return token

    def revoke_tokens(self, agency_id: str) -> int:
        """Revoke every live token of ``agency_id``; how many were live."""
        if self.get_agency(agency_id) is None:
            raise AgencyNotFound(f"agency {agency_id} not found")
        with self.writing("revoke_tokens") as conn:
            done = conn.execute(
                update(api_tokens)
                .where(api_tokens.c.agency_id == agency_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
        return int(done.rowcount)

    def authenticate(self, token: str) -> Agency | None:
        """The agency a live token belongs to; None for an unknown or revoked token."""
        query = (
            select(agencies)
            .join(api_tokens, api_tokens.c.agency_id == agencies.c.agency_id)
            .where(api_tokens.c.token_sha256 == token_sha256(token))
            .where(api_tokens.c.revoked_at.is_(None))
        )
        return find_one(self, "authenticate", Agency, query)

    # --- usage ------------------------------------------------------------------------

    def charge_rows(
        self, agency_id: str, rows: int, quota: int, *, today: date | None = None
    ) -> int:
        """Charge ``rows`` to the agency's count for ``today`` (UTC) and return the day's new
        count: one definition of the daily row quota, for a batch (one row per record, when
        it is queued) and a lookup (one row). Checked and written under the write lock: a
        charge that would pass ``quota`` is refused whole (``LimitExceeded``, nothing
        charged) with the seconds to UTC midnight, when the day's count starts again."""
        day = today or datetime.now(UTC).date()
        key = (agency_usage.c.agency_id == agency_id) & (agency_usage.c.day == day)
        with self.writing("charge_rows") as conn:
            used = conn.execute(select(agency_usage.c.rows).where(key).with_for_update()).first()
            total = (0 if used is None else int(used[0])) + rows
            if total > quota:
                raise LimitExceeded("daily row quota reached", seconds_to_midnight())
            if used is None:
                conn.execute(
                    agency_usage.insert(), {"agency_id": agency_id, "day": day, "rows": total}
                )
            else:
                conn.execute(update(agency_usage).where(key).values(rows=total))
        return total

    def batch_counts(self, batch_id: str) -> dict[str, int]:
        """Counts by outcome of a finished batch (empty until it is done)."""
        with self.reading("batch_counts") as conn:
            counts = conn.execute(
                select(batches.c.counts).where(batches.c.batch_id == batch_id)
            ).scalar_one_or_none()
        return {} if counts is None else dict(json.loads(counts))
