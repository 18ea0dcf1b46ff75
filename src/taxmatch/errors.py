"""One error tree for taxmatch. Every error has a stable ``code``.

Messages name files, rows, fields and ids — never values. Edges (CLI, API, console)
translate these into exit statuses, HTTP responses or pages; nothing below them does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager


class TaxmatchError(Exception):
    """Base of every error taxmatch raises on purpose."""

    code = "TM000"
    exit_status = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class InputFileError(TaxmatchError):
    """An input file cannot be read as a whole (missing, wrong format, missing columns)."""

    code = "TM100"
    exit_status = 2

    def __init__(
        self,
        path: str,
        problem: str,
        *,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        where = path
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.row = row
        self.field = field


class EnvelopeError(InputFileError):
    """The batch envelope is missing, not JSON, or fails its schema."""

    code = "TM110"


class PolicyError(InputFileError):
    """The policy file is missing, not YAML, or fails its schema."""

    code = "TM120"


class BadArgument(TaxmatchError):
    """A command argument or parameter is malformed (e.g. an agency name with characters
    outside its alphabet). The message names the argument, never its value."""

    code = "TM130"
    exit_status = 2


class EngineUnavailable(TaxmatchError):
    """The matching engine asked for cannot run here (``--engine spark`` without pyspark
    or Java, or with a matcher it does not run). The message names the engine and what is
    missing."""

    code = "TM140"
    exit_status = 2


class ReferenceSnapshotError(TaxmatchError):
    """The reference (master file snapshot) is missing or unusable."""

    code = "TM200"
    exit_status = 3


class StoreError(TaxmatchError):
    """The state store or a file in the store failed."""

    code = "TM300"
    exit_status = 4


class StoreMissing(StoreError):
    """A command that does not make a store was pointed at a missing or empty one."""

    code = "TM303"


class BatchNotFound(StoreError):
    code = "TM301"


class RequestNotFound(StoreError):
    """A request id that is not in the named batch."""

    code = "TM302"


class LedgerError(StoreError):
    """The ledger failed verification or could not be appended to."""

    code = "TM400"
    exit_status = 5


class OutOfMemory(TaxmatchError):
    """A DuckDB step needed more memory than it may use: the message names the step, the
    limit and the option that raises it."""

    code = "TM900"
    exit_status = 9


class PackageError(TaxmatchError):
    """A response package is malformed or of an unknown schema version."""

    code = "TM500"
    exit_status = 6


class NotExplainable(TaxmatchError):
    """A decision ``taxmatch explain`` cannot explain: the exact matcher decided it (no
    model), or the row was rejected at validation and never reached matching."""

    code = "TM600"
    exit_status = 7


class AccessDenied(TaxmatchError):
    """The caller may not do this (an envelope naming another agency, a suspended agency).
    The API answers 403; the message names no value."""

    code = "TM700"
    exit_status = 8


class AgencySuspended(AccessDenied):
    """The agency is suspended (the kill switch): its processing and release stop."""

    code = "TM701"


class LimitExceeded(TaxmatchError):
    """A per-agency limit (daily row quota, request rate) is reached; retry after
    ``retry_after`` seconds. The API answers 429 with ``Retry-After``."""

    code = "TM710"
    exit_status = 8

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UploadTooLarge(TaxmatchError):
    """An upload passed the maximum size; it was cut off while streaming. API: 413."""

    code = "TM720"
    exit_status = 8


class IdempotencyKeyReused(TaxmatchError):
    """An ``Idempotency-Key`` already used for another batch (a different request file or
    envelope) of the same agency. The API answers 409."""

    code = "TM750"
    exit_status = 8


MEMORY_SIZE = re.compile(r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def memory_size(value: str) -> str:
    """``value`` if DuckDB reads it as a memory size ("2GB", "512MB"), else BadArgument."""
    if not MEMORY_SIZE.match(value):
        raise BadArgument("memory limit must be a size such as 2GB or 512MB")
    return value


@contextmanager
def memory_advice(step: str, limit: str, option: str) -> Iterator[None]:
    """DuckDB running out of memory inside ``step`` (also when a library such as Splink
    wrapped the error) as ``OutOfMemory``, with what to do."""
    try:
        yield
    except Exception as exc:
        if not _out_of_memory(exc):
            raise
        raise OutOfMemory(
            f"{step} needed more than the {limit} of memory DuckDB may use here: run it "
            f"again with a larger {option} (what does not fit spills to disk), or on a "
            "machine with more free memory"
        ) from None


def _out_of_memory(exc: BaseException | None) -> bool:
    """DuckDB's ``OutOfMemoryException`` in ``exc`` or its causes, known by name: the pure
    core imports no database library."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        kind = type(exc)
        if kind.__name__ == "OutOfMemoryException" and "duckdb" in kind.__module__:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
