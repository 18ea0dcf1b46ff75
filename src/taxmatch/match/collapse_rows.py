"""``collapse`` for the few rows of one lookup, in Python: the same answer as its SQL.

``taxmatch.match.probabilistic.collapse`` is the one definition of how scored pairs
become a request's outcome; for a batch it runs in DuckDB. For one lookup, DuckDB spends
about thirty milliseconds planning and starting that statement to read a few dozen rows,
so the warm matcher runs this transcription instead: each CTE of the SQL is a block
below, under the CTE's name, with SQL's three-valued logic (``None`` is NULL; a WHERE
keeps a row only when its condition is TRUE; ``bool_or`` ignores NULLs), NULLs ordered
last, and DuckDB's string functions (rapidfuzz's, ``taxmatch.match.levels``; a
similarity at one of this SQL's thresholds raises ``Unsupported``).

Two definitions of one rule may drift apart. Three things stop that: ``SQL_DIGEST``
is the digest of the SQL this was transcribed from, and the warm matcher uses this
module only while ``collapse``'s SQL still has it (``sql_digest``; a test fails on any
change to the SQL until this file is reviewed against it); the tests compare the two on
generated requests and the integration cast's hard cases, row by row; and anything this
code does not expect raises ``Unsupported`` and the lookup takes the SQL.

Never logs a value.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from taxmatch.match.levels import jaro_winkler, levenshtein, near
from taxmatch.match.score import Unsupported

Row = dict[str, Any]

# sha256 of collapse's SQL rendered with the placeholders of ``sql_digest``.
SQL_DIGEST = "6432b88acde02eb76d125ed8a5e6a3c216a4fbe07663bc5bc657fca8817ed3ae"

OUTCOME_ORDER = (
    "row_number", "candidates", "score", "margin_log2", "first_name_agrees",
    "address_corroborated", "filing_year", "ineligible", "identifier_conflict",
    "suffix_unconfirmed", "address_usable", "person_tin", "line1", "unit", "city",
    "state", "zip5", "phone",
)  # fmt: skip


def sql_digest() -> str:
    """The digest of ``collapse``'s SQL as it is now (thresholds as placeholders)."""
    from taxmatch.match.probabilistic import collapse

    captured: list[str] = []

    class _Capture:
        def execute(self, sql: str) -> None:
            captured.append(sql)

    collapse(_Capture(), "PRED", 0.123456, 6.54321, ref="REF", valid="VALID",  # type: ignore[arg-type]
             into="INTO")  # fmt: skip
    return hashlib.sha256("\n".join(captured).encode()).hexdigest()


# --- SQL's three-valued logic --------------------------------------------------------


def _eq(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a == b)


def _ne(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a != b)


def _ge(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a >= b)


def _gt(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a > b)


def _le(a: Any, b: Any) -> bool | None:
    return None if a is None or b is None else bool(a <= b)


def _and(*values: bool | None) -> bool | None:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def _or(*values: bool | None) -> bool | None:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def _not(v: bool | None) -> bool | None:
    return None if v is None else not v


def _concat(*parts: str | None) -> str | None:
    return None if any(p is None for p in parts) else "".join(p for p in parts if p is not None)


def _jw(a: str | None, b: str | None) -> float | None:
    if a is None or b is None:
        return None
    similarity = jaro_winkler(a, b)
    if near(similarity, 0.88) or near(similarity, 0.85):  # collapse's thresholds
        raise Unsupported("a similarity at a threshold")
    return similarity


def _lev(a: str | None, b: str | None) -> int | None:
    return None if a is None or b is None else levenshtein(a, b)


def _len(a: str | None) -> int | None:
    return None if a is None else len(a)


def _first_char(a: str | None) -> str | None:
    return None if a is None else a[:1]


def _bool_or(values: Iterable[bool | None]) -> bool | None:
    """``bool_or``: TRUE if any is, NULL if none is not NULL (or there are none)."""
    seen = False
    for v in values:
        if v is True:
            return True
        if v is False:
            seen = True
    return False if seen else None


def _list_contains(items: list[Any] | None, value: Any) -> bool | None:
    if items is None:
        return None
    if not items:
        return False  # DuckDB: an empty list contains nothing, not even NULL
    if value is None:
        return None
    return any(item is not None and item == value for item in items)


def _ordered(rows: Iterable[Row], *keys: tuple[str, bool]) -> list[Row]:
    """``ORDER BY`` the (column, descending) keys, NULLs last either way (DuckDB's
    default); only strings and numbers are ordered."""

    def key(row: Row) -> tuple[Any, ...]:
        parts: list[Any] = []
        for column, descending in keys:
            v = row[column]
            if v is None:
                parts.append((1, 0))
            elif descending:
                if isinstance(v, bool) or not isinstance(v, int | float):
                    raise Unsupported("descending order on a value that is not a number")
                parts.append((0, -v))
            else:
                if not isinstance(v, str | int | float) or isinstance(v, bool):
                    raise Unsupported("order on a value of another type")
                parts.append((0, v))
        return tuple(parts)

    return sorted(rows, key=key)


def _same_address(a: Row, b: Row) -> bool:
    """house_number, street, zip5, unit and po_box all equal (and none NULL)."""
    return all(
        _eq(a[c], b[c]) is True for c in ("house_number", "street", "zip5", "unit", "po_box")
    )


# --- collapse ----------------------------------------------------------------------------


def collapse_rows(
    valid: list[Row],
    pred: list[Row],
    persons: list[Row],
    person_names: list[Row],
    filings: list[Row],
    person_addresses: list[Row],
    nick: dict[str, list[str] | None],
    *,
    review_threshold: float,
    margin: float,
    max_slip_support: int,
) -> list[Row]:
    """``collapse``'s ``outcomes`` rows (columns in ``OUTCOME_ORDER``) for ``valid``.

    ``persons`` ... ``person_addresses`` hold at least every row the SQL would read:
    the best person's, and every filer's at that person's addresses (the warm matcher's
    slice). ``nick`` maps each valid first name to its nicknames (the ``nick`` table).
    ``review_threshold`` and ``margin`` are the doubles DuckDB reads the SQL's literals as.
    """
    by_person: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for name, rows in (("persons", persons), ("names", person_names), ("filings", filings),
                       ("addresses", person_addresses)):  # fmt: skip
        for row in rows:
            by_person[row["person_id"]][name].append(row)

    # pairs: best weight and probability per (request, person)
    pairs: dict[tuple[int, str], list[float]] = {}
    for p in pred:
        key = (int(p["unique_id_l"]), str(p["unique_id_r"]).split("|", 1)[0])
        w, prob = p["match_weight"], p["match_probability"]
        if w is None or prob is None:
            raise Unsupported("a pair without a weight")
        if key in pairs:
            pairs[key] = [max(pairs[key][0], w), max(pairs[key][1], prob)]
        else:
            pairs[key] = [w, prob]
    per_request: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
    for (rn, pid), (w, prob) in pairs.items():
        per_request[rn].append((pid, w, prob))

    # ranked, rivals, best
    best: dict[int, Row] = {}
    for rn, people in per_request.items():
        ranked = sorted(people, key=lambda x: (-x[1], x[0]))
        best_w = ranked[0][1]
        strong = sum(1 for _, w, prob in ranked
                     if prob >= review_threshold and w >= best_w - margin)  # fmt: skip
        pid, w, prob = ranked[0]
        runner = ranked[1][1] if len(ranked) > 1 else -1e9
        best[rn] = {"person_id": pid, "p": prob, "strong": strong, "margin": w - runner}

    out: list[Row] = []
    for v in valid:
        rn = v["row_number"]
        judged: list[Row] = []
        if rn in best and len(by_person[best[rn]["person_id"]]["persons"]) > 1:
            raise Unsupported("a person with more than one persons row")
        if rn in best:
            b = best[rn]
            for p in by_person[b["person_id"]]["persons"]:
                judged.append({
                    **b,
                    "rq_first": v["first_name"],
                    "rq_last_key": None if v["last_name"] is None
                    else v["last_name"].replace(" ", ""),
                    "tax_periods": v["tax_periods"],
                    "rq_house": v["house_number"], "rq_street": v["street"],
                    "rq_zip": v["zip5"], "rq_box": v["po_box"], "rq_suffix": v["suffix"],
                    "rq_dob": v["date_of_birth"],
                    "person_tin": p["tin"], "deceased": p["deceased"],
                    "p_suffix": p["suffix"], "p_dob": p["date_of_birth"],
                })  # fmt: skip
        names_ok = _bool_or(_names_ok(j, by_person, nick) for j in judged) if judged else None
        address_ok = _bool_or(_address_ok(j, by_person) for j in judged) if judged else None
        in_period = [
            ip
            for j in judged
            for ip in _in_period(j, rn, by_person, person_addresses, max_slip_support)
        ]
        missing = [ip for ip in in_period if _unit_missing(ip, person_addresses)]
        # LEFT JOINs: a row per combination, one all-NULL row where nothing matches
        nothing: list[Row | None] = [None]
        for j in judged or nothing:
            for ip in in_period or nothing:
                for um in missing or nothing:
                    out.append(_final(rn, j, names_ok, address_ok, ip, um))
    return out


def _names_ok(j: Row, by_person: Any, nick: dict[str, list[str] | None]) -> bool | None:
    nicknames = nick.get(j["rq_first"]) if j["rq_first"] is not None else None
    return _bool_or(
        _or(
            _eq(n["first_name"], j["rq_first"]),
            _list_contains(nicknames if nicknames is not None else [], n["first_name"]),
            _and(_eq(_len(n["first_name"]), 1), _eq(_first_char(j["rq_first"]), n["first_name"])),
            _and(_eq(n["first_name"], j["rq_last_key"]), _eq(n["last_key"], j["rq_first"])),
        )
        for n in by_person[j["person_id"]]["names"]
    )


def _address_ok(j: Row, by_person: Any) -> bool | None:
    return _bool_or(
        _or(
            _and(
                _ne(j["rq_house"], ""),
                _eq(a["zip5"], j["rq_zip"]),
                _or(
                    _and(
                        _eq(a["house_number"], j["rq_house"]),
                        _or(
                            _eq(a["street"], j["rq_street"]),
                            _ge(_jw(a["street"], j["rq_street"]), 0.88),
                        ),
                    ),
                    _and(
                        _eq(_lev(a["house_number"], j["rq_house"]), 1),
                        _eq(a["street"], j["rq_street"]),
                    ),
                ),
            ),
            _and(_ne(j["rq_box"], ""), _eq(a["po_box"], j["rq_box"]), _eq(a["zip5"], j["rq_zip"])),
        )
        for a in by_person[j["person_id"]]["addresses"]
    )


def _in_period(
    j: Row, rn: int, by_person: Any, everyone: list[Row], max_slip_support: int
) -> list[Row]:
    pid = j["person_id"]
    own = by_person[pid]["addresses"]
    # latest
    filed = [f for f in by_person[pid]["filings"]
             if _list_contains(j["tax_periods"], f["tax_year"]) is True]  # fmt: skip
    if not filed:
        return []
    latest = _ordered(filed, ("tax_year", True), ("line1", False), ("unit", False),
                      ("house_number", False), ("street", False), ("po_box", False),
                      ("city", False), ("state", False), ("zip5", False),
                      ("phone", False))[0]  # fmt: skip
    # slip
    slips: list[Row] = []
    matches = [s for s in own if _same_address(s, latest)] or [None]
    for s in matches:
        slips.append({
            **latest,
            "slip_years": 1 if s is None or s["n_years"] is None else s["n_years"],
            "slip_support": 1 if s is None or s["support"] is None else s["support"],
            "slip_text": _concat(latest["line1"], " ", latest["unit"]),
        })  # fmt: skip
    # slip_others: who else files at the slip address (per request, over its slip rows)
    others = [
        o["person_id"]
        for sl in slips
        if _le(sl["slip_support"], max_slip_support) is True
        for o in everyone
        if _same_address(o, sl) and _ne(o["person_id"], sl["person_id"]) is True
    ]
    rows = []
    for sl in slips:
        consensus = _first(_ordered(
            (a for a in own if _consensus_ok(a, sl, others, everyone, max_slip_support)),
            ("n_years", True), ("support", True), ("last_year", True), ("line1", False),
            ("unit", False), ("house_number", False), ("street", False)))  # fmt: skip
        history = _first(_ordered(
            (a for a in own if _and(_eq(a["house_number"], sl["house_number"]),
                                    _eq(a["street"], sl["street"]), _eq(a["zip5"], sl["zip5"]),
                                    _ne(a["unit"], "")) is True),
            ("n_years", True), ("unit", False)))  # fmt: skip
        complete = _first(_ordered(
            (a for a in own if _and(
                _ne(a["zip5"], ""), _ne(a["city"], ""), _ne(a["state"], ""),
                _or(_and(_ne(a["house_number"], ""), _ne(a["street"], "")), _ne(a["po_box"], "")),
                _ge(_jw(a["line1"], sl["line1"]), 0.85)) is True),
            ("n_years", True), ("last_year", True), ("line1", False), ("unit", False),
            ("city", False), ("state", False), ("zip5", False), ("house_number", False),
            ("street", False)))  # fmt: skip
        rows.append(_period_row(rn, sl, consensus, history, complete))
    return rows


def _first(rows: list[Row]) -> Row | None:
    return rows[0] if rows else None


def _consensus_ok(
    a: Row, sl: Row, others: list[str], everyone: list[Row], max_slip_support: int
) -> bool:
    base = _and(
        _eq(a["zip5"], sl["zip5"]),
        _or(_ne(a["house_number"], ""), _ne(a["po_box"], "")),
        _not(_and(_eq(a["house_number"], sl["house_number"]), _eq(a["street"], sl["street"]),
                  _eq(a["unit"], sl["unit"]), _eq(a["po_box"], sl["po_box"]))),
    )  # fmt: skip
    if base is not True:
        return False
    unit_dropped = _and(
        _eq(a["po_box"], sl["po_box"]), _eq(a["house_number"], sl["house_number"]),
        _eq(a["street"], sl["street"]), _eq(sl["unit"], ""), _ne(a["unit"], ""),
        _gt(a["n_years"], sl["slip_years"]),
    )  # fmt: skip
    if unit_dropped is True:
        return True
    typo = _and(
        _eq(a["po_box"], sl["po_box"]),
        _or(_eq(a["house_number"], sl["house_number"]),
            _eq(_lev(a["house_number"], sl["house_number"]), 1)),
        _or(_eq(a["street"], sl["street"]), _ge(_jw(a["street"], sl["street"]), 0.85)),
        _or(_eq(a["unit"], sl["unit"]), _eq(sl["unit"], "")),
        _gt(a["n_years"], sl["slip_years"]),
    )  # fmt: skip
    text_len = _len(sl["slip_text"])
    allowed = max(1, _int_div(text_len, 4)) if text_len is not None else 1
    one_off = _and(
        _eq(sl["slip_years"], 1),
        _or(_ge(a["support"], 2), _ge(a["n_years"], 2)),
        _eq(_eq(a["po_box"], ""), _eq(sl["po_box"], "")),
        _le(_lev(a["house_number"], sl["house_number"]), 2),
        _le(_lev(_concat(a["line1"], " ", a["unit"]), sl["slip_text"]), allowed),
    )  # fmt: skip
    # everyone else at the slip has filed at the mended address too
    shared = all(any(q["person_id"] == so and _same_address(q, a) for q in everyone)
                 for so in others)  # fmt: skip
    return _and(_or(typo, one_off), _le(sl["slip_support"], max_slip_support), shared) is True


def _int_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)  # DuckDB's // truncates toward zero
    return q if (a >= 0) == (b > 0) else -q


def _period_row(
    rn: int, sl: Row, consensus: Row | None, history: Row | None, complete: Row | None
) -> Row:
    # checked
    usable = _and(
        _or(_and(_ne(sl["house_number"], ""), _ne(sl["street"], "")), _ne(sl["po_box"], "")),
        _ne(sl["zip5"], ""), _ne(sl["city"], ""), _ne(sl["state"], ""),
    )  # fmt: skip

    def field(row: Row | None, name: str) -> Any:
        return None if row is None else row[name]

    # in_period
    if usable is True:
        line1 = field(consensus, "line1")
        line1 = sl["line1"] if line1 is None else line1
    else:
        line1 = field(complete, "line1")
    if usable is False:
        unit = field(complete, "unit")
    elif consensus is not None:
        unit = consensus["unit"]
    elif _eq(sl["unit"], "") is True:
        unit = "" if history is None or history["unit"] is None else history["unit"]
    else:
        unit = sl["unit"]
    if usable is False:
        house, street = field(complete, "house_number"), field(complete, "street")
    elif consensus is not None:
        house, street = consensus["house_number"], consensus["street"]
    else:
        house, street = sl["house_number"], sl["street"]
    place = {c: sl[c] if usable is True else field(complete, c) for c in ("city", "state", "zip5")}
    return {
        "row_number": rn, "tax_year": sl["tax_year"], "phone": sl["phone"], "line1": line1,
        "unit": unit, **place, "house": house, "street": street,
        "usable": _or(usable, complete is not None),
    }  # fmt: skip


def _unit_missing(ip: Row, everyone: list[Row]) -> bool:
    if _and(_eq(ip["unit"], ""), _ne(ip["house"], "")) is not True:
        return False
    return any(
        _and(_eq(b["house_number"], ip["house"]), _eq(b["street"], ip["street"]),
             _eq(b["zip5"], ip["zip5"]), _ne(b["unit"], "")) is True
        for b in everyone
    )  # fmt: skip


def _final(
    rn: int,
    j: Row | None,
    names_ok: bool | None,
    address_ok: bool | None,
    ip: Row | None,
    um: Row | None,
) -> Row:
    def g(name: str) -> Any:
        return None if j is None else j[name]

    margin = g("margin")
    if margin is None:
        margin_log2 = 0.0
    elif margin > 1e8:
        margin_log2 = float("inf")
    else:
        margin_log2 = margin
    rq_suffix, p_suffix, rq_dob, p_dob = g("rq_suffix"), g("p_suffix"), g("rq_dob"), g("p_dob")
    dob_conflict = _and(
        rq_dob is not None, p_dob is not None, _ne(rq_dob, p_dob),
        _gt(_abs_days(rq_dob, p_dob), 366),
        _not(_and(_eq(_part(rq_dob, "month"), _part(p_dob, "day")),
                  _eq(_part(rq_dob, "day"), _part(p_dob, "month")))),
    )  # fmt: skip
    conflict = _or(_and(_ne(rq_suffix, ""), _ne(p_suffix, ""), _ne(rq_suffix, p_suffix)),
                   dob_conflict)  # fmt: skip
    unconfirmed = _and(_ne(p_suffix, ""), _eq(rq_suffix, ""), _not(_eq(rq_dob, p_dob) is True))
    usable = _and(None if ip is None else ip["usable"], um is None)

    def ipf(name: str) -> Any:
        return None if ip is None else ip[name]

    return {
        "row_number": rn,
        "candidates": 0 if g("strong") is None else g("strong"),
        "score": 0.0 if g("p") is None else g("p"),
        "margin_log2": margin_log2,
        "first_name_agrees": names_ok is True,
        "address_corroborated": address_ok is True,
        "filing_year": ipf("tax_year"),
        "ineligible": g("deceased") is True,
        "identifier_conflict": conflict is True,
        "suffix_unconfirmed": unconfirmed is True,
        "address_usable": True if usable is None else usable,
        "person_tin": g("person_tin"),
        "line1": ipf("line1"), "unit": ipf("unit"), "city": ipf("city"),
        "state": ipf("state"), "zip5": ipf("zip5"), "phone": ipf("phone"),
    }  # fmt: skip


def _abs_days(a: Any, b: Any) -> int | None:
    if a is None or b is None:
        return None
    if not (isinstance(a, dt.date) and isinstance(b, dt.date)):
        raise Unsupported("a date of birth that is not a date")
    return abs((b - a).days)


def _part(d: Any, name: str) -> int | None:
    return None if d is None else int(getattr(d, name))


__all__ = ["OUTCOME_ORDER", "SQL_DIGEST", "collapse_rows", "sql_digest"]
