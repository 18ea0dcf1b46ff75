"""Words that stand where a name should be ("RESPONDENT", "MALE CHILD", "WIFE", "MS"):
census and survey forms are filled so when a name was not given, and such a word names
nobody. Pure.

Only words that are no one's given name (or surname) are listed: "SON" (a Vietnamese given
name), "MAN", "LADY", "NA", "NINO", "BABY", "BOY" (a Filipino given name) and "MINOR"
stay first names; "HOUSE", "HOUSEHOLDER", "CHILD", "SON", "NA", "NULL", "FRIEND" and
"PARENT" stay surnames. A lone initial
is a name part, not a placeholder (the matcher's first-name rule decides what it is worth).
"""

from __future__ import annotations

# A whole first-name field (folded) that is one of these is no given name.
_FIRST = frozenset(
    {
        # relationship to the one who filled the form
        "MOTHER", "FATHER", "MOM", "DAD", "HUSBAND", "WIFE", "BROTHER", "SISTER",
        "DAUGHTER", "DAUGHTER OF", "SON OF", "GRANDDAUGHTER", "GRANDSON", "GRANDCHILD",
        "NEPHEW", "NIECE", "COUSIN", "HIJA", "HIJO", "FRIEND", "ROOMMATE", "BOARDER",
        # age or sex in place of a name
        "BABY BOY", "BABY GIRL", "GIRL", "KID", "CHILD F", "MALE CHILD",
        "FEMALE CHILD", "INFANT", "NEWBORN", "ADULT", "ADULT MALE", "ADULT FEMALE",
        "MALE", "FEMALE", "WOMAN", "OLDEST", "YOUNGEST", "HOUSE",
        "GENTLEMAN", "GENTLEMEN", "GENTELMAN", "GENTLEMAN OF", "LADY IN THE", "LADY OF",
        "LADY OF HOUSE", "LADY OF THE", "LADY OF THE HOUSE", "MAN IN THE", "MAN OF",
        "MAN OF THE", "MAN OF THE HOUSE",
        # titles and roles
        "MR", "MRS", "MS", "MISS", "MISTER", "SENOR", "SENORA", "RESPONDENT", "RESPONDANT",
        "RESIDENT", "OCCUPANT", "HOUSEHOLDER", "HEAD OF HOUSEHOLD", "PERSON", "INMATE",
        "TENANT",
        # no name given
        "UNKNOWN", "UNK", "NONE", "NO NAME", "NO FIRST NAME", "FIRST NAME", "NAME",
        "ANONYMOUS", "REFUSED", "DECLINED", "NOT GIVEN", "DONT KNOW",
    }
)  # fmt: skip

# A whole last-name field (folded) that is one of these is no surname.
_LAST = frozenset(
    {
        "RESPONDENT", "RESPONDANT", "RESP", "RESIDENT", "OCCUPANT",
        "HOUSEHOLD", "OF THE HOUSE", "OF HOUSE", "OF THE HOME", "THE HOUSE",
        "LADY OF HOUSE", "LADY OF THE HOUSE", "MAN OF THE HOUSE", "DE CASA", "DE LA CASA",
        "UNKNOWN", "UNK", "NONE", "NO NAME", "NO LAST NAME", "LAST NAME", "SURNAME",
        "APELLIDO", "ANONYMOUS", "ANON", "REFUSE", "REFUSED", "DECLINED", "DONT KNOW",
        "NOT GIVEN", "HHM",
    }
)  # fmt: skip


def is_placeholder_first(folded: str) -> bool:
    """A folded first-name field that is a word standing for a person, not a name."""
    return folded in _FIRST


def is_placeholder_last(folded: str) -> bool:
    """A folded last-name field that is a word standing for a person, not a surname."""
    return folded in _LAST
