"""The custodian's administration of requesting agencies: register, issue and revoke
tokens, suspend (the kill switch) and resume. Every change is a ledger entry.

Must never: record or log a token (only the count of tokens revoked and ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from taxmatch.errors import AgencySuspended
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.store.jobs import JobQueue
from taxmatch.store.service import Agency, ServiceStore, check_agency_id
from taxmatch.store.state import StateStore


@dataclass(frozen=True, slots=True)
class Admin:
    """Who administers, from where, on which store."""

    store: Path
    database_url: str | None
    actor: str
    origin: str

    def record(self, event: str, agency_id: str, **payload: PayloadValue) -> None:
        with StateStore.open(self.store, self.database_url) as state:
            state.append_ledger(
                [LedgerDraft(event, self.actor, self.origin, True, agency_id, payload)]
            )

    def service(self, agency_id: str) -> ServiceStore:
        """The service store, once ``agency_id`` is known to be a well-formed name (a
        malformed one is bad input, refused before the store is opened)."""
        check_agency_id(agency_id)
        return ServiceStore.open(self.store, self.database_url)


def add_agency(admin: Admin, agency_id: str, **limits: int | None) -> Agency:
    with admin.service(agency_id) as service:
        agency = service.add_agency(agency_id, **limits)
    clean = {k: v for k, v in limits.items() if v is not None}
    admin.record("agency_added", agency_id, **clean)
    return agency


def issue_token(admin: Admin, agency_id: str) -> str:
    with admin.service(agency_id) as service:
        token = service.issue_token(agency_id)
    admin.record("agency_token_issued", agency_id)
    return token


def revoke_tokens(admin: Admin, agency_id: str) -> int:
    with admin.service(agency_id) as service:
        n = service.revoke_tokens(agency_id)
    admin.record("agency_tokens_revoked", agency_id, tokens=n)
    return n


def suspend_agency(admin: Admin, agency_id: str) -> int:
    """Suspend: calls answer 403, queued jobs fail now, running ones at their next check.
    How many queued jobs were failed."""
    with admin.service(agency_id) as service:
        service.set_agency_status(agency_id, "suspended")
        failed = JobQueue(service).fail_agency_jobs(agency_id, AgencySuspended.code)
    admin.record("agency_suspended", agency_id, jobs_failed=failed)
    return failed


def resume_agency(admin: Admin, agency_id: str) -> None:
    with admin.service(agency_id) as service:
        service.set_agency_status(agency_id, "active")
    admin.record("agency_resumed", agency_id)
