"""Typed log events. Every log line taxmatch writes is one of these.

Events carry ids, counts, durations and hashes only: never a name, address, TIN or
phone. ``emit`` refuses keyword values that are not numbers, booleans or short
identifier-like strings, so a careless caller cannot leak a value into a log.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum

logger = logging.getLogger("taxmatch")

_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:/#@+\-]{0,128}$")


class Event(StrEnum):
    """Stable event codes. The value is the code; the name is the meaning."""

    BATCH_STARTED = "E100"
    BATCH_RESUMED = "E101"
    BATCH_EXISTS = "E102"
    VALIDATION_DONE = "E110"
    MATCHING_DONE = "E120"
    PROBES_DONE = "E125"  # the batch's shadow probes ran (counts in the ledger)
    BATCH_FINISHED = "E140"
    BATCH_FAILED = "E141"
    LEDGER_APPENDED = "E300"
    LEDGER_VERIFIED = "E301"
    POLICY_LOADED = "E400"
    POLICY_PHONE_ENABLED = "E401"
    GENERATED = "E500"
    JOB_QUEUED = "E600"
    JOB_CLAIMED = "E601"
    JOB_FINISHED = "E602"
    JOB_FAILED = "E603"
    API_STARTED = "E610"
    WARM_STARTING = "E620"
    WARM_READY = "E621"
    WARM_FAILED = "E622"
    WARM_PYTHON_OFF = "E623"  # the Python scorer stands aside; lookups use Splink's SQL
    LOOKUP_ENVELOPE_REUSED = "E630"  # a lookup without an envelope took its latest batch's


def _check(key: str, value: object) -> str:
    if isinstance(value, bool | int | float) or value is None:
        return f"{key}={value}"
    if isinstance(value, str) and _SAFE_TEXT.match(value):
        return f"{key}={value}"
    raise ValueError(f"event field {key!r} is not an id, count or hash")


def emit(event: Event, level: int = logging.INFO, **fields: object) -> None:
    """Log one event as ``E100 batch_started batch_id=... rows=...``."""
    if not logger.isEnabledFor(level):
        return
    parts = [event.value, event.name.lower()]
    parts.extend(_check(k, v) for k, v in sorted(fields.items()))
    logger.log(level, " ".join(parts))
