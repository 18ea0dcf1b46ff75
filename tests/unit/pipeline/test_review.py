"""The request shown to an officer never appears in a repr (tracebacks, logged contexts)."""

from __future__ import annotations

from taxmatch.pipeline.review import RequestShown


def test_a_shown_request_keeps_its_values_out_of_its_repr() -> None:
    shown = RequestShown(
        "ZED QUILL", "12 ELM ST, SPRINGFIELD, IL, 62701", "1980-02-03", "***-**-1234", "2023; 2024"
    )
    text = repr(shown)
    for value in ("ZED", "QUILL", "ELM", "1980-02-03", "1234"):
        assert value not in text
