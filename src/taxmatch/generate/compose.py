"""Compose a request batch: how many rows of each kind (``take`` spreads an exact total
over a stream of known length, so the population is never held in memory); each row, a
person's noisy copy (or someone not in the master file) in its slot (valid, boilerplate or
broken); and, once a bucket is shuffled, its request_id, officer and duplicate verdict.
Pure apart from writing to the buckets it is given; never logs a value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count
from random import Random

from taxmatch.contracts import REQUEST_COLUMNS, Outcome, ReasonCode
from taxmatch.generate.invalid import (
    DUPLICATE_ID,
    DUPLICATE_PERSON_CASE,
    DUPLICATES,
    KIND_NAMES,
    corrupt,
)
from taxmatch.generate.names import keep_diacritics, person_name, pick_group, pick_surname
from taxmatch.generate.output import Buckets, Entry
from taxmatch.generate.people_file import PersonRecord, YearRecord
from taxmatch.generate.places import Place, new_place
from taxmatch.generate.request_rows import (
    BOILERPLATE,
    FIRST_NAME_UNCONFIRMED,
    choose_address,
    choose_periods,
    expected_for,
    first_name_key,
    first_name_unconfirmed,
    noisy_address,
    noisy_name,
    optional_ids,
    order_fields,
)
from taxmatch.generate.territory import Territory, territory
from taxmatch.generate.tins import TinAllocator, keyed_permutation

_PERSON_STRATA = (
    "itin",
    "ssn",
    "compound_surname",
    "household_same_name",
    "twin",
    "junior",
    "senior",
    "mover",
    "deceased",
    "tin_changed",
    "po_box",
    "diacritics",
)
# Request noise that makes a row a noisy request.
_NOISY = frozenset(
    {
        "nickname",
        "initial",
        "name_typo",
        "swapped_names",
        "house_typo",
        "street_typo",
        "unit_dropped",
        "surname_variant",
        "city_typo",
    }
)


@dataclass(frozen=True, slots=True)
class RequestMix:
    """Shares of a batch. ``in_master`` and ``household_member`` are shares of the base
    rows (the rest are people not in the master file); ``invalid`` and ``boilerplate`` are
    shares of all rows. Boilerplate is always just above the policy's 5 % identical share."""

    in_master: float = 0.84
    household_member: float = 0.04
    invalid: float = 0.07
    boilerplate: float = 0.055


@dataclass(frozen=True, slots=True)
class BatchPlan:
    bases: int
    in_master: int
    household_member: int
    not_in_master: int
    boilerplate: int
    invalid_kinds: tuple[str, ...]


def plan_batch(rows: int, mix: RequestMix, filers: int, household: int, rng: Random) -> BatchPlan:
    """Exact counts of each kind; the invalid kinds cycle through every kind, so each
    reason code appears."""
    boiler = max(math.floor(0.05 * rows) + 1, round(rows * mix.boilerplate)) if rows >= 20 else 0
    wanted = round(rows * mix.invalid)
    kinds: list[str] = []
    while len(kinds) < wanted:
        cycle = list(KIND_NAMES)
        rng.shuffle(cycle)
        kinds.extend(cycle)
    kinds = kinds[:wanted]
    # A duplicate kind adds a second row; keep the total exact.
    while kinds and boiler + len(kinds) + sum(k in DUPLICATES for k in kinds) > rows:
        kinds.pop()
    bases = rows - sum(k in DUPLICATES for k in kinds)
    in_master = round(bases * mix.in_master) if filers else 0
    members = min(round(bases * mix.household_member), bases - in_master) if household else 0
    return BatchPlan(
        bases=bases,
        in_master=in_master,
        household_member=members,
        not_in_master=bases - in_master - members,
        boilerplate=boiler,
        invalid_kinds=tuple(kinds),
    )


def take(need: int, remaining: int, rng: Random) -> int:
    """How many of ``need`` to give the current item of ``remaining`` (exact in total)."""
    if need <= 0 or remaining <= 0:
        return 0
    quota = need / remaining
    k = int(quota)
    if rng.random() < quota - k:
        k += 1
    return min(k, need)


def fresh_person(
    rng: Random,
    as_of: date,
    neighbour: PersonRecord | None,
    tins: TinAllocator,
    tags: list[str],
    country: Territory | None = None,
) -> PersonRecord:
    """A person not in the master file; sometimes a look-alike of ``neighbour`` (a real
    filer: the same surname and city, or the whole name), so a matcher that discloses on a
    name alone gets them wrong. Their TINs continue the population's sequence, so none
    belongs to a filer."""
    group = neighbour.group if neighbour is not None and rng.random() < 0.5 else pick_group(rng)
    sex = rng.choice("MF")
    name = person_name(rng, group, sex, pick_surname(rng, group), keep_diacritics(rng, group))
    first, middle, last = name.first, name.middle, name.last
    country = country or territory()
    city = country.pick(rng)
    r = rng.random()
    if neighbour is not None and neighbour.history and r < 0.45:
        home = neighbour.history[-1].residence
        city = country.city_of(Place(*home, ""))
        last = neighbour.last
        tags.append("lookalike_surname_city")
        if r < 0.1:
            first, middle = neighbour.first, ""
            tags.append("lookalike_name")
    place = new_place(rng, city)
    addr = (place.street, place.unit, place.city, place.state, place.zip5)
    dob = date(as_of.year - rng.randint(19, 75), 1, 1) + timedelta(days=rng.randrange(365))
    tin = tins.itin() if group != "general" and rng.random() < 0.2 else tins.ssn()
    return PersonRecord(
        group=group,
        first=first,
        middle=middle,
        last=last,
        suffix=name.suffix,
        dob=dob,
        dod=None,
        tin=tin,
        tins=(tin,),
        flags=frozenset({"not_in_master"}),
        history=(YearRecord(as_of.year - 2, False, addr, addr, tin, ""),),
    )


class Composer:
    """State of one generation run (the rng, counters and the plan still to fill)."""

    def __init__(
        self,
        rng: Random,
        plan: BatchPlan,
        as_of: date,
        agency: str,
        tins: TinAllocator,
        buckets: Buckets,
        country: Territory | None = None,
        shares: Mapping[str, float] | None = None,
    ) -> None:
        self.rng, self.as_of, self.agency = rng, as_of, agency
        # Each first name's share of the master file's persons (``first_name_unconfirmed``).
        self.shares = shares or {}
        self.country = country or territory()
        self.tins, self.buckets = tins, buckets
        self.cases = keyed_permutation(10**8, rng)
        self.seq, self.groups = count(1), count(1)
        self.bases_left = plan.bases
        self.boiler_left = plan.boilerplate
        self.kinds = list(reversed(plan.invalid_kinds))
        self.emitted = 0

    def _case(self) -> str:
        return f"{self.agency}-{self.as_of.year % 100:02d}-{self.cases(next(self.seq)):08d}"

    def request(
        self, person: PersonRecord, in_master: bool, tags: list[str]
    ) -> tuple[dict[str, str], dict[str, object]]:
        rng, as_of = self.rng, self.as_of
        tags.extend(f for f in _PERSON_STRATA if f in person.flags)
        periods = choose_periods(rng, person if in_master else None, as_of)
        fields = {
            **noisy_name(rng, (person.first, person.middle, person.last, person.suffix), tags),
            **noisy_address(rng, choose_address(rng, person, tags), tags),
        }
        tin = person.tins[0] if len(person.tins) > 1 and rng.random() < 0.3 else person.tin
        fields |= {
            "tax_periods": ";".join(str(y) for y in periods),
            **order_fields(rng, as_of, self._case()),
            **optional_ids(rng, person.dob, tin, as_of, tags),
        }
        truth: dict[str, object] = {
            "tin": person.tin if in_master else "",
            "tins": ";".join(person.tins) if in_master else "",
            "codes": [],
        }
        if in_master:
            exp = expected_for(person, periods, as_of)
            truth["outcome"] = exp.outcome.value
            if exp.address is not None and exp.tax_year is not None:
                truth["address"] = list(exp.address)
                truth["tax_year"] = exp.tax_year
                tags.extend(f"master_{t}" for t in exp.master_noise.split(";") if t)
        else:
            truth["outcome"] = Outcome.NO_MATCH.value
        if in_master and self._unconfirmed(person, fields, tags):
            # The address stays in the truth, so a disclosure of it is still judged right.
            truth["outcome"] = Outcome.NO_MATCH.value
            tags.append("first_name_unconfirmed")
        if not _NOISY.isdisjoint(tags):
            tags.append("noisy_request")
        truth["stratum"] = tags
        return fields, truth

    def _unconfirmed(self, person: PersonRecord, fields: dict[str, str], tags: list[str]) -> bool:
        """The row's first name does not agree with the person's (``first_name_unconfirmed``)."""
        if FIRST_NAME_UNCONFIRMED.isdisjoint(tags):
            return False
        parts = (fields[c] for c in ("first_name", "middle_name", "last_name", "suffix"))
        asked = first_name_key(*parts)
        filed = first_name_key(person.first, person.middle, person.last, person.suffix)
        return first_name_unconfirmed(tags, asked, filed, self.shares)

    def emit(self, person: PersonRecord, in_master: bool, tags: list[str]) -> None:
        rng = self.rng
        fields, truth = self.request(person, in_master, tags)
        draw = rng.random() * self.bases_left
        self.bases_left -= 1
        group, kind = 0, ""
        if draw < self.boiler_left:
            self.boiler_left -= 1
            fields["relevance"] = BOILERPLATE
            truth.update(outcome="REJECTED", codes=[ReasonCode.R06.value])
            truth["stratum"] = [*tags, "invalid", "r06_boilerplate"]
        elif draw < self.boiler_left + len(self.kinds):
            kind = self.kinds.pop()
            if kind in DUPLICATES:
                group = next(self.groups)
            else:
                codes = corrupt(fields, kind, rng, self.as_of, tags)
                truth.update(outcome="REJECTED", codes=sorted({c.value for c in codes}))
                truth["stratum"] = [*tags, "invalid"]
        bucket = rng.randrange(self.buckets.count)
        self.buckets.add(bucket, [group, kind, fields, truth])
        self.emitted += 1
        if group:
            if kind == DUPLICATE_PERSON_CASE:
                twin_fields, twin_truth = dict(fields), json.loads(json.dumps(truth))
            else:
                other = fresh_person(rng, self.as_of, None, self.tins, [], self.country)
                twin_fields, twin_truth = self.request(other, False, ["not_in_master"])
            self.buckets.add(bucket, [group, kind, twin_fields, twin_truth])
            self.emitted += 1

    def emit_fresh(self, neighbour: PersonRecord | None) -> None:
        tags = ["not_in_master"]
        person = fresh_person(self.rng, self.as_of, neighbour, self.tins, tags, self.country)
        self.emit(person, False, tags)


def finish_bucket(
    entries: list[Entry], state: dict[str, int], officers: list[str], batch_codes: list[str]
) -> tuple[list[list[str]], list[list[str]]]:
    """Request and truth rows of one shuffled bucket: ids, officers, later duplicates and
    the batch-level codes (R07, R12) that reject every row of an unauthorised batch."""
    requests: list[list[str]] = []
    truths: list[list[str]] = []
    first_id: dict[int, str] = {}
    for group, kind, fields, truth in entries:
        rid = ""
        if group and group in first_id:
            if kind == DUPLICATE_ID:
                rid = first_id[group]
            truth["codes"] = sorted({*truth["codes"], ReasonCode.R10.value})
            truth["outcome"] = "REJECTED"
            truth["stratum"] = [*truth["stratum"], "invalid", kind]
            truth.pop("address", None)
        if not rid:
            state["next_id"] += 1
            rid = f"REQ-{state['next_id']:08d}"
        if group and group not in first_id:
            first_id[group] = rid
            truth["stratum"] = [*truth["stratum"], "duplicate_first"]
        if "officer_id" not in fields:
            fields["officer_id"] = officers[state["officer"] % len(officers)]
            state["officer"] += 1
        if batch_codes:
            truth["codes"] = sorted({*truth["codes"], *batch_codes})
            truth["outcome"] = "REJECTED"
            truth["stratum"] = [*truth["stratum"], "batch_rejected"]
        fields["request_id"] = rid
        requests.append([fields.get(c, "") for c in REQUEST_COLUMNS])
        rejected = truth["outcome"] == "REJECTED"
        addr = truth.get("address") if not rejected else None
        year = truth.get("tax_year") if addr else None
        truths.append(
            [
                rid,
                truth["tin"],
                truth["outcome"],
                ";".join(truth["codes"]) if rejected else "",
                *(addr or ["", "", "", "", ""]),
                str(year) if year else "",
                ";".join(dict.fromkeys(truth["stratum"])),
                truth["tins"],
            ]
        )
    return requests, truths
