"""Whatever an attacker with database access changes, ``ledger verify`` catches it.

A hypothesis search over tampering done directly in a SQLite state database (triggers
dropped, as an attacker would): random characters of random columns of random ledger rows
changed, rows deleted, reordered or inserted (a correctly hashed forgery included, before
or after the recorded head), and decision rows changed, deleted, moved or inserted. Every
single change must fail verification, a forgery appended *and* the head moved to it
included: the chain cannot tell it from a real append, the head's keyed signature can.
The same kinds of change are tested on PostgreSQL in ``test_ledger_store.py`` and
``tests/unit/store/test_decisions_ledger.py``.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taxmatch.ledger.chain import LedgerDraft, link
from taxmatch.store.state import StateStore
from tests.unit.store.test_decisions_ledger import filled

LEDGER_TEXT = (
    "recorded_at",
    "event_type",
    "actor",
    "origin",
    "object_id",
    "payload",
    "prev_hash",
    "entry_hash",
    "ledger_schema",
)
DECISION_TEXT = (
    "request_id",
    "disposition",
    "outcome",
    "reason_codes",
    "fields",
    "disclosure_id",
    "person_key",
    "statute",
)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, int]:
    """A state database with config changes, disclosures and three decision chunks."""
    path = tmp_path_factory.mktemp("pristine") / "state.sqlite3"
    with StateStore(f"sqlite+pysqlite:///{path}") as store:
        store.record_config("policy", "p1", actor="ana", origin="cli@h", version="1")
        filled(store)
        store.append_ledger(
            [
                LedgerDraft(
                    "package_delivered",
                    "ana",
                    "cli",
                    True,
                    "B1",
                    {"manifest_sha256": "a" * 64, "rows": 10},
                )
            ]
        )
        entries = store.ledger_head()[0]
        assert store.verify_ledger().ok
    con = sqlite3.connect(path)
    decisions = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
    con.close()
    return path, entries, decisions


def flip(value: str, position: int, mask: int) -> str:
    i = position % len(value)
    return value[:i] + chr(ord(value[i]) ^ mask) + value[i + 1 :]


Tamper = Callable[[sqlite3.Connection], None]


@st.composite
def ledger_tampering(draw: st.DrawFn, entries: int) -> Tamper:
    seq = draw(st.integers(1, entries))
    kind = draw(
        st.sampled_from(["flip", "success", "delete", "swap", "insert", "append", "append_head"])
    )
    column = draw(st.sampled_from(LEDGER_TEXT))
    position, mask = draw(st.integers(0, 300)), draw(st.integers(1, 127))
    other = draw(st.integers(1, entries).filter(lambda n: n != seq))

    def apply(con: sqlite3.Connection) -> None:
        if kind == "flip":
            (old,) = con.execute(
                f"SELECT {column} FROM ledger_entries WHERE seq = ?", (seq,)
            ).fetchone()
            new = flip(old, position, mask)
            if "\x00" in new:  # sqlite text with NUL is another kind of tampering; keep it plain
                new = old + "x"
            con.execute(f"UPDATE ledger_entries SET {column} = ? WHERE seq = ?", (new, seq))
        elif kind == "success":
            con.execute("UPDATE ledger_entries SET success = 1 - success WHERE seq = ?", (seq,))
        elif kind == "delete":
            con.execute("DELETE FROM ledger_entries WHERE seq = ?", (seq,))
        elif kind == "swap":
            con.execute("UPDATE ledger_entries SET seq = -1 WHERE seq = ?", (seq,))
            con.execute("UPDATE ledger_entries SET seq = ? WHERE seq = ?", (seq, other))
            con.execute("UPDATE ledger_entries SET seq = ? WHERE seq = -1", (other,))
        else:  # a correctly linked and hashed forgery, after seq (or after the head)
            at = entries if kind.startswith("append") else seq
            (prev,) = con.execute(
                "SELECT entry_hash FROM ledger_entries WHERE seq = ?", (at,)
            ).fetchone()
            forged = link(
                LedgerDraft("disclosure", "mallory", "cli", True, "D-FORGED"),
                seq=at + 1,
                prev_hash=prev,
                recorded_at="2026-11-30T00:00:00.000000Z",
            )
            con.execute("UPDATE ledger_entries SET seq = -seq WHERE seq > ?", (at,))
            con.execute("UPDATE ledger_entries SET seq = 1 - seq WHERE seq < 0")
            # the entry after the forgery is relinked to it (prev_hash is unique)
            con.execute(
                "UPDATE ledger_entries SET prev_hash = ? WHERE seq = ?",
                (forged.entry_hash, at + 2),
            )
            con.execute(
                "INSERT INTO ledger_entries VALUES "
                "(?, 'taxmatch/ledger/v1', ?, ?, ?, ?, 1, ?, '{}', ?, ?)",
                (
                    forged.seq,
                    forged.recorded_at,
                    forged.event_type,
                    forged.actor,
                    forged.origin,
                    forged.object_id,
                    forged.prev_hash,
                    forged.entry_hash,
                ),
            )
            if kind == "append_head":  # and the head moved to it, the signature left as it was
                con.execute(
                    "UPDATE ledger_head SET seq = ?, entry_hash = ?",
                    (forged.seq, forged.entry_hash),
                )

    return apply


@st.composite
def decision_tampering(draw: st.DrawFn, rows: int) -> Tamper:
    pick = draw(st.integers(0, rows - 1))
    kind = draw(st.sampled_from(["flip", "score", "delete", "insert", "move"]))
    column = draw(st.sampled_from(DECISION_TEXT))
    position, mask = draw(st.integers(0, 300)), draw(st.integers(1, 127))
    score = draw(st.floats(allow_nan=False, allow_infinity=False))
    far = draw(st.integers(11, 10**6))

    def apply(con: sqlite3.Connection) -> None:
        batch, row = con.execute(
            "SELECT batch_id, row_number FROM decisions ORDER BY batch_id, row_number "
            "LIMIT 1 OFFSET ?",
            (pick,),
        ).fetchone()
        where = "WHERE batch_id = ? AND row_number = ?"
        if kind == "flip":
            (old,) = con.execute(f"SELECT {column} FROM decisions {where}", (batch, row)).fetchone()
            new = "x" if not old else flip(old, position, mask)
            con.execute(f"UPDATE decisions SET {column} = ? {where}", (new, batch, row))
        elif kind == "score":
            (old,) = con.execute(f"SELECT score FROM decisions {where}", (batch, row)).fetchone()
            new_score = score if score != old else (old or 0.0) + 1.0
            con.execute(f"UPDATE decisions SET score = ? {where}", (new_score, batch, row))
        elif kind == "delete":
            con.execute(f"DELETE FROM decisions {where}", (batch, row))
        elif kind == "insert":
            con.execute(
                "INSERT INTO decisions SELECT batch_id, ?, request_id, disposition, outcome, "
                "reason_codes, fields, disclosure_id, score, person_key, statute "
                f"FROM decisions {where}",
                (far, batch, row),
            )
        else:
            con.execute(f"UPDATE decisions SET row_number = ? {where}", (far, batch, row))

    return apply


def tampered_copy(pristine: Path, tmp: Path, tamper: Tamper) -> Path:
    copy = tmp / "state.sqlite3"
    shutil.copyfile(pristine, copy)
    con = sqlite3.connect(copy)
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        con.execute(f"DROP TRIGGER {name}")
    tamper(con)
    con.commit()
    con.close()
    return copy


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_verify_catches_every_tampering(
    pristine: tuple[Path, int, int], tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    path, entries, rows = pristine
    tamper = data.draw(
        st.one_of(ledger_tampering(entries), decision_tampering(rows)), label="tampering"
    )
    copy = tampered_copy(path, tmp_path_factory.mktemp("t"), tamper)
    with StateStore(f"sqlite+pysqlite:///{copy}") as store:
        result = store.verify_ledger()
    assert not result.ok
    assert result.problem


def test_the_untouched_copy_verifies(
    pristine: tuple[Path, int, int], tmp_path: Path
) -> None:  # the property above is not vacuous
    copy = tampered_copy(pristine[0], tmp_path, lambda con: None)
    with StateStore(f"sqlite+pysqlite:///{copy}") as store:
        result = store.verify_ledger()
    assert (result.ok, result.entries, result.decisions) == (True, pristine[1], pristine[2])
