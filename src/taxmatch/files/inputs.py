"""Input files: hashes, the batch envelope, the policy file and the master file (and the
request reader of ``taxmatch.files.readers``, re-exported). Each reader checks its file's
contract (README.md, Inputs) and raises ``InputFileError`` naming the file and the column or key.

Must never: put a value from a file into an error or log (the envelope names officials,
the master file is taxpayer data), or hold more than one chunk of the master file in
memory.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import logging
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import ValidationError

from taxmatch.contracts import (
    ENVELOPE_MAX_BYTES,
    MASTER_COLUMNS,
    MASTER_REQUIRED_COLUMNS,
    Envelope,
)
from taxmatch.errors import EnvelopeError, InputFileError, PolicyError
from taxmatch.events import Event, emit
from taxmatch.files.readers import detect_format, read_requests, unreadable
from taxmatch.policy.model import Policy, PolicyIssue, parse_policy, policy_sha256

__all__ = [
    "DEFAULT_POLICY",
    "MASTER_SCHEMA",
    "detect_format",
    "iter_master",
    "load_policy",
    "read_envelope",
    "read_requests",
    "sha256_file",
]

DEFAULT_POLICY = "taxmatch/policy/default_policy.yaml"

# The master file as every chunk leaves here: contract columns, in contract order.
MASTER_SCHEMA = pa.schema(
    [(name, pa.int64() if name == "tax_year" else pa.string()) for name in MASTER_COLUMNS]
)

_POLICY_MAX_BYTES = 4 * 1024 * 1024
_CSV_BLOCK_BYTES = 8 * 1024 * 1024
_INTEGER = r"^[+-]?[0-9]+$"


def sha256_file(path: Path) -> str:
    """The file's sha256 (hex), streamed."""
    try:
        with open(path, "rb") as handle:
            digest = hashlib.file_digest(handle, "sha256")
    except OSError as exc:
        raise unreadable(path, exc) from None
    return digest.hexdigest()


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def read_envelope(path: Path) -> Envelope:
    """The batch envelope. ``EnvelopeError`` names the file and the key, never a value."""
    where = str(path)
    data = _read_capped(EnvelopeError, path, ENVELOPE_MAX_BYTES)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EnvelopeError(where, "not UTF-8 text") from None
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise EnvelopeError(where, "key appears more than once", field=_safe_key(exc.key)) from None
    except json.JSONDecodeError as exc:
        raise EnvelopeError(where, f"not valid JSON (line {exc.lineno})") from None
    except (ValueError, RecursionError):
        raise EnvelopeError(where, "not valid JSON") from None
    if not isinstance(doc, dict):
        raise EnvelopeError(where, "must be a JSON object")
    try:
        return Envelope.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        key = _loc_key(err["loc"]) or "document"
        raise EnvelopeError(where, _problem(str(err["type"])), field=key) from None


def _loc_key(loc: tuple[int | str, ...]) -> str:
    return "".join(
        f"[{part}]" if isinstance(part, int) else ("." if i else "") + _safe_key(part)
        for i, part in enumerate(loc)
    )


def _safe_key(key: str) -> str:
    # An unknown key is the requester's text: name it only if it looks like a key.
    ok = key.isascii() and key.replace("_", "").isalnum() and len(key) <= 64
    return key if ok else "(unnamed key)"


def _problem(kind: str) -> str:
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return "unknown key"
    if kind.endswith("_type"):  # string_type, dict_type, model_type, tuple_type, ...
        return f"wrong type ({kind})"
    return f"invalid value ({kind})"


# Parsing is the dear part of loading a policy (a serving process loads it on every
# lookup): the same text is the same (frozen) policy, so it is parsed once.
_parse_policy = functools.lru_cache(maxsize=16)(parse_policy)


def load_policy(path: Path | None) -> tuple[Policy, str]:
    """(policy, policy text); None loads the packaged default. Errors name file and key."""
    if path is None:
        where = DEFAULT_POLICY
        resource = resources.files("taxmatch.policy").joinpath("default_policy.yaml")
        text = resource.read_text(encoding="utf-8")
    else:
        where = str(path)
        try:
            text = _read_capped(PolicyError, path, _POLICY_MAX_BYTES).decode("utf-8")
        except UnicodeDecodeError:
            raise PolicyError(where, "not UTF-8 text") from None
    try:
        policy = _parse_policy(text)
    except PolicyIssue as issue:
        if issue.key == "document" or issue.key.startswith("line "):
            raise PolicyError(where, f"{issue.problem} ({issue.key})") from None
        raise PolicyError(where, issue.problem, field=issue.key) from None
    sha = policy_sha256(text)
    emit(Event.POLICY_LOADED, policy_sha256=sha, default=path is None)
    if policy.disclosure.phone:
        emit(Event.POLICY_PHONE_ENABLED, logging.WARNING, policy_sha256=sha)
    return policy, text


def iter_master(path: Path, *, chunk_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
    """The master file in record batches of ``MASTER_SCHEMA`` (at most ``chunk_rows``).

    CSV or Parquet. Every required column must be present; extra columns are dropped,
    missing optional ones come back as nulls, empty CSV cells as nulls. ``tax_year`` must
    be an integer: a row where it is not raises ``InputFileError`` naming the row.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be positive")
    fmt = detect_format(path)
    if fmt == "jsonl":
        raise InputFileError(str(path), "a master file must be CSV or Parquet")
    batches = _master_csv(path) if fmt == "csv" else _master_parquet(path, chunk_rows)
    done = 0
    for names, batch in batches:
        out = _conform(path, names, batch, first_row=done + 1)
        done += out.num_rows
        for start in range(0, out.num_rows, chunk_rows):
            yield out.slice(start, chunk_rows)


def _master_columns(path: Path, names: list[str]) -> dict[str, str]:
    """Contract column -> file column, checking required and duplicate columns."""
    found: dict[str, str] = {}
    for raw in names:
        name = raw.strip()
        if name in MASTER_COLUMNS:
            if name in found:
                raise InputFileError(str(path), "column appears more than once", field=name)
            found[name] = raw
    for name in MASTER_REQUIRED_COLUMNS:
        if name not in found:
            raise InputFileError(str(path), "required column is missing", field=name)
    return found


def _master_csv(path: Path) -> Iterator[tuple[list[str], pa.RecordBatch]]:
    header = _csv_header(path)
    found = _master_columns(path, header)
    keep = {f"c{i}": name.strip() for i, name in enumerate(header) if name in found.values()}
    ragged: list[bool] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        ragged.append(True)
        return "error"

    try:
        with open(path, "rb") as handle:
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(
                    column_names=[f"c{i}" for i in range(len(header))],
                    skip_rows=1,
                    block_size=_CSV_BLOCK_BYTES,
                ),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    include_columns=list(keep),
                    column_types={c: pa.string() for c in keep},
                    strings_can_be_null=True,
                    null_values=[""],
                ),
            )
            for batch in reader:
                yield [keep[c] for c in batch.schema.names], batch
    except (pa.ArrowException, OSError):
        # Arrow's messages quote row text; ours name only the file and the row.
        if ragged:
            row = _first_ragged_row(path, len(header))
            raise InputFileError(str(path), "wrong number of columns", row=row) from None
        raise InputFileError(str(path), "not readable as UTF-8 CSV") from None


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, "rb") as raw:
            if raw.read(4).startswith(b"PAR1"):
                raise InputFileError(str(path), "is a Parquet file, not CSV text")
            raw.seek(0)
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            header = next(csv.reader(iter(lambda: text.readline(1 << 20), "")), None)
            text.detach()
    except csv.Error:
        header = ["\udcff"]
    except OSError as exc:
        raise unreadable(path, exc) from None
    if not header:
        raise InputFileError(str(path), "file is empty (no header row)")
    if any(not cell.isprintable() for cell in header):
        raise InputFileError(str(path), "header row is not readable UTF-8 CSV text")
    return header


def _first_ragged_row(path: Path, ncols: int) -> int | None:
    """The data row (1-based) whose cell count differs from the header's; error path only."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as text:
        records = (cells for cells in csv.reader(text) if cells)
        try:
            for number, cells in enumerate(records):
                if len(cells) != ncols:
                    return number or None
        except csv.Error:
            return None
    return None


def _master_parquet(path: Path, chunk_rows: int) -> Iterator[tuple[list[str], pa.RecordBatch]]:
    try:
        with open(path, "rb") as handle:
            pf = pq.ParquetFile(handle)
            found = _master_columns(path, [str(n) for n in pf.schema_arrow.names])
            wanted = list(found.values())
            for batch in pf.iter_batches(batch_size=chunk_rows, columns=wanted):
                yield [name.strip() for name in batch.schema.names], batch
    except FileNotFoundError as exc:
        raise unreadable(path, exc) from None
    except (pa.ArrowException, OSError, ValueError):
        raise InputFileError(str(path), "not a readable Parquet file") from None


def _conform(
    path: Path, names: list[str], batch: pa.RecordBatch, *, first_row: int
) -> pa.RecordBatch:
    """One batch as ``MASTER_SCHEMA``: cast, reorder, add absent optional columns."""
    columns = dict(zip(names, batch.columns, strict=True))
    arrays = []
    for field in MASTER_SCHEMA:
        column = columns.get(field.name)
        if column is None:
            arrays.append(pa.nulls(batch.num_rows, field.type))
        elif field.name == "tax_year":
            arrays.append(_tax_years(path, column, first_row))
        else:
            try:
                arrays.append(pc.cast(column, pa.string()))
            except (pa.ArrowException, ValueError):
                raise InputFileError(
                    str(path), "column cannot be read as text", field=field.name
                ) from None
    return pa.RecordBatch.from_arrays(arrays, schema=MASTER_SCHEMA)


def _tax_years(path: Path, column: pa.Array, first_row: int) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.utf8_trim_whitespace(column)
    try:
        return pc.cast(column, pa.int64())
    except (pa.ArrowException, ValueError):
        pass
    row = None
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        bad = pc.invert(pc.fill_null(pc.match_substring_regex(column, _INTEGER), True))
        index = pc.index(bad, True).as_py()
        if index is not None and index >= 0:
            row = first_row + index
    raise InputFileError(str(path), "tax_year is not an integer", row=row, field="tax_year")


def _read_capped(error: type[InputFileError], path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise unreadable(path, exc, error) from None
    if len(data) > limit:
        raise error(str(path), f"file is larger than {limit // (1024 * 1024)} MiB")
    return data
