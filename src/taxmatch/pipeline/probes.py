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
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from random import Random
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from taxmatch.contracts import Outcome
from taxmatch.events import Event, emit
from taxmatch.generate.request_rows import (
    first_name_key,
    first_name_unconfirmed,
    noisy_address,
    noisy_name,
    optional_ids,
)
from taxmatch.ledger.chain import LedgerDraft, PayloadValue
from taxmatch.normalise.address import parse_address
from taxmatch.normalise.name_placeholder import is_placeholder_first, is_placeholder_last
from taxmatch.normalise.names import normalise_name
from taxmatch.normalise.text import fold
from taxmatch.pipeline.evaluate import address_key
from taxmatch.pipeline.record import summary_of
from taxmatch.policy.accuracy import AccuracyHold, ProbeCounts, hold_for, total
from taxmatch.policy.coverage import GROUPS, flag, lookback, mask_of, request_shape
from taxmatch.policy.decide import address_age_years, decide
from taxmatch.policy.model import Policy
from taxmatch.reference.coverage import row_groups
from taxmatch.reference.probes import (
    ProbePerson,
    first_name_shares,
    names_on_file,
    probe_people,
)
from taxmatch.reference.workspace import RECORD_SCHEMA, BatchWorkspace
from taxmatch.store.state import StateStore

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun, Progress

MADE_UP_EVERY = 10  # every tenth probe names nobody in the master
OLDER_ADDRESS_SHARE = 0.6  # as the generator's requests: often an older address

Key = tuple[str, str, str]
_ADDRESS_COLUMNS = ("street_address", "unit", "city", "state", "zip")
_MASKS = (
    "SELECT coalesce(groups, 0) FROM records LEFT JOIN row_groups USING (row_number) "
    "ORDER BY row_number"
)


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe's request fields (as a requester would write them) and its answer."""

    fields: dict[str, str]  # REQUEST_COLUMNS' names: names, address, date_of_birth, tin
    tins: frozenset[str]  # empty: a made-up person
    latest: frozenset[Key]  # the addresses of the latest requested year's filings
    own: frozenset[Key]  # every address of the person this probe was built from
    # The person is in the master and the request names them well enough to be found.
    findable: bool = False
    subject: str = ""  # the person's canonical TIN, for their coverage groups ("": made up)


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


def _noised(
    p: ProbePerson, rng: Random, as_of: date, shares: Mapping[str, float]
) -> tuple[dict[str, str], bool] | None:
    """A requester's copy of ``p``: the generator's request noise on the name as filed,
    an address of theirs (an older one as often as the generator's requests give one)
    and, sometimes, the date of birth and TIN; and whether the law lets it be found (as
    the generator's truth: not without an agreeing first name, ``first_name_unconfirmed``
    by ``shares``, each first name's share of the snapshot's persons). None when the copy
    is not a valid address or names nobody (a placeholder word filed as a name: R01)."""
    place = p.latest_addresses[0]
    if p.older_address is not None and rng.random() < OLDER_ADDRESS_SHARE:
        place = p.older_address
    tags: list[str] = []
    name = (p.first_name, p.middle_name, p.last_name, p.suffix)
    line = (place["line1"] or "", place["unit"] or "", place["city"] or "", place["state"] or "")
    fields = {**noisy_name(rng, name, tags), **noisy_address(rng, (*line, place["zip5"]), tags)}
    if parse_address(*(fields[k] for k in _ADDRESS_COLUMNS)).address is None:
        return None
    if is_placeholder_first(fold(fields["first_name"])) or is_placeholder_last(
        fold(fields["last_name"])
    ):
        return None  # a request so named is rejected (R01), not matched
    if p.date_of_birth is not None:
        fields |= optional_ids(rng, p.date_of_birth, p.tins[0] if p.tins else "", as_of, tags)
    asked = first_name_key(
        fields["first_name"], fields["middle_name"], fields["last_name"], fields["suffix"]
    )
    filed = first_name_key(*name)
    return fields, not first_name_unconfirmed(tags, asked, filed, shares)


def build_probes(
    people: Sequence[ProbePerson],
    seed: str,
    as_of: date,
    taken: set[tuple[str, str]],
    shares: Mapping[str, float],
) -> list[Probe]:
    """The probes of ``people`` (in sample order); ``taken``: the made-up names someone
    files under (``names_on_file``), which are dropped rather than asked, as is a copy
    whose address does not parse (a request with it would be rejected, not matched);
    ``shares``: each first name's share of the snapshot's persons (``first_name_shares``)."""
    probes = []
    for i, p in enumerate(people):
        rng = Random(f"{seed}:{i}")
        if i % MADE_UP_EVERY == MADE_UP_EVERY - 1 and len(people) >= 3:
            made = made_up(people, i)
            if (made["first_name"], made["last_name"]) not in taken:
                probes.append(Probe(made, frozenset(), frozenset(), frozenset()))
            continue
        noised = _noised(p, rng, as_of, shares)
        if noised is not None:
            latest = frozenset(_key(a) for a in p.latest_addresses)
            own = frozenset(_key(a) for a in p.addresses)
            probe = Probe(noised[0], frozenset(p.tins), latest, own, noised[1], p.tin)
            probes.append(probe)
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
        unit, box = (address.unit, bool(address.po_box)) if address is not None else ("", False)
        values: dict[str, object] = {
            "row_number": n,
            "request_id": f"PROBE-{n}",
            "officer_id": "",
            "mask": 0 if address is not None else 1,
            "fields": "",
            "shape": request_shape(name.first, name.middle, name.last, unit, box),
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


def verdicts(
    probes: Sequence[Probe], outcomes: dict[str, list[object]], policy: Policy, as_of: date
) -> list[ProbeCounts]:
    """How each probe came out, as counts of one probe: ``outcomes`` is the probe
    workspace's ``outcomes`` table (as columns), in row order."""
    by_row = {r: i for i, r in enumerate(outcomes["row_number"])}
    out = []
    for row, probe in enumerate(probes, start=1):
        i = by_row.get(row)
        if i is None or decide(summary_of(outcomes, i), policy, as_of) is not Outcome.DISCLOSED:
            out.append(ProbeCounts(probes=1, findable=int(probe.findable)))
            continue
        tin = outcomes["person_tin"][i]
        right_person = tin in probe.tins
        got = address_key(*(str(outcomes[c][i] or "") for c in ("line1", "unit", "zip5")))[0]
        mended = outcomes["address_mended"][i] is not None
        right = right_person and (got in probe.latest or (mended and _same_door(got, probe)))
        out.append(
            ProbeCounts(
                probes=1,
                findable=int(probe.findable),
                disclosed=1,
                wrong_person=int(not right_person),
                wrong_address=int(not right),
                found=int(right and probe.findable),
            )
        )
    return out


def judge(
    probes: Sequence[Probe], outcomes: dict[str, list[object]], policy: Policy, as_of: date
) -> ProbeCounts:
    """Count how the probes came out (``verdicts``, summed)."""
    return total(verdicts(probes, outcomes, policy, as_of))


def by_group(counts: Sequence[ProbeCounts], masks: Sequence[int]) -> dict[str, ProbeCounts]:
    """The probes' counts in each coverage group; ``masks``: each probe's groups."""
    return {
        g.name: total(c for c, m in zip(counts, masks, strict=True) if m & g.bit) for g in GROUPS
    }


@dataclass(frozen=True, slots=True)
class Probed:
    """What a batch's shadow probes found: their counts, in total and by coverage group,
    the hold they put the batch under and the groups they flag."""

    counts: ProbeCounts = field(default_factory=ProbeCounts)
    hold: AccuracyHold | None = None
    groups: dict[str, ProbeCounts] = field(default_factory=dict)
    flagged: tuple[str, ...] = ()


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
) -> Probed:
    """Draw ``n`` probes, run them through ``match`` (the batch's matcher, writing
    ``outcomes`` for the ``valid`` view) in a workspace file of their own at
    ``workspace``, judge them, in total and by coverage group, and delete the workspace."""
    years = requested_years(as_of, policy)
    # Drawn with a margin: a copy whose address does not parse is dropped.
    people = probe_people(snapshot, n + n // 4 + 10, seed, years)
    wanted = [made_up(people, i) for i in range(MADE_UP_EVERY - 1, len(people), MADE_UP_EVERY)]
    taken = names_on_file(snapshot, [(m["first_name"], m["last_name"]) for m in wanted])
    probes = build_probes(people, seed, as_of, taken, first_name_shares(snapshot))[:n]
    if not probes:
        return Probed()
    files = (workspace, workspace.with_name(workspace.name + ".wal"))
    for leftover in files:  # a killed run's: scratch, and its log may be torn mid-write
        leftover.unlink(missing_ok=True)
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
            # A probe's coverage groups are those of the person it was built from.
            numbers = list(range(1, len(probes) + 1))
            subjects = pa.table({"row_number": numbers, "person_tin": [p.subject for p in probes]})
            ws.con.register("probe_subjects", subjects)
            row_groups(ws.con, snapshot, "probe_subjects", lookback(as_of, policy))
            masks = [m for (m,) in ws.con.execute(_MASKS).fetchall()]
    finally:
        for leftover in files:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    each = verdicts(probes, outcomes.to_pydict(), policy, as_of)
    counts, groups = total(each), by_group(each, masks)
    flagged = tuple(flag(groups, policy.accuracy.group_max_wrong_address))
    return Probed(counts, hold_for(counts, policy.accuracy.min_precision), groups, flagged)


@contextmanager
def shadow_probes(
    run: BatchRun,
    state: StateStore,
    work: Path,
    bar: Progress,
    match: Callable[[duckdb.DuckDBPyConnection], None],
) -> Iterator[Callable[[], Probed]]:
    """Run the policy's shadow probes through ``match`` (the batch's matcher) on a thread
    of their own, from entering: they read the master file, never the batch's rows, so
    they run while the batch is validated. Gives the function that waits for them and
    records their counts, and any hold they put the batch under, in the ledger (once,
    however often it is called). Leaving waits for the thread; probes not waited for by
    then (the batch failed first) record nothing."""
    n = run.policy.accuracy.shadow_probes if run.req.shadow_probes else 0
    if n == 0:
        yield Probed
        return
    with ThreadPoolExecutor(1, thread_name_prefix="taxmatch-probes") as thread:
        running = thread.submit(_timed_probes, run, work, n, match)
        recorded: list[Probed] = []

        def probed() -> Probed:
            if not recorded:
                if not running.done():
                    bar.stage("shadow probes", None)
                recorded.append(_record(run, state, *running.result()))
            return recorded[0]

        yield probed


def _timed_probes(
    run: BatchRun, work: Path, n: int, match: Callable[[duckdb.DuckDBPyConnection], None]
) -> tuple[Probed, float]:
    """``run_probes`` for the batch, and the seconds they took."""
    t0 = time.monotonic()
    probed = run_probes(
        snapshot=run.reference.path,
        workspace=work / "probes.duckdb",
        n=n,
        seed=run.batch_id,
        policy=run.policy,
        as_of=run.req.as_of,
        memory_limit=run.req.memory_limit,
        match=match,
    )
    return probed, round(time.monotonic() - t0, 3)


def _record(run: BatchRun, state: StateStore, probed: Probed, seconds: float) -> Probed:
    """The probes' ``accuracy_probed`` ledger entry (counts, hold, flagged groups)."""
    counts, hold = probed.counts, probed.hold
    payload: dict[str, PayloadValue] = {**asdict(counts), "held": hold is not None}
    payload["flagged_groups"] = mask_of(probed.flagged)  # GROUPS' bits (docs/accuracy.md)
    if hold is not None:
        payload["estimated_precision"] = hold["estimated_precision"]
        payload["min_precision"] = hold["min_precision"]
    draft = LedgerDraft(
        "accuracy_probed", run.req.actor, run.req.origin, True, run.batch_id, payload
    )
    state.append_ledger([draft])
    emit(Event.PROBES_DONE, batch_id=run.batch_id, probes=counts.probes, seconds=seconds)
    return probed
