"""The rules on the rows of one lookup: a request's evidence gathered in Python from the
rows the lookup index hands over (the candidates' persons, names and filings, and every
filer at the best person's addresses), as ``collapse`` gathers it in DuckDB for a batch,
and judged by the same ``rules.judge``. ``tests/unit/match/test_lookup_judge.py`` holds
the two gatherers to the same answers. Never logs a value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from taxmatch.match.evidence import Address, Best, Evidence, Filer, Filing, Name, Person
from taxmatch.match.judging import OUTCOME_SCHEMA, grouped, key_of, request_of
from taxmatch.match.rules import judge, rank_persons
from taxmatch.match.thresholds import MAX_SLIP_SUPPORT

Row = Mapping[str, Any]


def evidence_of(
    person_id: str,
    periods: Sequence[int | None] | None,
    persons: Iterable[Row],
    person_names: Iterable[Row],
    filings: Iterable[Row],
    person_addresses: Iterable[Row],
) -> Evidence | None:
    """The evidence of ``person_id`` for a request of ``periods`` (its filings in those
    periods only, as the batch gathers them) from rows holding at least the person's own rows,
    every filer's at the person's addresses, under any ZIP at the doors of the person's
    filings, and, for a door of theirs filed in one year only, in its ZIP on its street
    and at its house number (``lookup_index.addresses_of``); None without a ``persons``
    row."""
    person = next((p for p in persons if p["person_id"] == person_id), None)
    if person is None:
        return None
    everyone = [(key_of(a), a) for a in person_addresses]
    own = [a for _, a in everyone if a["person_id"] == person_id]
    # The filings in the requested periods, as the batch gathers them (SQL's
    # list_contains: a NULL year, or no periods, is in none).
    requested = {y for y in periods or () if y is not None}
    filed = [f for f in filings if f["person_id"] == person_id and f["tax_year"] in requested]
    own_keys = {key_of(a) for a in own}
    support = {key_of(a): a["support"] for a in own}
    years = {key_of(a): a["n_years"] for a in own}
    slips = {key_of(f) for f in filed}
    buildings = {(k[0], k[1], k[4]) for k in own_keys | slips}
    with_units = {(k[0], k[1], k[4]) for k, a in everyone if a["unit"]}
    others = [
        (k, a["person_id"]) for k, a in everyone if a["person_id"] != person_id and None not in k
    ]
    return Evidence(
        person=Person._make(person[c] for c in Person._fields),
        names=[
            Name(n["first_name"], n["last_key"])
            for n in person_names
            if n["person_id"] == person_id
        ],
        addresses=[Address._make(a[c] for c in Address._fields) for a in own],
        filings=[Filing._make(f[c] for c in Filing._fields) for f in filed],
        neighbours=grouped((k, other) for k, other in others if k in slips),
        co_filed=grouped((other, k) for k, other in others if k in own_keys),
        units_at=frozenset(b for b in buildings & with_units if None not in b),
        variants=grouped(
            (k, Filer._make(a[c] for c in Filer._fields))
            for k in slips
            if k[0] and years.get(k) == 1  # a house number (SQL: house_number <> '')
            for _, a in everyone
            if a["person_id"] != person_id
            and a["zip5"] is not None
            and a["zip5"] == k[4]
            and ((a["street"] is not None and a["street"] == k[1]) or a["house_number"] == k[0])
            and (a["house_number"], a["street"]) != (k[0], k[1])
        ),
        elsewhere=grouped(
            (k, (a["unit"], a["zip5"], a["city"], a["state"], a["n_filings"], a["person_id"]))
            for k in slips
            if k[0]  # a house number (SQL: house_number <> '')
            and (support.get(k) or 1) <= MAX_SLIP_SUPPORT
            for _, a in everyone
            if a["person_id"] != person_id
            and a["house_number"] == k[0]
            and a["street"] is not None
            and a["street"] == k[1]
            and a["zip5"] is not None
            and k[4] is not None
            and a["zip5"] != k[4]
        ),
    )


def best_persons(
    valid: Sequence[Row],
    pred: Iterable[Row],
    first_names: Mapping[str, str | None],
    *,
    review_threshold: float,
    margin: float,
) -> dict[int, Best | None]:
    """Each valid row's best person (``rules.rank_persons``) from Splink-shaped scored
    pairs (``unique_id_r`` a master record id ``<person_id>|n``); ``first_names``: each
    scored person's own first name (``persons``')."""
    pairs: dict[int, list[tuple[str, float, float, str | None]]] = defaultdict(list)
    for p in pred:
        person_id = str(p["unique_id_r"]).split("|", 1)[0]
        pairs[int(p["unique_id_l"])].append(
            (
                person_id,
                float(p["match_weight"]),
                float(p["match_probability"]),
                first_names.get(person_id),
            )
        )
    return {
        int(v["row_number"]): rank_persons(
            pairs.get(int(v["row_number"]), ()),
            review_threshold,
            margin,
            first_name=v["first_name"],
        )
        for v in valid
    }


def outcomes_of(
    valid: Sequence[Row],
    best: Mapping[int, Best | None],
    people: Mapping[str, Sequence[Row]],
    nick: Mapping[str, tuple[Sequence[str] | None, Sequence[str]]],
) -> list[dict[str, Any]]:
    """One ``outcomes`` row (a dict of ``OUTCOME_SCHEMA``'s columns) per ``valid`` row;
    ``people``: the person tables' rows of the best persons and everyone at their addresses;
    ``nick``: each first name's nicknames and the names it is a misspelling of (``nick``'s
    columns)."""
    out: list[dict[str, Any]] = []
    for v in valid:
        rn = int(v["row_number"])
        found = best.get(rn)
        periods = v["tax_periods"]
        evidence = None if found is None else evidence_of(found.person_id, periods, **people)
        nicknames, fixes = nick.get(v["first_name"]) or (None, ())
        outcome = judge(rn, request_of(v), found, evidence, nicknames or (), fixes)
        out.append(dict(zip(OUTCOME_SCHEMA.names, outcome, strict=True)))
    return out
