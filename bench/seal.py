"""Benchmark: sealing a batch of N disclosures (``taxmatch.pipeline.record.seal_outputs``).

Opens a fresh store (SQLite in a temporary directory, or a fresh schema of the PostgreSQL
server ``--postgres`` names, dropped afterwards), stores one batch, holds ``--disclosures``
synthetic disclosures in a ``DisclosureStash`` (spilled to a batch workspace past 10 000,
as in a run) and times the seal: the transaction that writes the package's
``package_delivered`` entry, the disclosures' ledger entries and subject rows, and marks
the batch done. Then times ``ledger verify`` on the store. Both as wall and this process's
CPU seconds (the PostgreSQL server's CPU is not counted). Synthetic ids and TINs only.

    python bench/seal.py                                  # 50 000 disclosures, SQLite
    python bench/seal.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import create_engine, make_url, text

from taxmatch.pipeline.record import seal_outputs
from taxmatch.pipeline.stash import DisclosureStash
from taxmatch.reference.workspace import BatchWorkspace
from taxmatch.store.state import BatchRow, StateStore

BATCH = "B-BENCH"
FIELDS = ["street_address", "unit", "city", "state", "zip", "tax_year"]


@contextmanager
def store_url(tmp: Path, postgres: str | None) -> Iterator[str]:
    if postgres is None:
        yield f"sqlite+pysqlite:///{tmp / 'state.sqlite3'}"
        return
    schema = f"bench_{uuid.uuid4().hex}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(postgres)
        yield url.set(query={**url.query, "options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def batch_row(n: int) -> BatchRow:
    return BatchRow(
        batch_id=BATCH,
        agency="ICE",
        request_letter_id="LTR-1",
        input_sha256="a" * 64,
        envelope_sha256="b" * 64,
        policy_version="bench",
        policy_sha256="c" * 64,
        input_rows=2 * n,
        status="running",
        created_at=datetime.now(UTC),
        finished_at=None,
        counts={},
        package_dir="/nowhere",
        as_of=date(2026, 11, 30),
        matcher="exact/1",
        reference_id="ref-1",
        error_code=None,
    )


def pending(n: int) -> tuple[str, int, str, str, str, str, str, str]:
    row = 2 * n  # every other row disclosed
    sha = hashlib.sha256(f"{n}".encode()).hexdigest()
    return (f"D{n:020d}", row, sha, sha, sha, f"{900000000 + n}", "8 U.S.C. 1326(a)", "reason")


def run(url: str, tmp: Path, n: int) -> dict[str, Any]:
    package = tmp / "package"
    package.mkdir(exist_ok=True)
    (package / "manifest.json").write_text("{}", encoding="utf-8")
    req = SimpleNamespace(actor="bench", origin="bench")
    with StateStore(url) as state, BatchWorkspace(tmp / "work.duckdb") as ws:
        state.create_batch(batch_row(n))
        stash = DisclosureStash(ws, BATCH, FIELDS)
        for i in range(1, n + 1):
            stash.add(pending(i))
        started, cpu = time.perf_counter(), time.process_time()
        seal_outputs(
            req,  # type: ignore[arg-type]
            state,
            BATCH,
            package,
            2 * n,
            Counter({"DISCLOSED": n}),
            datetime.now(UTC),
            stash,
        )
        sealed, sealed_cpu = time.perf_counter() - started, time.process_time() - cpu
        entries = state.ledger_head()[0]
        started, cpu = time.perf_counter(), time.process_time()
        result = state.verify_ledger()
        verified, verified_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert result.ok, result.problem
    return {
        "seal_s": sealed,
        "seal_cpu_s": sealed_cpu,
        "verify_s": verified,
        "verify_cpu_s": verified_cpu,
        "entries": entries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disclosures", type=int, default=50_000)
    parser.add_argument("--postgres", help="SQLAlchemy URL of a PostgreSQL database")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for attempt in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory() as name:
            tmp = Path(name)
            os.environ["TAXMATCH_KEYRING"] = str(tmp / "bench.keys")
            with store_url(tmp, args.postgres) as url:
                out = run(url, tmp, args.disclosures)
        backend = "postgresql" if args.postgres else "sqlite"
        print(
            f"{backend} run {attempt}: {args.disclosures} disclosures sealed in "
            f"{out['seal_s']:.2f} s, CPU {out['seal_cpu_s']:.2f} s ({out['entries']} ledger "
            f"entries); ledger verify {out['verify_s']:.2f} s, CPU {out['verify_cpu_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
