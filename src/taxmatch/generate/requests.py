"""``generate_requests``: a seeded request batch, its envelope and its truth.

Reads ``people.parquet`` in batches (never the whole population); ``RequestMix`` sets the
shares of each kind of row. Same arguments, same bytes. Never prints or logs a name,
address or TIN.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from itertools import repeat
from pathlib import Path
from random import Random
from typing import Any

import pyarrow.parquet as pq

from taxmatch.contracts import TRUTH_COLUMNS, Envelope, Official, ReasonCode
from taxmatch.errors import InputFileError
from taxmatch.events import Event, emit
from taxmatch.files.inputs import sha256_file
from taxmatch.generate.compose import Composer, RequestMix, finish_bucket, plan_batch, take
from taxmatch.generate.invalid import BOGUS_OFFICER_FLOOR
from taxmatch.generate.output import Buckets, Format, csv_writer, request_writer
from taxmatch.generate.people_file import PeopleBatch, PersonRecord, iter_people
from taxmatch.generate.population import POPULATION_SCHEMA, write_json
from taxmatch.generate.request_rows import first_name_key
from taxmatch.generate.territory import territory
from taxmatch.generate.tins import TinAllocator
from taxmatch.policy.model import parse_policy

REQUESTS_SCHEMA = "taxmatch/requests/v1"
MAX_PER_OFFICER = 40
BUCKET_ROWS = 20_000
MAX_BUCKETS = 512
ATTESTATION = (
    "I attest that the information requested will be used solely for use in the "
    "investigation named in each record, by the officers listed, who are personally and "
    "directly engaged in it, and for no other purpose."
)


@dataclass(frozen=True, slots=True)
class RequestsSummary:
    """What ``generate_requests`` wrote, with the row count of each kind of request."""

    rows: int
    in_master_rows: int
    not_in_master_rows: int
    invalid_rows: int
    officers: int
    seed: int
    requests_path: Path
    envelope_path: Path
    truth_path: Path
    manifest_path: Path


def _kind(flags: str, dob: str, dod: str | None, as_of: date) -> str:
    """``filer``; ``member`` (an adult household member of a filer who never filed and is
    alive at ``as_of``: the requester may name them, the custodian has no filing); or ``""``."""
    if "never_filed" not in flags:
        return "filer"
    if (
        "household_of_filer" in flags
        and int(dob[:4]) <= as_of.year - 19
        and (dod is None or date.fromisoformat(dod) > as_of)
    ):
        return "member"
    return ""


def _eligible(path: Path, as_of: date) -> tuple[int, int]:
    """(filers, household members) in the population, for exact sampling."""
    kinds: Counter[str] = Counter()
    for people in iter_people(path, records=False):
        kinds.update(map(_kind, people.flags, people.dob, people.dod, repeat(as_of)))
    return kinds["filer"], kinds["member"]


def _first_name_shares(path: Path) -> dict[str, float]:
    """Each first name's share of the population's filers (the master file's persons), as
    normalised (``first_name_key``): what ``first_name_unconfirmed`` reads."""
    names: Counter[str] = Counter()
    columns = ["flags", "first_name", "middle_name", "last_name", "suffix"]
    for batch in pq.ParquetFile(path).iter_batches(batch_size=100_000, columns=columns):
        flags, *parts = (batch.column(c).to_pylist() for c in columns)
        names.update(
            first_name_key(*(x or "" for x in p))
            for f, *p in zip(flags, *parts, strict=True)
            if "never_filed" not in f
        )
    total = names.total()
    return {n: k / total for n, k in names.items() if n} if total else {}


def batch_level_codes(agency: str, title: str, as_of: date, signed_on: date) -> list[str]:
    """R07/R12 as the packaged default policy judges this envelope (every row carries them)."""
    text = resources.files("taxmatch.policy").joinpath("default_policy.yaml").read_text("utf-8")
    rules = parse_policy(text).agencies.get(agency)
    if rules is None:
        return [ReasonCode.R07.value, ReasonCode.R12.value]
    codes = []
    titles = {t.casefold() for t in rules.authorised_titles}
    if title.strip().casefold() not in titles or signed_on > as_of:
        codes.append(ReasonCode.R07.value)
    if rules.safeguards_certified_until < as_of:
        codes.append(ReasonCode.R12.value)
    return codes


def _read_population(population: Path) -> tuple[dict[str, Any], Path]:
    """The manifest and people file of a directory written by ``generate_population``."""
    manifest, people = population / "population.json", population / "people.parquet"
    for path in (manifest, people):
        if not path.is_file():
            raise InputFileError(
                str(path), "missing: not a directory written by generate population"
            )
    try:
        meta = json.loads(manifest.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputFileError(str(manifest), "not readable JSON") from exc
    if not isinstance(meta, dict) or meta.get("schema") != POPULATION_SCHEMA:
        raise InputFileError(str(manifest), f"unknown schema (expected {POPULATION_SCHEMA})")
    return meta, people


def generate_requests(
    *,
    population: Path,
    rows: int,
    seed: int,
    out: Path,
    as_of: date,
    agency: str = "ICE",
    progress: Callable[[int], None] | None = None,
    fmt: Format = "csv",
    official_title: str = "Director",
    mix: RequestMix | None = None,
) -> RequestsSummary:
    """Write under ``out``: ``requests.<fmt>`` (``REQUEST_COLUMNS``, all strings),
    ``envelope.json``, ``truth.csv`` (``TRUTH_COLUMNS``) and ``requests.json`` (seed, as-of
    date, counts, sha256 of each file). ``progress(n)``: rows generated since the last call.
    """
    if rows < 1:
        raise ValueError("rows must be at least 1")
    if fmt not in ("csv", "jsonl", "parquet"):
        raise ValueError("fmt must be csv, jsonl or parquet")
    meta, people_path = _read_population(population)
    out.mkdir(parents=True, exist_ok=True)
    rng = Random(f"taxmatch-requests-{seed}")
    filers, members = _eligible(people_path, as_of)
    plan = plan_batch(rows, mix or RequestMix(), filers, members, rng)
    tins = TinAllocator(int(meta["seed"]), int(meta["ssn_issued"]), int(meta["itin_issued"]))
    buckets = Buckets(
        out / ".requests-tmp", min(MAX_BUCKETS, max(1, math.ceil(rows / BUCKET_ROWS)))
    )
    country = territory(int(meta.get("tiles", 1)))
    shares = _first_name_shares(people_path)
    batch = Composer(rng, plan, as_of, agency, tins, buckets, country, shares)
    # Exact sampling: how many rows each kind still needs, and how many people are left.
    need = {"filer": plan.in_master, "member": plan.household_member, "fresh": plan.not_in_master}
    left = {"filer": filers, "member": members, "fresh": int(meta["people"])}

    def draw(kind: str) -> int:
        k = take(need[kind], left[kind], rng)
        left[kind] -= 1
        need[kind] -= k
        return k

    # The last filer seen, made a record only when a look-alike needs it.
    neighbour: PersonRecord | tuple[PeopleBatch, int] | None = None

    def look_alike() -> PersonRecord | None:
        nonlocal neighbour
        if isinstance(neighbour, tuple):
            neighbour = neighbour[0].record(neighbour[1])
        return neighbour

    def report(before: int) -> None:
        if progress is not None and batch.emitted > before:
            progress(batch.emitted - before)

    try:
        for people_batch in iter_people(people_path):
            before = batch.emitted
            for i in range(len(people_batch)):
                kind = _kind(people_batch.flags[i], people_batch.dob[i], people_batch.dod[i], as_of)
                for _ in range(draw(kind) if kind else 0):
                    tags = [] if kind == "filer" else ["not_in_master", "household_member"]
                    batch.emit(people_batch.record(i), kind == "filer", tags)
                for _ in range(draw("fresh")):
                    batch.emit_fresh(look_alike())
                if kind == "filer":
                    neighbour = (people_batch, i)
            look_alike()  # let this batch go before the next is read
            report(before)
        before = batch.emitted
        for _ in range(sum(need.values())):  # only if the file disagreed
            batch.emit_fresh(look_alike())
        report(before)

        officers = [f"OFC-{i:06d}" for i in range(1, math.ceil(rows / MAX_PER_OFFICER) + 1)]
        if len(officers) >= BOGUS_OFFICER_FLOOR:
            raise ValueError("too many rows for the officer numbering")
        envelope = Envelope(
            requesting_agency=agency,
            requesting_official=Official(
                name="Synthetic Requesting Official", title=official_title
            ),
            request_letter_id=f"{agency}-LTR-{as_of:%Y%m%d}-{seed}",
            signed_on=as_of - timedelta(days=rng.randint(2, 6)),
            recipient_officers=tuple(officers),
            attestation=ATTESTATION,
        )
        batch_codes = batch_level_codes(agency, official_title, as_of, envelope.signed_on)
        requests_path, truth_path = out / f"requests.{fmt}", out / "truth.csv"
        outcomes: Counter[str] = Counter()
        codes: Counter[str] = Counter()
        state = {"next_id": 0, "officer": 0}
        in_master = 0
        with (
            request_writer(requests_path, fmt) as write_requests,
            csv_writer(truth_path, TRUTH_COLUMNS) as write_truth,
        ):
            for entries in buckets:
                rng.shuffle(entries)
                req_rows, truth_rows = finish_bucket(entries, state, officers, batch_codes)
                write_requests(req_rows)
                write_truth(truth_rows)
                for t in truth_rows:
                    outcomes[t[2]] += 1
                    in_master += bool(t[1])
                    codes.update(c for c in t[3].split(";") if c)
    finally:
        buckets.cleanup()
    written = outcomes.total()
    envelope_path = out / "envelope.json"
    write_json(envelope_path, envelope.model_dump(mode="json"))
    manifest = out / "requests.json"
    write_json(
        manifest,
        {
            "schema": REQUESTS_SCHEMA,
            "seed": seed,
            "as_of": as_of.isoformat(),
            "agency": agency,
            "rows": written,
            "population_sha256": meta["files"]["people.parquet"]["sha256"],
            "outcomes": dict(sorted(outcomes.items())),
            "reason_codes": dict(sorted(codes.items())),
            "files": {
                p.name: {"sha256": sha256_file(p)}
                for p in (requests_path, envelope_path, truth_path)
            },
        },
    )
    emit(Event.GENERATED, kind="requests", rows=written, officers=len(officers))
    # A repeated person-and-case row copies a base row, which may be a filer or not; the
    # truth (a TIN is given only for people in the master file) is the exact count.
    return RequestsSummary(
        rows=written,
        in_master_rows=in_master,
        not_in_master_rows=written - in_master,
        invalid_rows=outcomes["REJECTED"],
        officers=len(officers),
        seed=seed,
        requests_path=requests_path,
        envelope_path=envelope_path,
        truth_path=truth_path,
        manifest_path=manifest,
    )
