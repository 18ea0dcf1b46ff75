"""What the oversight console reads, by name: the review queue and a row's decision and
review, a batch's open reviews and releases, a page of the ledger, and the disclosures
about a taxpayer. Reads only; every change goes through ``taxmatch.pipeline.review`` or
``taxmatch.pipeline.officers``, and a view of personal data is audited by the console
(``taxmatch.pipeline.edge_audit``)."""

from __future__ import annotations

from taxmatch.store.accounting import DisclosureRecord, disclosures_about
from taxmatch.store.console import Officer
from taxmatch.store.review import (
    QUEUE_OUTCOMES,
    QueueItem,
    Release,
    Review,
    find_decision,
    find_review,
    ledger_page,
    list_releases,
    queue_page,
    unreleased_reviews,
)

__all__ = [
    "QUEUE_OUTCOMES",
    "DisclosureRecord",
    "Officer",
    "QueueItem",
    "Release",
    "Review",
    "disclosures_about",
    "find_decision",
    "find_review",
    "ledger_page",
    "list_releases",
    "queue_page",
    "unreleased_reviews",
]
