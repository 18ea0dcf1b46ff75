"""Benchmark data from an independent source: pseudopeople's simulated population.

Writes, from the sample that ships inside the ``pseudopeople`` package (offline):

- ``master.parquet``: every 1040 filing (primary filers, and spouses of joint returns as
  their own rows) as a master file with exactly ``MASTER_COLUMNS``;
- ``requests.csv`` + ``envelope.json``: one request per sampled person of the 2020
  decennial census, naming that census record (noised, as pseudopeople gives it) with its
  address as the requester's previous address and the latest two tax years as periods;
- ``truth.csv``: ``TRUTH_COLUMNS`` (with ``person_tins``), built from the same data generated
  with ``config=NO_NOISE`` (see bench/README.md for every choice and approximation).

    python bench/pseudopeople_data.py --out bench-out/pp [--seed 0] [--rows 10000]

Needs ``pip install -r requirements-bench.txt``. Synthetic people only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from taxmatch.contracts import MASTER_COLUMNS, REQUEST_COLUMNS, TRUTH_COLUMNS
from taxmatch.normalise.name_placeholder import is_placeholder_first, is_placeholder_last
from taxmatch.normalise.text import fold

CENSUS_YEAR = 2020
OFFICER_ROWS = 40  # rows per recipient officer (policy cap: 50)
# What the validator does with names (docs/validation.md, R13): letters first, then
# letters, spaces and ' . , -. Predicted here from the documented rule, not the code.
NAME_OK = re.compile(r"^[^\W\d_](?:[^\W\d_]|[ '\u2019.,\-])*$")
_ADDR = ("street_number", "street_name", "unit_number", "po_box")


def _s(value: Any) -> str:
    """A pandas cell as text: '' for missing."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _street(number: str, name: str, po_box: str) -> str:
    if number and name:
        return f"{number} {name}"
    if po_box and not (number or name):
        return f"PO Box {po_box}"
    return f"{number} {name}".strip()


# A house number leads the line ("313A WILLOW ST", "N6W23001 BLUEMOUND RD"); an ordinal
# leads a street name ("17TH AVENUE NORTHEAST": no house number).
_HOUSE_FIRST = re.compile(r"[NSEW]?\d[0-9A-Z/-]*\s+\S")
_ORDINAL_FIRST = re.compile(r"\d+(?:ST|ND|RD|TH)\s")


def _has_house_number(street: str) -> bool:
    """The true line has a house number (or is a PO box): what a letter carrier needs."""
    line = " ".join(street.upper().split())
    if line.startswith("PO BOX"):
        return True
    return bool(_HOUSE_FIRST.match(line)) and not _ORDINAL_FIRST.match(line)


def _akey(street: str, unit: str) -> str:
    """``STREET LINE|UNIT``, case and spacing folded: how truth tells addresses apart."""
    return " ".join(street.upper().split()) + "|" + " ".join(unit.upper().split())


class RealZips:
    """Each distinct ZIP of the sample as a distinct real-looking one: a typo stays a typo.

    The sample's town has one ZIP ("00000"); pseudopeople's noise turns some copies into
    other strings ("00020", "000O0", "000000"). The true one becomes ``base``; every other
    string gets its own five digits, ``base`` changed where the noise changed the true ZIP
    (so a one-character typo stays one character away), never ``base`` and never another's.
    """

    def __init__(self, base: str, true_zip: str = "00000") -> None:
        self.true_zip = true_zip
        self.map: dict[str, str] = {true_zip: base}
        self.used = {base}

    def __call__(self, raw: str) -> str:
        if not raw:
            return ""  # no ZIP on the record: none made up
        if raw not in self.map:
            self.map[raw] = self._new(raw)
            self.used.add(self.map[raw])
        return self.map[raw]

    def _new(self, raw: str) -> str:
        base = self.map[self.true_zip]
        digits = [int(d) for d in base]
        changed = [i for i in range(5) if i >= len(raw) or raw[i] != self.true_zip[i]] or [4]
        for i in changed:
            char = raw[i] if i < len(raw) else "0"
            digits[i] = (digits[i] + 1 + ord(char) % 9) % 10
        first = int("".join(map(str, digits)))
        # Two noised strings that met on the same digits: the next free ZIP after it.
        for step in range(100_000):
            candidate = f"{(first + step) % 100_000:05d}"
            if candidate not in self.used:
                return candidate
        raise ValueError("more noised ZIPs than ZIPs")


def load(seed: int) -> dict[str, pd.DataFrame]:
    import pseudopeople as pp

    kw: dict[str, Any] = {"source": None, "seed": seed, "verbose": False}
    nn: dict[str, Any] = {**kw, "config": pp.NO_NOISE}
    return {
        "taxes": pp.generate_taxes_1040(year=None, **kw),
        "taxes_true": pp.generate_taxes_1040(year=None, **nn),
        "census": pp.generate_decennial_census(year=CENSUS_YEAR, **kw),
        "census_true": pp.generate_decennial_census(year=CENSUS_YEAR, **nn),
        "ssa_true": pp.generate_social_security(year=None, **nn),
    }


def build_filings(d: dict[str, pd.DataFrame], shift: int, zips: RealZips) -> pd.DataFrame:
    """One row per filer per return: noised as filed, plus the true person and address."""
    true_cols = ["simulant_id", "tax_year", "ssn", "spouse_ssn"]
    true_cols += [f"mailing_address_{c}" for c in (*_ADDR, "city", "state", "zipcode")]
    t = d["taxes"].merge(
        d["taxes_true"][true_cols], on=["simulant_id", "tax_year"], how="left", suffixes=("", "_t")
    )
    owner = dict(zip(d["ssa_true"]["ssn"], d["ssa_true"]["simulant_id"], strict=True))
    owner.update(zip(d["taxes_true"]["ssn"], d["taxes_true"]["simulant_id"], strict=True))
    rows: list[dict[str, Any]] = []
    for r in t.itertuples(index=False):
        fields = (*_ADDR, "city", "state", "zipcode")
        a = {c: _s(getattr(r, f"mailing_address_{c}")) for c in fields}
        at = {c: _s(getattr(r, f"mailing_address_{c}_t")) for c in fields}
        street = _street(a["street_number"], a["street_name"], a["po_box"])
        true_street = _street(at["street_number"], at["street_name"], at["po_box"])
        base = {
            "tax_year": int(r.tax_year) + shift,
            "street_address": street,
            "unit": a["unit_number"],
            "city": a["city"],
            "state": a["state"],
            "zip": zips(a["zipcode"]),
            "filed_key": _akey(street, a["unit_number"]),
            "true_key": _akey(true_street, at["unit_number"]),
            "true_city": at["city"],
            "true_state": at["state"],
            "true_zip": zips(at["zipcode"]),
        }
        filers = [(r.simulant_id, r.ssn, r.first_name, r.middle_initial, r.last_name)]
        if _s(r.spouse_ssn):
            spouse = owner.get(_s(r.spouse_ssn_t))  # None: nobody with that true SSN
            filers.append(
                (
                    spouse,
                    r.spouse_ssn,
                    r.spouse_first_name,
                    r.spouse_middle_initial,
                    r.spouse_last_name,
                )
            )
        for simulant, tin, first, middle, last in filers:
            if not _s(tin):
                continue  # a return without a TIN cannot be in the master file
            rows.append(
                {
                    **base,
                    "simulant": simulant,
                    "tin": _s(tin),
                    "tin_d": _digits(_s(tin)),
                    "first_name": _s(first),
                    "middle_name": _s(middle),
                    "last_name": _s(last),
                }
            )
    return pd.DataFrame(rows)


def write_master(filings: pd.DataFrame, path: Path) -> None:
    data = {
        c: filings[c].tolist() if c in filings else [None] * len(filings) for c in MASTER_COLUMNS
    }
    data = {c: [v or None for v in vs] if c != "tax_year" else vs for c, vs in data.items()}
    types = {c: pa.int32() if c == "tax_year" else pa.string() for c in MASTER_COLUMNS}
    pq.write_table(pa.table({c: pa.array(v, types[c]) for c, v in data.items()}), path)


@dataclass(frozen=True)
class Person:
    """What the master file holds of one simulated person (from the no-noise data)."""

    tin: str  # the TIN this person filed under most
    tins: tuple[str, ...]  # every TIN the person owns (see ``people``)
    mover: bool  # the true address changed across tax years
    year: int | None  # latest requested period with a filing; None: no filing in them
    address: tuple[str, str, str, str, str] = ("", "", "", "", "")  # line, unit, city, state, ZIP
    master_noise: bool = False  # a filing of that year carries a noised street line or unit
    master_zip_noise: bool = False  # a filing of that year carries a noised ZIP
    streets: frozenset[str] = frozenset()  # true street line of every filing, any year


def people(filings: pd.DataFrame, periods: tuple[int, int]) -> dict[Any, Person]:
    """Each person's TINs, and the true address of their latest filing in ``periods``.

    A TIN belongs to whoever filed under it most: noise copies a TIN onto a housemate's
    return, and a disclosure under that TIN is the housemate's, not this person's.
    """
    f = filings.dropna(subset=["simulant"])
    counts = f.groupby(["tin_d", "simulant"]).size().rename("n").reset_index()
    counts = counts[counts["n"] == counts.groupby("tin_d")["n"].transform("max")]
    mine = f.merge(counts[["tin_d", "simulant"]], on=["tin_d", "simulant"])
    per_tin = mine.groupby(["simulant", "tin_d"]).size().rename("n").reset_index()
    per_tin = per_tin.sort_values(["simulant", "n", "tin_d"], ascending=[True, False, True])
    top = per_tin.drop_duplicates("simulant").set_index("simulant")["tin_d"]
    tins = per_tin.groupby("simulant")["tin_d"].agg(lambda x: tuple(sorted(x)))
    movers = mine.groupby("simulant")["true_key"].nunique() > 1
    streets = f.groupby("simulant")["true_key"].agg(lambda k: frozenset(x.split("|")[0] for x in k))
    # Every return the person filed counts for where they live, also one filed under a
    # TIN they do not own (noise copied a housemate's SSN onto it): it is still theirs.
    recent = f[f["tax_year"].isin(periods)]
    recent = recent[recent["tax_year"] == recent.groupby("simulant")["tax_year"].transform("max")]
    where = ["simulant", "tax_year", "true_key", "true_city", "true_state", "true_zip"]
    modes = recent.groupby(where).size().rename("n").reset_index()
    modes = modes.sort_values(["simulant", "n", "true_key"], ascending=[True, False, True])
    modes = modes.drop_duplicates("simulant").set_index("simulant")
    noised = (recent["filed_key"] != recent["true_key"]).groupby(recent["simulant"]).any()
    zip_noised = (recent["zip"] != recent["true_zip"]).groupby(recent["simulant"]).any()
    out: dict[Any, Person] = {}
    for simulant, tin in top.items():
        person = Person(
            str(tin), tins[simulant], bool(movers[simulant]), None, streets=streets[simulant]
        )
        if simulant in modes.index:
            m = modes.loc[simulant]
            street, unit = str(m["true_key"]).split("|")
            address = (street, unit, str(m["true_city"]), str(m["true_state"]), str(m["true_zip"]))
            person = replace(
                person,
                year=int(m["tax_year"]),
                address=address,
                master_noise=bool(noised[simulant]),
                master_zip_noise=bool(zip_noised[simulant]),
            )
        out[simulant] = person
    return out


def expected_codes(fields: dict[str, str], number: str, street: str) -> list[str]:
    """Reason codes the statute's rules give a record whose noise blanked a field or put a
    placeholder word where a name should be (pseudopeople's fake names: "RESPONDENT")."""
    codes = set()
    for name, placeholder in (
        ("first_name", is_placeholder_first),
        ("last_name", is_placeholder_last),
    ):
        if not fields[name] or placeholder(fold(fields[name])):
            codes.add("R01")  # missing, or a word standing for a person ("RESPONDENT")
        elif not NAME_OK.match(fields[name]):
            codes.add("R13")
    if fields["middle_name"] and not NAME_OK.match(fields["middle_name"]):
        codes.add("R13")
    if not (number and street and fields["city"] and fields["state"] and fields["zip"]):
        codes.add("R03")  # no house number, no street, no city, state or ZIP
    return sorted(codes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--as-of", default="2026-11-30")
    ap.add_argument(
        "--zip", default="98101", help="the real ZIP the sample's one town (00000) becomes"
    )
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    as_of = date.fromisoformat(args.as_of)
    clock = time.monotonic()

    def lap(what: str) -> None:
        nonlocal clock
        print(f"  {what}: {time.monotonic() - clock:.1f} s")
        clock = time.monotonic()

    print("generating from the pseudopeople sample (offline)")
    d = load(args.seed)
    lap("pseudopeople (noised and no-noise 1040s, census 2020, SSA)")
    shift = (as_of.year - 1) - int(d["taxes"]["tax_year"].max())
    zips = RealZips(args.zip)
    filings = build_filings(d, shift, zips)
    write_master(filings, out / "master.parquet")
    lap(f"master.parquet: {len(filings)} filings, {filings['tin'].nunique()} TINs")
    periods = (as_of.year - 2, as_of.year - 1)
    truth_rows, requests = build_requests(d, filings, periods, args, as_of, zips)
    write_outputs(out, requests, truth_rows, as_of)
    lap(f"requests.csv, envelope.json, truth.csv: {len(requests)} rows")
    print(
        f"tax years shifted by {shift:+d}: sample {filings['tax_year'].min() - shift}-"
        f"{filings['tax_year'].max() - shift} -> {filings['tax_year'].min()}-"
        f"{filings['tax_year'].max()}; periods requested {periods[0]};{periods[1]}"
    )
    outcomes = Counter(t["expected_outcome"] for t in truth_rows)
    strata = Counter(tag for t in truth_rows for tag in t["stratum"].split(";") if tag)
    print("expected outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print("strata: " + ", ".join(f"{k} {v}" for k, v in sorted(strata.items())))
    unknown = int(filings["simulant"].isna().sum())
    print(f"filings whose filer is unknown (spouse SSN owned by nobody): {unknown}")


def build_requests(
    d: dict[str, pd.DataFrame],
    filings: pd.DataFrame,
    periods: tuple[int, int],
    args: argparse.Namespace,
    as_of: date,
    zips: RealZips,
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    census = d["census"].drop_duplicates("simulant_id")  # noise duplicates a few people
    census_true = d["census_true"].drop_duplicates("simulant_id").set_index("simulant_id")
    census = census[census["simulant_id"].isin(census_true.index)]
    census = census.sample(n=min(args.rows, len(census)), random_state=args.seed)
    known = people(filings, periods)
    true_ssn = dict(zip(d["ssa_true"]["simulant_id"], d["ssa_true"]["ssn"], strict=True))
    true_ssn.update(zip(d["taxes_true"]["simulant_id"], d["taxes_true"]["ssn"], strict=True))
    truths, requests = [], []
    for n, c in enumerate(census.itertuples(index=False), start=1):
        ct = census_true.loc[c.simulant_id]
        rid = f"PP-{n:06d}"
        fields = {k: "" for k in REQUEST_COLUMNS} | {
            "request_id": rid,
            "first_name": _s(c.first_name),
            "middle_name": _s(c.middle_initial),
            "last_name": _s(c.last_name),
            "unit": _s(c.unit_number),
            "city": _s(c.city),
            "state": _s(c.state),
            "zip": zips(_s(c.zipcode)),
            "street_address": _street(_s(c.street_number), _s(c.street_name), ""),
            **_order_fields(n, as_of, periods),
        }
        tags = _relationship_tags(str(ct.relationship_to_reference_person))
        t = {k: "" for k in TRUTH_COLUMNS} | {"request_id": rid, "person_tins": ""}
        person = known.get(c.simulant_id)
        if person is None:
            t["expected_outcome"] = "NO_MATCH"
            tags.append("not_in_master")
        else:
            t |= {"tin": person.tin, "person_tins": ";".join(person.tins)}
            tags.append("itin" if _s(true_ssn.get(c.simulant_id)).startswith("9") else "ssn")
            tags += ["mover"] if person.mover else []
            t["expected_outcome"] = "NO_FILING_IN_PERIOD"
        if person is not None and person.year is not None:
            street, unit, city, state, zip_code = person.address
            t |= {
                "expected_outcome": "DISCLOSED",
                "street_address": street,
                "unit": unit,
                "city": city,
                "state": state,
                "zip": zip_code,
                "tax_year": str(person.year),
            }
            tags += ["master_noise"] if person.master_noise else []
            tags += ["master_zip_noise"] if person.master_zip_noise else []
            census_key = _akey(
                _street(_s(ct.street_number), _s(ct.street_name), ""), _s(ct.unit_number)
            )
            tags += ["moved_since_census"] if census_key != f"{street}|{unit}" else []
            # What the law lets the custodian do, not only what the file holds: a
            # requester's address that none of the person's filings carries corroborates
            # nothing (NO_MATCH), and a latest address with no house number cannot be
            # delivered (an officer reviews it). The expected address is kept, so a
            # disclosure of it still counts as right; such rows are not findable.
            if census_key.split("|")[0] not in person.streets:
                t["expected_outcome"] = "NO_MATCH"
                tags.append("address_not_on_file")
            elif not _has_house_number(street):
                t["expected_outcome"] = "REVIEW"
                tags.append("no_house_number")
        if " " in _s(ct.last_name).strip() or "-" in _s(ct.last_name):
            tags.append("compound_surname")
        if any(
            _s(getattr(c, k)) != _s(getattr(ct, k))
            for k in (
                "first_name",
                "middle_initial",
                "last_name",
                "street_number",
                "street_name",
                "unit_number",
                "city",
                "state",
                "zipcode",
            )
        ):
            tags.append("noisy_request")
        codes = expected_codes(fields, _s(c.street_number), _s(c.street_name))
        if codes:
            t |= {"expected_outcome": "REJECTED", "expected_reason_codes": ";".join(codes)}
            t |= {k: "" for k in ("street_address", "unit", "city", "state", "zip", "tax_year")}
            tags.append("invalid")
        t["stratum"] = ";".join(tags)
        truths.append(t)
        requests.append(fields)
    return truths, requests


def _digits(tin: str) -> str:
    return re.sub(r"\D", "", tin)


def _relationship_tags(relationship: str) -> list[str]:
    if "group quarters" in relationship.lower():
        return ["group_quarters"]
    return [] if relationship == "Reference person" else ["household_member"]


def _order_fields(n: int, as_of: date, periods: tuple[int, int]) -> dict[str, str]:
    case = f"ICE-{as_of.year}-PP{n:06d}"
    order = f"A-{200000000 + n}"
    return {
        "tax_periods": f"{periods[0]};{periods[1]}",
        "statute": "8 U.S.C. 1253(a)(1)",
        "removal_order_number": order,
        "removal_order_date": (as_of - timedelta(days=120 + n % 900)).isoformat(),
        "case_number": case,
        "officer_id": f"OFC-{(n - 1) // OFFICER_ROWS:05d}",
        "relevance": f"Subject of case {case} failed to depart after final removal order {order}",
    }


def write_outputs(
    out: Path, requests: list[dict[str, str]], truths: list[dict[str, str]], as_of: date
) -> None:
    with (out / "requests.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(REQUEST_COLUMNS))
        w.writeheader()
        w.writerows(requests)
    with (out / "truth.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(TRUTH_COLUMNS))
        w.writeheader()
        w.writerows(truths)
    officers = sorted({r["officer_id"] for r in requests})
    envelope = {
        "requesting_agency": "ICE",
        "requesting_official": {"name": "A. Director", "title": "Director"},
        "request_letter_id": f"LTR-PP-{as_of.isoformat()}",
        "signed_on": (as_of - timedelta(days=28)).isoformat(),
        "recipient_officers": officers,
        "attestation": "Information will be used solely for use in the investigation.",
    }
    (out / "envelope.json").write_text(json.dumps(envelope, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
