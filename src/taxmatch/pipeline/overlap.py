"""A batch's matching, one window of rows ahead of its package writer.

Writing the package is plain Python on one core; matching is DuckDB, which runs without
Python's lock, and judging processes of its own (``collapse``). One after the other, a
two-core machine idles through much of each. ``MatchingAhead`` runs the matcher (and the
coverage groups of the rows it has matched: ``group_rows``) on a thread of its own, on the
workspace's connection, while the caller decides and writes the rows already matched,
reading them through a cursor of its own (``BatchWorkspace.cursor``). What either decides
is unchanged: the matcher writes ``outcomes`` a window at a time (``match_probabilistic``'s
``on_window``), this thread then adds the window's ``row_groups`` and only then publishes
the row number below which both are final; the writer reads no row at or past it
(``wait_for``).

While it waits, the writer advances its progress by nothing every ``POLL_SECONDS``: the
queue worker's progress checks the kill switch there, as it does between windows, so a
switch thrown during a long wait stops the batch then, not once the window is matched.
When the writer stops (it failed, or the batch was suspended), ``close`` interrupts the
matcher's DuckDB query, again every ``INTERRUPT_SECONDS`` until the thread ends (an
interrupt sent between two queries is lost: the next one is stopped), and joins it; a
step that is no DuckDB query (judging processes, Spark) ends first, and the stop flag
stops the matcher at its next window still. The batch fails as it would have at the next
window: nothing of the matcher's unfinished window is published.

Must never: let the writer read a row before its outcome and groups are final, leave the
thread running once the batch stops, interrupt a query the thread did not run (only
until it publishes that it is done), or lose the thread's error (the writer raises it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

import duckdb

from taxmatch.events import Event, emit
from taxmatch.pipeline.coverage import group_rows
from taxmatch.pipeline.progress import Progress

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun
    from taxmatch.pipeline.matching import Match

POLL_SECONDS = 0.5  # the writer's progress (the kill switch) while it waits for the matcher
INTERRUPT_SECONDS = 0.1  # a stopped matcher's queries are interrupted this often until it ends


class _Stopped(Exception):
    """The writer stopped (it failed, or the batch was suspended): so does the matcher."""


class MatchingAhead:
    """``match`` and ``group_rows`` over the workspace ``con`` on a thread, started at once;
    use as a context manager (leaving it stops and joins the thread)."""

    def __init__(
        self, run: BatchRun, con: duckdb.DuckDBPyConnection, match: Match, bar: Progress
    ) -> None:
        self._run, self._con, self._match, self._bar = run, con, match, bar
        self._changed = threading.Condition()
        self._upto = 0  # every row below it has its outcome and groups
        self._done = False
        self._stop = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="taxmatch-match", daemon=True)
        self._thread.start()

    def __enter__(self) -> MatchingAhead:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def wait_for(self, row_number: int | None = None) -> None:
        """Return once every row below ``row_number`` is matched and grouped (None: once
        the matcher is done with every row); raise what the matcher raised, or what the
        progress raised (the kill switch), advanced by 0 every ``POLL_SECONDS`` meanwhile."""

        def ready() -> bool:
            return (
                self._error is not None
                or self._done
                or (row_number is not None and self._upto >= row_number)
            )

        while True:
            with self._changed:
                waited = self._changed.wait_for(ready, POLL_SECONDS)
                if self._error is not None:
                    raise self._error
            if waited:
                return
            self._bar.advance(0)  # outside the lock: the matcher publishes meanwhile

    def close(self) -> None:
        """Stop the matcher (its DuckDB query interrupted, if it is still going) and wait
        for it."""
        with self._changed:
            self._stop = True
        while self._thread.is_alive():
            with self._changed:  # the thread's last query is before it publishes done
                if not self._done:
                    self._con.interrupt()
            self._thread.join(INTERRUPT_SECONDS)

    def _work(self) -> None:
        t0 = time.monotonic()
        grouped: int | None = None  # where the next window of groups starts (None: anew)

        def matched(upto: int) -> None:
            nonlocal grouped
            if self._stop:
                raise _Stopped
            group_rows(self._run, self._con, (grouped, upto))
            grouped = upto
            self._publish(upto=upto)

        try:
            self._match(self._con, None, matched)
            if self._stop:
                raise _Stopped
            group_rows(self._run, self._con, (grouped, None))  # rows past the last window
            seconds = round(time.monotonic() - t0, 3)
            emit(
                Event.MATCHING_DONE,
                batch_id=self._run.batch_id,
                engine=self._run.req.engine,
                seconds=seconds,
            )
        except BaseException as exc:  # handed to the writer (wait_for)
            self._publish(error=exc)
        finally:
            self._publish(done=True)  # whatever happened: the writer never waits forever

    def _publish(
        self, *, upto: int = 0, done: bool = False, error: BaseException | None = None
    ) -> None:
        with self._changed:
            self._upto = max(self._upto, upto)
            self._done = self._done or done
            self._error = self._error or error
            self._changed.notify_all()


def writing(ahead: MatchingAhead | None, bar: Progress, rows: int) -> Callable[[int], None]:
    """The writer's wait for its next window of matched rows (``write_outputs``' ``ready``;
    none when ``ahead`` is None: every row is matched already), its progress shown as the
    package's once the first window is there."""
    started: list[bool] = []

    def ready(row_number: int) -> None:
        if ahead is not None:
            ahead.wait_for(row_number)
        if not started:
            bar.stage("writing package", rows)
            started.append(True)

    return ready
