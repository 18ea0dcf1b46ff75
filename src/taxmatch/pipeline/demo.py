"""The demo: generate a population and a batch, load the reference, run the batch.

Everything it makes is synthetic and seeded; rerunning it reuses what exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from taxmatch.disclose.package import BatchSummary
from taxmatch.errors import ReferenceSnapshotError
from taxmatch.generate import generate_population, generate_requests
from taxmatch.owner_only import make_dir, restrict_tree, write_private_text
from taxmatch.pipeline.batch import BatchRequest, Progress, run_batch
from taxmatch.pipeline.reference import (
    Audit,
    current_model,
    load_reference_snapshot,
    train_current_model,
)


@dataclass(frozen=True, slots=True)
class DemoResult:
    batch_id: str
    package: Path
    summary: BatchSummary
    reused: bool
    truth: Path


def run_demo(
    *,
    store: Path,
    out: Path,
    people: int,
    rows: int,
    seed: int,
    progress: Progress,
    database_url: str | None = None,
    as_of: date | None = None,
) -> DemoResult:
    inputs = store / "demo-inputs"
    population = inputs / f"population-{people}-{seed}"
    requests = inputs / f"requests-{rows}-{seed}"
    meta = requests / "demo.json"
    if as_of is None and meta.exists():  # a rerun judges the same batch at the same date
        as_of = date.fromisoformat(json.loads(meta.read_text())["as_of"])
    as_of = as_of or date.today()
    make_dir(inputs)  # the store's own: 0700 before anything is generated into it
    if not (population / "master.parquet").exists():
        progress.stage("generating people", people)
        generate_population(
            people=people,
            years=(2019, 2025),
            seed=seed,
            out=population,
            progress=progress.advance,
        )
    if not meta.exists():
        progress.stage("generating requests", rows)
        generate_requests(
            population=population,
            rows=rows,
            seed=seed + 1,
            out=requests,
            as_of=as_of,
            progress=progress.advance,
        )
        write_private_text(meta, json.dumps({"as_of": as_of.isoformat()}))
    restrict_tree(inputs)  # the generator writes with the umask's modes
    progress.stage("loading reference", None)
    audit = Audit(database_url=database_url)
    load_reference_snapshot(
        store, [population / "master.parquet"], progress=progress.advance, audit=audit
    )
    try:
        current_model(store)
    except ReferenceSnapshotError:
        progress.stage("training model", None)
        train_current_model(store, audit=audit)
    result = run_batch(
        BatchRequest(
            store=store,
            requests=requests / "requests.csv",
            envelope=requests / "envelope.json",
            out=out,
            as_of=as_of,
            database_url=database_url,
        ),
        progress,
    )
    return DemoResult(
        result.batch_id, result.package, result.summary, result.reused, requests / "truth.csv"
    )
