"""Reading ``collapse_in`` a column at a time: the lists of structs become the same records
a row-by-row reading gives, whatever nulls, empty lists and slices the batch holds; the
garbage collector is paused only while a batch is judged. (That ``judge_batch`` gives the
outcomes the lookup's rules give is ``test_lookup_judge``'s.)"""

from __future__ import annotations

from typing import NamedTuple

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taxmatch.match.judging import _records


class Pair(NamedTuple):
    text: str | None
    number: int | None


_TYPE = pa.list_(pa.struct([("text", pa.string()), ("number", pa.int64())]))
_PAIRS = st.lists(
    st.none()
    | st.lists(
        st.tuples(st.none() | st.sampled_from(["", "a", "b"]), st.none() | st.integers(-3, 3)),
        max_size=4,
    ),
    max_size=12,
)


@settings(deadline=None)
@given(_PAIRS, st.integers(0, 12), st.integers(0, 12))
def test_records_read_each_list_as_the_rows_do(
    lists: list[list[tuple[str | None, int | None]] | None], start: int, length: int
) -> None:
    whole = pa.array(
        [None if x is None else [{"text": t, "number": n} for t, n in x] for x in lists],
        type=_TYPE,
    )
    column = whole.slice(min(start, len(whole)), length)  # an offset and a length
    expected = [
        None if x is None else [Pair(d["text"], d["number"]) for d in x] for x in column.to_pylist()
    ]
    got = _records(column, Pair)
    assert got == expected
    assert all(type(r) is Pair for x in got if x is not None for r in x)


def test_records_refuse_a_struct_of_other_fields() -> None:
    column = pa.array([[{"text": "a"}]], type=pa.list_(pa.struct([("text", pa.string())])))
    with pytest.raises(TypeError):
        _records(column, Pair)
