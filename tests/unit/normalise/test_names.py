"""Person names: folding, suffixes, surname parts and given-name equivalence."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.normalise.names import (
    SUFFIXES,
    PersonName,
    first_names_agree,
    name_tokens,
    normalise_name,
    normalise_suffix,
)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("", ""),
        ("Jr", "JR"),
        ("jr.", "JR"),
        ("Junior", "JR"),
        ("Sr.", "SR"),
        ("senior", "SR"),
        ("2nd", "II"),
        ("II", "II"),
        ("2", "II"),
        ("3rd", "III"),
        ("IV", "IV"),
        ("4th", "IV"),
        ("V", "V"),
        ("J.R.", "JR"),
        ("MD", ""),
        ("Esq.", ""),
        ("PhD", ""),
    ],
)
def test_normalise_suffix(raw: str, canonical: str) -> None:
    assert normalise_suffix(raw) == canonical
    assert normalise_suffix(canonical) == canonical


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("John", "", "Smith", ""), ("JOHN", "", "SMITH", "", ("SMITH",))),
        (("John", "Q.", "Smith Jr.", ""), ("JOHN", "Q", "SMITH", "JR", ("SMITH",))),
        (("John Jr", "", "Smith", ""), ("JOHN", "", "SMITH", "JR", ("SMITH",))),
        (("John", "", "Smith Junior", ""), ("JOHN", "", "SMITH", "JR", ("SMITH",))),
        (("John", "", "Smith III", ""), ("JOHN", "", "SMITH", "III", ("SMITH",))),
        (("John", "", "Smith", "2nd"), ("JOHN", "", "SMITH", "II", ("SMITH",))),
        (("John", "", "Smith Jr", "Sr"), ("JOHN", "", "SMITH JR", "SR", ("SMITH", "JR"))),
        (("John V", "", "Smith", ""), ("JOHN V", "", "SMITH", "", ("SMITH",))),
        (("Mr. John", "", "Smith", ""), ("JOHN", "", "SMITH", "", ("SMITH",))),
        (("María", "", "García-López", ""), ("MARIA", "", "GARCIA LOPEZ", "", ("GARCIA", "LOPEZ"))),
        (("Ana", "", "de la Cruz", ""), ("ANA", "", "DE LA CRUZ", "", ("CRUZ",))),
        (("Ana", "", "Dela Cruz", ""), ("ANA", "", "DELA CRUZ", "", ("CRUZ",))),
        (("Jan", "", "van der Berg", ""), ("JAN", "", "VAN DER BERG", "", ("BERG",))),
        (("Omar", "", "Al Hassan", ""), ("OMAR", "", "AL HASSAN", "", ("HASSAN",))),
        (("Thi", "", "Le", ""), ("THI", "", "LE", "", ("LE",))),  # LE alone is a surname
        (("Sean", "", "O'Brien", ""), ("SEAN", "", "OBRIEN", "", ("OBRIEN",))),
        (("Jr", "", "Jr", ""), ("JR", "", "JR", "", ("JR",))),  # a lone word is a name
    ],
)
def test_normalise_name(
    fields: tuple[str, str, str, str], expected: tuple[str, str, str, str, tuple[str, ...]]
) -> None:
    name = normalise_name(*fields)
    assert (name.first, name.middle, name.last, name.suffix, name.last_parts) == expected


def test_last_key_drops_spaces_and_hyphens() -> None:
    assert normalise_name("A", "", "Garcia-Lopez", "").last_key == "GARCIALOPEZ"
    assert normalise_name("A", "", "De La Cruz", "").last_key == "DELACRUZ"
    assert normalise_name("A", "", "DeLaCruz", "").last_key == "DELACRUZ"


def test_name_tokens() -> None:
    assert name_tokens("  García-López  ") == ("GARCIA", "LOPEZ")
    assert name_tokens("") == ()


@pytest.mark.parametrize(
    ("a", "b", "agree"),
    [
        ("JOHN", "JOHN", True),
        ("WILLIAM", "BILL", True),
        ("BILL", "WILLIAM", True),
        ("ELIZABETH", "LIZ", True),
        ("ROBERT", "BOB", True),
        ("J", "JOHN", True),
        ("JOHN", "J", True),
        ("J", "J", True),
        ("JOHN", "JAMES", False),
        ("J", "MARY", False),
        ("JOHN", "", False),
        ("MARIA", "MARIO", False),
        ("john", "JOHN", True),  # folded again on the way in
    ],
)
def test_first_names_agree(a: str, b: str, agree: bool) -> None:
    assert first_names_agree(a, b) is agree
    assert first_names_agree(b, a) is agree


name_text = st.text(max_size=30) | st.sampled_from(
    ["Smith Jr", "de la Cruz", "Mr John", "John V", "Le", "Jr", "JR JR", "Garcia-Lopez", ""]
)
given_names = st.sampled_from(
    ["JOHN", "JON", "JACK", "J", "WILLIAM", "BILL", "WILL", "LIZ", "ELIZABETH", "BETH", "", "A"]
) | st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(name_text, name_text, name_text, name_text)
def test_normalise_name_is_total_and_idempotent(
    first: str, middle: str, last: str, suffix: str
) -> None:
    name = normalise_name(first, middle, last, suffix)
    assert isinstance(name, PersonName)
    assert name.suffix in {*SUFFIXES, ""}
    assert normalise_name(name.first, name.middle, name.last, name.suffix) == name
    assert set(name.last_parts) <= set(name.last.split())


@settings(max_examples=300, deadline=None)
@given(given_names, given_names)
def test_first_names_agree_is_symmetric_and_reflexive(a: str, b: str) -> None:
    assert first_names_agree(a, b) == first_names_agree(b, a)
    assert first_names_agree(a, a)
