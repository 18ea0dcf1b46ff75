"""``MatchingAhead``: the writer reads no row before the matcher's window holding it is
matched and grouped, the matcher's error reaches the writer, and leaving stops the matcher
at its next window. A stand-in matcher reports its windows; ``group_rows`` is recorded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import duckdb
import pytest

from taxmatch.pipeline import overlap
from taxmatch.pipeline.overlap import MatchingAhead

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun

RUN = cast("BatchRun", SimpleNamespace(batch_id="B1", req=SimpleNamespace(engine="duckdb")))
Window = Callable[[int], None] | None
WAIT = 5.0


@pytest.fixture
def grouped(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int | None, int | None]]:
    """The windows ``group_rows`` was asked for, in order."""
    calls: list[tuple[int | None, int | None]] = []

    def record(run: object, con: object, rows: tuple[int | None, int | None]) -> None:
        calls.append(rows)

    monkeypatch.setattr(overlap, "group_rows", record)
    return calls


def _waiting(ahead: MatchingAhead, row_number: int) -> threading.Event:
    """Set once ``ahead.wait_for(row_number)`` returns (on a thread)."""
    returned = threading.Event()
    threading.Thread(target=lambda: (ahead.wait_for(row_number), returned.set())).start()
    return returned


def test_the_writer_waits_for_the_window_that_holds_its_rows(
    con: duckdb.DuckDBPyConnection, grouped: list[tuple[int | None, int | None]]
) -> None:
    go_on, last = threading.Event(), threading.Event()

    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        assert on_window is not None
        on_window(101)
        go_on.wait(WAIT)
        on_window(201)
        last.wait(WAIT)

    with MatchingAhead(RUN, con, match) as ahead:
        ahead.wait_for(101)
        assert grouped == [(None, 101)]  # grouped before it was published
        second, everything = _waiting(ahead, 150), _waiting(ahead, 10**9)
        assert not second.wait(0.2)
        go_on.set()
        assert second.wait(WAIT)
        assert not everything.wait(0.2)  # past the last window: not before the matcher ends
        last.set()
        assert everything.wait(WAIT)
        ahead.wait_for()
    assert grouped == [(None, 101), (101, 201), (201, None)]


def test_a_matcher_without_windows_is_waited_for_to_the_end(
    con: duckdb.DuckDBPyConnection, grouped: list[tuple[int | None, int | None]]
) -> None:
    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        c.execute("CREATE TABLE outcomes AS SELECT 1 AS row_number")

    with MatchingAhead(RUN, con, match) as ahead:
        ahead.wait_for(2)
        assert con.execute("SELECT count(*) FROM outcomes").fetchone() == (1,)
    assert grouped == [(None, None)]


def test_the_matchers_error_reaches_the_writer(
    con: duckdb.DuckDBPyConnection, grouped: list[tuple[int | None, int | None]]
) -> None:
    fail = threading.Event()

    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        assert on_window is not None
        on_window(11)
        fail.wait(WAIT)
        raise ValueError("scoring failed")

    with MatchingAhead(RUN, con, match) as ahead:
        ahead.wait_for(11)
        fail.set()
        with pytest.raises(ValueError, match="scoring failed"):
            ahead.wait_for(12)
        with pytest.raises(ValueError, match="scoring failed"):
            ahead.wait_for()
    assert grouped == [(None, 11)]


def test_leaving_stops_the_matcher_at_its_next_window(
    con: duckdb.DuckDBPyConnection, grouped: list[tuple[int | None, int | None]]
) -> None:
    first, resume, windows = threading.Event(), threading.Event(), []

    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        assert on_window is not None
        for upto in (11, 21, 31):
            on_window(upto)
            windows.append(upto)
            first.set()
            resume.wait(WAIT)  # matching the next window

    def write() -> None:
        with MatchingAhead(RUN, con, match):
            first.wait(WAIT)
            threading.Timer(0.2, resume.set).start()  # while leaving waits for the thread
            raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        write()
    assert windows == [11]  # the next window was neither grouped nor published
    assert grouped == [(None, 11)]
