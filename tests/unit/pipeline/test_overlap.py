"""``MatchingAhead``: the writer reads no row before the matcher's window holding it is
matched and grouped, the matcher's error reaches the writer, leaving stops the matcher
(its DuckDB query interrupted, or at its next query or window), and the writer's wait
advances its progress (the kill switch) and stops on its error. A stand-in matcher
reports its windows; ``group_rows`` is recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import duckdb
import pytest

from taxmatch.pipeline import overlap
from taxmatch.pipeline.overlap import MatchingAhead
from taxmatch.pipeline.progress import Silent

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun

RUN = cast("BatchRun", SimpleNamespace(batch_id="B1", req=SimpleNamespace(engine="duckdb")))
Window = Callable[[int], None] | None
WAIT = 5.0
# A query no test waits for to the end: only an interrupt stops it.
ENDLESS = "SELECT sum(range % 7) FROM range(10_000_000_000_000)"


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

    with MatchingAhead(RUN, con, match, Silent()) as ahead:
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

    with MatchingAhead(RUN, con, match, Silent()) as ahead:
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

    with MatchingAhead(RUN, con, match, Silent()) as ahead:
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
        with MatchingAhead(RUN, con, match, Silent()):
            first.wait(WAIT)
            threading.Timer(0.2, resume.set).start()  # while leaving waits for the thread
            raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        write()
    assert windows == [11]  # the next window was neither grouped nor published
    assert grouped == [(None, 11)]


class Stopped(Exception):
    """The writer's error (a failed write; the kill switch thrown)."""


def _ends_within(seconds: float, con: duckdb.DuckDBPyConnection, write: Callable[[], None]) -> bool:
    """Whether ``write``, run on a thread, ends within ``seconds`` (raising ``Stopped``);
    the matcher is interrupted afterwards in any case, so a test that fails never hangs."""
    ended = threading.Event()

    def run() -> None:
        with pytest.raises(Stopped):
            write()
        ended.set()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        return ended.wait(seconds)
    finally:
        while thread.is_alive():
            con.interrupt()
            thread.join(0.1)


def test_leaving_interrupts_the_matchers_query(
    con: duckdb.DuckDBPyConnection, grouped: list[tuple[int | None, int | None]]
) -> None:
    """The writer fails while the matcher is in a query that would run for hours: leaving
    interrupts it at once, and nothing of its window is grouped or published."""
    started, stopped_by = threading.Event(), []

    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        assert on_window is not None
        on_window(11)
        started.set()
        try:
            c.execute(ENDLESS)
        except duckdb.InterruptException as exc:
            stopped_by.append(type(exc))
            raise
        on_window(21)

    def write() -> None:
        with MatchingAhead(RUN, con, match, Silent()) as ahead:
            ahead.wait_for(11)
            assert started.wait(WAIT)
            raise Stopped

    assert _ends_within(WAIT, con, write)
    assert stopped_by == [duckdb.InterruptException]
    assert grouped == [(None, 11)]


def test_leaving_stops_the_matcher_at_its_next_query(
    con: duckdb.DuckDBPyConnection, grouped: list[tuple[int | None, int | None]]
) -> None:
    """The writer fails while the matcher is between its queries (a step in plain Python,
    which no interrupt reaches): the next query it starts is interrupted, long before its
    window would end."""
    started, steps, stopped_by = threading.Event(), [], []

    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        assert on_window is not None
        started.set()
        time.sleep(0.5)  # the interrupt sent as the writer leaves finds no query
        try:
            for step in range(20):  # seconds each
                c.execute("SELECT sum(range % 7) FROM range(1_000_000_000)").fetchall()
                steps.append(step)
        except duckdb.InterruptException as exc:
            stopped_by.append(type(exc))
            raise
        on_window(11)

    def write() -> None:
        with MatchingAhead(RUN, con, match, Silent()):
            assert started.wait(WAIT)
            raise Stopped

    assert _ends_within(WAIT, con, write)
    assert (steps, stopped_by) == ([], [duckdb.InterruptException])
    assert grouped == []


class _Switch:
    """A progress whose ``advance`` raises once the kill switch is thrown."""

    def __init__(self) -> None:
        self.thrown = threading.Event()
        self.advanced: list[int] = []

    def stage(self, name: str, total: int | None) -> None: ...

    def advance(self, n: int) -> None:
        self.advanced.append(n)
        if self.thrown.is_set():
            raise Stopped


def test_a_switch_thrown_while_the_writer_waits_stops_it_and_the_matcher(
    con: duckdb.DuckDBPyConnection,
    grouped: list[tuple[int | None, int | None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writer waits for a window the matcher is far from done with: its progress is
    advanced by nothing meanwhile, and once that raises (the kill switch) the wait stops
    and leaving interrupts the matcher."""
    monkeypatch.setattr(overlap, "POLL_SECONDS", 0.02)
    switch, started = _Switch(), threading.Event()

    def match(c: duckdb.DuckDBPyConnection, on_chunk: Window, on_window: Window) -> None:
        assert on_window is not None
        started.set()
        c.execute(ENDLESS)
        on_window(11)

    def write() -> None:
        with MatchingAhead(RUN, con, match, switch) as ahead:
            assert started.wait(WAIT)
            threading.Timer(0.2, switch.thrown.set).start()
            ahead.wait_for(1)

    assert _ends_within(WAIT, con, write)
    assert switch.advanced
    assert set(switch.advanced) == {0}
    assert grouped == []
