"""What the oversight console reads, by name: the review queue and a row's decision and
review, a batch's open reviews and releases, a page of the ledger, and the disclosures
about a taxpayer. Reads only; every change goes through ``taxmatch.pipeline.review`` or
``taxmatch.pipeline.officers``, and a view of personal data is audited by the console
(``taxmatch.pipeline.edge_audit``)."""

from __future__ import annotations

from taxmatch.store.accounting import DisclosureRecord as DisclosureRecord
from taxmatch.store.accounting import disclosures_about as disclosures_about
from taxmatch.store.console import Officer as Officer
from taxmatch.store.review import QUEUE_OUTCOMES as QUEUE_OUTCOMES
from taxmatch.store.review import QueueItem as QueueItem
from taxmatch.store.review import Release as Release
from taxmatch.store.review import Review as Review
from taxmatch.store.review import find_decision as find_decision
from taxmatch.store.review import find_review as find_review
from taxmatch.store.review import ledger_page as ledger_page
from taxmatch.store.review import list_releases as list_releases
from taxmatch.store.review import queue_page as queue_page
from taxmatch.store.review import unreleased_reviews as unreleased_reviews
from taxmatch.store.state import BatchRow as BatchRow
