"""Crash safety: ``taxmatch batch run`` killed with SIGKILL at many points, then run again.

A generated batch is run once uninterrupted (the baseline). Then, for each kill point, a
fresh copy of the store runs the same batch in a subprocess that is killed (SIGKILL, the
whole process group) after a delay spread over the baseline's wall time, and the batch is
run again to the end. After each recovery:

- the package exists once, with no partial package left beside it, every input row is in
  exactly one of its files, and its files are byte for byte the uninterrupted run's;
- the state database holds one decision per row, equal to the baseline's;
- each disclosure is in the package once and in the ledger once: one ``disclosure``
  entry per row of disclosed.csv, whatever the killed run had got to;
- every reader of the accounting (``accounting taxpayer``, ``accounting batch``,
  ``accounting report``, the transparency report) counts exactly the package's
  disclosures, and the report's taxpayers are the package's distinct TINs;
- ``taxmatch ledger verify`` passes.

Before the re-run, the killed run's traces are checked too: unless the batch was sealed
(done) before the kill, no reader shows any of its disclosures and the ledger holds no
``disclosure`` entry.

Prints the figures (points killed, the phase each kill landed in, records checked,
duplicates found) with ``pytest -s``.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from taxmatch.pipeline.accounting import annual_report, verify_ledger
from taxmatch.store.state import StateStore

from ..conftest import POSTGRES_ADMIN_URL, _libpq, postgres_skipped
from .conftest import AS_OF, accounted, batch_tins, bound_disclosures

BIN = Path(sys.executable).parent / "taxmatch"
ROWS = int(os.environ.get("TAXMATCH_KILL_ROWS", "3000"))
# Kill points: fractions of the uninterrupted run's wall time, then moments read from what
# the run leaves on disk (seconds after the package's partial directory appears, after the
# first chunk of decisions reaches the ledger, after the package is renamed into place).
TIMED = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97)
AFTER_PARTIAL = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
AFTER_DECISIONS = (0.0, 0.01, 0.05)
AFTER_PACKAGE = (0.0, 0.005)
POLL = 0.002
RETRIES = 3
TIMED_PG = (0.2, 0.5, 0.8)  # fewer timed points on PostgreSQL: the same code, another store
FILES = ("disclosed", "rejected", "unmatched", "pending")


def _env(db: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TAXMATCH_DATABASE_URL"}
    env["TAXMATCH_STORE"] = ""
    if db is not None:
        env["TAXMATCH_DATABASE_URL"] = db
    return env


def _taxmatch(
    *args: str, check: bool = True, db: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, check=check, env=_env(db)
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(store with a loaded reference, requests.csv, envelope.json)."""
    root = tmp_path_factory.mktemp("crash")
    _taxmatch(
        "generate", "population", "--people", "1500", "--seed", "5", "--out", str(root / "pop")
    )
    _taxmatch(
        "generate",
        "requests",
        "--population",
        str(root / "pop"),
        "--rows",
        str(ROWS),
        "--seed",
        "6",
        "--out",
        str(root / "req"),
        "--as-of",
        AS_OF.isoformat(),
    )
    store = root / "store"
    _taxmatch("reference", "load", "--store", str(store), str(root / "pop" / "master.parquet"))
    return store, root / "req" / "requests.csv", root / "req" / "envelope.json"


def _run_args(store: Path, requests: Path, envelope: Path, out: Path) -> list[str]:
    return [
        str(BIN),
        "batch",
        "run",
        "--store",
        str(store),
        "--requests",
        str(requests),
        "--envelope",
        str(envelope),
        "--out",
        str(out),
        "--as-of",
        AS_OF.isoformat(),
        "--matcher",
        "exact",
        "--json",
    ]


def _package_rows(package: Path) -> tuple[Counter[str], list[str]]:
    """(request ids over all four files, disclosure ids in disclosed.csv)."""
    ids: Counter[str] = Counter()
    disclosures: list[str] = []
    for name in FILES:
        with (package / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                ids[row["request_id"]] += 1
                if name == "disclosed":
                    disclosures.append(row["disclosure_id"])
    return ids, disclosures


def _input_rows(requests: Path) -> int:
    with requests.open(newline="", encoding="utf-8") as fh:
        return sum(1 for _ in csv.DictReader(fh))


def _files(package: Path) -> dict[str, bytes]:
    return {name: (package / f"{name}.csv").read_bytes() for name in FILES}


def _ledger_count(store: Path, db: str | None, event: str) -> int:
    """Ledger entries of ``event`` so far, read without blocking the running batch."""
    query = "SELECT count(*) FROM ledger_entries WHERE event_type = :e"
    try:
        if db is None:
            con = sqlite3.connect(f"file:{store / 'state.sqlite3'}?mode=ro", uri=True, timeout=0.05)
            try:
                row = con.execute(query.replace(":e", "?"), (event,)).fetchone()
            finally:
                con.close()
        else:
            engine = create_engine(db)
            try:
                with engine.connect() as conn:
                    row = conn.execute(text(query), {"e": event}).fetchone()
            finally:
                engine.dispose()
    except (sqlite3.Error, SQLAlchemyError):  # not created yet, or locked for a moment
        return 0
    return int(row[0]) if row else 0


def _partial(out: Path) -> bool:
    return out.exists() and any(p.name.endswith(".partial") for p in out.iterdir())


def _final(out: Path) -> bool:
    return out.exists() and any(not p.name.endswith(".partial") for p in out.iterdir())


Ready = Callable[[Path, Path, "str | None"], bool]


def _points(wall: float, timed: tuple[float, ...] = TIMED) -> list[tuple[str, Ready, float]]:
    """(label, condition on (store, out, database url), seconds to wait after it holds)."""
    points: list[tuple[str, Ready, float]] = [
        (f"t={f:.2f}", lambda s, o, d: True, f * wall) for f in timed
    ]
    points += [(f"partial+{x}", lambda s, o, d: _partial(o), x) for x in AFTER_PARTIAL]
    points += [
        (f"decisions+{x}", lambda s, o, d: _ledger_count(s, d, "decisions") > 0, x)
        for x in AFTER_DECISIONS
    ]
    points += [(f"package+{x}", lambda s, o, d: _final(o), x) for x in AFTER_PACKAGE]
    return points


def _kill_when(
    proc: subprocess.Popen[bytes],
    store: Path,
    out: Path,
    db: str | None,
    ready: Ready,
    delay: float,
) -> bool:
    """SIGKILL the run's process group once ``ready`` holds and ``delay`` has passed;
    False when the run ended first."""
    while not ready(store, out, db):
        if proc.poll() is not None:
            return False
        time.sleep(POLL)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


def _phase(store: Path, out: Path, db: str | None) -> str:
    """Where the killed run had got to, read from what it left behind."""
    if db is None and not (store / "state.sqlite3").exists():
        return "starting"
    with StateStore.open(store, db) as state:
        batches = state.list_batches()
        if not batches:
            return "starting"
        decided = len(list(state.iter_decisions(batches[0].batch_id)))
        status = batches[0].status
    if status == "done":
        return "done"
    if _final(out):
        return "package renamed, batch not marked done"
    if _partial(out):
        return "writing package" + (", decisions recorded" if decided else "")
    return "validating/matching"


def _recorded(
    store: Path, db: str | None = None
) -> tuple[str, list[tuple[int, str, str | None, str | None]]]:
    with StateStore.open(store, db) as state:
        (batch,) = state.list_batches()
        rows = [
            (d.row_number, d.disposition, d.outcome, d.disclosure_id)
            for d in state.iter_decisions(batch.batch_id)
        ]
    return batch.batch_id, rows


def _ledger_disclosures(store: Path, db: str | None) -> Counter[str]:
    """Disclosure ids the ledger binds: how many entries bind each (``bound_disclosures``)."""
    with StateStore.open(store, db) as state:
        return bound_disclosures(state)


def _status(store: Path, db: str | None) -> str | None:
    if db is None and not (store / "state.sqlite3").exists():
        return None
    with StateStore.open(store, db) as state:
        batches = state.list_batches()
    return batches[0].status if batches else None


def _crash(
    prepared: tuple[Path, Path, Path],
    tmp_path: Path,
    database: Callable[[int], str | None],
    timed: tuple[float, ...],
) -> tuple[int, int, int, int]:
    """Kill and recover at every point; (points, killed, records checked, duplicates).

    ``database(k)`` gives point ``k`` a fresh state database (None: SQLite in the store).
    """
    store0, requests, envelope = prepared
    base_store, base_out = tmp_path / "base-store", tmp_path / "base-out"
    shutil.copytree(store0, base_store)
    t0 = time.monotonic()
    subprocess.run(
        _run_args(base_store, requests, envelope, base_out),
        check=True,
        capture_output=True,
        env=_env(),
    )
    wall = time.monotonic() - t0
    _, baseline = _recorded(base_store)
    (base_package,) = list(base_out.iterdir())
    base_files = _files(base_package)
    n_rows = _input_rows(requests)
    assert len(baseline) == n_rows
    assert sum(_package_rows(base_package)[0].values()) == n_rows
    n_disclosed = len(_package_rows(base_package)[1])
    base_tins = batch_tins(base_store, None, base_package.name, tmp_path)
    assert len(base_tins) == n_disclosed > 0

    phases: Counter[str] = Counter()
    checked = duplicates = killed = 0
    points = _points(wall, timed)
    for k, (label, ready, delay) in enumerate(points):
        store, out = tmp_path / f"s{k}", tmp_path / f"o{k}"
        # A run that ends before its kill point (a loaded machine is slower or faster
        # than the baseline) is tried again with half the delay, up to RETRIES times.
        for attempt in range(RETRIES + 1):
            shutil.rmtree(store, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            shutil.copytree(store0, store)
            db = database(k * (RETRIES + 1) + attempt)
            proc = subprocess.Popen(
                _run_args(store, requests, envelope, out),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=_env(db),
            )
            if _kill_when(proc, store, out, db, ready, delay / 2**attempt):
                killed += 1
                phases[_phase(store, out, db)] += 1
                break
        else:
            phases[f"finished before {label}"] += 1
        # What the killed run left: all of the batch's disclosures if it was sealed, none
        # (in the ledger and in every accounting reader) otherwise.
        status = _status(store, db)
        if status is not None:
            shown = accounted(store, db, base_package.name, base_tins.values(), tmp_path)
            sealed = n_disclosed if status == "done" else 0
            assert shown == dict.fromkeys(shown, sealed), f"point {k}: killed run ({status})"
        again = subprocess.run(
            _run_args(store, requests, envelope, out), capture_output=True, text=True, env=_env(db)
        )
        assert again.returncode == 0, f"point {k}: rerun failed: {again.stderr[-500:]}"

        (package,) = [p for p in out.iterdir() if not p.name.endswith(".partial")]
        assert not [p for p in out.iterdir() if p.name.endswith(".partial")], f"point {k}"
        ids, disclosed = _package_rows(package)
        assert sum(ids.values()) == n_rows, f"point {k}: rows lost or repeated in the package"
        assert _files(package) == base_files, f"point {k}: package differs from the baseline"
        _, rows = _recorded(store, db)
        assert rows == baseline, f"point {k}: decisions differ from the uninterrupted run"
        live = _ledger_disclosures(store, db)
        repeated = sum(n - 1 for n in live.values() if n > 1)
        repeated += len(disclosed) - len(set(disclosed))
        duplicates += repeated
        assert set(live) == set(disclosed), f"point {k}: ledger and package disagree"
        assert sum(live.values()) == len(disclosed), f"point {k}: disclosures bound twice"
        tins = batch_tins(store, db, package.name, tmp_path)
        assert tins == base_tins, f"point {k}: accounting batch differs from the baseline"
        shown = accounted(store, db, package.name, tins.values(), tmp_path)
        assert shown == dict.fromkeys(shown, len(disclosed)), f"point {k}: {shown}"
        year = datetime.now(UTC).year
        report = annual_report(store, year, database_url=db)
        assert report.totals["taxpayers"] == len(set(tins.values())), f"point {k}: taxpayers"
        # What ``taxmatch ledger verify`` runs (tests/cli cover the command), in process.
        verify = verify_ledger(store, None, database_url=db)
        assert verify.ok, f"point {k}: entry {verify.first_bad_seq}: {verify.problem}"
        checked += len(rows)
        shutil.rmtree(store)
        shutil.rmtree(out)
    backend = "SQLite" if database(0) is None else "PostgreSQL"
    print(
        f"\ncrash test ({backend}): {len(points)} kill points, {killed} runs killed (SIGKILL) "
        f"over a {wall:.1f} s run of {len(baseline)} rows; where: "
        f"{dict(sorted(phases.items()))}; {checked} records checked after recovery; "
        f"{duplicates} duplicates"
    )
    return len(points), killed, checked, duplicates


def test_sigkill_at_many_points_then_rerun(
    prepared: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    points, killed, _, duplicates = _crash(prepared, tmp_path, lambda k: None, TIMED)
    assert duplicates == 0
    assert killed >= 20
    assert killed >= points - 1


@pytest.mark.postgres
def test_sigkill_then_rerun_on_postgresql(
    prepared: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    if postgres_skipped():
        pytest.skip("TAXMATCH_SKIP_POSTGRES=1")
    schemas: list[str] = []

    def database(k: int) -> str:
        name = f"tm_crash_{uuid.uuid4().hex}"
        with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{name}"')
        schemas.append(name)
        url = make_url(POSTGRES_ADMIN_URL)
        return url.set(query={**url.query, "options": f"-csearch_path={name}"}).render_as_string(
            hide_password=False
        )

    try:
        points, killed, _, duplicates = _crash(prepared, tmp_path, database, TIMED_PG)
    finally:
        with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True) as admin:
            for name in schemas:
                admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    assert duplicates == 0
    assert killed >= points - 1
