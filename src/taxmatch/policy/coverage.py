"""Coverage and bias: a batch's outcomes and its shadow probes' error rates by group. Pure.

A group is a set of rows the data itself shows, never a protected attribute: the kind of
TIN the subject files under, the shape and frequency of the requested surname, whether
the subject moved, lives in a multi-unit building, at a PO box or with other filers
(``GROUPS``; ``taxmatch.reference.coverage`` computes them). A row belongs to every group
it shows (a bit mask), and to none when the data cannot tell (no candidate and no TIN:
no TIN kind). The figures are counts and rates only: nothing here holds a record's value.

A group is *flagged* when its shadow probes' wrong-address rate among disclosures is
above the policy's ceiling (``accuracy.group_max_wrong_address``) with 95 % confidence
over the ten groups together (an exact one-sided binomial test of each at 0.5 %): a
handful of probes in a small group flags it only when their errors are too many to be
chance. A flagged group's disclosures go to REVIEW.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, fields
from datetime import date
from typing import NamedTuple

from typing_extensions import TypedDict  # pydantic validates typing's only from 3.12

from taxmatch.contracts import Outcome
from taxmatch.normalise.address import opens_as_po_box
from taxmatch.normalise.text import fold
from taxmatch.policy.accuracy import Interval, ProbeCounts, at_least, wilson
from taxmatch.policy.model import Policy


class Group(NamedTuple):
    name: str  # the key in summaries, CSV and the state database
    bit: int
    label: str  # a table's or chart's heading
    meaning: str  # what puts a row in the group (docs/accuracy.md, the console)


GROUPS: tuple[Group, ...] = (
    Group("itin", 1, "ITIN filers", "the subject files under an ITIN"),
    Group("ssn", 2, "SSN filers", "the subject files under an SSN"),
    Group("compound_surname", 4, "compound surnames", "the requested surname has several parts"),
    Group("single_name", 8, "single-token names", "the request names one name only"),
    Group(
        "common_surname",
        16,
        "common surnames",
        "at least 1 in 1,000 of the master's persons, and 10 or more, carry the surname",
    ),
    Group(
        "rare_surname",
        32,
        "rare surnames",
        "at most 2 of the master's persons, or fewer than 1 in 100,000, carry the surname",
    ),
    Group("mover", 64, "movers", "the subject filed at 2 or more addresses in the lookback"),
    Group(
        "multi_unit",
        128,
        "multi-unit buildings",
        "the requested or filed address has a unit, or filers give units at its building",
    ),
    Group("po_box", 256, "PO boxes", "the requested or filed address is a PO box"),
    Group(
        "household",
        512,
        "shared households",
        "2 or more persons filed at the requested or the subject's address in the lookback",
    ),
)
BY_NAME = {g.name: g for g in GROUPS}
FLAG_ALPHA = 0.05 / len(GROUPS)
# Every batch tests each group against the ceiling: each test at 0.05 / 10 (Bonferroni),
# so that a batch flags any group falsely at most 5 % of the time.
ALL_GROUPS = sum(g.bit for g in GROUPS)

# The outcome columns a coverage table shows, in order; the four ways a valid row is not
# matched are one column, as in the transparency report.
NOT_MATCHED = (Outcome.NO_MATCH, Outcome.NO_FILING_IN_PERIOD, Outcome.STALE, Outcome.INELIGIBLE)
COLUMNS = ("DISCLOSED", "NOT_MATCHED", "AMBIGUOUS", "REVIEW", "REJECTED")
PROBE = "probe_"  # the prefix of a probe count among a group's measures
FLAGGED = "flagged"  # the measure counting the batches that flagged the group
PROBE_MEASURES = tuple(PROBE + f.name for f in fields(ProbeCounts))
# Every measure a group's counts may hold: outcomes (and REJECTED), probe counts, flagged.
MEASURES = (*(o.value for o in Outcome), "REJECTED", *PROBE_MEASURES, FLAGGED)

Counts = Mapping[str, Mapping[str, int]]  # group name -> measure -> count


class GroupFigures(TypedDict):
    """One group's row of a coverage table."""

    group: str
    label: str
    rows: int  # the batch's (or year's) rows in the group
    outcomes: dict[str, int]  # by ``COLUMNS``
    probes: int
    wrong_person_rate: Interval
    wrong_address_rate: Interval
    recall: Interval
    flagged: int  # a batch: 1 when the group is flagged; a year: the batches that flagged it


class Coverage(TypedDict):
    """``summary.json``'s ``coverage``; also the transparency report's, over a year."""

    ceiling: float | None  # the policy's accuracy.group_max_wrong_address (a year: None)
    flagged: list[str]  # the groups flagged (a year: by any batch)
    groups: list[GroupFigures]


def lookback(as_of: date, policy: Policy) -> tuple[int, int]:
    """The tax years a row's subject's moves and household are read from: the policy's
    lookback, up to the year before ``as_of``."""
    return as_of.year - policy.tax_periods.lookback_years, as_of.year - 1


def request_shape(first: str, middle: str, last: str, unit: str, po_box: bool) -> int:
    """The groups a request's own (folded) name and address show: a surname of several
    parts, one name only, a unit, a PO box. The rest need the master
    (``taxmatch.reference.coverage``)."""
    mask = 0
    if " " in last.strip():
        mask |= BY_NAME["compound_surname"].bit
    if bool(first.strip()) != bool(last.strip()) and not middle.strip():
        mask |= BY_NAME["single_name"].bit
    if unit.strip():
        mask |= BY_NAME["multi_unit"].bit
    if po_box:
        mask |= BY_NAME["po_box"].bit
    return mask


def raw_shape(fields: Mapping[str, str]) -> int:
    """``request_shape`` of a request as written (a rejected one is never normalised)."""
    first, middle, last = (
        fold(fields.get(k, "")) for k in ("first_name", "middle_name", "last_name")
    )
    box = opens_as_po_box(fields.get("street_address", ""))
    return request_shape(first, middle, last, fold(fields.get("unit", "")), box)


def names_of(mask: int) -> list[str]:
    """The names of the groups in ``mask``, in ``GROUPS`` order."""
    return [g.name for g in GROUPS if mask & g.bit]


def mask_of(names: Iterable[str]) -> int:
    return sum(BY_NAME[n].bit for n in set(names))


def is_flagged(counts: ProbeCounts, ceiling: float | None) -> bool:
    """Whether probes ``counts`` put their group's wrong-address rate above ``ceiling``
    with 95 % confidence over all the groups: an exact binomial test, so many wrong
    among so few disclosures would be that unlikely at the ceiling's rate."""
    if ceiling is None or counts.wrong_address <= ceiling * counts.disclosed:
        return False  # at or below the ceiling's expected count: the tail is over a half
    return at_least(counts.wrong_address, counts.disclosed, ceiling) < FLAG_ALPHA


def probe_counts(measures: Mapping[str, int]) -> ProbeCounts:
    """A group's probe counts from its measures."""
    return ProbeCounts(
        **{f.name: int(measures.get(PROBE + f.name, 0)) for f in fields(ProbeCounts)}
    )


def probe_measures(counts: ProbeCounts) -> dict[str, int]:
    return {PROBE + k: v for k, v in asdict(counts).items()}


def flag(probes: Mapping[str, ProbeCounts], ceiling: float | None) -> list[str]:
    """The groups whose probes flag them, in ``GROUPS`` order."""
    return [g.name for g in GROUPS if g.name in probes and is_flagged(probes[g.name], ceiling)]


def coverage(counts: Counts, ceiling: float | None) -> Coverage:
    """The coverage table of ``counts`` (a batch's, or a year's sums of them)."""
    groups = []
    for g in GROUPS:
        m = counts.get(g.name, {})
        p = probe_counts(m)
        outcomes = {c: int(m.get(c, 0)) for c in COLUMNS if c != "NOT_MATCHED"}
        outcomes["NOT_MATCHED"] = sum(int(m.get(o.value, 0)) for o in NOT_MATCHED)
        groups.append(
            GroupFigures(
                group=g.name,
                label=g.label,
                rows=sum(int(m.get(o, 0)) for o in (*(o.value for o in Outcome), "REJECTED")),
                outcomes={c: outcomes[c] for c in COLUMNS},
                probes=p.probes,
                wrong_person_rate=wilson(p.wrong_person, p.disclosed),
                wrong_address_rate=wilson(p.wrong_address, p.disclosed),
                recall=wilson(p.found, p.findable),
                flagged=int(m.get(FLAGGED, 0)),
            )
        )
    return {
        "ceiling": ceiling,
        "flagged": [g["group"] for g in groups if g["flagged"]],
        "groups": groups,
    }


RATES = ("wrong_person_rate", "wrong_address_rate", "recall")
CSV_COLUMNS = (
    "group",
    "label",
    "rows",
    *(c.lower() for c in COLUMNS),
    "probes",
    *(f"{rate}_{part}" for rate in RATES for part in ("estimate", "low", "high")),
    "flagged",
)


def csv_rows(cov: Coverage) -> list[list[str | int | float | None]]:
    """``cov`` as the rows of a CSV under ``CSV_COLUMNS`` (rates as fractions; blank when
    no probe was counted)."""
    rows: list[list[str | int | float | None]] = []
    for g in cov["groups"]:
        row: list[str | int | float | None] = [g["group"], g["label"], g["rows"]]
        row += [g["outcomes"][c] for c in COLUMNS]
        row.append(g["probes"])
        for rate in (g["wrong_person_rate"], g["wrong_address_rate"], g["recall"]):
            row += [rate["estimate"], rate["low"], rate["high"]]
        row.append(g["flagged"])
        rows.append(row)
    return rows


def measures(
    outcomes: Mapping[str, Mapping[str, int]],
    probes: Mapping[str, ProbeCounts],
    flagged: Iterable[str],
) -> dict[str, dict[str, int]]:
    """A batch's counts by group (``Counts``): rows by outcome, probe counts, flagged."""
    out: dict[str, dict[str, int]] = {}
    held = set(flagged)  # read once: an iterator would be spent by the first group
    for g in GROUPS:
        m = {k: int(v) for k, v in outcomes.get(g.name, {}).items()}
        if g.name in probes:
            m |= probe_measures(probes[g.name])
        m[FLAGGED] = int(g.name in held)
        out[g.name] = {k: v for k, v in m.items() if v}
    return out
