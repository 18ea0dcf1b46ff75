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

Must never: let the writer read a row before its outcome and groups are final, leave the
thread running once the batch stops (``close`` stops it at the next window and joins
it), or lose the thread's error (the writer raises it).
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING

import duckdb

from taxmatch.events import Event, emit
from taxmatch.pipeline.coverage import group_rows

if TYPE_CHECKING:
    from taxmatch.pipeline.batch import BatchRun
    from taxmatch.pipeline.matching import Match


class _Stopped(Exception):
    """The writer stopped (it failed, or the batch was suspended): so does the matcher."""


class MatchingAhead:
    """``match`` and ``group_rows`` over the workspace ``con`` on a thread, started at once;
    use as a context manager (leaving it stops and joins the thread)."""

    def __init__(self, run: BatchRun, con: duckdb.DuckDBPyConnection, match: Match) -> None:
        self._run, self._con, self._match = run, con, match
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
        the matcher is done with every row); raise what the matcher raised."""
        with self._changed:
            while self._error is None and not self._done:
                if row_number is not None and self._upto >= row_number:
                    break
                self._changed.wait()
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        """Stop the matcher (at its next window, if it is still going) and wait for it."""
        with self._changed:
            self._stop = True
        self._thread.join()

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
