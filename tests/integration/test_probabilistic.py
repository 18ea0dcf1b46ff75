"""The probabilistic matcher end to end on the cast: docs/domain.md's regression cases."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from taxmatch.contracts import MASTER_COLUMNS
from taxmatch.match.model import MODEL_VERSION
from taxmatch.pipeline.batch import BatchRequest, run_batch

from .conftest import (
    AS_OF,
    CARTER,
    HOPPER,
    NGUYEN,
    read_package,
    request_row,
    write_envelope,
    write_master,
    write_requests,
)

Outcome = tuple[str, dict[str, str]]


def decide(store: Path, tmp: Path, **changes: str) -> Outcome:
    result = run_batch(
        BatchRequest(
            store=store,
            requests=write_requests(tmp / "r.csv", [request_row(1, **changes)]),
            envelope=write_envelope(tmp / "e.json"),
            out=tmp / "out",
            as_of=AS_OF,
            database_url=f"sqlite:///{tmp / 's.sqlite3'}",
        )
    )
    for name, rows in read_package(result.package).items():
        if rows:
            return name, rows[0]
    raise AssertionError("the row is in no file")


def test_discloses_latest_address_in_period(model_store: Path, tmp_path: Path) -> None:
    name, row = decide(model_store, tmp_path)  # Maria, from her 2021 address
    assert name == "disclosed"
    assert (row["street_address"], row["unit"], row["zip"], row["tax_year"]) == (
        "77 PINE ST",
        "APT 2",
        "98402",
        "2024",
    )


def test_noisy_street_spelling_still_matches(model_store: Path, tmp_path: Path) -> None:
    name, _ = decide(model_store, tmp_path, **{**HOPPER, "street_address": "88 Harbour Way"})
    assert name == "disclosed"


def test_jr_sr_without_suffix_or_dob_is_ambiguous(model_store: Path, tmp_path: Path) -> None:
    assert decide(model_store, tmp_path, **CARTER) == (
        "unmatched",
        {"request_id": "REQ-00001", "outcome": "AMBIGUOUS"},
    )


@pytest.mark.parametrize("separator", [{"suffix": "Jr"}, {"date_of_birth": "1985-06-06"}])
def test_jr_sr_separated_by_suffix_or_dob(
    model_store: Path, tmp_path: Path, separator: dict[str, str]
) -> None:
    name, row = decide(model_store, tmp_path, **CARTER, **separator)
    assert name == "disclosed"
    assert row["street_address"] == "410 OAK AVE"


@pytest.mark.parametrize("first", ["Carmen", "Mario", "M"])
def test_household_member_with_other_first_name_never_disclosed(
    model_store: Path, tmp_path: Path, first: str
) -> None:
    """Same surname, same address, another given name (a spouse who never filed)."""
    name, _ = decide(model_store, tmp_path, first_name=first)
    assert name != "disclosed"


def test_a_misspelt_first_name_is_the_filed_one_unless_people_file_under_it(
    model_store: Path, tmp_path: Path
) -> None:
    """One batch: JIHN, a name nobody files under a keystroke from JOHN, at John Carter
    Jr's door is John's (``normalise.typos``); MARIO, a keystroke from MARIA but a name
    Mario Rossi files under, at Maria's door is nobody the file knows."""
    rows = [
        request_row(1, **{**CARTER, "first_name": "Jihn", "suffix": "Jr"}),
        request_row(2, first_name="Mario"),
    ]
    result = run_batch(
        BatchRequest(
            store=model_store,
            requests=write_requests(tmp_path / "r.csv", rows),
            envelope=write_envelope(tmp_path / "e.json"),
            out=tmp_path / "out",
            as_of=AS_OF,
            database_url=f"sqlite:///{tmp_path / 's.sqlite3'}",
        )
    )
    package = read_package(result.package)
    assert [(r["request_id"], r["street_address"]) for r in package["disclosed"]] == [
        ("REQ-00001", "410 OAK AVE")
    ]
    assert [(r["request_id"], r["outcome"]) for r in package["unmatched"]] == [
        ("REQ-00002", "NO_MATCH")
    ]


def test_name_and_tin_without_address_corroboration_never_disclose(
    model_store: Path, tmp_path: Path
) -> None:
    """Anti-pattern 1: a name + TIN hit without the requester's address."""
    name, _ = decide(
        model_store,
        tmp_path,
        **{**NGUYEN, "street_address": "5501 Other Rd", "zip": "77099", "tin": "423456789"},
    )
    assert name != "disclosed"


def test_one_year_tin_typo_does_not_change_the_address(model_store: Path, tmp_path: Path) -> None:
    """Grace moved in 2024 and that year's filing carries a mistyped TIN."""
    name, row = decide(model_store, tmp_path, **HOPPER)
    assert name == "disclosed"
    assert (row["street_address"], row["zip"], row["tax_year"]) == ("15 NAVY CT", "22201", "2024")


def test_one_off_slip_on_the_latest_filing_is_mended(model_store: Path, tmp_path: Path) -> None:
    """Ada's 2024 filing misspells the street she filed for three years."""
    name, row = decide(
        model_store,
        tmp_path,
        first_name="Ada",
        last_name="Byron",
        street_address="1231 Riverside Drive",
        unit="",
        city="Madison",
        state="WI",
        zip="53703",
    )
    assert name == "disclosed"
    assert (row["street_address"], row["tax_year"]) == ("1231 RIVERSIDE DR", "2024")


def test_move_to_a_shared_address_nearby_is_not_mended(model_store: Path, tmp_path: Path) -> None:
    """Alan's 2024 address is a few characters from his old one, but Joan files there too:
    a real address, so it is the one disclosed."""
    name, row = decide(
        model_store,
        tmp_path,
        first_name="Alan",
        last_name="Turing",
        street_address="8203 West Farwell Avenue",
        unit="",
        city="Chicago",
        state="IL",
        zip="60626",
    )
    assert name == "disclosed"
    assert (row["street_address"], row["tax_year"]) == ("8003 W FARWELL AVE", "2024")


def test_first_and_last_name_swapped_still_match(model_store: Path, tmp_path: Path) -> None:
    name, row = decide(
        model_store, tmp_path, **{**NGUYEN, "first_name": "Nguyen", "last_name": "Anh"}
    )
    assert name == "disclosed"
    assert (row["street_address"], row["zip"]) == ("9 ELM ST", "77002")


def test_no_unit_in_a_building_with_units_goes_to_review(model_store: Path, tmp_path: Path) -> None:
    """Rosa's latest filing is at Maria's building with no apartment: not deliverable."""
    rosa = {
        "first_name": "Rosa",
        "last_name": "Parks",
        "street_address": "5 Cedar Lane",
        "unit": "",
        "city": "Olympia",
        "zip": "98501",
    }
    name, _ = decide(model_store, tmp_path, **rosa)
    assert name == "pending"


def test_deceased_is_ineligible(model_store: Path, tmp_path: Path) -> None:
    name, row = decide(
        model_store,
        tmp_path,
        first_name="Robert",
        last_name="Old",
        street_address="5 Birch Rd",
        unit="",
        city="Boise",
        state="ID",
        zip="83702",
    )
    assert (name, row["outcome"]) == ("unmatched", "INELIGIBLE")


def test_unknown_person_is_no_match(model_store: Path, tmp_path: Path) -> None:
    name, row = decide(model_store, tmp_path, first_name="Nobody", last_name="Known")
    assert (name, row["outcome"]) == ("unmatched", "NO_MATCH")


def test_summary_records_the_model(model_store: Path, tmp_path: Path) -> None:
    result = run_batch(
        BatchRequest(
            store=model_store,
            requests=write_requests(tmp_path / "r.csv", [request_row(1)]),
            envelope=write_envelope(tmp_path / "e.json"),
            out=tmp_path / "o",
            as_of=AS_OF,
            database_url=f"sqlite:///{tmp_path / 's.sqlite3'}",
        )
    )
    assert result.summary["model"]["version"] == MODEL_VERSION
    assert len(result.summary["model"]["sha256"]) == 64
    assert result.summary["matcher"] == "probabilistic"


@pytest.fixture(scope="module")
def route_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cast, a filer on a rural route (a box on the route, no house or street), who
    moved from one box to another in 2024, and a servicemember whose box moved from an APO
    to a DPO in 2024."""
    from taxmatch.pipeline.reference import load_reference_snapshot, train_current_model

    store = tmp_path_factory.mktemp("route-store")
    master = write_master(store.parent / f"{store.name}-master.csv")
    ella = ("533456789", "Ella", "Prairie", "1971-04-04")
    owen = ("533456790", "Owen", "Garrison", "1983-09-12")  # a servicemember
    filed = (
        (ella, 2022, "RR 2 Box 45", "Ogallala", "NE", "69153"),
        (ella, 2023, "R.R. 2, Box 45", "Ogallala", "NE", "69153"),
        (ella, 2024, "RR 3 BOX 7", "Ogallala", "NE", "69153"),
        (owen, 2022, "PSC 802 Box 74", "APO", "AE", "09499"),
        (owen, 2023, "P.S.C. 802, Box 74", "APO", "AE", "09499"),
        (owen, 2024, "Unit 2050, Box 4190", "DPO", "AP", "96278"),
    )
    with master.open("a", newline="", encoding="utf-8") as fh:
        for (tin, first, last, dob), year, line, city, state, zip_code in filed:
            row = {
                "tin": tin,
                "tax_year": year,
                "first_name": first,
                "last_name": last,
                "date_of_birth": dob,
                "street_address": line,
                "city": city,
                "state": state,
                "zip": zip_code,
            }
            csv.writer(fh).writerow(row.get(c, "") for c in MASTER_COLUMNS)
    load_reference_snapshot(store, [master])
    train_current_model(store)
    return store


def test_a_military_box_is_matched_and_disclosed_as_usps_writes_it(
    route_store: Path, tmp_path: Path
) -> None:
    """A servicemember's box at an APO corroborates the filer's, and the box of the latest
    filing (a new unit through a DPO) is disclosed as its standard line."""
    owen = {
        "first_name": "Owen",
        "last_name": "Garrison",
        "street_address": "PSC 802, BOX 74",
        "unit": "",
        "city": "APO",
        "state": "AE",
        "zip": "09499",
    }
    name, row = decide(route_store, tmp_path, **owen)
    assert name == "disclosed"
    disclosed = (row["street_address"], row["city"], row["state"], row["zip"])
    assert disclosed == ("UNIT 2050 BOX 4190", "DPO", "AP", "96278")


def test_a_rural_route_box_is_matched_and_disclosed_as_usps_writes_it(
    route_store: Path, tmp_path: Path
) -> None:
    """A requester's rural route box corroborates the filer's (the same route and box, as
    written any way), and the box the latest filing gives is disclosed as its standard line."""
    ella = {
        "first_name": "Ella",
        "last_name": "Prairie",
        "street_address": "Rural Route #2 Box 45",
        "unit": "",
        "city": "Ogallala",
        "state": "NE",
        "zip": "69153",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    name, row = decide(route_store, tmp_path / "a", **ella)
    assert name == "disclosed"
    assert (row["street_address"], row["zip"], row["tax_year"]) == ("RR 3 BOX 7", "69153", "2024")
    # Another box on the same route is not her door: nothing corroborates the person.
    name, _ = decide(route_store, tmp_path / "b", **{**ella, "street_address": "RR 2 BOX 46"})
    assert name != "disclosed"
