"""A batch chunk's slice of the snapshot, taken from the lookup index (``lookup_index``).

Matching a chunk of requests reads the master records its blocking rules can pair them
with, the persons it ranks, and the person tables' rows its best persons' evidence comes
from. Joined in SQL against the whole snapshot, each of those is a scan of a whole table
per chunk, a cost that grows with the master file, not with the batch. Taken from the
index's sorted keys they are found by binary search: the chunk's own rows, whatever the
size of the snapshot.

What is taken is a superset of what the blocking and the gathering SQL select (a 64-bit
hash collision only adds a row, which their exact joins then drop; the evidence's rows
are chosen by ``lookup_index.addresses_of``, as a single lookup's), so the pairs, the ranking
and the evidence are those the whole snapshot gives. The slice lives in an in-memory
schema of the workspace's connection (``SCHEMA``), which ``collapse`` reads as its ``ref``.
Never logs a value.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from taxmatch.match.levels import RuleKey
from taxmatch.match.lookup_index import (
    INDEX_MEMORY_LIMIT,
    PERSON_TABLES,
    Keyed,
    Rows,
    addresses_of,
    build_lookup_index,
    key_sql,
)

SCHEMA = "chunk_ref"  # the attached in-memory database holding a chunk's slice


class ChunkReference:
    """The snapshot's lookup index, open for a batch's chunks (built once per snapshot,
    beside it, when it is not there yet, under ``memory_limit``)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        snapshot: Path,
        keys: list[RuleKey],
        *,
        memory_limit: str = INDEX_MEMORY_LIMIT,
    ):
        self.con = con
        self.keys = keys
        index = build_lookup_index(snapshot, keys, memory_limit=memory_limit)
        self._held: dict[str, pa.Table] = {}  # the rows each of its views shows
        self.tables: dict[str, Keyed] = {}
        self.master = Keyed(index, "master_records", [f"k{i}" for i in range(len(keys))])
        try:
            self.tables = {t: Keyed(index, t, list(k)) for t, k in PERSON_TABLES.items()}
            con.execute(f"ATTACH ':memory:' AS {SCHEMA}")
        except BaseException:
            self._close_files()
            raise

    def close(self) -> None:
        """Detach the slice and close the index's files (these whatever the connection
        does: an interrupted matcher's connection may refuse the detach)."""
        try:
            self.con.execute(f"DETACH {SCHEMA}")
        finally:
            try:
                for name in self._held:
                    self.con.unregister(f"chunk_ref_{name}")
            finally:
                self._held = {}
                self._close_files()

    def _close_files(self) -> None:
        self.master.close()
        for keyed in self.tables.values():
            keyed.close()

    def candidates(self, requests: str) -> pa.Table | None:
        """The master records some blocking rule may pair with a row of ``requests`` (each
        rule's key of each request, hashed by DuckDB as the index's were); None when a key
        column of ``requests`` is not of the master column's type (its values would hash
        otherwise: the caller then finds the candidates by SQL)."""
        types = {
            str(name): str(kind)
            for name, kind, *_ in self.con.execute("DESCRIBE ref.master_records").fetchall()
        }
        asked = {str(r[0]): str(r[1]) for r in self.con.execute(f"DESCRIBE {requests}").fetchall()}
        pairs = [(a, b) for k in self.keys for a, b in zip(k.left, k.right, strict=True)]
        if any(asked.get(a) != types.get(b) for a, b in pairs):
            return None
        wanted: dict[str, Rows] = {}
        for i, rule in enumerate(self.keys):
            # the rule's request columns under the master's names, which its key hashes
            renamed = ", ".join(f"{a} AS {b}" for a, b in zip(rule.left, rule.right, strict=True))
            wanted[f"k{i}"] = self._hashes(
                f"SELECT DISTINCT {key_sql(rule.right, 'r')} "
                f"FROM (SELECT {renamed} FROM {requests}) r"
            )
        return self.master.take_rows(self.master.rows(wanted))

    def persons(self, person_ids: str) -> None:
        """``SCHEMA.persons``: the rows of the persons the query ``person_ids`` (of one
        column, ``person_id``) names: the persons a chunk's pairs rank."""
        self._take("persons", {"pk": self._person_keys(person_ids)})

    def evidence(self, person_ids: str) -> None:
        """``SCHEMA``'s person tables for the best persons the query ``person_ids`` names:
        their persons, names and filings rows; and of ``person_addresses``, the rows their
        evidence needs (``lookup_index.addresses_of``, as a single lookup takes them)."""
        pk = self._person_keys(person_ids)
        self._take("persons", {"pk": pk})
        self._take("person_names", {"pk": pk})
        filings = self.tables["filings"]
        rows = filings.rows({"pk": pk})
        taken = filings.take_rows(rows)
        self._store("filings", taken)
        self._store("person_addresses", addresses_of(self.tables, rows, taken))

    def _person_keys(self, person_ids: str) -> Rows:
        """The index's person keys of the persons ``person_ids`` names."""
        return self._hashes(
            f"SELECT DISTINCT hash(person_id) FROM ({person_ids}) p(person_id) "
            "WHERE person_id IS NOT NULL"
        )

    def _take(self, name: str, wanted: dict[str, Rows]) -> None:
        """``SCHEMA.name``: the rows of the index's table ``name`` any key of ``wanted``
        reaches."""
        keyed = self.tables[name]
        self._store(name, keyed.take_rows(keyed.rows(wanted)))

    def _hashes(self, sql: str) -> Rows:
        """The non-null values of the one column ``sql`` selects, as unsigned 64-bit keys."""
        (column,) = (
            self.con.sql(f"SELECT * FROM ({sql}) h(v) WHERE v IS NOT NULL").fetchnumpy().values()
        )
        return np.asarray(column, dtype=np.uint64)

    def _store(self, name: str, rows: pa.Table) -> None:
        """``SCHEMA.name``: a view of ``rows`` (registered with the connection, not copied
        into it)."""
        arrow = f"chunk_ref_{name}"
        self._held[name] = rows
        self.con.register(arrow, rows)
        self.con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.{name} AS SELECT * FROM {arrow}")
