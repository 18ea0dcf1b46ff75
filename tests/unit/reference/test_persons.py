"""Person resolution at reference load: typo TINs, an ITIN's successor SSN and returns filed
under someone else's TIN join their person; distinct people never merge.

Each test writes a tiny synthetic master file, loads it with ``load_reference`` and reads
the snapshot's person tables. The last test measures resolution against the generator's
truth. All names, TINs and addresses here are synthetic.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import pytest

from taxmatch.contracts import MASTER_COLUMNS
from taxmatch.normalise.tin import is_itin, is_ssn, tin_neighbours
from taxmatch.reference.person_tables import itin_sql, ssn_sql
from taxmatch.reference.snapshot import load_reference

OAK, ELM = "12 OAK ST", "40 ELM AVE"


@dataclass(frozen=True)
class Row:
    tin: str
    year: int
    first: str = "ANNA"
    last: str = "LEE"
    street: str = OAK
    zip: str = "62701"
    dob: str = "1980-02-03"
    middle: str = ""
    suffix: str = ""
    dod: str = ""
    unit: str = ""
    city: str = "SPRINGFIELD"
    state: str = "IL"

    def csv(self) -> dict[str, str]:
        return {
            "tin": self.tin,
            "tax_year": str(self.year),
            "first_name": self.first,
            "last_name": self.last,
            "street_address": self.street,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "middle_name": self.middle,
            "suffix": self.suffix,
            "date_of_birth": self.dob,
            "unit": self.unit,
            "phone": "",
            "date_of_death": self.dod,
        }


def years(template: Row, first: int, last: int) -> list[Row]:
    return [replace(template, year=y) for y in range(first, last + 1)]


def load(tmp_path: Path, rows: Sequence[Row], name: str = "store") -> duckdb.DuckDBPyConnection:
    master = tmp_path / f"{name}.csv"
    with master.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(MASTER_COLUMNS))
        writer.writeheader()
        writer.writerows(r.csv() for r in rows)
    info = load_reference(tmp_path / name, [master])
    return duckdb.connect(str(info.path), read_only=True)


def person_of(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int], str]:
    """(tin, tax_year) -> person_id; the tests never file one TIN twice in a year."""
    rows = con.execute("SELECT tin, tax_year, person_id FROM filings").fetchall()
    return {(tin, year): pid for tin, year, pid in rows}


def n_persons(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(DISTINCT person_id) FROM filings").fetchone()
    return int(row[0]) if row else 0


def latest_line1(con: duckdb.DuckDBPyConnection, person_id: str) -> str:
    row = con.execute(
        "SELECT line1 FROM filings WHERE person_id = ? ORDER BY tax_year DESC LIMIT 1",
        [person_id],
    ).fetchone()
    assert row is not None
    return str(row[0])


ANNA = Row("123456789", 0)
BOB = Row("555443333", 0, first="BOB", last="KIM", street="7 PINE RD", dob="1971-05-06")


# --- rule 3: a one-year TIN typo joins its person -------------------------------------


def test_one_year_tin_typo_does_not_split_the_person(tmp_path: Path) -> None:
    rows = [*years(ANNA, 2019, 2022), replace(ANNA, tin="123456780", year=2023, street=ELM)]
    con = load(tmp_path, rows)
    pids = person_of(con)
    assert len(set(pids.values())) == 1
    pid = pids[("123456789", 2019)]
    assert latest_line1(con, pid) == ELM  # the typo year is the latest: its move counts
    tin, tins = con.execute("SELECT tin, tins FROM persons").fetchone() or ("", [])
    assert tin == "123456789"
    assert sorted(tins) == ["123456780", "123456789"]


def test_one_year_tin_keyed_with_a_letter_does_not_split_the_person(tmp_path: Path) -> None:
    # "12345678O": the file keeps its digits, eight of them, one digit short of ANNA's;
    # she moved that year, so only the TIN and the DOB tie the return to her.
    rows = [*years(ANNA, 2019, 2022), replace(ANNA, tin="12345678O", year=2023, street=ELM)]
    con = load(tmp_path, rows)
    assert n_persons(con) == 1


def test_one_year_short_tin_of_another_name_stays_apart(tmp_path: Path) -> None:
    other = replace(ANNA, tin="12345678O", year=2023, first="ZOE", street=ELM)
    con = load(tmp_path, [*years(ANNA, 2019, 2022), other])
    assert n_persons(con) == 2


def test_typo_tin_without_dob_joins_on_a_shared_address(tmp_path: Path) -> None:
    typo = replace(ANNA, tin="124356789", year=2021, dob="")  # neighbouring digits swapped
    con = load(tmp_path, [*years(ANNA, 2019, 2020), typo, *years(ANNA, 2022, 2023)])
    assert n_persons(con) == 1


def test_typo_tin_without_dob_or_shared_address_stays_apart(tmp_path: Path) -> None:
    typo = replace(ANNA, tin="123456780", year=2023, dob="", street=ELM)
    con = load(tmp_path, [*years(ANNA, 2019, 2022), typo])
    pids = person_of(con)
    assert pids[("123456780", 2023)] != pids[("123456789", 2019)]


def test_typo_tin_with_a_different_dob_never_merges(tmp_path: Path) -> None:
    typo = replace(ANNA, tin="123456780", year=2023, dob="1980-03-02")
    con = load(tmp_path, [*years(ANNA, 2019, 2022), typo])
    assert n_persons(con) == 2


def test_one_off_with_two_candidate_people_merges_nowhere(tmp_path: Path) -> None:
    other = replace(ANNA, tin="123456700")  # another ANNA LEE, same DOB, same street
    one_off = replace(ANNA, tin="123456709", year=2023)  # adjacent to both TINs
    con = load(tmp_path, [*years(ANNA, 2019, 2022), *years(other, 2019, 2022), one_off])
    pids = person_of(con)
    assert len(set(pids.values())) == 3


def test_two_multi_year_tins_are_never_merged(tmp_path: Path) -> None:
    twin_tin = replace(ANNA, tin="123456780")  # same name, DOB and address; adjacent TIN
    con = load(tmp_path, [*years(ANNA, 2019, 2021), *years(twin_tin, 2022, 2023)])
    assert n_persons(con) == 2


# --- rule 2: a typo TIN that hits another person's TIN --------------------------------


def test_typo_tin_colliding_with_another_person_does_not_merge_them(tmp_path: Path) -> None:
    # BOB's 2021 return carries ANNA's TIN (one digit off his own).
    bob_tin = "123456780"
    bob = [replace(BOB, tin=bob_tin, year=y) for y in (2019, 2020, 2022, 2023)]
    stray = replace(BOB, tin=ANNA.tin, year=2021, street="9 BIRCH LN")
    rows = [*years(ANNA, 2019, 2022), replace(ANNA, year=2023, street=ELM), *bob, stray]
    con = load(tmp_path, rows)
    ids = con.execute(
        "SELECT first_name, list(DISTINCT person_id) FROM filings GROUP BY first_name"
    ).fetchall()
    by_name = {first: pids for first, pids in ids}
    assert len(by_name["ANNA"]) == 1
    assert len(by_name["BOB"]) == 1
    assert by_name["ANNA"] != by_name["BOB"]
    assert latest_line1(con, by_name["ANNA"][0]) == ELM
    tins = con.execute("SELECT tins FROM persons WHERE first_name = 'BOB'").fetchone()
    assert tins is not None
    assert sorted(tins[0]) == sorted([ANNA.tin, bob_tin])


def test_collision_without_a_way_home_is_its_own_person(tmp_path: Path) -> None:
    stray = replace(BOB, tin=ANNA.tin, year=2021, dob="")  # BOB files nowhere else
    con = load(tmp_path, [*years(ANNA, 2019, 2023), stray])
    persons = con.execute("SELECT first_name, tin FROM persons ORDER BY first_name").fetchall()
    assert persons == [("ANNA", ANNA.tin), ("BOB", ANNA.tin)]
    assert n_persons(con) == 2


# --- rules 4 and 5: name typos stay; Jr/Sr and twins stay apart ------------------------


def test_one_year_name_typo_stays_one_person(tmp_path: Path) -> None:
    rows = [*years(ANNA, 2019, 2021), replace(ANNA, year=2022, first="ANAN")]
    rows += [replace(ANNA, year=2023, last="LEEE")]
    con = load(tmp_path, rows)
    assert n_persons(con) == 1
    assert con.execute("SELECT first_name, last_name FROM persons").fetchall() == [("ANNA", "LEE")]
    variants = con.execute("SELECT count(*), sum(n_filings) FROM person_names").fetchone()
    assert variants == (3, 5)


def test_father_and_son_at_one_address_stay_two(tmp_path: Path) -> None:
    sr = Row("234567891", 0, first="JOHN", last="SMITH", suffix="SR", dob="1950-01-01")
    jr = replace(sr, tin="234567892", suffix="JR", dob="1980-01-01")
    jr_once = replace(jr, tin="234567899", year=2021, dob="")  # a one-off, adjacent to SR
    con = load(tmp_path, [*years(sr, 2019, 2023), *years(jr, 2022, 2023), jr_once])
    pids = person_of(con)
    assert pids[("234567891", 2019)] != pids[("234567892", 2022)]
    assert pids[("234567899", 2021)] == pids[("234567892", 2022)]  # the son's, by suffix


def test_twins_stay_two(tmp_path: Path) -> None:
    a = Row("345678912", 0, first="EMMA", last="RUIZ", dob="2001-07-08")
    b = replace(a, tin="345678913", first="OLIVIA")
    b_once = replace(b, tin="345678919", year=2024)  # adjacent to EMMA's TIN too
    con = load(tmp_path, [*years(a, 2019, 2023), *years(b, 2019, 2023), b_once])
    assert len({pid for (tin, _), pid in person_of(con).items() if tin != "345678919"}) == 2
    names = con.execute("SELECT DISTINCT first_name, person_id FROM filings").fetchall()
    assert len({pid for _, pid in names}) == 2  # OLIVIA's one-off went to OLIVIA


# --- rule 6: an ITIN person joins the SSN person that succeeds it ---------------------

LUIS = Row("912701234", 0, first="LUIS", last="PAZ", dob="1990-01-01", street="5 MAPLE DR")
LUIS_SSN = replace(LUIS, tin="345120987", street="77 CEDAR CT")


def tins_of(con: duckdb.DuckDBPyConnection) -> list[tuple[str, bool, list[str]]]:
    rows = con.execute("SELECT tin, itin, tins FROM persons ORDER BY tin").fetchall()
    return [(tin, itin, sorted(tins)) for tin, itin, tins in rows]


def test_itin_then_ssn_with_the_same_dob_is_one_person(tmp_path: Path) -> None:
    con = load(tmp_path, [*years(LUIS, 2019, 2021), *years(LUIS_SSN, 2022, 2025)])
    assert tins_of(con) == [(LUIS_SSN.tin, False, sorted([LUIS.tin, LUIS_SSN.tin]))]
    pid = person_of(con)[(LUIS.tin, 2019)]
    assert latest_line1(con, pid) == "77 CEDAR CT"


def test_itin_then_ssn_without_dob_joins_on_the_address_at_the_switch(tmp_path: Path) -> None:
    ssn = replace(LUIS_SSN, dob="", street=LUIS.street)  # same house at the switch
    rows = [*years(LUIS, 2019, 2021), *years(ssn, 2022, 2023)]
    rows += years(replace(ssn, street="77 CEDAR CT"), 2024, 2025)
    assert n_persons(load(tmp_path, rows)) == 1


def test_itin_then_ssn_without_dob_or_shared_address_stays_apart(tmp_path: Path) -> None:
    ssn = replace(LUIS_SSN, dob="")
    assert n_persons(load(tmp_path, [*years(LUIS, 2019, 2021), *years(ssn, 2022, 2025)])) == 2


def test_itin_and_ssn_filed_in_one_year_never_merge(tmp_path: Path) -> None:
    con = load(tmp_path, [*years(LUIS, 2019, 2022), *years(LUIS_SSN, 2022, 2025)])
    assert n_persons(con) == 2


def test_itin_and_ssn_with_different_dobs_never_merge(tmp_path: Path) -> None:
    ssn = replace(LUIS_SSN, dob="1990-01-02", street=LUIS.street)
    assert n_persons(load(tmp_path, [*years(LUIS, 2019, 2021), *years(ssn, 2022, 2025)])) == 2


def test_itin_with_two_candidate_ssns_merges_nowhere(tmp_path: Path) -> None:
    other = replace(LUIS_SSN, tin="345120999", street="9 ASH WAY")  # a namesake, same DOB
    rows = [*years(LUIS, 2019, 2021), *years(LUIS_SSN, 2022, 2025), *years(other, 2023, 2025)]
    assert n_persons(load(tmp_path, rows)) == 3


def test_two_itins_before_one_ssn_merge_nowhere(tmp_path: Path) -> None:
    other = replace(LUIS, tin="912711234", street="9 ASH WAY")
    rows = [*years(LUIS, 2019, 2020), *years(other, 2019, 2021), *years(LUIS_SSN, 2022, 2025)]
    assert n_persons(load(tmp_path, rows)) == 3


def test_itin_senior_and_ssn_junior_at_one_address_stay_two(tmp_path: Path) -> None:
    # The father files as SR under an ITIN; the son's only return, a year later at the
    # same house, names no suffix and no DOB: name and address agree, the person differs.
    sr = replace(LUIS, suffix="SR", dob="1950-01-01")
    jr = replace(LUIS_SSN, street=LUIS.street, dob="", year=2025)
    assert n_persons(load(tmp_path, [*years(sr, 2019, 2024), jr])) == 2
    jr_suffix = replace(jr, suffix="JR", dob="1980-01-01")
    assert n_persons(load(tmp_path, [*years(sr, 2019, 2024), jr_suffix], "b")) == 2


# --- rule 7: a return filed under someone else's TIN joins its person ------------------

CARL = Row("456789123", 0, first="CARL", last="NASH", dob="", street=OAK)  # no DOB at all
CARL_YEARS = [replace(CARL, year=y) for y in (2019, 2020, 2022, 2023)]


def test_one_year_random_tin_at_the_persons_address_joins_them(tmp_path: Path) -> None:
    stray = replace(CARL, tin="777001234", year=2021)  # nobody's TIN
    con = load(tmp_path, [*CARL_YEARS, stray])
    assert n_persons(con) == 1
    assert tins_of(con) == [(CARL.tin, False, sorted([CARL.tin, stray.tin]))]


def test_return_under_a_housemates_tin_joins_its_person(tmp_path: Path) -> None:
    stray = replace(CARL, tin=ANNA.tin, year=2021)  # ANNA's TIN; rule 2 splits it off
    con = load(tmp_path, [*years(ANNA, 2019, 2023), *CARL_YEARS, stray])
    ids = con.execute(
        "SELECT first_name, list(DISTINCT person_id) FROM filings GROUP BY first_name"
    ).fetchall()
    by_name = {first: pids for first, pids in ids}
    assert len(by_name["CARL"]) == 1
    assert by_name["CARL"] != by_name["ANNA"]
    assert n_persons(con) == 2


def test_fragment_in_a_year_the_person_filed_never_joins(tmp_path: Path) -> None:
    stray = replace(CARL, tin="777001234", year=2022)
    assert n_persons(load(tmp_path, [*CARL_YEARS, stray])) == 2


def test_fragment_with_a_different_dob_never_joins(tmp_path: Path) -> None:
    carl = [replace(r, dob="1970-01-01") for r in CARL_YEARS]
    stray = replace(CARL, tin="777001234", year=2021, dob="1999-09-09")
    assert n_persons(load(tmp_path, [*carl, stray])) == 2


def test_fragment_with_two_candidate_people_joins_nobody(tmp_path: Path) -> None:
    namesake = [replace(CARL, tin="456789999", year=y) for y in (2019, 2020)]
    stray = replace(CARL, tin="777001234", year=2021)
    assert n_persons(load(tmp_path, [*CARL_YEARS, *namesake, stray])) == 3


def test_fragment_at_a_junior_and_seniors_address_joins_neither(tmp_path: Path) -> None:
    sr = [replace(r, suffix="SR") for r in CARL_YEARS]
    jr = [replace(CARL, tin="456789555", suffix="JR", year=y) for y in (2018, 2020, 2022)]
    stray = replace(CARL, tin="777001234", year=2021)  # no suffix: whose is it?
    con = load(tmp_path, [*sr, *jr, stray])
    assert n_persons(con) == 3
    # With only the senior free that year, a suffix-less return still does not join him.
    jr_2021 = replace(CARL, tin="456789555", suffix="JR", year=2021)
    stray_2021 = replace(stray, tin="777001235")
    con = load(tmp_path, [*sr, *jr, jr_2021, stray_2021], "b")
    assert n_persons(con) == 3


def test_two_fragments_in_one_year_join_nobody(tmp_path: Path) -> None:
    a = replace(CARL, tin="777001234", year=2021)
    b = replace(CARL, tin="777005678", year=2021)
    assert n_persons(load(tmp_path, [*CARL_YEARS, a, b])) == 3


def test_fragment_in_another_unit_or_far_in_time_does_not_join(tmp_path: Path) -> None:
    carl = [replace(r, unit="2") for r in CARL_YEARS]
    stray = replace(CARL, tin="777001234", year=2021, unit="5")
    assert n_persons(load(tmp_path, [*carl, stray])) == 2
    late = replace(CARL, tin="777001234", year=2027)  # four years after CARL's last return
    assert n_persons(load(tmp_path, [*CARL_YEARS, late], "b")) == 2


def test_one_return_without_dob_at_a_namesakes_house_stays_apart(tmp_path: Path) -> None:
    # The mother files every year but 2021 (with a DOB); her daughter of the same name
    # files once, in 2021, at the same house, without a DOB: nothing tells them apart.
    mother = [replace(ANNA, year=y) for y in (2019, 2020, 2022, 2023)]
    daughter = replace(ANNA, tin="765432198", year=2021, dob="")
    assert n_persons(load(tmp_path, [*mother, daughter])) == 2
    same_dob = replace(daughter, dob=ANNA.dob)  # a return under a stray TIN: she joins
    assert n_persons(load(tmp_path, [*mother, same_dob], "b")) == 1


def test_a_multi_year_tin_is_not_a_fragment(tmp_path: Path) -> None:
    other = [replace(CARL, tin="777001234", year=y) for y in (2021, 2024)]  # two years
    assert n_persons(load(tmp_path, [*CARL_YEARS, *other])) == 2


# --- person tables --------------------------------------------------------------------


def test_deceased_and_itin_flags(tmp_path: Path) -> None:
    dead = replace(BOB, dod="2022-09-09")
    itin = Row("912701234", 0, first="LUIS", last="PAZ", dob="1990-01-01")
    rows = [*years(ANNA, 2019, 2020), *years(dead, 2021, 2022), *years(itin, 2019, 2020)]
    con = load(tmp_path, rows)
    got = con.execute(
        "SELECT first_name, deceased, date_of_death::VARCHAR, itin FROM persons ORDER BY 1"
    ).fetchall()
    assert got == [
        ("ANNA", False, None, False),
        ("BOB", True, "2022-09-09", False),
        ("LUIS", False, None, True),
    ]


def test_person_addresses_record_years(tmp_path: Path) -> None:
    rows = [*years(ANNA, 2019, 2020), replace(ANNA, year=2021, street=ELM)]
    rows += [replace(ANNA, year=2022, street="12 OAK STREET")]  # same address, other spelling
    con = load(tmp_path, rows)
    got = con.execute(
        "SELECT house_number, first_year, last_year, n_years, line1 FROM person_addresses "
        "ORDER BY house_number"
    ).fetchall()
    assert got == [("12", 2019, 2022, 3, OAK), ("40", 2021, 2021, 1, ELM)]


def test_a_filing_without_a_city_is_the_same_door_in_the_filed_town(tmp_path: Path) -> None:
    # The latest return lost its city: its street line still parses, so it is the same
    # door (it corroborates), and the address keeps the town the other returns name.
    rows = [*years(ANNA, 2019, 2021), replace(ANNA, year=2022, city="")]
    con = load(tmp_path, rows)
    got = con.execute(
        "SELECT house_number, street, city, state, n_years, last_year FROM person_addresses"
    ).fetchall()
    assert got == [("12", "OAK ST", "SPRINGFIELD", "IL", 4, 2022)]
    filed = con.execute("SELECT house_number, city FROM filings WHERE tax_year = 2022").fetchall()
    assert filed == [("12", "")]


def test_a_door_keeps_the_town_filed_most_with_it(tmp_path: Path) -> None:
    # The latest return at the door names another valid state (a slip): the door keeps
    # the town of its other returns; the latest wins only on a tie.
    rows = [*years(ANNA, 2019, 2021), replace(ANNA, year=2022, state="OK")]
    con = load(tmp_path, rows)
    got = con.execute("SELECT city, state, n_years FROM person_addresses").fetchall()
    assert got == [("SPRINGFIELD", "IL", 4)]
    tie = [replace(ANNA, year=2021), replace(ANNA, year=2022, city="CHATHAM")]
    con = load(tmp_path, tie, "tie")
    assert con.execute("SELECT city FROM person_addresses").fetchall() == [("CHATHAM",)]


def test_modal_names_prefer_the_most_recent_on_a_tie(tmp_path: Path) -> None:
    rows = [replace(ANNA, year=2019, middle="MAE"), replace(ANNA, year=2020, middle="JO")]
    con = load(tmp_path, [*rows, replace(ANNA, year=2021)])
    assert con.execute("SELECT middle_name, n_filings FROM persons").fetchall() == [("JO", 3)]


def test_term_frequency_tables_sum_to_one(tmp_path: Path) -> None:
    people = [replace(ANNA, tin=str(d) * 9, year=2020) for d in (1, 2, 3)]
    people.append(replace(BOB, year=2020))
    con = load(tmp_path, people)
    for col in ("first_name", "last_name"):
        total = con.execute(f"SELECT sum(tf), sum(tf_{col}) FROM tf_{col}").fetchone()
        assert total is not None
        assert total[0] == pytest.approx(1.0) == total[1]
    anna = con.execute("SELECT tf FROM tf_first_name WHERE first_name = 'ANNA'").fetchone()
    assert anna == (pytest.approx(0.75),)


def test_filings_without_a_tin_are_each_their_own_person(tmp_path: Path) -> None:
    con = load(tmp_path, [replace(ANNA, tin="", year=2019), replace(BOB, tin="", year=2019)])
    assert n_persons(con) == 2


def test_same_input_gives_the_same_person_ids(tmp_path: Path) -> None:
    rows = years(ANNA, 2019, 2022) + years(BOB, 2019, 2022)
    rows += [replace(ANNA, tin="123456780", year=2023), replace(BOB, tin=ANNA.tin, year=2023)]
    first = person_of(load(tmp_path, rows, "a"))
    second = person_of(load(tmp_path, list(reversed(rows)), "b"))
    assert first == second
    assert all(pid.startswith("P") and len(pid) == 17 for pid in first.values())


def test_snapshot_schema(tmp_path: Path) -> None:
    con = load(tmp_path, years(ANNA, 2019, 2020))
    columns = {
        t: [c for c, *_ in con.execute(f"DESCRIBE {t}").fetchall()]
        for t in ("persons", "person_addresses", "person_names")
    }
    assert columns["persons"] == [
        "person_id",
        "tin",
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "last_key",
        "date_of_birth",
        "date_of_death",
        "deceased",
        "itin",
        "tins",
        "n_filings",
        "first_year",
        "last_year",
    ]
    assert columns["person_addresses"][:9] == [
        "person_id",
        "house_number",
        "street",
        "unit",
        "po_box",
        "city",
        "state",
        "zip5",
        "line1",
    ]
    assert columns["person_names"][:7] == [
        "person_id",
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "last_key",
        "n_filings",
    ]
    assert "person_id" in [c for c, *_ in con.execute("DESCRIBE filings").fetchall()]


# --- pure helpers ---------------------------------------------------------------------


def tins_adjacent(a: str, b: str) -> bool:
    """The oracle for ``tin_neighbours``: one digit changed or two neighbours swapped."""
    if len(a) != len(b) or a == b:
        return False
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(diff) == 1:
        return True
    return (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and a[diff[0]] == b[diff[1]]
        and a[diff[1]] == b[diff[0]]
    )


def test_tin_helpers() -> None:
    assert is_itin("912701234")
    assert not is_itin("123456789")
    assert not is_itin("912691234")
    assert tins_adjacent("123456789", "123456780")
    assert tins_adjacent("123456789", "213456789")
    assert not tins_adjacent("123456789", "123456789")
    assert not tins_adjacent("123456789", "123456798" + "0")
    assert not tins_adjacent("123456789", "321456789")
    neighbours = tin_neighbours("123456789")
    assert len(neighbours) == 9 * 9 + 8
    assert all(tins_adjacent("123456789", n) for n in neighbours)
    assert is_ssn("123456789")
    for tin in ("912701234", "000456789", "666456789", "123006789", "123450000", "12345678"):
        assert not is_ssn(tin)


@pytest.mark.parametrize(
    "tin", ["912701234", "912691234", "123456789", "000456789", "666456789", "123006789",
            "123450000", "12345678", "9127012345", "91270123X", "", "987654321"],
)  # fmt: skip
def test_tin_kinds_agree_in_sql_and_python(tin: str) -> None:
    con = duckdb.connect()
    got = con.execute(f"SELECT {itin_sql('t')}, {ssn_sql('t')} FROM (SELECT ? AS t)", [tin])
    assert got.fetchone() == (is_itin(tin), is_ssn(tin))


# --- quality against the generator's truth --------------------------------------------


def _truth_rows(people: Path) -> Iterator[tuple[str, int, str, str]]:
    con = duckdb.connect()
    yield from con.execute(
        "SELECT person_id, h.tax_year, h.tin, coalesce(h.master_noise, '') FROM "
        f"(SELECT person_id, unnest(history) AS h FROM read_parquet('{people}')) WHERE h.filed"
    ).fetchall()


@pytest.mark.slow
def test_resolution_quality_on_a_generated_population(tmp_path: Path) -> None:
    from taxmatch.generate import generate_population

    pop = generate_population(people=2000, years=(2019, 2025), seed=17, out=tmp_path / "pop")
    info = load_reference(tmp_path / "store", [pop.master_path])
    con = duckdb.connect(str(info.path), read_only=True)
    filings: dict[tuple[int, str], list[str]] = defaultdict(list)
    for tin, year, pid in con.execute("SELECT tin, tax_year, person_id FROM filings").fetchall():
        filings[(year, tin)].append(pid)
    resolved: dict[str, set[str]] = defaultdict(set)  # true person -> resolved persons
    truth_of: dict[str, set[str]] = defaultdict(set)  # resolved person -> true persons
    for true_id, year, tin, noise in _truth_rows(pop.people_path):
        keys = tin_neighbours(tin) if "tin_typo" in noise else {tin}  # keyed-wrong TIN
        pids = [pid for key in keys for pid in filings.get((year, key), [])]
        if len(pids) != 1:
            continue  # a TIN collision: which row is whose is not known here
        resolved[true_id].add(pids[0])
        truth_of[pids[0]].add(true_id)
    merged = sum(len(t) > 1 for t in truth_of.values())
    split = sum(len(p) > 1 for p in resolved.values())
    assert merged == 0
    assert split / len(resolved) < 0.005  # ITIN -> SSN changes now join (rule 6)
