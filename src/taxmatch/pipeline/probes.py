"""Shadow probes: known-answer requests run beside a batch, to estimate its accuracy.

A seeded sample of the master file's persons (``taxmatch.reference.probes``) becomes
requests as a requester would write them, with the request noise of the project's
generator (``taxmatch.generate.request_rows``: nicknames, initials, typos, dropped middle
names and suffixes, abbreviations, dropped units, older addresses of the person, dates of
birth and TINs now and then, some of them wrong). One probe in ten is made up (a first
name, a surname and an address of three different persons, a name nobody filed under)
and names nobody. The probes run through the batch's own matcher and decision rule in a
workspace of their own, so they never reach the batch's package, decisions, ledger
disclosures or accounting: only their counts leave this module (``ProbeCounts``).

A probe's answer is what the master says: right person when the decided person holds one
of the probe person's TINs; right address when the disclosed address (street line, unit,
ZIP5, as ``taxmatch evaluate`` compares them) is one of the latest requested year's
filings, or, for a mended address, another of the person's own or the filed door with the
mended ZIP. A probe cannot see a typo in the master itself: docs/accuracy.md says so.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from taxmatch.contracts import Outcome
from taxmatch.events import Event, emit
from taxmatch.generate.request_rows import (
    FIRST_NAME_UNCONFIRMED,
    noisy_address,
    noisy_name,
    optional_ids,
)
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.normalise.address import parse_address
from taxmatch.normalise.names import normalise_name
from taxmatch.pipeline.evaluate import address_key
from taxmatch.pipeline.record import summary_of
from taxmatch.policy.accuracy import AccuracyHold, ProbeCounts, hold_for
from taxmatch.policy.decide import address_age_years, decide
from taxmatch.policy.model import Policy
from taxmatch.reference.probes import ProbePerson, names_on_file, probe_people
from taxmatch.reference.workspace import RECORD_SCHEMA, BatchWorkspace
from taxmatch.store.state import StateStore

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun, Progress

MADE_UP_EVERY = 10  # every tenth probe names nobody in the master
OLDER_ADDRESS_SHARE = 0.6  # as the generator's requests: often an older address

Key = tuple[str, str, str]
_ADDRESS_COLUMNS = ("street_address", "unit", "city", "state", "zip")


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe's request fields (as a requester would write them) and its answer."""

    fields: dict[str, str]  # REQUEST_COLUMNS' names: names, address, date_of_birth, tin
    tins: frozenset[str]  # empty: a made-up person
    latest: frozenset[Key]  # the addresses of the latest requested year's filings
    own: frozenset[Key]  # every address of the person this probe was built from
    # The person is in the master and the request names them well enough to be found.
    findable: bool = False


def requested_years(as_of: date, policy: Policy) -> tuple[int, int]:
    """The tax years a probe asks for: those within the lookback whose address is still
    recent enough to disclose on ``as_of``, up to the year before ``as_of``."""
    last = as_of.year - 1
    first = as_of.year - policy.tax_periods.lookback_years
    while first < last and address_age_years(first, as_of) > policy.matching.max_address_age_years:
        first += 1
    return first, last


def _key(a: dict[str, str]) -> Key:
    return address_key(a["line1"] or "", a["unit"] or "", a["zip5"] or "")[0]


def _address_fields(a: dict[str, str]) -> dict[str, str]:
    return {
        "street_address": a["line1"] or "",
        "unit": a["unit"] or "",
        "city": a["city"] or "",
        "state": a["state"] or "",
        "zip": a["zip5"] or "",
    }


def _noised(p: ProbePerson, rng: Random, as_of: date) -> tuple[dict[str, str], bool] | None:
    """A requester's copy of ``p``: the generator's request noise on the name as filed,
    an address of theirs (an older one as often as the generator's requests give one)
    and, sometimes, the date of birth and TIN; and whether the law lets it be found (as
    the generator's truth: not without an agreeing first name). None when the copy is not
    a valid address."""
    place = p.latest_addresses[0]
    if p.older_address is not None and rng.random() < OLDER_ADDRESS_SHARE:
        place = p.older_address
    tags: list[str] = []
    name = (p.first_name, p.middle_name, p.last_name, p.suffix)
    line = (place["line1"] or "", place["unit"] or "", place["city"] or "", place["state"] or "")
    fields = {**noisy_name(rng, name, tags), **noisy_address(rng, (*line, place["zip5"]), tags)}
    if parse_address(*(fields[k] for k in _ADDRESS_COLUMNS)).address is None:
        return None
    if p.date_of_birth is not None:
        fields |= optional_ids(rng, p.date_of_birth, p.tins[0] if p.tins else "", as_of, tags)
    return fields, FIRST_NAME_UNCONFIRMED.isdisjoint(tags)


def build_probes(
    people: Sequence[ProbePerson], seed: str, as_of: date, taken: set[tuple[str, str]]
) -> list[Probe]:
    """The probes of ``people`` (in sample order); ``taken``: the made-up names someone
    files under (``names_on_file``), which are dropped rather than asked, as is a copy
    whose address does not parse (a request with it would be rejected, not matched)."""
    probes = []
    for i, p in enumerate(people):
        rng = Random(f"{seed}:{i}")
        if i % MADE_UP_EVERY == MADE_UP_EVERY - 1 and len(people) >= 3:
            made = made_up(people, i)
            if (made["first_name"], made["last_name"]) not in taken:
                probes.append(Probe(made, frozenset(), frozenset(), frozenset()))
            continue
        noised = _noised(p, rng, as_of)
        if noised is not None:
            latest = frozenset(_key(a) for a in p.latest_addresses)
            own = frozenset(_key(a) for a in p.addresses)
            probes.append(Probe(noised[0], frozenset(p.tins), latest, own, findable=noised[1]))
    return probes


def made_up(people: Sequence[ProbePerson], i: int) -> dict[str, str]:
    """A person nobody is: ``people[i]``'s first name, the next one's surname and the
    address of the one after."""
    other, place = people[(i + 1) % len(people)], people[(i + 2) % len(people)]
    return {
        "first_name": people[i].first_name,
        "middle_name": "",
        "last_name": other.last_name,
        "suffix": "",
        **_address_fields(place.latest_addresses[0]),
    }


def probe_records(probes: Sequence[Probe], years: tuple[int, int]) -> pa.Table:
    """The probes as workspace records (``RECORD_SCHEMA``), normalised as validation
    normalises a request (a probe whose address does not parse is not a valid row)."""
    cols: dict[str, list[object]] = {f.name: [] for f in RECORD_SCHEMA}
    periods = list(range(years[0], years[1] + 1))
    for n, probe in enumerate(probes, start=1):
        f = probe.fields
        name = normalise_name(f["first_name"], f["middle_name"], f["last_name"], f["suffix"])
        address = parse_address(*(f[k] for k in _ADDRESS_COLUMNS)).address
        dob = f.get("date_of_birth")
        values: dict[str, object] = {
            "row_number": n,
            "request_id": f"PROBE-{n}",
            "officer_id": "",
            "mask": 0 if address is not None else 1,
            "fields": "",
            "first_name": name.first,
            "middle_name": name.middle,
            "last_name": name.last,
            "suffix": name.suffix,
            "tax_periods": periods,
            "date_of_birth": date.fromisoformat(dob) if dob else None,
            "tin": f.get("tin", "").replace("-", "") or None,
        }
        if address is not None:
            for k in ("house_number", "street", "unit", "po_box", "city", "state", "zip5"):
                values[k] = getattr(address, k)
        for k, col in cols.items():
            col.append(values.get(k))
    return pa.table(cols, schema=RECORD_SCHEMA)


def _same_door(got: Key, probe: Probe) -> bool:
    """A mended address the probe's answer accepts: another address the person filed
    at, or the latest filing's street line with a unit or ZIP mended from elsewhere."""
    return got in probe.own or any(got[0] == k[0] for k in probe.latest)


def judge(
    probes: Sequence[Probe], outcomes: dict[str, list[object]], policy: Policy, as_of: date
) -> ProbeCounts:
    """Count how the probes came out: ``outcomes`` is the probe workspace's ``outcomes``
    table (as columns), in row order."""
    n = {"findable": 0, "disclosed": 0, "wrong_person": 0, "wrong_address": 0, "found": 0}
    by_row = {r: i for i, r in enumerate(outcomes["row_number"])}
    for row, probe in enumerate(probes, start=1):
        n["findable"] += probe.findable
        i = by_row.get(row)
        if i is None or decide(summary_of(outcomes, i), policy, as_of) is not Outcome.DISCLOSED:
            continue
        n["disclosed"] += 1
        tin = outcomes["person_tin"][i]
        right_person = tin in probe.tins
        got = address_key(*(str(outcomes[c][i] or "") for c in ("line1", "unit", "zip5")))[0]
        mended = outcomes["address_mended"][i] is not None
        right = right_person and (got in probe.latest or (mended and _same_door(got, probe)))
        n["wrong_person"] += not right_person
        n["wrong_address"] += not right
        n["found"] += right and probe.findable
    return ProbeCounts(probes=len(probes), **n)


def run_probes(
    *,
    snapshot: Path,
    workspace: Path,
    n: int,
    seed: str,
    policy: Policy,
    as_of: date,
    memory_limit: str,
    match: Callable[[duckdb.DuckDBPyConnection], None],
) -> ProbeCounts:
    """Draw ``n`` probes, run them through ``match`` (the batch's matcher, writing
    ``outcomes`` for the ``valid`` view) in a workspace file of their own at
    ``workspace``, judge them and delete the workspace."""
    years = requested_years(as_of, policy)
    # Drawn with a margin: a copy whose address does not parse is dropped.
    people = probe_people(snapshot, n + n // 4 + 10, seed, years)
    wanted = [made_up(people, i) for i in range(MADE_UP_EVERY - 1, len(people), MADE_UP_EVERY)]
    taken = names_on_file(snapshot, [(m["first_name"], m["last_name"]) for m in wanted])
    probes = build_probes(people, seed, as_of, taken)[:n]
    if not probes:
        return ProbeCounts()
    try:
        with BatchWorkspace(workspace, memory_limit=memory_limit) as ws:
            ws.reset()
            ws.append_records(probe_records(probes, years))
            ws.con.execute(
                "CREATE OR REPLACE TABLE final AS "
                "SELECT row_number, request_id, mask, fields FROM records"
            )
            ws.valid_requests_view()
            match(ws.con)
            outcomes = ws.con.sql("SELECT * FROM outcomes ORDER BY row_number").to_arrow_table()
    finally:
        for leftover in (workspace, workspace.with_name(workspace.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return judge(probes, outcomes.to_pydict(), policy, as_of)


@dataclass(frozen=True, slots=True)
class Probed:
    """What a batch's shadow probes found, and the hold it puts the batch under."""

    counts: ProbeCounts
    hold: AccuracyHold | None


def shadow_probes(
    run: BatchRun,
    state: StateStore,
    work: Path,
    bar: Progress,
    match: Callable[[duckdb.DuckDBPyConnection], None],
) -> Probed:
    """Run the policy's shadow probes through ``match`` (the batch's matcher) and record
    their counts, and any hold they put the batch under, in the ledger."""
    n = run.policy.accuracy.shadow_probes if run.req.shadow_probes else 0
    if n == 0:
        return Probed(ProbeCounts(), None)
    t0 = time.monotonic()
    bar.stage("shadow probes", None)
    counts = run_probes(
        snapshot=run.reference.path,
        workspace=work / "probes.duckdb",
        n=n,
        seed=run.batch_id,
        policy=run.policy,
        as_of=run.req.as_of,
        memory_limit=run.req.memory_limit,
        match=match,
    )
    hold = hold_for(counts, run.policy.accuracy.min_precision)
    payload: dict[str, PayloadValue] = {**asdict(counts), "held": hold is not None}
    if hold is not None:
        payload["estimated_precision"] = hold["estimated_precision"]
        payload["min_precision"] = hold["min_precision"]
    draft = LedgerDraft(
        "accuracy_probed", run.req.actor, run.req.origin, True, run.batch_id, payload
    )
    state.append_ledger([draft])
    emit(
        Event.PROBES_DONE,
        batch_id=run.batch_id,
        probes=counts.probes,
        seconds=round(time.monotonic() - t0, 3),
    )
    return Probed(counts, hold)
