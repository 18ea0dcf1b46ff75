"""The batch workspace: an on-disk DuckDB file per batch that holds the staged records.

Validation streams verdicts into ``records`` chunk by chunk (memory does not grow with the
input file); whole-batch counts are window functions here; matching writes ``outcomes``;
the package writer streams them back out in file order. The workspace is scratch: the
state database and the package are the record. Never logs a value; grouping keys are
digests, not names.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from taxmatch.errors import StoreError
from taxmatch.files.duck import sql_path
from taxmatch.owner_only import make_dir, restrict, restrict_tree
from taxmatch.reference.record_schema import RECORD_SCHEMA as RECORD_SCHEMA

VALID_SQL = """SELECT r.* EXCLUDE (request_id, mask, fields), f.request_id
               FROM records r JOIN final f USING (row_number) WHERE f.mask = 0"""
# What a cold run leaves in its workspace file for release and explain to read.
PERSISTED = ("records", "final", "outcomes", "req_features")
PERSIST_BLOCK_SIZE = 16384  # DuckDB's smallest

COUNTS_SQL = """
SELECT row_number, request_id, mask, fields,
  CASE WHEN id_key IS NULL THEN 0 ELSE
    row_number() OVER (PARTITION BY id_key ORDER BY row_number) END AS id_rank,
  CASE WHEN pc_key IS NULL THEN 0 ELSE
    row_number() OVER (PARTITION BY pc_key ORDER BY row_number) END AS pc_rank,
  CASE WHEN rel_key IS NULL THEN 0 ELSE count(*) OVER (PARTITION BY rel_key) END AS rel_count,
  row_number() OVER (PARTITION BY officer_id ORDER BY row_number) AS officer_rank
FROM records
"""


class Persisting:
    """A workspace file being written (``BatchWorkspace.persist_in_background``)."""

    def __init__(self, ws: BatchWorkspace, path: Path) -> None:
        self._error: BaseException | None = None
        self._cursor = ws.con.cursor()

        def run() -> None:
            try:
                ws.persist(path, con=self._cursor)
            except BaseException as exc:  # handed to wait()
                self._error = exc
            finally:
                self._cursor.close()

        self._thread = threading.Thread(target=run, name="taxmatch-persist", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Block until the file is written; raise what writing it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error


# The row numbers a windowed query (``BatchWorkspace.stream_windows``) reads: a
# half-open range, filled in with ``str.format``.
IN_WINDOW = "WHERE row_number >= {lo} AND row_number < {hi}"
WINDOW_ROWS = 100_000  # row numbers per windowed query

BATCH_MEMORY_LIMIT = "2GB"  # a batch workspace's DuckDB limit; beyond it, it spills


class BatchWorkspace:
    """One batch's scratch database. Use as a context manager."""

    def __init__(
        self, path: Path, *, memory_limit: str = BATCH_MEMORY_LIMIT, threads: int = 2
    ) -> None:
        make_dir(path.parent)
        self.path: Path | None = path
        self._owned = True
        try:
            self.con = duckdb.connect(str(path))
            restrict(path)  # DuckDB creates its files with the umask's mode
            self.con.execute(f"SET memory_limit='{memory_limit}'")
            self.con.execute(f"SET threads={int(threads)}")
            self.con.execute(f"SET temp_directory='{path.parent / 'spill'}'")
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open the batch workspace") from exc

    @classmethod
    def borrow(cls, con: duckdb.DuckDBPyConnection) -> BatchWorkspace:
        """A workspace in an open connection someone else owns (a warm matcher's in-memory
        database): closing it leaves the connection open (``WarmMatcher.clear`` clears it)."""
        ws = cls.__new__(cls)
        ws.path = None
        ws.con = con
        ws._owned = False
        return ws

    @contextmanager
    def cursor(self) -> Iterator[BatchWorkspace]:
        """This workspace through a connection of its own (a DuckDB cursor: the same
        database, its own transactions), for a thread to read and write while another
        uses ``con``; the cursor is closed on exit."""
        cur = self.con.cursor()
        try:
            yield BatchWorkspace.borrow(cur)
        finally:
            cur.close()

    def __enter__(self) -> BatchWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            self.con.close()
            if self.path is not None:
                for made in (self.path, self.path.with_name(self.path.name + ".wal")):
                    restrict(made)
                restrict_tree(self.path.parent / "spill")

    def reset(self) -> None:
        """Drop what a previous, interrupted run left behind."""
        for table in ("records", "final", "outcomes"):
            self.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.con.from_arrow(RECORD_SCHEMA.empty_table()).create("records")

    def persist(self, path: Path, *, con: duckdb.DuckDBPyConnection | None = None) -> None:
        """Write a borrowed (in-memory) workspace's ``PERSISTED`` tables and ``valid`` view to
        ``path``, the file a cold run would have left (an officer's release of a held row
        and ``taxmatch explain`` read it), whole or not at all. ``con``: another connection
        to this workspace's database to write it through (``persist_in_background``)."""
        con = con or self.con
        make_dir(path.parent)
        tmp = path.with_name(path.name + ".partial")
        tmp.unlink(missing_ok=True)
        alias = f"saved_{uuid.uuid4().hex[:12]}"
        # Small blocks: a lookup's file is ~100 KB instead of ~1.3 MB of 256 KB blocks.
        con.execute(f"ATTACH '{sql_path(tmp)}' AS {alias} (BLOCK_SIZE {PERSIST_BLOCK_SIZE})")
        try:
            con.execute("BEGIN")  # one commit for the lot
            try:
                for table in PERSISTED:
                    con.execute(f"CREATE TABLE {alias}.{table} AS SELECT * FROM {table}")
                con.execute(f"CREATE VIEW {alias}.valid AS {VALID_SQL}")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        finally:
            con.execute(f"DETACH {alias}")
        restrict(tmp)
        tmp.replace(path)

    def persist_in_background(self, path: Path) -> Persisting:
        """``persist`` on a thread of its own (DuckDB writes without holding Python's lock)
        while the caller writes the package. The caller must ``wait()`` before it changes
        or drops the persisted tables, and before it calls the batch done."""
        return Persisting(self, path)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One DuckDB transaction on ``con`` for what the block does (rolled back if it
        raises): a hundred appends committed once, not each with a write-ahead log flush
        of its own (a third of the CPU). A cursor sees the block's writes only after it."""
        self.con.execute("BEGIN")
        try:
            yield
        except BaseException:
            with contextlib.suppress(duckdb.Error):  # a fatal error may refuse it: keep the first
                self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def append_records(self, table: pa.Table) -> None:
        self.con.from_arrow(table).insert_into("records")

    def iter_counts(self, cap: int, chunk: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Whole-batch counts of the rows some whole-batch rule may apply to (a repeated
        id, person and case or relevance text, or an officer past ``cap``), in file order
        (see ``taxmatch.policy.batch``); every other row keeps its own verdict."""
        self.con.execute(
            "CREATE OR REPLACE TABLE final AS "
            "SELECT row_number, request_id, mask, fields FROM records"
        )
        yield from self.stream(
            f"""SELECT * FROM ({COUNTS_SQL}) WHERE id_rank > 1 OR pc_rank > 1
                OR rel_count >= 2 OR officer_rank > {int(cap)}""",
            chunk,
        )

    def stream(self, sql: str, chunk: int = 50_000) -> Iterator[pa.RecordBatch]:
        """Stream a query's result in Arrow batches on its own cursor."""
        cur = self.con.cursor()
        try:
            yield from cur.sql(sql).to_arrow_reader(chunk)
        finally:
            cur.close()

    def stream_windows(
        self,
        sql: str,
        bounds: str,
        chunk: int,
        window: int | None = None,
        *,
        before: Callable[[int], None] | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """``sql``'s rows, a window of ``window`` (default ``WINDOW_ROWS``) row numbers at
        a time, in batches of exactly ``chunk`` rows (the last one shorter). ``sql`` reads
        the row numbers of ``IN_WINDOW`` and orders by row number; ``bounds`` is the table
        whose row numbers it spans. Each window is one query, so a sort or join in it
        holds one window's rows, whatever the size of the batch. ``before`` is given each
        window's end (the row number it stops below) before the window is read."""
        span = f"SELECT min(row_number), max(row_number) FROM {bounds}"
        lo, hi = self.con.execute(span).fetchall()[0]
        if lo is None:
            return
        step = max(1, window or WINDOW_ROWS)
        held: list[pa.RecordBatch] = []
        count = 0
        for start in range(int(lo), int(hi) + 1, step):
            if before is not None:
                before(start + step)
            for batch in self.stream(sql.format(lo=start, hi=start + step), chunk):
                held.append(batch)
                count += batch.num_rows
                while count >= chunk:
                    table = pa.Table.from_batches(held)
                    yield from table.slice(0, chunk).combine_chunks().to_batches()
                    held = table.slice(chunk).to_batches()
                    count -= chunk
        if count:
            yield from pa.Table.from_batches(held).combine_chunks().to_batches()

    def update_final(self, table: pa.Table) -> None:
        """New (request_id, mask, fields) for the rows of ``table``, by row_number."""
        self.con.register("f", table)
        self.con.execute(
            """UPDATE final SET request_id = f.request_id, mask = f.mask, fields = f.fields
               FROM f WHERE final.row_number = f.row_number"""
        )
        self.con.unregister("f")

    def valid_requests_view(self) -> str:
        """Create (and name) the view of records that passed every check."""
        self.con.execute(f"CREATE OR REPLACE VIEW valid AS {VALID_SQL}")
        return "valid"
