"""Schema 0013: each disclosure's facts on its accounting row, bound by ``disclosures``
entries. A store whose batches and releases were sealed the older way (one ``disclosure``
entry per disclosure, the rows bound by ``disclosures_sealed`` and ``supplement_written``)
verifies clean after the upgrade, with its accounting unchanged, beside batches and
releases sealed the new way; the facts are never updated; the downgrade keeps facts the
ledger binds. SQLite and PostgreSQL (``state_url``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from taxmatch.errors import StoreError
from taxmatch.ledger.chain import LedgerDraft
from taxmatch.store import review as cs
from taxmatch.store.accounting import batch_subjects, disclosures_about
from taxmatch.store.edge_models import releases, reviews
from taxmatch.store.ledger_bound import (
    RELEASE_FINISH,
    RELEASE_REVIEWS,
    SUBJECTS,
    bind,
    release_subjects,
)
from taxmatch.store.models import SubjectRow, batches, disclosure_subjects
from taxmatch.store.seal import seal_batch
from taxmatch.store.state import StateStore
from taxmatch.store.subjects import subject_params

from .test_decisions_ledger import raw
from .test_ledger_bound import draft, held, made
from .test_seal import TIN, delivered, recorded, subject
from .test_state import T0, _alembic

STATUTE = "8 U.S.C. 1326(a)"


def older(batch_id: str, n: int) -> SubjectRow:
    return SubjectRow(f"D-{batch_id}-{n}", batch_id, n, TIN, STATUTE, f"reason {n}", "zip")


def disclosure(s: SubjectRow, **extra: str) -> LedgerDraft:
    payload = {"batch_id": s.batch_id, "person_key": "e" * 64, "values_hmac": "v" * 64, **extra}
    return LedgerDraft("disclosure", "svc", "cli", True, s.disclosure_id, payload)


def sealed_the_older_way(store: StateStore, batch_id: str, rows: list[int]) -> None:
    """What ``seal_batch`` wrote before schema 0013."""
    moment = datetime.now(UTC)
    subjects = [older(batch_id, n) for n in rows]
    with store.writing("test") as conn:
        store.append(conn, [delivered(batch_id), *map(disclosure, subjects)], moment)
        params = [subject_params(batch_id, s, moment, store.keys) for s in subjects]
        conn.execute(disclosure_subjects.insert(), params)
        sealed = LedgerDraft("disclosures_sealed", "svc", "cli", True, batch_id, {"disclosures": 2})
        rows_of = disclosure_subjects.c.batch_id == batch_id
        store.append(conn, [bind(conn, store.keys, sealed, (SUBJECTS, rows_of))], moment)
        conn.execute(batches.update().where(batches.c.batch_id == batch_id).values(status="done"))


def prepared(store: StateStore, batch_id: str, row: int) -> str:
    decided = draft("review_decided", f"{batch_id}#{row}", batch_id=batch_id, row_number=row)
    cs.record_review(store, held(batch_id, row), "disclose", "why", "ofc-olive", decided)
    release = cs.create_release(
        store, batch_id, "ofc-olive", "", lambda rid, n: draft("release_prepared", rid, rows=n)
    )
    return release.release_id


def released_the_older_way(store: StateStore, batch_id: str, row: int) -> None:
    """What publishing a release wrote before schema 0013."""
    release_id = prepared(store, batch_id, row)
    s = older(batch_id, row)
    with store.writing("test") as conn:
        conn.execute(
            releases.update()
            .where(releases.c.release_id == release_id)
            .values(status="released", approver="sup-sam", released_at=T0, package_dir="/p")
            .values(manifest_sha256="f" * 64)
        )
        conn.execute(
            reviews.update().where(reviews.c.release_id == release_id).values(disclosed=True)
        )
        conn.execute(disclosure_subjects.insert(), subject_params(batch_id, s, T0, store.keys))
        written = bind(
            conn,
            store.keys,
            draft("supplement_written", release_id),
            (RELEASE_FINISH, releases.c.release_id == release_id),
            (RELEASE_REVIEWS, reviews.c.release_id == release_id),
            (SUBJECTS, release_subjects(release_id)),
        )
        store.append(conn, [disclosure(s, release_id=release_id), written])


def accounting(store: StateStore) -> tuple[object, ...]:
    about = [(r.batch_id, r.disclosure_id, r.statute) for r in disclosures_about(store, TIN)]
    return tuple(about), tuple(batch_subjects(store, "B1"))


def test_0013_upgrades_a_store_sealed_the_older_way(state_url: str) -> None:
    with StateStore(state_url) as store:
        recorded(store, "B1")
        sealed_the_older_way(store, "B1", [2, 4])
        released_the_older_way(store, "B1", 5)
        before = accounting(store)
        entries = len(list(store.iter_ledger()))
    with raw(state_url) as conn:
        _alembic(conn, "downgrade", "0012")
        names = {c["name"] for c in inspect(conn).get_columns("disclosure_subjects")}
        assert "values_hmac" not in names  # no facts held: the columns go
    with StateStore(state_url) as store:  # upgrades 0012 -> 0013 on open
        assert len(list(store.iter_ledger())) == entries  # nothing appended
        result = store.verify_ledger()
        assert result.ok, result.problem
        assert accounting(store) == before
        # beside them, a batch and a release of the older batch sealed the new way
        recorded(store, "B2")
        made_rows = [subject("B2", 2), subject("B2", 4)]
        seal_batch(
            store,
            "B2",
            delivered=delivered("B2"),
            disclosures=[made_rows],
            counts={},
            finished_at=T0,
        )
        release_id = prepared(store, "B1", 7)
        written = draft("supplement_written", release_id)
        facts = [made(older("B1", 7))]
        cs.finish_release(store, release_id, "sup-sam", "/p2", "f" * 64, facts, written, T0)
        result = store.verify_ledger()
        assert result.ok, result.problem
        ids = [r.disclosure_id for r in disclosures_about(store, TIN)]
        assert sorted(ids) == ["D-B1-2", "D-B1-4", "D-B1-5", "D-B1-7", "D-B2-2", "D-B2-4"]
        kinds = [(e.event_type, e.payload.get("release_id")) for e in store.iter_ledger()]
        assert kinds[-2:] == [("disclosures", release_id), ("supplement_written", None)]
    with raw(state_url) as conn:  # an older row altered: still caught by its old entry
        if conn.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER disclosure_subjects_no_delete"))
        else:
            conn.execute(text("ALTER TABLE disclosure_subjects DISABLE TRIGGER USER"))
        conn.execute(text("DELETE FROM disclosure_subjects WHERE disclosure_id = 'D-B1-4'"))
    with StateStore(state_url) as store:
        result = store.verify_ledger()
    assert (result.ok, result.problem) == (
        False,
        "disclosure_subjects rows of sealed batch B1 do not match the ledger",
    )


@pytest.mark.parametrize("fact", ["request_id_sha256", "person_key", "values_hmac"])
def test_a_disclosures_facts_are_never_updated(state_store: StateStore, fact: str) -> None:
    recorded(state_store)
    seal_batch(
        state_store,
        "B1",
        delivered=delivered(),
        disclosures=[[subject("B1", 2)]],
        counts={},
        finished_at=T0,
    )
    with pytest.raises(StoreError, match="test failed"), state_store.writing("test") as conn:
        conn.execute(disclosure_subjects.update().values({fact: "x"}))
    assert state_store.verify_ledger().ok


def test_the_downgrade_keeps_facts_the_ledger_binds(state_url: str) -> None:
    with StateStore(state_url) as store:
        recorded(store)
        seal_batch(
            store,
            "B1",
            delivered=delivered(),
            disclosures=[[subject("B1", 2), subject("B1", 4)]],
            counts={},
            finished_at=T0,
        )
    with raw(state_url) as conn:
        _alembic(conn, "downgrade", "0012")
        names = {c["name"] for c in inspect(conn).get_columns("disclosure_subjects")}
        assert {"request_id_sha256", "person_key", "values_hmac"} <= names
        conn.execute(text("UPDATE disclosure_subjects SET person_key = 'x'"))  # no trigger
        conn.execute(text("UPDATE disclosure_subjects SET person_key = :k"), {"k": "e" * 64})
    with StateStore(state_url) as store:  # upgrades again: the columns are there
        result = store.verify_ledger()
        assert result.ok, result.problem
        assert [d for d, _ in batch_subjects(store, "B1")] == ["D-B1-2", "D-B1-4"]
