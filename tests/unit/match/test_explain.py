"""A candidate's filed address in ``taxmatch explain`` is printed as a disclosure prints it."""

from __future__ import annotations

import pytest

from taxmatch.match.explain import _filed_address

_BLANK = {f"{c}_r": None for c in ("house_number", "street", "unit", "po_box", "city", "zip5")}


@pytest.mark.parametrize(
    ("filed", "line"),
    [
        ({"house_number_r": "12", "street_r": "MAIN ST", "unit_r": "APT 4"}, "12 MAIN ST, APT 4"),
        ({"po_box_r": "12"}, "PO BOX 12"),
        ({"po_box_r": "RR 2 BOX 152"}, "RR 2 BOX 152"),
    ],
)
def test_the_filed_address_is_the_disclosed_line(filed: dict[str, str], line: str) -> None:
    row = {**_BLANK, **filed, "city_r": "OGALLALA", "zip5_r": "69153"}
    assert _filed_address(row) == f"{line}, OGALLALA, 69153"
