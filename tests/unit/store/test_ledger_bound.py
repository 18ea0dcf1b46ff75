"""Rows bound to the ledger: reviews, releases, accounting rows, request and group counts
and batch ownership. Whatever is changed, deleted or inserted in them, ``ledger verify`` fails,
naming the table and the row (ids only, never a value).

The hypothesis search tampers a SQLite copy with its triggers dropped, as an attacker with
write access to the database would; the triggers themselves and the backfill of rows
written before schema 0006 are tested on SQLite and PostgreSQL.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from taxmatch.ledger.chain import GENESIS, LedgerDraft, link
from taxmatch.store import review as cs
from taxmatch.store.decision_rows import cells_of
from taxmatch.store.edge_models import releases, reviews
from taxmatch.store.models import (
    DecisionRow,
    SubjectRow,
    batch_params,
    batches,
    disclosure_subjects,
    entry_params,
    ledger_entries,
    request_counts,
)
from taxmatch.store.seal import seal_batch
from taxmatch.store.state import StateStore

from .test_decisions_ledger import TIN, filled
from .test_state import T0, _alembic, batch, decision

REASON = "the officer's stated reason for row"
SECRETS = (TIN, REASON, "reason 2", "8 U.S.C. 1326(a)", "ICE", "LTR-1", "ofc-olive", "sup-sam")

# every column the ledger binds, per table (docs/ledger.md)
BOUND: dict[str, tuple[str, ...]] = {
    "batches": ("batch_id", "agency", "request_letter_id", "input_sha256", "envelope_sha256",
                "policy_version", "policy_sha256", "created_at", "package_dir", "as_of",
                "matcher", "reference_id"),
    "request_counts": ("batch_id", "statute", "requests"),
    "group_counts": ("batch_id", "grp", "measure", "n"),
    "disclosure_subjects": ("disclosure_id", "batch_id", "row_number", "tin", "statute",
                            "relevance", "fields", "disclosed_at", "request_id_sha256",
                            "person_key", "values_hmac"),
    "reviews": ("batch_id", "row_number", "request_id", "outcome", "action", "reason", "officer",
                "decided_at", "release_id", "disclosed"),
    "releases": ("release_id", "batch_id", "number", "preparer", "rows", "second_person",
                 "created_at", "status", "approver", "released_at", "package_dir",
                 "manifest_sha256"),
}  # fmt: skip
KEYS = {
    "batches": ("batch_id",),
    "request_counts": ("batch_id", "statute"),
    "group_counts": ("batch_id", "grp", "measure"),
    "disclosure_subjects": ("disclosure_id",),
    "reviews": ("batch_id", "row_number"),
    "releases": ("release_id",),
}
DATETIMES = {"created_at", "decided_at", "disclosed_at", "released_at"}


def held(batch_id: str, row_number: int) -> DecisionRow:
    return DecisionRow(
        batch_id,
        row_number,
        f"REQ-{row_number}",
        "pending",
        "REVIEW",
        "",
        "",
        None,
        0.99,
        None,
        "8 U.S.C. 1326(a)",
    )


def made(subject: SubjectRow) -> SubjectRow:
    """``subject`` with the facts a disclosure is sealed with (schema 0013)."""
    n = subject.row_number
    return replace(subject, request_id_sha256=f"{n:064x}", person_key="e" * 64, values_hmac=f"h{n}")


def draft(event: str, object_id: str, **payload: object) -> LedgerDraft:
    return LedgerDraft(event, "ofc-olive", "console", True, object_id, payload)  # type: ignore[arg-type]


def build(store: StateStore) -> None:
    """Two batches with decision chunks and accounting rows (``filled``), request and group
    counts, four reviews, a published release with one disclosure, a release awaiting approval and
    a batch sealed as a batch run seals it (its accounting rows bound at the seal)."""
    filled(store)
    store.create_batch(batch("B4"))
    store.record_decisions("B4", [cells_of(decision(n, "B4")) for n in range(1, 5)], chunk=1)
    sealed = [
        made(SubjectRow(f"D-B4-{n}", "B4", n, TIN, "8 U.S.C. 1326(a)", f"reason {n}", "zip"))
        for n in (2, 4)
    ]
    store.write_group_counts("B4", {"ssn": {"DISCLOSED": 2}}, actor="svc", origin="cli")
    seal_batch(
        store,
        "B4",
        delivered=draft("package_delivered", "B4"),
        disclosures=[sealed],
        counts={"DISCLOSED": 2},
        finished_at=T0,
    )
    store.write_request_counts("B1", {"8 U.S.C. 1326(a)": 7, "": 3})
    store.write_request_counts("B2", {"8 U.S.C. 1326(a)": 3})
    groups = {"itin": {"DISCLOSED": 2, "probe_disclosed": 3}, "mover": {"REJECTED": 1}}
    store.write_group_counts("B1", groups, actor="svc", origin="cli")
    store.write_group_counts(
        "B2", {"mover": {"NO_MATCH": 1, "flagged": 1}}, actor="svc", origin="cli"
    )
    store.create_batch(replace(batch("B3"), status="done"))
    for row in (1, 2, 3, 4):
        who = "ofc-olive" if row < 4 else "sup-sam"
        action = "disclose" if row % 2 else "withhold"
        decided = draft("review_decided", f"B3#{row}", batch_id="B3", row_number=row)
        cs.record_review(store, held("B3", row), action, f"{REASON} {row}", who, decided)
    first = cs.create_release(
        store, "B3", "ofc-olive", "", lambda rid, n: draft("release_prepared", rid, rows=n)
    )
    subjects = [made(SubjectRow("D-B3-1", "B3", 1, TIN, "8 U.S.C. 1326(a)", "reason 1", "zip"))]
    written = draft("supplement_written", first.release_id)
    finish = "sup-sam", "/out/B3-S1", "f" * 64, subjects, written, first.created_at
    cs.finish_release(store, first.release_id, *finish)
    cs.record_review(
        store,
        held("B3", 5),
        "disclose",
        f"{REASON} 5",
        "ofc-olive",
        draft("review_decided", "B3#5", batch_id="B3", row_number=5),
    )
    cs.create_release(
        store,
        "B3",
        "ofc-olive",
        "two-person rule",
        lambda rid, n: draft("release_prepared", rid, rows=n),
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bound") / "state.sqlite3"
    with StateStore(f"sqlite+pysqlite:///{path}") as store:
        build(store)
        result = store.verify_ledger()
        assert result.ok, result.problem
    return path


Tamper = Callable[[sqlite3.Connection], None]


def changed(column: str, old: object, position: int, mask: int) -> object:
    if isinstance(old, int):
        return 1 - old if column == "disclosed" else old + mask + position % 3
    if old is None:
        return "x"
    swaps = {
        "disclose": "withhold",
        "withhold": "disclose",
        "released": "awaiting_approval",
        "awaiting_approval": "released",
    }  # the other value a CHECK constraint allows
    if column in ("action", "status"):
        return swaps[str(old)]
    value = str(old)
    if column in DATETIMES:  # stays a valid time: the last microsecond digit
        return value[:-1] + str((int(value[-1]) + 1 + position % 8) % 10)
    if column == "as_of":  # stays a valid date: the year
        return str(int(value[:4]) + 1) + value[4:]
    i = position % len(value) if value else 0
    new = value[:i] + chr((ord(value[i]) ^ mask) or 1) + value[i + 1 :] if value else "x"
    return new if "\x00" not in new else value + "x"


@st.composite
def tampering(draw: st.DrawFn, counts: dict[str, int]) -> tuple[str, Tamper]:
    table = draw(st.sampled_from(sorted(BOUND)))
    pick = draw(st.integers(0, counts[table] - 1))
    kind = draw(st.sampled_from(["change", "delete", "insert"]))
    column = draw(st.sampled_from(BOUND[table]))
    position, mask = draw(st.integers(0, 300)), draw(st.integers(1, 127))
    keys = KEYS[table]

    def apply(con: sqlite3.Connection) -> None:
        row = con.execute(
            f"SELECT rowid, * FROM {table} ORDER BY rowid LIMIT 1 OFFSET ?", (pick,)
        ).fetchone()
        names = ["rowid"] + [d[0] for d in con.execute(f"SELECT * FROM {table}").description]
        values = dict(zip(names, row, strict=True))
        if kind == "change":
            new = changed(column, values[column], position, mask)
            con.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (new, row[0]))
        elif kind == "delete":
            con.execute(f"DELETE FROM {table} WHERE rowid = ?", (row[0],))
        else:
            key = keys[-1]
            values[key] = values[key] + 1000 if isinstance(values[key], int) else values[key] + "X"
            if table == "releases":
                values["number"] += 100
            del values["rowid"]
            marks = ", ".join("?" for _ in values)
            con.execute(
                f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})",
                tuple(values.values()),
            )

    return table, apply


def tampered_copy(pristine: Path, tmp: Path, tamper: Tamper) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    copy = tmp / "state.sqlite3"
    shutil.copyfile(pristine, copy)
    con = sqlite3.connect(copy)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    try:
        tamper(con)
    except sqlite3.IntegrityError:  # refused by a constraint: not a change that can be made
        con.close()
        reject()
    con.commit()
    con.close()
    return copy


def row_counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in BOUND}
    finally:
        con.close()


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_verify_catches_every_change_to_a_bound_row(
    pristine: Path, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    table, tamper = data.draw(tampering(row_counts(pristine)), label="tampering")
    copy = tampered_copy(pristine, tmp_path_factory.mktemp("t"), tamper)
    with StateStore(f"sqlite+pysqlite:///{copy}") as store:
        result = store.verify_ledger()
    assert not result.ok
    assert result.problem is not None
    assert table in result.problem
    assert not any(secret in result.problem for secret in SECRETS)


def test_every_bound_column_of_every_row_is_checked(pristine: Path, tmp_path: Path) -> None:
    """Exhaustive beside the random search: each bound column of each row, changed alone."""
    missed, refused = [], []
    for table, columns in BOUND.items():
        for pick in range(row_counts(pristine)[table]):
            for column in columns:

                def change(
                    con: sqlite3.Connection, t: str = table, c: str = column, p: int = pick
                ) -> None:
                    rowid, old = con.execute(
                        f"SELECT rowid, {c} FROM {t} ORDER BY rowid LIMIT 1 OFFSET ?", (p,)
                    ).fetchone()
                    for mask in (1, 2, 4, 8, 16):  # the first change no constraint refuses
                        try:
                            new = changed(c, old, p, mask)
                            con.execute(f"UPDATE {t} SET {c} = ? WHERE rowid = ?", (new, rowid))
                            return
                        except sqlite3.IntegrityError:
                            continue
                    refused.append((t, c, p))  # a CHECK constraint allows no other value

                copy = tampered_copy(pristine, tmp_path / f"{table}-{column}-{pick}", change)
                if refused and refused[-1] == (table, column, pick):
                    continue
                with StateStore(f"sqlite+pysqlite:///{copy}") as store:
                    result = store.verify_ledger()
                if result.ok or table not in (result.problem or ""):
                    missed.append((table, column, pick, result.problem))
    assert missed == [], "\n".join(map(str, missed))
    assert refused == []


def test_the_untouched_copy_verifies_every_bound_row(pristine: Path, tmp_path: Path) -> None:
    copy = tampered_copy(pristine, tmp_path, lambda con: None)
    with StateStore(f"sqlite+pysqlite:///{copy}") as store:
        result = store.verify_ledger()
    assert result.ok, result.problem
    # each row once, and again: the 5 reviews in releases and the 1 published release
    assert result.bound == sum(row_counts(copy).values()) + 5 + 1


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE reviews SET action = 'disclose' WHERE row_number = 2",
         "reviews row B3#2 do not match the ledger"),
        ("UPDATE reviews SET officer = 'sup-sam' WHERE row_number = 1",
         "reviews row B3#1 do not match the ledger"),
        ("UPDATE releases SET approver = 'ofc-olive' WHERE release_id = 'B3-S1'",
         "releases row B3-S1 (publication columns) do not match the ledger"),
        ("UPDATE disclosure_subjects SET relevance = 'x' WHERE disclosure_id = 'D-B1-2'",
         "disclosure_subjects row D-B1-2: relevance does not decrypt"),
        ("DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B1-2'",
         "disclosure_subjects rows 1-6 of batch B1 do not match the ledger"),
        ("UPDATE disclosure_subjects SET tin = '900000000' WHERE disclosure_id = 'D-B4-4'",
         "disclosure_subjects row D-B4-4: tin does not decrypt"),
        ("UPDATE batches SET status = 'failed' WHERE batch_id = 'B4'",
         "batches row B4 was sealed but is not done"),
        ("UPDATE disclosure_subjects SET statute = '' WHERE disclosure_id = 'D-B4-4'",
         "disclosure_subjects rows 2-4 of batch B4 do not match the ledger"),
        ("UPDATE disclosure_subjects SET person_key = 'x' WHERE disclosure_id = 'D-B4-2'",
         "disclosure_subjects rows 2-4 of batch B4 do not match the ledger"),
        ("UPDATE disclosure_subjects SET values_hmac = NULL WHERE disclosure_id = 'D-B4-2'",
         "disclosure_subjects rows 2-4 of batch B4 do not match the ledger"),
        ("UPDATE disclosure_subjects SET request_id_sha256 = NULL, person_key = NULL, "
         "values_hmac = NULL WHERE disclosure_id = 'D-B4-2'",  # passed off as an older row
         "disclosure_subjects row D-B4-2 is not accounted for by any ledger entry"),
        ("UPDATE disclosure_subjects SET values_hmac = 'x' WHERE disclosure_id = 'D-B1-2'",
         "disclosure_subjects rows 1-6 of batch B1 do not match the ledger"),  # gone from them
        ("DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B4-2'",
         "disclosure_subjects rows 2-4 of batch B4 do not match the ledger"),
        ("INSERT INTO disclosure_subjects SELECT 'D-B4-3', batch_id, 3, tin, statute, "
         "relevance, fields, disclosed_at, tin_index, request_id_sha256, person_key, "
         "values_hmac FROM disclosure_subjects "
         "WHERE disclosure_id = 'D-B4-2'",  # a copied ciphertext opens only in its own row
         "disclosure_subjects row D-B4-3: tin does not decrypt"),
        ("DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B3-1'",
         "disclosure_subjects rows of release B3-S1 do not match the ledger"),
        ("UPDATE request_counts SET requests = 70 WHERE batch_id = 'B1'",
         "request_counts rows of batch B1 do not match the ledger"),
        ("UPDATE group_counts SET n = 70 WHERE batch_id = 'B1' AND measure = 'DISCLOSED'",
         "group_counts rows of batch B1 do not match the ledger"),
        ("INSERT INTO group_counts VALUES ('B3', 'ssn', 'DISCLOSED', 1)",
         "group_counts row of batch B3 is not accounted for by any ledger entry"),
        ("UPDATE batches SET agency = 'HSI' WHERE batch_id = 'B2'",
         "batches row B2 do not match the ledger"),
        ("UPDATE reviews SET disclosed = 0 WHERE row_number = 1",
         "reviews rows of release B3-S1 do not match the ledger"),
        ("INSERT INTO reviews SELECT batch_id, 9, request_id, outcome, action, reason, officer, "
         "decided_at, NULL, 0 FROM reviews WHERE row_number = 5",
         "reviews row B3#9 is not accounted for by any ledger entry"),
    ],
)  # fmt: skip
def test_a_tampered_row_is_named(
    pristine: Path, tmp_path: Path, statement: str, problem: str
) -> None:
    copy = tampered_copy(pristine, tmp_path, lambda con: con.execute(statement) and None)
    with StateStore(f"sqlite+pysqlite:///{copy}") as store:
        result = store.verify_ledger()
    assert (result.ok, result.problem) == (False, problem)


def test_the_bound_columns_are_those_of_the_views() -> None:
    from taxmatch.store.ledger_bound import VIEWS

    views: dict[str, set[str]] = {}
    for view in VIEWS:
        views.setdefault(view.table.name, set()).update(c.name for c in view.columns)
    assert views == {table: set(columns) for table, columns in BOUND.items()}


# --- on both backends: targeted tampering, the triggers, rows stored before schema 0006 ----


@contextmanager
def triggers_off(url: str) -> Iterator[Connection]:
    """A transaction in which no trigger fires (SQLite: dropped; PostgreSQL: disabled)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                for (name,) in conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger'"
                ).all():
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
            else:
                for table in BOUND:
                    conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            yield conn
    finally:
        engine.dispose()


def test_tampering_is_caught_on_each_backend(state_store: StateStore, state_url: str) -> None:
    build(state_store)
    assert state_store.verify_ledger().ok
    with triggers_off(state_url) as conn:
        conn.execute(text("UPDATE releases SET approver = 'ofc-olive' WHERE release_id = 'B3-S1'"))
    result = state_store.verify_ledger()
    assert (result.ok, result.problem) == (
        False,
        "releases row B3-S1 (publication columns) do not match the ledger",
    )
    with triggers_off(state_url) as conn:
        conn.execute(text("UPDATE releases SET approver = 'sup-sam' WHERE release_id = 'B3-S1'"))
        conn.execute(text("DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B2-2'"))
    result = state_store.verify_ledger()
    assert (result.ok, result.problem) == (
        False,
        "disclosure_subjects rows 1-3 of batch B2 do not match the ledger",
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE disclosure_subjects SET statute = 'x' WHERE disclosure_id = 'D-B1-2'",
        "DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B3-1'",  # batch B3 is done
        "UPDATE request_counts SET requests = 70 WHERE batch_id = 'B1'",
        "UPDATE group_counts SET n = 70 WHERE batch_id = 'B1'",
        "DELETE FROM group_counts WHERE batch_id = 'B4'",  # batch B4 is sealed
        "DELETE FROM batches WHERE batch_id = 'B2'",
        "UPDATE batches SET agency = 'HSI' WHERE batch_id = 'B2'",
        "UPDATE batches SET status = 'failed' WHERE batch_id = 'B3'",
        "UPDATE reviews SET officer = 'sup-sam' WHERE row_number = 1",
        "UPDATE reviews SET disclosed = false WHERE row_number = 1",
        "UPDATE reviews SET release_id = NULL WHERE row_number = 1",
        "DELETE FROM reviews WHERE row_number = 5",
        "UPDATE releases SET approver = 'ofc-olive' WHERE release_id = 'B3-S1'",
        "UPDATE releases SET preparer = 'sup-sam' WHERE release_id = 'B3-S2'",
        "DELETE FROM releases WHERE release_id = 'B3-S2'",
    ],
)
def test_triggers_refuse_changing_bound_rows(
    state_store: StateStore, state_url: str, statement: str
) -> None:
    build(state_store)
    engine = create_engine(state_url)
    try:
        with pytest.raises(DBAPIError, match="bound to the ledger"), engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
    assert state_store.verify_ledger().ok


def test_what_may_still_change_does(state_store: StateStore) -> None:
    build(state_store)
    state_store.set_batch_status("B1", "done", counts={"DISCLOSED": 3}, finished_at=T0)
    state_store.delete_decisions("B2")  # B2 is not done: it may run again
    result = state_store.verify_ledger()
    assert result.ok, result.problem


def _old_store(url: str) -> None:
    """A store as schema 0005 left it: rows of every bound table, a few ledger entries."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "upgrade", "0005")
            for name, status in (("B1", "done"), ("B2", "failed")):
                conn.execute(batches.insert(), batch_params(replace(batch(name), status=status)))
                conn.execute(
                    request_counts.insert(), {"batch_id": name, "statute": "", "requests": 2}
                )
                conn.execute(
                    disclosure_subjects.insert(),
                    {
                        "disclosure_id": f"D-{name}",
                        "batch_id": name,
                        "row_number": 1,
                        "tin": TIN,
                        "statute": "",
                        "relevance": "reason 1",
                        "fields": "zip",
                        "disclosed_at": T0,
                    },
                )
            conn.execute(
                releases.insert(),
                {
                    "release_id": "B1-S1",
                    "batch_id": "B1",
                    "number": 1,
                    "preparer": "ofc-olive",
                    "rows": 1,
                    "second_person": "",
                    "approver": None,
                    "status": "awaiting_approval",
                    "created_at": T0,
                    "released_at": None,
                    "package_dir": None,
                    "manifest_sha256": None,
                },
            )
            conn.execute(
                reviews.insert(),
                {
                    "batch_id": "B1",
                    "row_number": 2,
                    "request_id": "REQ-2",
                    "outcome": "REVIEW",
                    "action": "disclose",
                    "reason": REASON,
                    "officer": "ofc-olive",
                    "decided_at": T0,
                    "release_id": "B1-S1",
                    "disclosed": False,
                },
            )
            head = GENESIS
            for seq in (1, 2):
                entry = link(
                    draft("batch_received", f"B{seq}"),
                    seq=seq,
                    prev_hash=head,
                    recorded_at="2026-11-30T00:00:00.000000Z",
                )
                conn.execute(ledger_entries.insert(), entry_params(entry))
                head = entry.entry_hash
            conn.execute(text("UPDATE ledger_head SET seq = 2, entry_hash = :h"), {"h": head})
    finally:
        engine.dispose()


def test_rows_stored_before_binding_are_backfilled(state_url: str) -> None:
    _old_store(state_url)
    with StateStore(state_url) as store:  # upgrades to 0006: backfills, signs the head
        entries = list(store.iter_ledger())
        result = store.verify_ledger()
        assert result.ok, result.problem
        backfilled = [e for e in entries if e.event_type == "rows_backfilled"]
        assert sorted(e.object_id for e in backfilled) == ["B1", "B1-S1", "B2"]
        assert all(TIN not in repr(e) and REASON not in repr(e) for e in entries)
        # the old failed batch runs again: its accounting rows and counts are replaced
        store.delete_decisions("B2")
        store.write_request_counts("B2", {"": 2})
        # the old release awaiting approval is published now
        written = draft("supplement_written", "B1-S1")
        subjects = [made(SubjectRow("D-B1-2", "B1", 2, TIN, "", "reason 2", "zip"))]
        cs.finish_release(store, "B1-S1", "sup-sam", "/out/B1-S1", "f" * 64, subjects, written, T0)
        result = store.verify_ledger()
        assert result.ok, result.problem
    with triggers_off(state_url) as conn:  # another column's ciphertext: it does not open here
        conn.execute(
            text("UPDATE disclosure_subjects SET tin = relevance WHERE disclosure_id = 'D-B1'")
        )
    with StateStore(state_url) as store:
        result = store.verify_ledger()
    assert (result.ok, result.problem) == (
        False,
        "disclosure_subjects row D-B1: tin does not decrypt",
    )
    with triggers_off(state_url) as conn:  # a row of the old batch gone
        conn.execute(text("DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B1'"))
    with StateStore(state_url) as store:
        seq = next(e.seq for e in backfilled if e.object_id == "B1")
        result = store.verify_ledger()
    assert (result.ok, result.first_bad_seq, result.problem) == (
        False,
        seq,
        "disclosure_subjects rows of batch B1 recorded before schema 0006 do not match the ledger",
    )


def test_0006_downgrades_and_upgrades_again(state_url: str) -> None:
    with StateStore(state_url) as store:
        build(store)
    engine = create_engine(state_url)
    try:
        with engine.begin() as conn:
            _alembic(conn, "downgrade", "0005")
            names = {c["name"] for c in inspect(conn).get_columns("ledger_head")}
            assert "signature" not in names
            conn.execute(
                text("UPDATE reviews SET officer = 'x' WHERE row_number = 1")
            )  # no trigger
            conn.execute(text("UPDATE reviews SET officer = 'ofc-olive' WHERE row_number = 1"))
    finally:
        engine.dispose()
    with StateStore(state_url) as store:  # upgrades again: signs the head, backfills nothing
        kinds = [e.event_type for e in store.iter_ledger()]
        result = store.verify_ledger()
    assert result.ok, result.problem
    assert "rows_backfilled" not in kinds
